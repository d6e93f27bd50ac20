"""The held-out workflow of the README ("A new dataset: does the vocabulary transfer?"),
end to end through the CLI: a dataset of a device no other fixture has (5 channels at
500 Hz, MATLAB files, ingested through the generic ``mat`` adapter with a mapping file)
beside the simulated corpus; ``run --transfer`` compiles and pretrains on the simulated
corpus only and evaluates the new dataset LOSO; ``train eval`` without a checkpoint runs
the baselines alone. Also: a one-lake run keeps its evaluation subjects out of the
vocabulary build."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from click.testing import CliRunner, Result
from scipy.signal import butter, sosfilt

from emgcorpus.cli.main import cli
from emgcorpus.errors import ConfigError
from emgcorpus.lake import Lake
from emgcorpus.runs.orchestrator import evaluation_split
from emgcorpus.runs.plans import lake_plan
from emgcorpus.shards.reader import ShardSet
from training.data import load_dataset_tokens
from training.evaluate import EvalConfig, evaluate_loso
from vocab.artifact import Vocabulary, default_store
from vocab.compiler import VocabularyBuilder

NEW = "wrist5"
FS_HZ = 500.0
#: per gesture, the relative amplitude on each of the 5 channels
PATTERNS = {
    1: [1.0, 0.6, 0.2, 0.1, 0.1],
    2: [0.1, 0.2, 1.0, 0.6, 0.2],
    3: [0.2, 0.1, 0.2, 0.6, 1.0],
}
README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## A new dataset: does the vocabulary transfer?"
SIM = ("subjects=4", "gestures=2", "repetitions=2", "contraction_s=1.0", "rest_s=1.0")
SIM_DEVICES = "devices=myo8,bipolar4"


def readme_section() -> tuple[str, str]:
    """(the YAML mapping, the bash commands) of the README's section on this workflow."""
    text = README.read_text().split(SECTION, 1)[1].split("\n## ", 1)[0]
    yaml_block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    bash_block = text.split("```bash\n", 1)[1].split("```", 1)[0]
    return yaml_block, bash_block


def write_new_device_set(folder: Path, subjects: int = 4, repetitions: int = 2) -> None:
    """``P<k>.mat`` per subject: float64 ``emg`` (n x 5, mV) at 500 Hz and a per-sample
    ``stimulus`` vector (0 rest, 1-3 gestures): 1 s rest, then each gesture for 1 s with
    0.6 s rest after it, ``repetitions`` times; band-limited activity (20-200 Hz) with a
    channel pattern per gesture and a gain per subject, over 5 uV of baseline noise."""
    folder.mkdir(parents=True)
    sos = butter(4, [20.0, 200.0], btype="band", fs=FS_HZ, output="sos")
    on, off = int(1.0 * FS_HZ), int(0.6 * FS_HZ)
    for k in range(1, subjects + 1):
        rng = np.random.default_rng(k)
        labels = [np.zeros(on)]
        for _ in range(repetitions):
            for g in PATTERNS:
                labels += [np.full(on, g), np.zeros(off)]
        stim = np.concatenate(labels)
        amp = np.zeros((stim.size, 5))
        for g, pattern in PATTERNS.items():
            amp[stim == g] = np.asarray(pattern) * 0.2 * rng.uniform(0.7, 1.3)
        activity = sosfilt(sos, rng.standard_normal((stim.size, 5)), axis=0)
        emg = activity * amp + 0.005 * rng.standard_normal((stim.size, 5))
        scipy.io.savemat(folder / f"P{k}.mat", {"emg": emg, "stimulus": stim[:, None]})


