"""A whole run, stage by stage: ingest -> harmonize -> vocabulary build -> tokenize ->
pretrain -> LOSO evaluation -> report.

:func:`run_stages` is what ``emgcorpus quickstart``, ``emgcorpus run`` and ``emgcorpus
train reproduce`` call, each with its data plan (emgcorpus.runs.plans: one lake, one
lake in transfer mode, or two) and its run config (emgcorpus.runs.config: a preset plus
options). Each stage is one call into the library, so the stages can also be run one by
one from the CLI (see the README). What each stage may see is the plan's
:class:`RunSplit`: the evaluation subjects (or, in transfer mode, the whole evaluation
dataset) are left out of the vocabulary build as well as out of pretraining;
``summary.json`` records what each stage saw (:func:`stages_seen`).

Finished steps are remembered in ``<out>/steps.json`` (:class:`StepCache`), keyed by what
determines them: a rerun with the same settings on the same lake snapshot reuses the
vocabularies, shards and checkpoint, and only evaluates again. :func:`ablate` evaluates
model-only variants on a finished experiment's folder.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from adapters.registry import make_adapter
from emgcorpus.errors import ConfigError, SourceError
from emgcorpus.harmonize import harmonize
from emgcorpus.ingest import ingest
from emgcorpus.lake import Lake
from emgcorpus.recording import subject_key
from emgcorpus.runs.config import RunConfig, reproduce_preset
from emgcorpus.runs.plans import DataPlan, experiment_folders, split_subjects, target
from emgcorpus.runs.results import machine_description, results_markdown, summary_table
from training.baselines import parse_baselines
from training.checkpoint import WEIGHTS, read_meta
from training.eval_report import accuracy_lines, write_eval_report
from training.evaluate import EvalConfig, evaluate_loso
from training.pretrain import pretrain
from vocab.artifact import Vocabulary, default_store
from vocab.compiler import VocabularyBuilder
from vocab.lake_partitions import without_subjects
from vocab.tokenize import tokenize_lake

#: The stages of a run, in order (the ``[n/7]`` of its progress lines).
STAGES = ("ingest", "harmonize", "vocabulary", "tokenize", "pretrain", "evaluate", "report")


class StepCache:
    """Results of finished steps in a JSON file, keyed by what determines them.

    A vocabulary the installed tokenizer can no longer load (another tokenizer version) is
    rebuilt, and the shards tokenized with it are dropped from the cache.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}

    def get(self, key: str) -> Any:
        return self.done.get(key)

    def put(self, key: str, value: Any) -> Any:
        self.done[key] = value
        self.path.write_text(json.dumps(self.done, indent=2, sort_keys=True))
        return value

    def drop(self, prefix: str) -> None:
        """Forget every step whose key starts with ``prefix``."""
        for key in [k for k in self.done if k.startswith(prefix)]:
            self.done.pop(key)


@dataclass
class RunResult:
    """What a run produced: the LOSO report dict and the path of its ``report.html``."""

    report: dict[str, Any]
    page: Path


