"""Reproducible real-data experiments: one call (or ``emgcorpus train reproduce``) per result.

Each experiment keeps the target dataset out of everything the model learns before
evaluation, by construction: two lakes.

1. ``pretrain lake``: every *other* real dataset of the data folder is ingested (the
   target's whole release is left out, all parts and sessions);
2. ``target lake``: only the target's part is ingested;
3. the NCT vocabulary (and the window-tokenizer vocabulary for that baseline) is compiled
   on the pretrain lake only; both lakes are tokenized with it (the target lake reads the
   vocabulary from the pretrain lake's store);
4. masked-token pretraining on the pretrain lake's shards (the target cannot be in them);
5. LOSO on the target (training.evaluate): the model and the baselines td-lda, strong and
   window on the same windows and folds, three regimes, window and trial accuracy.

Sizes (vocabulary size, pretraining steps, model width, boosting iterations) are in
:class:`ExperimentConfig`; the defaults aim at < 15 min on 2 CPU cores.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from emgcorpus.errors import ConfigError, SourceError

#: (adapter, folder under the data root, dataset name) of every real set used here.
SOURCES: tuple[tuple[str, str, str], ...] = (
    ("cote-allard", "cote_allard_myo/PreTrainingDataset", "cote-allard"),
    ("ciil", "ciil_myo", "ciil"),
    ("flexemg", "flexemg_hd64", "flexemg"),
    ("grabmyo", "grabmyo_p1", "grabmyo"),
    ("wfdb", "physionet_emgdb", "physionet_emgdb"),
    ("otb", "openhdemg_otb", "otb"),
)


@dataclass(frozen=True)
class Target:
    """The evaluation set of one experiment."""

    name: str
    adapter: str
    folder: str  # under the data root: the part that is evaluated
    dataset: str  # dataset name in the lake (also the name left out of pretraining)
    sessions: tuple[str, ...] | None  # evaluate only these sessions (None: all)
    reference_td_lda: float  # TD+LDA per-window accuracy measured once on these files
    #: the release's no-motion class (stored as ``rest`` events) is one of its classes
    include_rest: bool = True


TARGETS: dict[str, Target] = {
    "ciil": Target(
        "ciil", "ciil", "ciil_myo/ElectrodeShift", "ciil", ("training",), reference_td_lda=0.716
    ),
    "cote-allard": Target(
        "cote-allard",
        "cote-allard",
        "cote_allard_myo/PreTrainingDataset",
        "cote-allard",
        None,
        reference_td_lda=0.827,
    ),
}


@dataclass
class ExperimentConfig:
    """Sizes of one reproduction run (defaults: < 15 min on 2 CPU cores)."""

    vocab_size: int = 256
    window_vocab_size: int = 256
    vocab_iterations: int = 10
    pretrain_steps: int = 300
    batch_size: int = 64
    #: tokens per pretraining sentence (a random crop): ~5 s of Myo tokens, a few times the
    #: model's evaluation window, and cheap attention
    max_tokens: int = 64
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    lr: float = 1e-3
    model_window_s: float | None = 1.0
    few_shot: float = 0.05
    finetune_steps: int = 0
    strong_max_iter: int = 100
    #: linear probe of the model and window methods (``lda`` is closed-form: fast on 2 cores)
    probe: str = "lda"
    baselines: tuple[str, ...] = ("td-lda", "strong", "window")
    workers: int = 2
    seed: int = 0
    device: str = "cpu"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["baselines"] = list(self.baselines)
        return d


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _ingest(lake: Path, adapter: str, source: Path) -> None:
    from adapters.registry import make_adapter
    from emgcorpus.ingest import ingest

    rep = ingest(lake, make_adapter(adapter, str(source)), progress=False)
    _log(f"ingest {adapter} {source.name}: {len(rep.added)} added, {len(rep.skipped)} known")


def _timed(times: dict[str, float], name: str, fn: Callable[[], Any]) -> Any:
    t0 = time.perf_counter()
    out = fn()
    times[name] = round(time.perf_counter() - t0, 1)
    _log(f"{name}: {times[name]} s")
    return out


class _StepCache:
    """Results of finished steps in ``<out>/steps.json``, keyed by what determines them.

    A rerun with the same sizes skips vocabulary building and tokenizing; a vocabulary the
    installed tokenizer can no longer load (another tokenizer version) is rebuilt.
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


def _vocab_usable(store: Path, vocab_id: str) -> bool:
    from vocab.artifact import Vocabulary

    try:
        Vocabulary.load(store, vocab_id).tokenizer()
    except Exception:  # missing, or built by another tokenizer version
        return False
    return True


