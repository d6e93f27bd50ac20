"""sim adapter -> lake -> vocabulary -> shards -> pretrain -> LOSO report, via the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from adapters.registry import make_adapter
from emgcorpus.cli import cli
from emgcorpus.ingest import ingest
from training.evaluate import REGIMES
from vocab.compiler import VocabularyBuilder
from vocab.tokenize import tokenize_lake

SIM = {
    "subjects": 4,
    "gestures": 2,
    "repetitions": 2,
    "contraction_s": 1.0,
    "rest_s": 1.0,
    "devices": "myo8",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("e2e")
    lake = root / "lake"
    ingest(lake, make_adapter("sim", "builtin", **SIM), progress=False)
    shards = []
    for tok in ("nct", "window"):
        v = VocabularyBuilder(
            lake, tok, size=16, sample_size=300, scheduler="sync", partition_size=2
        ).build(progress=False)
        out = root / f"shards-{tok}"
        tokenize_lake(lake, v.id, out_dir=out, scheduler="sync", progress=False, partition_size=2)
        shards.append(out)
    return lake, shards[0], shards[1]


def test_pretrain_and_loso_eval_on_sim_data(
    corpus: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    lake, shards, window_shards = corpus
    run = CliRunner()
    evaluated = ["sim:01", "sim:02", "sim:03"]
    args = ["--lake", str(lake), "train", "pretrain", "--shards", str(shards), "--steps", "3"]
    args += ["--d-model", "16", "--layers", "1", "--heads", "2", "--out", str(tmp_path / "ck")]
    for s in evaluated:
        args += ["--exclude-subjects", s]
    res = run.invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert "1 subjects" in res.output
    meta = json.loads((tmp_path / "ck" / "model.json").read_text())
    assert meta["pretrain_subjects"] == ["sim:04"]

    base = ["--lake", str(lake), "train", "eval", "--shards", str(shards)]
    base += ["--dataset", "sim", "--window-shards", str(window_shards)]
    base += ["--baselines", "td-lda,strong,window", "--out", str(tmp_path / "rep"), "--json"]
    # evaluating the pretraining subject too is refused with a clear error
    leak = run.invoke(cli, [*base, "--checkpoint", str(tmp_path / "ck")])
    assert leak.exit_code == 1 and "evaluation subject(s): sim:04" in leak.output

    sel = [x for s in evaluated for x in ("--subjects", s)] + ["--strong-max-iter", "10"]
    ok = run.invoke(cli, [*base, "--checkpoint", str(tmp_path / "ck"), *sel])
    assert ok.exit_code == 0, ok.output
    summary = json.loads(ok.output)
    assert Path(summary["report"]).exists()
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert report["windows"]["source"] == "lake events"
    assert report["windows"]["subjects"] == evaluated
    assert report["windows"]["labels"] == ["hand_close", "hand_open"]
    # 2 gestures x 2 repetitions x 1 s at 250 ms / 50 ms: 4 x 16 windows per subject
    assert report["windows"]["n_windows"] == 3 * 4 * 16
    for method in ("model", "td-lda", "strong", "window"):
        for regime in REGIMES:
            acc = report["methods"][method][regime]["window_accuracy"]["mean"]
            assert 0.0 <= acc <= 1.0
    # the simulated gestures activate different muscles: TD+LDA separates them across people
    assert report["methods"]["td-lda"]["unsupervised_calibration"]["window_accuracy"]["mean"] > 0.7