class _Progress:
    """``[n/7 elapsed s] stage`` lines, and each stage's duration [s]."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        self.echo = echo
        self.t0 = time.perf_counter()
        self.seconds: dict[str, float] = {}
        self._current: tuple[str, float] | None = None

    def stage(self, name: str, text: str) -> None:
        now = time.perf_counter()
        self.close()
        self._current = (name, now)
        self.echo(f"[{STAGES.index(name) + 1}/{len(STAGES)} {now - self.t0:6.1f} s] {text}")

    def close(self) -> None:
        if self._current is not None:
            name, start = self._current
            self.seconds[name] = round(time.perf_counter() - start, 1)
            self._current = None


def _lakes(plan: DataPlan) -> list[Path | str]:
    return [plan.pretrain_lake] + ([plan.eval_lake] if plan.eval_lake != plan.pretrain_lake else [])


def _check_not_empty(plan: DataPlan) -> None:
    for lake in _lakes(plan):
        if Lake.open(lake).recordings().height == 0:
            raise ConfigError(f"lake {lake} holds no recordings: ingest a dataset first")


@dataclass(frozen=True)
class RunSplit:
    """Who each stage of a run may see (the plan kinds: emgcorpus.runs.plans).

    ``eval``: the evaluation config (its ``subjects`` the evaluated ``dataset:subject``
    keys; None: every subject of the dataset). ``vocab_datasets``: the datasets the
    vocabularies are compiled on (None: every dataset of the pretrain lake).
    ``exclude_subjects``/``exclude_datasets``: what the vocabulary build and pretraining
    leave out. ``pretrain_keys``: the evaluation dataset's subjects pretraining may see
    (None when the plan does not split that dataset).
    """

    eval: EvalConfig
    vocab_datasets: list[str] | None = None
    exclude_subjects: list[str] = field(default_factory=list)
    exclude_datasets: list[str] = field(default_factory=list)
    pretrain_keys: list[str] | None = None


def evaluation_split(plan: DataPlan, eval_cfg: EvalConfig) -> RunSplit:
    """The plan's :class:`RunSplit`. ConfigError when the evaluation dataset (and device)
    has no recordings, or a transfer plan's lake holds no other dataset."""
    if plan.eval_fraction is None and not plan.transfer:
        return RunSplit(eval_cfg)
    recordings = Lake.open(plan.eval_lake).recordings()
    rows = recordings.filter(recordings["dataset"] == eval_cfg.dataset)
    if eval_cfg.device is not None:
        rows = rows.filter(rows["device"] == eval_cfg.device)
    if rows.height == 0:
        raise ConfigError(
            f"no recordings of dataset {eval_cfg.dataset!r}"
            + (f" and device {eval_cfg.device!r}" if eval_cfg.device else "")
            + f" in {plan.eval_lake}"
        )
    if plan.transfer:
        others = sorted(set(recordings["dataset"].to_list()) - {eval_cfg.dataset})
        if not others:
            raise ConfigError(
                f"--transfer: {plan.eval_lake} holds no dataset besides {eval_cfg.dataset!r} "
                "to compile the vocabulary and pretrain on: ingest another dataset first"
            )
        return RunSplit(eval_cfg, others, [], [eval_cfg.dataset], [])
    assert plan.eval_fraction is not None
    pre, held_out = split_subjects(rows["subject"].to_list(), plan.eval_fraction)
    eval_keys = [subject_key(eval_cfg.dataset, s) for s in held_out]
    pre_keys = [subject_key(eval_cfg.dataset, s) for s in pre]
    return RunSplit(replace(eval_cfg, subjects=eval_keys), None, eval_keys, [], pre_keys)


def _vocab_usable(store: Path, vocab_id: str) -> bool:
    try:
        Vocabulary.load(store, vocab_id).tokenizer()
    except Exception:  # missing, or built by another tokenizer version
        return False
    return True


def _vocabulary(
    cache: StepCache,
    lake: Path | str,
    tokenizer: str,
    size: int,
    config: RunConfig,
    split: RunSplit,
    progress: bool,
) -> tuple[str, bool]:
    """(vocabulary id, reused) of ``tokenizer`` with ``size`` codes built on ``lake``
    (its datasets and subjects that ``split`` lets the vocabulary see)."""
    v = config.vocab
    settings = {
        "lake": str(lake),
        "snapshot": Lake.open(lake).snapshot(),
        "size": size,
        "iterations": v.iterations,
        "sample_size": max(v.sample_size, size),
        "fs_hz": v.fs_hz,
        "seed": v.seed,
    }
    # only when set, so the steps of runs made before the split was recorded stay valid
    if split.vocab_datasets is not None:
        settings["datasets"] = split.vocab_datasets
    if split.exclude_subjects:
        settings["exclude_subjects"] = sorted(split.exclude_subjects)
    params = dict(v.tokenizer_params) if tokenizer == v.tokenizer else {}
    if params:
        settings["tokenizer_params"] = params
    key = f"vocab {tokenizer} " + json.dumps(settings, sort_keys=True)
    known = cache.get(key)
    if known and _vocab_usable(default_store(lake), known):
        return str(known), True
    cache.drop(f"tokenize {tokenizer} ")
    vocab = VocabularyBuilder(
        lake,
        tokenizer,
        size=size,
        datasets=split.vocab_datasets,
        exclude_subjects=split.exclude_subjects,
        tokenizer_params=params or None,
        fs=v.fs_hz,
        seed=v.seed,
        iterations=v.iterations,
        sample_size=max(v.sample_size, size),
        scheduler=config.dask_scheduler,
        n_workers=config.dask_workers,
    ).build(progress=progress)
    return str(cache.put(key, str(vocab.id))), False