def reproduce(
    target_name: str,
    data_root: str | Path,
    out_dir: str | Path,
    config: ExperimentConfig | None = None,
    command: str = "",
) -> dict[str, Any]:
    """Run one experiment end to end (module docstring); return the LOSO report dict.

    Also writes ``out_dir/results.md`` (the markdown table of results_markdown, with
    ``command`` as the command line that reproduces it).

    Writes ``out_dir/{pretrain-lake,target-lake,shards*,checkpoint,report}``; steps whose
    output exists are reused (ingest is idempotent; delete ``out_dir`` for a fresh run).
    Raises ConfigError for an unknown target and SourceError when the data is missing.
    """
    from training.evaluate import EvalConfig, evaluate_loso
    from training.pretrain import PretrainConfig, pretrain
    from training.report import write_report
    from training.windows import WindowSpec
    from vocab.compiler import VocabularyBuilder
    from vocab.tokenize import tokenize_lake

    if target_name not in TARGETS:
        raise ConfigError(f"unknown experiment {target_name!r}: expected one of {sorted(TARGETS)}")
    cfg = config or ExperimentConfig()
    tgt = TARGETS[target_name]
    data = Path(data_root)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not (data / tgt.folder).is_dir():
        raise SourceError(data / tgt.folder, "target data folder not found")
    pre_lake, tgt_lake = out / "pretrain-lake", out / "target-lake"
    times: dict[str, float] = {}

    def ingest_all() -> list[str]:
        used = []
        for adapter, folder, dataset in SOURCES:
            if dataset == tgt.dataset or not (data / folder).exists():
                continue
            _ingest(pre_lake, adapter, data / folder)
            used.append(dataset)
        _ingest(tgt_lake, tgt.adapter, data / tgt.folder)
        return used

    pre_datasets = _timed(times, "ingest", ingest_all)
    if not pre_datasets:
        raise SourceError(data, "no pretraining dataset found beside the target")

    def build(tokenizer: str, size: int) -> str:
        v = VocabularyBuilder(
            pre_lake,
            tokenizer,
            size=size,
            seed=cfg.seed,
            iterations=cfg.vocab_iterations,
            sample_size=max(20000, size),
            n_workers=cfg.workers,
        ).build(progress=False)
        return str(v.id)

    def tokenize(lake: Path, vocab_id: str, dest: Path) -> Path:
        from vocab.artifact import default_store

        return tokenize_lake(
            lake, vocab_id, out_dir=dest, store=default_store(pre_lake), n_workers=cfg.workers
        )

    from vocab.artifact import default_store

    cache = _StepCache(out / "steps.json")

    def vocab(tokenizer: str, size: int) -> str:
        key = f"vocab {tokenizer} size={size} iterations={cfg.vocab_iterations} seed={cfg.seed}"
        known = cache.get(key)
        if known and _vocab_usable(default_store(pre_lake), known):
            _log(f"{key}: reusing {known}")
            return str(known)
        for k in [k for k in cache.done if k.startswith(f"tokenize {tokenizer} ")]:
            cache.done.pop(k)
        return str(
            cache.put(key, _timed(times, f"vocab {tokenizer}", lambda: build(tokenizer, size)))
        )

    def shards(tokenizer: str, lake: Path, vocab_id: str, dest: Path) -> Path:
        key = f"tokenize {tokenizer} {lake.name} {vocab_id}"
        if cache.get(key) and (dest / "index.json").exists():
            _log(f"{key}: reusing {dest}")
            return dest
        path = _timed(times, key, lambda: tokenize(lake, vocab_id, dest))
        cache.put(key, str(path))
        return Path(path)

    nct = vocab("nct", cfg.vocab_size)
    shards("nct", pre_lake, nct, out / "shards-pretrain")
    shards("nct", tgt_lake, nct, out / "shards-target")
    window_shards = None
    if "window" in cfg.baselines:
        win = vocab("window", cfg.window_vocab_size)
        window_shards = shards("window", tgt_lake, win, out / "shards-window")
    ckpt = out / "checkpoint"
    pcfg = PretrainConfig(
        steps=cfg.pretrain_steps,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        max_tokens=cfg.max_tokens,
        seed=cfg.seed,
        device=cfg.device,
    )
    model_config = {
        "d_model": cfg.d_model,
        "n_layers": cfg.n_layers,
        "n_heads": cfg.n_heads,
        "d_ff": 4 * cfg.d_model,
    }
    pre_key = "pretrain " + json.dumps(
        {"vocab": nct, "model": model_config, "train": pcfg.to_dict()}, sort_keys=True
    )
    if cache.get(pre_key) and (ckpt / "model.pt").exists():
        _log(f"pretrain: reusing {ckpt}")
    else:
        cache.done.pop(pre_key, None)
        _timed(
            times,
            "pretrain",
            lambda: pretrain(
                out / "shards-pretrain",
                ckpt,
                model_config=model_config,
                config=pcfg,
                progress=False,
            ),
        )
        cache.put(pre_key, str(ckpt))
    ecfg = EvalConfig(
        dataset=tgt.dataset,
        few_shot=cfg.few_shot,
        baselines=list(cfg.baselines),
        spec=WindowSpec(include_rest=tgt.include_rest),
        model_window_s=cfg.model_window_s,
        device=cfg.device,
        seed=cfg.seed,
        strong_max_iter=cfg.strong_max_iter,
        sessions=list(tgt.sessions) if tgt.sessions else None,
        finetune_steps=cfg.finetune_steps,
        probe=cfg.probe,
    )
    report = _timed(
        times,
        "evaluate",
        lambda: evaluate_loso(
            out / "shards-target",
            ckpt,
            ecfg,
            lake_path=tgt_lake,
            window_shards=window_shards,
            progress=False,
        ),
    )
    report["experiment"] = {
        "target": asdict(tgt),
        "pretrain_datasets": pre_datasets,
        "config": cfg.to_dict(),
        "seconds": times,
        "vocab_id": nct,
    }
    write_report(report, out / "report")
    (out / "summary.json").write_text(json.dumps(summary_table(report), indent=2))
    (out / "results.md").write_text(results_markdown(report, command, machine_description()))
    return report


