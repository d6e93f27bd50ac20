"""The whole pipeline in one call: ingest -> harmonize -> vocab build -> tokenize -> pretrain
-> LOSO evaluation -> report.

``run_pipeline`` is what ``emgcorpus run`` (a user's own lake) and ``emgcorpus quickstart``
(the built-in simulated corpus) call. Each stage is one call into the library, so the
stages can also be run one by one from the CLI (see the README).

Subject split: the evaluation dataset's subjects are sorted and the last
``eval_fraction`` of them are the evaluation subjects (at least 3, the LOSO minimum);
pretraining sees every other subject of every dataset and never an evaluation subject.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from emgcorpus.errors import ConfigError
from emgcorpus.lake import Lake

#: The simulated corpus of the quick start: 8 people, 4 virtual devices, 5 gestures.
QUICKSTART_SIM: dict[str, Any] = {
    "subjects": 8,
    "sessions": 1,
    "gestures": 5,
    "repetitions": 3,
    "contraction_s": 3.0,
    "rest_s": 2.0,
    "seed": 0,
}


@dataclass
class PipelineConfig:
    """Parameters of a pipeline run (units in the names; defaults fit 2 CPU cores)."""

    eval_dataset: str = "sim"
    #: evaluate only recordings of this device (None: all; the baselines need one layout)
    eval_device: str | None = None
    eval_fraction: float = 0.5
    #: harmonized rate [Hz] the vocabulary and shards read (None: native rates)
    fs_hz: float | None = 1000.0
    tokenizer: str = "nct"
    vocab_size: int = 256
    window_vocab_size: int = 128
    pretrain_steps: int = 1000
    #: pretraining sentences are cropped to this many tokens (cost grows with its square)
    max_tokens: int = 64
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    batch_size: int = 32
    baselines: list[str] = field(default_factory=lambda: ["td-lda", "strong", "window"])
    few_shot: float = 0.05
    #: boosting iterations of the strong classical baseline (its cost dominates on 2 cores)
    strong_max_iter: int = 60
    #: linear probe of the model and window methods (``lda``: closed form, fast on 2 cores)
    probe: str = "lda"
    model_window_s: float | None = 1.0
    scheduler: str | None = None
    n_workers: int | None = None
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def split_subjects(subjects: list[str], eval_fraction: float) -> tuple[list[str], list[str]]:
    """Sorted ``subjects`` -> (pretraining, evaluation): the last ``eval_fraction`` evaluate.

    At least 3 subjects are evaluated (LOSO needs two to train a probe and one to test) and
    at least one is left for pretraining; ConfigError when that is impossible.
    """
    ordered = sorted(set(subjects))
    if not 0 < eval_fraction < 1:
        raise ConfigError(f"eval_fraction must be in (0, 1), got {eval_fraction}")
    n_eval = max(3, math.ceil(len(ordered) * eval_fraction))
    if len(ordered) - n_eval < 1:
        raise ConfigError(
            f"{len(ordered)} subjects: need at least 4 (3 to evaluate, 1 to pretrain on)"
        )
    return ordered[:-n_eval], ordered[-n_eval:]


def run_pipeline(
    lake_path: str | Path,
    out_dir: str | Path,
    config: PipelineConfig | None = None,
    *,
    sim_options: dict[str, Any] | None = None,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> Path:
    """Run every stage on the lake at ``lake_path``; return the evaluation report's HTML path.

    With ``sim_options`` the built-in simulated corpus is ingested first (idempotent).
    Every artifact goes below ``out_dir`` except the vocabularies and shards, which live in
    the lake (``_vocab/``, ``_shards/``) where ``emgcorpus vocab ls`` finds them.
    """
    from adapters.registry import make_adapter
    from emgcorpus.harmonize import harmonize
    from emgcorpus.ingest import ingest
    from emgcorpus.recording import subject_key
    from training.evaluate import EvalConfig, evaluate_loso
    from training.pretrain import PretrainConfig, pretrain
    from training.report import write_report
    from vocab.compiler import VocabularyBuilder
    from vocab.tokenize import tokenize_lake

    cfg = config or PipelineConfig()
    lake_path, out = Path(lake_path), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    def stage(n: int, text: str) -> None:
        echo(f"[{n}/7 {time.perf_counter() - t0:6.1f} s] {text}")

    stage(1, "ingest")
    if sim_options is not None:
        rep = ingest(lake_path, make_adapter("sim", "builtin", **sim_options), progress=progress)
        echo(f"        {len(rep.added)} recordings added, {len(rep.skipped)} already there")
    recordings = Lake.open(lake_path).recordings()
    if recordings.height == 0:
        raise ConfigError(f"lake {lake_path} holds no recordings: ingest a dataset first")

    stage(2, f"harmonize to {cfg.fs_hz} Hz" if cfg.fs_hz else "harmonize: skipped (native)")
    if cfg.fs_hz:
        harmonize(lake_path, cfg.fs_hz, progress=progress)

    rows = recordings.filter(recordings["dataset"] == cfg.eval_dataset)
    if cfg.eval_device is not None:
        rows = rows.filter(rows["device"] == cfg.eval_device)
    if rows.height == 0:
        raise ConfigError(
            f"no recordings of dataset {cfg.eval_dataset!r}"
            + (f" and device {cfg.eval_device!r}" if cfg.eval_device else "")
            + f" in {lake_path}"
        )
    pre_subjects, eval_subjects = split_subjects(rows["subject"].to_list(), cfg.eval_fraction)
    eval_keys = [subject_key(cfg.eval_dataset, s) for s in eval_subjects]
    echo(f"        evaluation subjects: {', '.join(eval_keys)}")

    stage(3, f"vocabulary build ({cfg.tokenizer}, {cfg.vocab_size} codes, Dask)")

    def build(tokenizer: str, size: int) -> Any:
        return VocabularyBuilder(
            lake_path,
            tokenizer,
            size=size,
            fs=cfg.fs_hz,
            seed=cfg.seed,
            scheduler=cfg.scheduler,
            n_workers=cfg.n_workers,
        ).build(progress=progress)

    def shard(vocab_id: str) -> Path:
        return tokenize_lake(
            lake_path,
            vocab_id,
            scheduler=cfg.scheduler,
            n_workers=cfg.n_workers,
            progress=progress,
        )

    vocab = build(cfg.tokenizer, cfg.vocab_size)
    echo(f"        vocabulary {vocab.id}")
    window_vocab = build("window", cfg.window_vocab_size) if "window" in cfg.baselines else None
    if window_vocab is not None:
        echo(f"        window-tokenizer vocabulary {window_vocab.id} (baseline)")

    stage(4, "tokenize into shards")
    shards = shard(vocab.id)
    window_shards = shard(window_vocab.id) if window_vocab is not None else None
    echo(f"        shards {shards}")

    stage(5, f"pretrain ({cfg.pretrain_steps} steps, evaluation subjects excluded)")
    result = pretrain(
        shards,
        out / "checkpoint",
        model_config={
            "d_model": cfg.d_model,
            "n_layers": cfg.n_layers,
            "n_heads": cfg.n_heads,
            "d_ff": 4 * cfg.d_model,
        },
        config=PretrainConfig(
            steps=cfg.pretrain_steps,
            epochs=10_000,
            batch_size=cfg.batch_size,
            max_tokens=cfg.max_tokens,
            seed=cfg.seed,
            device="auto",
        ),
        exclude_subjects=eval_keys,
        progress=progress,
    )

    stage(6, f"LOSO evaluation on {len(eval_keys)} subjects of {cfg.eval_dataset}")
    eval_cfg = EvalConfig(
        dataset=cfg.eval_dataset,
        few_shot=cfg.few_shot,
        baselines=list(cfg.baselines),
        model_window_s=cfg.model_window_s,
        subjects=eval_keys,
        recording_device=cfg.eval_device,
        device="auto",
        seed=cfg.seed,
        strong_max_iter=cfg.strong_max_iter,
        probe=cfg.probe,
    )
    report = evaluate_loso(
        shards,
        result.checkpoint,
        eval_cfg,
        lake_path=lake_path,
        window_shards=window_shards,
        progress=progress,
    )
    report["pipeline"] = {
        "config": cfg.to_dict(),
        "pretrain_subjects": [subject_key(cfg.eval_dataset, s) for s in pre_subjects],
        "vocab_id": vocab.id,
        "window_vocab_id": window_vocab.id if window_vocab else None,
        "seconds": time.perf_counter() - t0,
    }

    stage(7, "report")
    page = write_report(report, out / "report")
    for method, res in report["methods"].items():
        accs = ", ".join(
            f"{regime} {res[regime]['window_accuracy']['mean']:.3f}"
            for regime in ("zero_shot", "unsupervised_calibration", "few_shot")
        )
        echo(f"        {method:8s} {accs}")
    echo(f"report: {page}")
    return page
