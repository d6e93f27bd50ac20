"""Benchmark: LOSO evaluation time per method, the fast fits against the earlier ones.

On a lake holding ``--dataset`` (default: the Côté-Allard pre-training part, ingested from
../shared/data into a scratch lake), in one run:

- cuts the evaluation's windows and LOSO folds (training.evaluate.evaluation_folds) and
  computes the baseline features once (training.baselines.lake_features);
- per method, runs every regime on every fold with the fast fits (EvalConfig.fast_fits),
  the folds dealt to ``--workers`` forked processes (default 2, one per core:
  EvalConfig.fold_workers, training.evaluate.regimes_in_workers; folds are independent,
  so the predictions are run_regimes' own: tests/training/test_eval_speed_workers.py),
  and, on the first ``--old-folds`` folds, with the earlier fits (``fast_fits=False``, in
  this process),
  whose time is scaled to all folds; prints seconds (wall and CPU), the ratio, and the
  window accuracy per regime of both on those same folds;
- the ``model`` method needs ``--shards`` and ``--checkpoint`` (its features are the frozen
  encoder's, training.embedding.embed_windows); without them ``model-probe`` times the
  model's LDA probe on features of the model's width (``--model-width``, default 392: the
  reproduce preset's ``cls-mean-desc`` features on Cote-Allard; a fixed random projection
  of the strong features: accuracies are not the model's).

CPU seconds count this process and the fold workers.

Target (issue 11): every method and regime in under 5 minutes on 2 cores. Usage::

    python bench/bench_eval.py --old-folds 2
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from emgcorpus.runs.config import PRESET_POOLING
from training.baselines import LAKE_BASELINES, lake_features
from training.evaluate import (
    REFERENCE,
    REGIMES,
    EvalConfig,
    evaluation_folds,
    regimes_in_workers,
    run_regimes,
)
from training.windows import WindowSpec, window_labels

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared" / "data").resolve()


class Clock:
    """Wall and CPU seconds of a block."""

    def __enter__(self) -> Clock:
        self.w, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.w
        self.cpu = time.process_time() - self.c


def ingest_lake(work: Path, adapter: str, source: Path) -> Path:
    """A scratch lake holding ``source`` read by ``adapter``."""
    from adapters.registry import make_adapter
    from emgcorpus.ingest import ingest

    lake = work / "lake"
    ingest(lake, make_adapter(adapter, str(source)), progress=False)
    return lake


def regime_accuracy(preds: dict[str, Any], y: np.ndarray, subjects: list[str]) -> dict[str, float]:
    """Mean window accuracy per regime over ``subjects``' folds."""
    out = {}
    for r, p in preds.items():
        acc = [float((p.by_fold[s][1] == y[p.by_fold[s][0]]).mean()) for s in subjects]
        out[r] = round(float(np.mean(acc)), 4) if acc else float("nan")
    return out