def machine_description() -> str:
    """CPU model, core count, RAM and torch version, for the results table."""
    import os
    import platform

    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu}, {cores} cores, torch {torch.__version__}, {platform.system()}"


def summary_table(report: dict[str, Any]) -> dict[str, Any]:
    """Method x regime -> window/trial accuracy mean, std, min, max (from a LOSO report)."""
    out: dict[str, Any] = {}
    for method, res in report["methods"].items():
        out[method] = {}
        for regime, r in res.items():
            out[method][regime] = {
                unit: {k: r[f"{unit}_accuracy"][k] for k in ("mean", "std", "min", "max")}
                for unit in ("window", "trial")
            }
    return out


def results_markdown(report: dict[str, Any], command: str, machine: str) -> str:
    """A markdown section: the command, date, machine and the method x regime table."""
    exp = report.get("experiment", {})
    tgt = exp.get("target", {})
    lines = [
        f"### {tgt.get('name', report['dataset'])}: LOSO over "
        f"{report['windows']['n_subjects']} subjects, {len(report['windows']['labels'])} "
        f"classes, {report['windows']['n_windows']} windows",
        "",
        f"- command: `{command}`",
        f"- date: {time.strftime('%Y-%m-%d')}; machine: {machine}; "
        f"wall time {sum(exp.get('seconds', {}).values()):.0f} s ({exp.get('seconds')})",
        f"- pretraining datasets (target excluded): {', '.join(exp.get('pretrain_datasets', []))}",
        f"- model sees: {report['windows']['model_sees']}; baselines see: "
        f"{report['windows']['baselines_see']}",
        f"- reference TD+LDA measured once on these files: {tgt.get('reference_td_lda')}",
        "",
        "| method | regime | window acc mean ± std | window min-max | trial acc mean ± std "
        "| trial min-max |",
        "|---|---|---|---|---|---|",
    ]

    def fmt(d: dict[str, Any]) -> tuple[str, str]:
        if d["mean"] is None:
            return "n/a", "n/a"
        return f"{d['mean']:.3f} ± {d['std']:.3f}", f"{d['min']:.3f}-{d['max']:.3f}"

    for method, res in summary_table(report).items():
        for regime, r in res.items():
            w, wr = fmt(r["window"])
            t, tr = fmt(r["trial"])
            lines.append(f"| {method} | {regime} | {w} | {wr} | {t} | {tr} |")
    return "\n".join(lines) + "\n"


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
    config: ExperimentConfig | None = None,
) -> dict[str, dict[str, Any]]:
    """Evaluate model-only variants on a finished :func:`reproduce` run folder.

    Reuses its target shards, lake and checkpoint; no baselines, no within-subject
    reference. Returns variant -> method -> regime -> window/trial accuracy spread, and
    writes it to ``out_dir/ablations.json``.
    """
    from training.evaluate import EvalConfig, evaluate_loso
    from training.windows import WindowSpec

    if target_name not in TARGETS:
        raise ConfigError(f"unknown experiment {target_name!r}: expected one of {sorted(TARGETS)}")
    tgt = TARGETS[target_name]
    cfg = config or ExperimentConfig()
    out = Path(out_dir)
    if not (out / "checkpoint" / "model.pt").exists():
        raise SourceError(out, "no checkpoint: run `emgcorpus train reproduce` first")
    results: dict[str, dict[str, Any]] = {}
    for name, overrides in (variants or ABLATIONS).items():
        ecfg = EvalConfig(
            dataset=tgt.dataset,
            few_shot=cfg.few_shot,
            baselines=[],
            spec=WindowSpec(include_rest=tgt.include_rest),
            device=cfg.device,
            seed=cfg.seed,
            sessions=list(tgt.sessions) if tgt.sessions else None,
            within_subject=False,
            probe=cfg.probe,
        )
        for k, v in overrides.items():
            setattr(ecfg, k, v)
        t0 = time.perf_counter()
        report = evaluate_loso(
            out / "shards-target",
            out / "checkpoint",
            ecfg,
            lake_path=out / "target-lake",
            progress=False,
        )
        results[name] = summary_table(report)
        _log(f"{name}: {time.perf_counter() - t0:.0f} s {json.dumps(results[name])}")
        (out / "ablations.json").write_text(json.dumps(results, indent=2))
    return results