def _shards(
    cache: StepCache,
    plan: DataPlan,
    role: str,
    lake: Path | str,
    tokenizer: str,
    vocab_id: str,
    config: RunConfig,
    progress: bool,
) -> Path:
    """Shards of ``lake`` tokenized with ``vocab_id`` (from the pretrain lake's store)."""
    dest = plan.shard_dest(role)
    settings = {
        "lake": str(lake),
        "snapshot": Lake.open(lake).snapshot(),
        "vocab": vocab_id,
        "dest": str(dest) if dest else None,
    }
    key = f"tokenize {tokenizer} " + json.dumps(settings, sort_keys=True)
    known = cache.get(key)
    if known and (Path(known) / "index.json").exists():
        return Path(known)
    path = tokenize_lake(
        lake,
        vocab_id,
        out_dir=dest,
        store=default_store(plan.pretrain_lake),
        scheduler=config.dask_scheduler,
        n_workers=config.dask_workers,
        progress=progress,
    )
    cache.put(key, str(path))
    return Path(path)


def run_stages(
    plan: DataPlan,
    config: RunConfig,
    out_dir: str | Path,
    *,
    progress: bool = True,
    echo: Callable[[str], None] = print,
    command: str = "",
) -> RunResult:
    """Run every stage (module docstring) of ``plan`` with ``config``; return the report.

    Writes ``out_dir/{steps.json,checkpoint,report,summary.json,results.md}`` (and, for
    two-lake plans, the lakes and shards below ``out_dir``); ``command`` is the command
    line that ``results.md`` says reproduces the run. ``summary.json``: ``methods`` (method
    x regime accuracies, emgcorpus.runs.results.summary_table) and ``stages`` (what each
    stage saw, :func:`stages_seen`). ConfigError for an empty lake, an evaluation dataset
    (and device) with no recordings, or a transfer plan with no other dataset.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cache = StepCache(out / "steps.json")
    clock = _Progress(echo)

    clock.stage("ingest", "ingest")
    for spec in plan.ingests:
        adapter = make_adapter(spec.adapter, spec.source, **spec.options)
        rep = ingest(spec.lake, adapter, progress=progress)
        echo(
            f"        {spec.adapter} {spec.source}: {len(rep.added)} recordings added, "
            f"{len(rep.skipped)} already there"
        )
    _check_not_empty(plan)

    fs_hz = config.vocab.fs_hz
    clock.stage("harmonize", f"harmonize to {fs_hz} Hz" if fs_hz else "harmonize: skipped (native)")
    if fs_hz:
        for lake in _lakes(plan):
            harmonize(lake, fs_hz, progress=progress)
    split = evaluation_split(plan, config.eval)
    eval_cfg = split.eval
    if split.vocab_datasets is not None:
        echo(f"        vocabulary and pretraining on: {', '.join(split.vocab_datasets)}")
    echo(
        f"        evaluation subjects: {', '.join(eval_cfg.subjects)}"
        if eval_cfg.subjects is not None
        else f"        evaluation subjects: every subject of {eval_cfg.dataset} in {plan.eval_lake}"
    )

    v = config.vocab
    varied = " ".join(filter(None, (v.tokenizer, v.params_text())))
    clock.stage("vocabulary", f"vocabulary build ({varied}, {v.size} codes, Dask)")
    vocab_id, reused = _vocabulary(
        cache, plan.pretrain_lake, v.tokenizer, v.size, config, split, progress
    )
    echo(f"        vocabulary {vocab_id}" + (" (reused)" if reused else ""))
    window_vocab_id: str | None = None
    if "window" in parse_baselines(eval_cfg.baselines):
        window_vocab_id, reused = _vocabulary(
            cache, plan.pretrain_lake, "window", v.window_size, config, split, progress
        )
        echo(
            f"        window-tokenizer vocabulary {window_vocab_id} (baseline)"
            + (" (reused)" if reused else "")
        )

    clock.stage("tokenize", "tokenize into shards")
    shards: dict[str, Path] = {}
    for role, lake in (("pretrain", plan.pretrain_lake), ("target", plan.eval_lake)):
        if role == "target" and lake == plan.pretrain_lake:
            shards[role] = shards["pretrain"]
            continue
        shards[role] = _shards(cache, plan, role, lake, v.tokenizer, vocab_id, config, progress)
    window_shards = (
        _shards(cache, plan, "window", plan.eval_lake, "window", window_vocab_id, config, progress)
        if window_vocab_id is not None
        else None
    )
    echo(f"        shards {shards['pretrain']}")

    steps = config.pretrain.steps
    left_out = "evaluation dataset" if split.exclude_datasets else "evaluation subjects"
    clock.stage("pretrain", f"pretrain ({steps} steps, {left_out} excluded)")
    ckpt = out / "checkpoint"
    pre_settings: dict[str, Any] = {
        "shards": str(shards["pretrain"]),
        "vocab": vocab_id,
        "model": config.model.to_dict(),
        "train": config.pretrain.to_dict(),
        "exclude_subjects": sorted(split.exclude_subjects),
    }
    if split.exclude_datasets:  # only when set, as for the vocabulary
        pre_settings["exclude_datasets"] = sorted(split.exclude_datasets)
    pre_key = "pretrain " + json.dumps(pre_settings, sort_keys=True)
    if cache.get(pre_key) and (ckpt / WEIGHTS).exists():
        echo(f"        reusing {ckpt}")
    else:
        cache.drop(pre_key)
        pretrain(
            shards["pretrain"],
            ckpt,
            model_config=config.model,
            config=config.pretrain,
            exclude_subjects=split.exclude_subjects,
            exclude_datasets=split.exclude_datasets,
            progress=progress,
        )
        cache.put(pre_key, str(ckpt))

    n_subjects = len(eval_cfg.subjects) if eval_cfg.subjects is not None else "all"
    clock.stage("evaluate", f"LOSO evaluation on {n_subjects} subjects of {eval_cfg.dataset}")
    report = evaluate_loso(
        shards["target"],
        ckpt,
        eval_cfg,
        lake_path=plan.eval_lake,
        window_shards=window_shards,
        progress=progress,
    )

    clock.stage("report", "report")
    clock.close()
    report["run"] = {
        "plan": plan.to_dict(),
        "config": config.to_dict(),
        "pretrain_datasets": read_meta(ckpt).pretrain_datasets,
        "pretrain_subjects": split.pretrain_keys,
        "vocab_id": vocab_id,
        "window_vocab_id": window_vocab_id,
        "seconds": dict(clock.seconds),
    }
    page = write_eval_report(report, out / "report")
    seen = stages_seen(plan, split, vocab_id, window_vocab_id, shards["target"], ckpt, report)
    summary = {"methods": summary_table(report), "stages": seen}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    (out / "results.md").write_text(results_markdown(report, command, machine_description()))
    for line in accuracy_lines(report):
        echo(f"        {line}")
    echo(f"report: {page}")
    return RunResult(report, page)


def _vocabulary_seen(lake: Path | str, vocab_id: str, split: RunSplit) -> dict[str, Any]:
    """What vocabulary ``vocab_id`` was compiled on: its recordings per dataset (its usage
    statistics), the subjects of the lake it could read, and those it left out."""
    vocab = Vocabulary.load(default_store(lake), vocab_id)
    table = without_subjects(
        Lake.open(lake).recordings(datasets=split.vocab_datasets), split.exclude_subjects
    )
    per_dataset = vocab.statistics.get("per_dataset", {})
    return {
        "id": vocab_id,
        "recordings_per_dataset": {d: int(u["recordings"]) for d, u in per_dataset.items()},
        "subjects": sorted({subject_key(d, s) for d, s in zip(table["dataset"], table["subject"])}),
        "excluded_subjects": sorted(split.exclude_subjects),
    }


def stages_seen(
    plan: DataPlan,
    split: RunSplit,
    vocab_id: str,
    window_vocab_id: str | None,
    target_shards: Path,
    ckpt: Path,
    report: dict[str, Any],
) -> dict[str, Any]:
    """Which datasets and ``dataset:subject`` keys each stage of a finished run saw: the
    vocabularies (as compiled), the target shards (their index), pretraining (the
    checkpoint's record) and the evaluation (the report's subjects)."""
    meta = read_meta(ckpt)
    index = json.loads((target_shards / "index.json").read_text())
    return {
        "vocabulary": _vocabulary_seen(plan.pretrain_lake, vocab_id, split),
        "window_vocabulary": (
            _vocabulary_seen(plan.pretrain_lake, window_vocab_id, split)
            if window_vocab_id is not None
            else None
        ),
        "tokenize": {
            "shards": str(target_shards),
            "datasets": index.get("datasets"),
            "vocab_datasets": index.get("vocab_datasets"),
        },
        "pretrain": {
            "datasets": meta.pretrain_datasets,
            "subjects": meta.pretrain_subjects,
            "excluded_subjects": meta.excluded_subjects,
            "excluded_datasets": meta.excluded_datasets,
        },
        "evaluate": {"dataset": report["dataset"], "subjects": report["windows"]["subjects"]},
    }


#: Model-only variants measured by :func:`ablate` (EvalConfig overrides).
ABLATIONS: dict[str, dict[str, Any]] = {
    "250ms-window cls-mean": {"model_window_s": None, "pooling": "cls-mean"},
    "250ms-window per-position": {"model_window_s": None, "pooling": "channels"},
    "1s-window cls-mean": {"model_window_s": 1.0, "pooling": "cls-mean"},
    "1s-window per-position": {"model_window_s": 1.0, "pooling": "channels"},
    "2s-window per-position": {"model_window_s": 2.0, "pooling": "channels"},
    "1s-window per-position + fine-tune 1 layer": {
        "model_window_s": 1.0,
        "pooling": "channels",
        "finetune_steps": 150,
        "finetune_layers": 1,
    },
}


def ablate(
    target_name: str,
    out_dir: str | Path,
    variants: dict[str, dict[str, Any]] | None = None,
    config: RunConfig | None = None,
    *,
    echo: Callable[[str], None] = print,
) -> dict[str, dict[str, Any]]:
    """Evaluate model-only variants on a finished ``train reproduce`` run folder.

    Each variant overrides the evaluation config of ``config`` (default: the experiment's
    reproduce preset) with no baselines and no within-subject reference, and runs the
    evaluation stage on the folder's target shards, lake and checkpoint. Returns variant ->
    method -> regime -> window/trial accuracy spread, and writes it to
    ``out_dir/ablations.json``.
    """
    folders = experiment_folders(target_name, out_dir)
    cfg = config or reproduce_preset(target(target_name))
    out = Path(out_dir)
    ckpt = out / "checkpoint"
    if not (ckpt / WEIGHTS).exists():
        raise SourceError(out, "no checkpoint: run `emgcorpus train reproduce` first")
    shards = folders.shard_dest("target")
    assert shards is not None
    results: dict[str, dict[str, Any]] = {}
    for name, overrides in (variants or ABLATIONS).items():
        ecfg = replace(cfg.eval, baselines=[], within_subject=False, **overrides)
        t0 = time.perf_counter()
        report = evaluate_loso(shards, ckpt, ecfg, lake_path=folders.eval_lake, progress=False)
        results[name] = summary_table(report)
        echo(f"{name}: {time.perf_counter() - t0:.0f} s {json.dumps(results[name])}")
        (out / "ablations.json").write_text(json.dumps(results, indent=2))
    return results