def invoke(lake: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--lake", str(lake), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake holding the simulated corpus (dataset ``sim``) and the new dataset, ingested
    as the README says."""
    root = tmp_path_factory.mktemp("transfer")
    write_new_device_set(root / "my-set")
    mapping, commands = readme_section()
    (root / "my-set.yaml").write_text(mapping)  # the README's mapping, as it is
    for line in (
        f"emgcorpus ingest mat ./my-set --mapping my-set.yaml --dataset {NEW}",
        f"emgcorpus run --dataset {NEW} --transfer --out",
        f"emgcorpus train eval --dataset {NEW} --out",
    ):
        assert line in commands  # the commands below are the README's, with tiny sizes
    lake = root / "lake"
    sim_options = [a for o in (*SIM, SIM_DEVICES) for a in ("--option", o)]
    invoke(lake, "ingest", "sim", "builtin", *sim_options)
    out = invoke(
        lake, "ingest", "mat", str(root / "my-set"), "--mapping", str(root / "my-set.yaml"),
        "--dataset", NEW,
    )  # fmt: skip
    assert f"{NEW}: 4 added" in out.output
    rows = Lake.open(lake).recordings(datasets=[NEW])
    assert set(rows["native_fs"]) == {FS_HZ} and set(rows["n_emg_channels"]) == {5}
    assert set(rows["device"]) == {f"{NEW}-band"}
    return lake


def test_transfer_run_never_shows_the_new_dataset_to_vocabulary_or_pretraining(
    lake: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    out = invoke(
        lake, "run", "--dataset", NEW, "--transfer", "--vocab-size", "16", "--steps", "3",
        "--d-model", "16", "--layers", "1", "--baselines", "td-lda", "--scheduler", "sync",
        "--out", str(run),
    )  # fmt: skip
    assert "vocabulary and pretraining on: sim" in out.output
    stages = json.loads((run / "summary.json").read_text())["stages"]
    subjects = [f"{NEW}:{k}" for k in range(1, 5)]
    # the vocabulary, as compiled (its own usage statistics), saw the simulated corpus only
    vocab = Vocabulary.load(default_store(lake), stages["vocabulary"]["id"])
    assert sorted(vocab.statistics["per_dataset"]) == ["sim"]
    assert vocab.compiled_datasets == ["sim"]
    assert stages["vocabulary"]["recordings_per_dataset"] == {"sim": 8}
    assert not any(s.startswith(f"{NEW}:") for s in stages["vocabulary"]["subjects"])
    # the shards hold the new dataset, tokenized with that vocabulary
    shards = Path(stages["tokenize"]["shards"])
    assert stages["tokenize"]["datasets"] == ["sim", NEW]
    assert stages["tokenize"]["vocab_datasets"] == ["sim"]
    shard_set = ShardSet.open(shards)
    assert shard_set.vocab_id == vocab.id
    tokens, recs = load_dataset_tokens(shard_set, NEW)
    assert len(recs) == 4 and all(len(t.ids) > 0 for t in tokens.values())
    # pretraining left it out whole
    ckpt = json.loads((run / "checkpoint" / "model.json").read_text())
    assert ckpt["pretrain_datasets"] == ["sim"] and ckpt["excluded_datasets"] == [NEW]
    assert not any(s.startswith(f"{NEW}:") for s in ckpt["pretrain_subjects"])
    assert stages["pretrain"]["datasets"] == ["sim"]
    # LOSO over every subject of the new dataset, for the model and the baseline
    report = json.loads((run / "report" / "report.json").read_text())
    assert report["dataset"] == NEW and report["windows"]["subjects"] == subjects
    assert stages["evaluate"]["subjects"] == subjects
    assert report["windows"]["labels"] == ["fist", "open", "pinch"]
    for method in ("model", "td-lda"):
        per = report["methods"][method]["zero_shot"]["window_accuracy"]["per_subject"]
        assert sorted(per) == subjects and all(0.0 <= a <= 1.0 for a in per.values())
    # the baselines alone, without a checkpoint and without tokens
    alone = tmp_path / "baselines"
    res = invoke(
        lake, "train", "eval", "--dataset", NEW, "--baselines", "td-lda", "--out", str(alone),
        "--json",
    )  # fmt: skip
    assert "no --checkpoint: baselines only (td-lda)" in res.stderr
    doc = json.loads(res.stdout)
    assert set(doc["window_accuracy"]) == {"td-lda"}
    base = json.loads((alone / "report.json").read_text())
    assert base["checkpoint"] is None and base["windows"]["subjects"] == subjects
    # same windows, folds and classifier: the same accuracies as inside the run
    assert base["methods"]["td-lda"] == report["methods"]["td-lda"]
    assert "No checkpoint: baselines only." in (alone / "report.html").read_text()


def test_one_lake_run_keeps_its_evaluation_subjects_out_of_the_vocabulary(lake: Path) -> None:
    split = evaluation_split(lake_plan(lake, 0.75), EvalConfig(dataset=NEW))
    held_out = [f"{NEW}:{k}" for k in (2, 3, 4)]
    assert split.eval.subjects == held_out and split.exclude_subjects == held_out
    assert split.pretrain_keys == [f"{NEW}:1"] and split.vocab_datasets is None
    builder = VocabularyBuilder(
        lake,
        size=4,
        datasets=[NEW],
        exclude_subjects=split.exclude_subjects,
        iterations=1,
        sample_size=4,
        scheduler="sync",
    )
    vocab = builder.build(progress=False, save=False)
    assert vocab.statistics["per_dataset"][NEW]["recordings"] == 1  # subject 1 only
    assert vocab.meta["params"]["exclude_subjects"] == held_out


def test_transfer_needs_another_dataset_to_learn_from(lake: Path) -> None:
    alone = lake.parent / "alone-lake"
    root = lake.parent
    invoke(alone, "ingest", "mat", str(root / "my-set"), "--mapping", str(root / "my-set.yaml"))
    with pytest.raises(ConfigError, match="holds no dataset besides 'mat'"):
        evaluation_split(lake_plan(alone, transfer=True), EvalConfig(dataset="mat"))


def test_baselines_only_evaluation_says_what_it_misses(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nothing to evaluate"):
        evaluate_loso(None, None, EvalConfig(dataset=NEW, baselines=[]), lake_path=tmp_path)
    with pytest.raises(ConfigError, match="the model reads token shards"):
        evaluate_loso(None, tmp_path / "ckpt", EvalConfig(dataset=NEW), lake_path=tmp_path)
    with pytest.raises(ConfigError, match="no lake and no token shards"):
        evaluate_loso(None, None, EvalConfig(dataset=NEW))