def model_features(args: argparse.Namespace, cfg: EvalConfig, windows: list[Any]) -> np.ndarray:
    """The frozen encoder's pooled features of every window (training.embedding)."""
    from emgcorpus.shards.reader import ShardSet
    from training.checkpoint import load_checkpoint
    from training.data import load_dataset_tokens
    from training.evaluate import config_embedding

    tokens, _ = load_dataset_tokens(ShardSet.open(args.shards), cfg.dataset)
    model, _ = load_checkpoint(args.checkpoint)
    return config_embedding(model.encoder, tokens, windows, replace(cfg, torch_device="cpu"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lake", type=Path, default=None, help="lake (default: ingest --source)")
    ap.add_argument("--adapter", default="cote-allard", help="adapter of --source")
    ap.add_argument(
        "--source",
        type=Path,
        default=SHARED / "cote_allard_myo" / "PreTrainingDataset",
        help="files ingested when no --lake is given",
    )
    ap.add_argument("--dataset", default="cote-allard", help="dataset evaluated")
    ap.add_argument("--no-rest", action="store_true", help="rest is not a class")
    ap.add_argument("--strong-max-iter", type=int, default=100, help="boosting iterations")
    ap.add_argument("--folds", type=int, default=None, help="only the first N folds")
    ap.add_argument("--old-folds", type=int, default=2, help="folds the earlier fits run on")
    ap.add_argument("--shards", type=Path, default=None, help="token shards (model method)")
    ap.add_argument("--checkpoint", type=Path, default=None, help="checkpoint (model method)")
    ap.add_argument("--model-width", type=int, default=392, help="model-probe feature columns")
    ap.add_argument("--workers", type=int, default=2, help="processes the fast fits' folds use")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args()

    cfg = EvalConfig(
        dataset=args.dataset,
        spec=WindowSpec(include_rest=not args.no_rest),
        strong_max_iter=args.strong_max_iter,
        probe="lda",
        model_window_s=1.0,
        pooling=PRESET_POOLING,  # every preset's (emgcorpus.runs.config)
        fold_workers=args.workers,
    )
    result: dict[str, Any] = {"dataset": args.dataset, "strong_max_iter": args.strong_max_iter}
    with tempfile.TemporaryDirectory() as tmp:
        lake = args.lake
        if lake is None:
            with Clock() as c:
                lake = ingest_lake(Path(tmp), args.adapter, args.source)
            result["ingest_s"] = round(c.wall, 1)
        with Clock() as c:
            windows, _, folds = evaluation_folds(cfg, [], lake)
        result["windows_s"] = round(c.wall, 1)
        folds = folds[: args.folds] if args.folds else folds
        labels = window_labels(windows)
        y = np.array([labels.index(w.label) for w in windows], np.int64)
        result.update(n_windows=len(windows), n_folds=len(folds), n_classes=len(labels))
        with Clock() as c:
            feats = lake_features(lake, windows, LAKE_BASELINES, progress=False)
        result["features_s"] = {"wall": round(c.wall, 1), "cpu": round(c.cpu, 1)}
    if args.shards is not None and args.checkpoint is not None:
        with Clock() as c:
            feats["model"] = model_features(args, cfg, windows)
        result["model_features_s"] = {"wall": round(c.wall, 1), "cpu": round(c.cpu, 1)}
    else:
        proj = np.random.default_rng(0).normal(size=(feats["strong"].shape[1], args.model_width))
        feats["model-probe"] = np.tanh(feats["strong"] / feats["strong"].std(0) @ proj / 10)
    old_n = min(args.old_folds, len(folds))
    old_subjects = [f.test_subject for f in folds[:old_n]]
    methods: dict[str, Any] = {}
    for name, mat in feats.items():
        method = "model" if name == "model-probe" else name
        with Clock() as new:
            p_new, worker_cpu = regimes_in_workers(method, mat, y, windows, folds, cfg, len(labels))
        row: dict[str, Any] = {
            "seconds": round(new.wall, 1),
            "cpu_s": round(new.cpu + worker_cpu, 1),
            "accuracy": regime_accuracy(p_new, y, [f.test_subject for f in folds]),
        }
        if old_n:
            old_cfg = replace(cfg, fast_fits=False)
            with Clock() as old:
                p_old = run_regimes(method, mat, y, windows, folds[:old_n], old_cfg, len(labels))
            scale = len(folds) / old_n
            row["old_seconds_scaled"] = round(old.wall * scale, 1)
            row["old_cpu_s_scaled"] = round(old.cpu * scale, 1)
            row["speedup_cpu"] = round(old.cpu * scale / max(row["cpu_s"], 1e-9), 2)
            row[f"accuracy_first_{old_n}_folds"] = {
                "fast": regime_accuracy(p_new, y, old_subjects),
                "old": regime_accuracy(p_old, y, old_subjects),
            }
        methods[name] = row
    result["methods"] = methods
    fit_total = sum(m["seconds"] for m in methods.values())
    feat_total = result["features_s"]["wall"] + result.get("model_features_s", {}).get("wall", 0)
    result["total_s"] = round(result["windows_s"] + feat_total + fit_total, 1)
    feat_cpu = result["features_s"]["cpu"] + result.get("model_features_s", {}).get("cpu", 0)
    result["total_cpu_s"] = round(feat_cpu + sum(m["cpu_s"] for m in methods.values()), 1)
    result["workers"] = args.workers
    result["regimes"] = [*REGIMES, REFERENCE]
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"{args.dataset}: {result['n_windows']} windows, {result['n_folds']} folds, "
        f"{result['n_classes']} classes; windows {result['windows_s']} s, baseline features "
        f"{result['features_s']['wall']} s (cpu {result['features_s']['cpu']} s)"
        + (f", model features {result['model_features_s']['wall']} s" if "model" in feats else "")
    )
    for name, m in methods.items():
        line = f"{name:12s} fast {m['seconds']:8.1f} s (cpu {m['cpu_s']:7.1f})"
        if "old_cpu_s_scaled" in m:
            line += (
                f"   earlier {m['old_seconds_scaled']:8.1f} s (cpu {m['old_cpu_s_scaled']:7.1f},"
                f" measured on {old_n} folds, scaled)   cpu speed-up {m['speedup_cpu']}x"
            )
        print(line)
        if "old_cpu_s_scaled" in m:
            acc = m[f"accuracy_first_{old_n}_folds"]
            print(f"{'':12s} window accuracy on those folds: fast {acc['fast']}")
            print(f"{'':12s}                                 earlier {acc['old']}")
    print(
        f"total (windows + features + every method's fast fits, {args.workers} fold workers): "
        f"{result['total_s']} s wall, {result['total_cpu_s']} s cpu (target: < 300 s wall)"
    )


if __name__ == "__main__":
    main()
