"""The leave-one-subject-out protocol, for the pretrained model and the baselines alike.

One window list (training.windows) is cut once, from the lake's events when a lake is
given (else from the events stored in the shards), and every method classifies exactly it:
the model from the tokens whose onset falls in each window (token shards), the feature
baselines from the raw samples of the same interval (lake), the window-tokenizer baseline
from its own shards. The code checks that every method's rows are the same window ids.

Per fold (one held-out evaluation subject) and method, four regimes, each saying what it
may see of the target subject:

- ``zero_shot``: only the window being classified. Features/embeddings are standardised
  with mean and std of the training subjects' windows; a fresh classifier (linear probe for
  the model) is fit on all other evaluation subjects.
- ``unsupervised_calibration``: also the statistics of the target's unlabelled windows of
  the session: every subject's features are standardised by that subject's own mean/std
  (labels unused), then as zero-shot.
- ``few_shot``: also the target's first ``fraction`` (default 5 %) of labelled windows in
  time order (whole repetitions): calibrated as above, and those windows are added to the
  training set (repeated so that they weigh about as much as ``few_shot_weight`` training
  subjects, default one); tested on the rest of the target's windows.
- ``few_shot_classes``: the same, but the adaptation windows are the first ``fraction`` of
  *each class's* windows in time order (training.splits.few_shot_class_split), tested on the
  repetitions they do not touch. In a session recorded gesture by gesture the time-order cut
  holds only the first one or two classes (on Cote-Allard: rest and radial deviation), so
  ``few_shot`` cannot show what 5 % of a new user's data buys; this regime can.

A ``within_subject`` reference (first half of the target's repetitions trains, the second
half tests, calibrated) gives the "full-data" accuracy; few-shot is also reported as a
share of it. For the ``model`` method the backbone stays frozen and only the probe is
fit, on the pooled features of training.embedding. With ``finetune_steps`` > 0 a
``model-finetune`` method is added: per fold the backbone's last layers and a head are
trained on the training subjects' labels (training.finetune.supervised_fold), and the
frozen method's regimes (:func:`run_regimes`, the same probe) are run on that fold's
fine-tuned features (``finetune_adapt`` ``probe``, :func:`finetune_regime`).

Accuracy is reported per window and per trial (majority vote over the windows of one
repetition), as the mean over subjects with std/min/max and every subject's value.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from emgcorpus.errors import ConfigError, check_option
from emgcorpus.shards.descriptor_layout import intensity_index
from emgcorpus.shards.reader import RecordingTokens, ShardSet
from training.baselines import (
    LAKE_BASELINES,
    bag_of_tokens,
    lake_features,
    make_classifier,
    parse_baselines,
)
from training.checkpoint import CheckpointMeta, load_checkpoint
from training.data import check_descriptors, load_dataset_tokens
from training.embedding import embed_windows, pooling_slots, position_slots, window_items
from training.finetune import FinetuneConfig, supervised_fold
from training.model import TokenEncoder
from training.spatial_words import N_WORDS, spatial_word_bags
from training.splits import (
    Fold,
    check_disjoint,
    check_no_overlap,
    few_shot_class_split,
    few_shot_split,
    loso_folds,
    subjects_of,
    time_half_split,
)
from training.torch_device import resolve_torch_device
from training.windows import (
    RecordingEvents,
    Window,
    WindowSpec,
    lake_recording_events,
    make_windows,
    window_labels,
)

REGIMES = ("zero_shot", "unsupervised_calibration", "few_shot", "few_shot_classes")
#: how ``model-finetune`` uses the target's windows (:func:`finetune_regime`): ``probe``
#: (the frozen method's regimes on the fine-tuned features), ``gradient`` (the head's
#: zero-shot, few-shot by gradient steps on the adaptation windows), ``both`` (``probe``
#: as ``model-finetune``, ``gradient`` beside it as ``model-finetune-gradient``)
FINETUNE_ADAPTS = ("probe", "gradient", "both")
REFERENCE = "within_subject"
REGIME_SEES = {
    "zero_shot": "only the window being classified; normalisation statistics from the "
    "training subjects",
    "unsupervised_calibration": "also mean/std of the target subject's unlabelled windows "
    "of the session (labels unused)",
    "few_shot": "also the target subject's first {pct}% of labelled windows in time order "
    "(whole repetitions), added to the training set weighing as much as {weight:g} training "
    "subject(s); tested on the rest",
    "few_shot_classes": "also the first {pct}% of each class's labelled windows of the target "
    "subject in time order, added to the training set weighing as much as {weight:g} "
    "training subject(s); tested on the repetitions they do not touch",
    "within_subject": "reference: the target's first half of repetitions (labelled) trains, "
    "the second half tests",
}


@dataclass
class EvalConfig:
    """Options of :func:`evaluate_loso`. Times in seconds.

    ``model_window_s``: if set, the model sees the tokens of a longer window with the same
    centre, clipped to the window's own repetition (so it never straddles a split).
    ``max_window_tokens``: tokens beyond this many per window are dropped (the last ones).
    ``batch_size``: windows the frozen encoder embeds at once.
    """

    dataset: str
    few_shot: float = 0.05
    #: in the few-shot fits the target's adaptation windows are repeated so that they weigh
    #: about as much as this many training subjects (1: as one more training subject); the
    #: probe fits of :func:`run_regimes` only (``finetune_adapt`` ``gradient`` draws its own
    #: batches, training.finetune ``adapt_share``)
    few_shot_weight: float = 1.0
    baselines: list[str] = field(default_factory=lambda: ["td-lda", "strong"])
    spec: WindowSpec = field(default_factory=WindowSpec)
    model_window_s: float | None = None
    max_window_tokens: int = 512
    batch_size: int = 128
    #: torch device of the encoder: ``cpu``, ``cuda`` or ``auto`` (training.torch_device)
    torch_device: str = "cpu"
    seed: int = 0
    within_subject: bool = True
    strong_max_iter: int = 150
    #: evaluate only these ``dataset:subject`` keys (default: every subject of the dataset)
    subjects: list[str] | None = None
    #: evaluate only recordings of these sessions (default: all)
    sessions: list[str] | None = None
    #: evaluate only recordings of this EMG device (the lake's ``device`` column; needs the lake)
    device: str | None = None
    #: ``model-finetune``: train the backbone's last ``finetune_layers`` layers and a linear
    #: head for this many steps on the training subjects' labels per fold (zero-shot), then
    #: adapt them on the target's few-shot windows (training.finetune.supervised_fold; 0:
    #: no fine-tuning, only the frozen probe)
    finetune_steps: int = 0
    finetune_layers: int = 1
    finetune_lr: float = 3e-4
    #: FINETUNE_ADAPTS
    finetune_adapt: str = "probe"
    #: model features: ``cls-mean`` (CLS + mean of token outputs) or ``channels`` (that plus
    #: the mean output of each electrode position and per-position token counts)
    pooling: str = "channels"
    #: also max-pool the token outputs (over the window and per electrode position)
    pool_max: bool = False
    #: append to the model's features a bag of this many spatial words per window
    #: (training.spatial_words: the relative intensity pattern over positions every 50 ms,
    #: codebook fitted per fold on the training subjects' steps); 0: none. Where the words
    #: cannot be built (dense grids, shards without descriptors) the model's features stay
    #: as they are and the report's ``spatial_words`` says why
    spatial_words: int = 0
    #: linear probe of the model and window methods: ``logreg`` or ``lda`` (baselines.PROBES)
    probe: str = "logreg"
    #: add the information audit (training.audit: what the tokens carry before any model,
    #: shrinkage LDA, zero-shot and within-subject) as the report's ``audit`` section
    audit: bool = True
    #: the baselines' fast fits (training.baselines.make_classifier ``fast``: the strong
    #: baseline's early stopping, 63 bins and bounded threads; ShrinkageLDA); False: the
    #: earlier fits, kept to measure against (bench/bench_eval.py)
    fast_fits: bool = True
    #: processes fitting the folds of each method in parallel (:func:`regimes_in_workers`:
    #: forked, each running OpenMP on one thread; the same predictions as in process);
    #: 1: in this process. Where the platform cannot fork, always in process
    fold_workers: int = 1

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["spec"] = self.spec.to_dict()
        return d


def _standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    mu = train.mean(axis=0)
    sd = train.std(axis=0)
    sd[sd < 1e-12] = 1.0
    return [(x - mu) / sd for x in (train, *others)]


def per_subject_standardise(features: np.ndarray, windows: Sequence[Window]) -> np.ndarray:
    """Each subject's rows standardised by that subject's own mean/std (labels unused)."""
    out = np.empty_like(features, dtype=np.float64)
    keys = np.array([w.subject_key for w in windows])
    for s in np.unique(keys):
        idx = np.flatnonzero(keys == s)
        out[idx] = _standardise(features[idx].astype(np.float64))[0]
    return out


def fold_features(
    features: np.ndarray,
    calibrated: np.ndarray | None,
    fold_block: Callable[[Fold], np.ndarray] | None,
    fold: Fold,
    windows: Sequence[Window],
) -> tuple[np.ndarray, np.ndarray | None]:
    """(features, per-subject calibrated features) of one fold: ``fold_block(fold)``
    appended to both (calibrated per subject) when given, else the two unchanged
    (``calibrated`` None: not needed, stays None)."""
    if fold_block is None:
        return features, calibrated
    block = fold_block(fold)
    if calibrated is not None:
        calibrated = np.hstack([calibrated, per_subject_standardise(block, windows)])
    return np.hstack([features, block]), calibrated


def _fit_predict(
    make: Callable[[], Any],
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    n_classes: int,
) -> np.ndarray:
    if len(x_test) == 0:
        return np.zeros(0, np.int64)
    if len(np.unique(y_train)) < 2:
        return np.full(len(x_test), int(y_train[0]) if len(y_train) else 0, np.int64)
    clf = make()
    clf.fit(x_train, y_train)
    return np.asarray(clf.predict(x_test), dtype=np.int64)


@dataclass
class FoldPredictions:
    """Predicted class indices of one regime, for the test windows of each fold."""

    by_fold: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


#: the few-shot regimes and the split that gives each its (adapt, test) windows
FEW_SHOT_SPLITS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "few_shot": few_shot_split,
    "few_shot_classes": few_shot_class_split,
}


def few_shot_splits(
    windows: Sequence[Window], test_idx: np.ndarray, fraction: float
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Regime -> (adapt, test) indices of one held-out subject, for every few-shot regime."""
    return {r: split(windows, test_idx, fraction) for r, split in FEW_SHOT_SPLITS.items()}


#: most repeats of one adaptation window per unit of ``few_shot_weight``
MAX_ADAPT_REPEATS = 50


def adapt_repeats(n_train: int, n_train_subjects: int, n_adapt: int, weight: float) -> int:
    """How often each of ``n_adapt`` adaptation windows enters a few-shot fit so that they
    weigh about ``weight`` training subjects (``n_train`` windows of ``n_train_subjects``);
    at least once, at most ``MAX_ADAPT_REPEATS * max(weight, 1)`` times."""
    per_subject = n_train / max(1, n_train_subjects)
    cap = MAX_ADAPT_REPEATS * max(1.0, weight)
    return int(np.clip(round(weight * per_subject / max(1, n_adapt)), 1, cap))


def run_regimes(
    method: str,
    features: np.ndarray,
    y: np.ndarray,
    windows: Sequence[Window],
    folds: Sequence[Fold],
    config: EvalConfig,
    n_classes: int,
    fold_block: Callable[[Fold], np.ndarray] | None = None,
) -> dict[str, FoldPredictions]:
    """Fit and predict every fold in every regime (module docstring) for one method.

    ``fold_block``: fold -> (n_windows, b) columns appended to ``features`` in that fold
    only (features fitted on the fold's training windows, e.g. the spatial-word bags of
    training.spatial_words), calibrated per subject like the rest."""
    out = {r: FoldPredictions() for r in (*REGIMES, REFERENCE)}
    base, base_calibrated = features, per_subject_standardise(features, windows)

    def make() -> Any:
        return make_classifier(
            method, config.seed, config.strong_max_iter, config.probe, config.fast_fits
        )

    for f in folds:
        features, calibrated_or_none = fold_features(base, base_calibrated, fold_block, f, windows)
        assert calibrated_or_none is not None
        calibrated = calibrated_or_none
        tr, te = f.train_idx, f.test_idx
        xtr, xte = _standardise(features[tr].astype(np.float64), features[te].astype(np.float64))
        out["zero_shot"].by_fold[f.test_subject] = (
            te,
            _fit_predict(make, xtr, y[tr], xte, n_classes),
        )
        out["unsupervised_calibration"].by_fold[f.test_subject] = (
            te,
            _fit_predict(make, calibrated[tr], y[tr], calibrated[te], n_classes),
        )
        n_train_subjects = max(1, len({windows[i].subject_key for i in tr}))
        for regime, (adapt, rest) in few_shot_splits(windows, te, config.few_shot).items():
            reps = adapt_repeats(len(tr), n_train_subjects, len(adapt), config.few_shot_weight)
            x_fs = np.concatenate([calibrated[tr], np.repeat(calibrated[adapt], reps, axis=0)])
            y_fs = np.concatenate([y[tr], np.repeat(y[adapt], reps)])
            out[regime].by_fold[f.test_subject] = (
                rest,
                _fit_predict(make, x_fs, y_fs, calibrated[rest], n_classes),
            )
        if config.within_subject:
            first, second = time_half_split(windows, te)
            out[REFERENCE].by_fold[f.test_subject] = (
                second,
                _fit_predict(make, calibrated[first], y[first], calibrated[second], n_classes),
            )
    return out


#: what forked fold workers read (set just before the fork, so nothing large is pickled)
_FOLD_JOB: dict[str, Any] = {}


def _fold_chunk(chunk: list[int]) -> tuple[dict[str, FoldPredictions], float]:
    """run_regimes on the folds ``chunk`` of ``_FOLD_JOB`` (in a forked worker); its CPU
    seconds. OpenMP runs on one thread: GNU OpenMP hangs in a forked child that starts a
    thread team after its parent had one (and the workers share the cores already)."""
    c = time.process_time()
    j = _FOLD_JOB
    folds = [j["folds"][i] for i in chunk]
    with threadpool_limits(limits=1, user_api="openmp"):
        preds = run_regimes(
            j["method"],
            j["features"],
            j["y"],
            j["windows"],
            folds,
            j["config"],
            j["n_classes"],
            j["fold_block"],
        )
    return preds, time.process_time() - c


def can_fork() -> bool:
    """Whether fold workers can be forked here (the platform has ``fork`` and this process
    is no daemon, which may not have children)."""
    return (
        "fork" in multiprocessing.get_all_start_methods()
        and not multiprocessing.current_process().daemon
    )


def regimes_in_workers(
    method: str,
    features: np.ndarray,
    y: np.ndarray,
    windows: Sequence[Window],
    folds: Sequence[Fold],
    config: EvalConfig,
    n_classes: int,
    fold_block: Callable[[Fold], np.ndarray] | None = None,
) -> tuple[dict[str, FoldPredictions], float]:
    """:func:`run_regimes` with the folds dealt round-robin to ``config.fold_workers``
    forked processes; (predictions in fold order, CPU seconds [s] the workers spent).
    ``fold_block`` as in run_regimes (the forked workers inherit it, nothing is pickled).

    Folds are independent, so the predictions are those of one run_regimes call. In this
    process (0 worker seconds) when ``fold_workers`` <= 1, with fewer than 2 folds, or
    where :func:`can_fork` is False. RuntimeError naming the method and the folds when a
    worker raises or dies.
    """
    workers = min(config.fold_workers, len(folds))
    if workers <= 1 or not can_fork():
        preds = run_regimes(method, features, y, windows, folds, config, n_classes, fold_block)
        return preds, 0.0
    chunks = [list(range(k, len(folds), workers)) for k in range(workers)]
    _FOLD_JOB.update(
        method=method,
        features=features,
        y=y,
        windows=windows,
        folds=folds,
        config=config,
        n_classes=n_classes,
        fold_block=fold_block,
    )
    try:
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            jobs = [pool.submit(_fold_chunk, c) for c in chunks]
            parts = []
            for chunk, job in zip(chunks, jobs, strict=True):
                try:
                    parts.append(job.result())
                except Exception as exc:
                    subjects = [folds[i].test_subject for i in chunk]
                    raise RuntimeError(
                        f"method {method}: the fold worker of folds {subjects} failed: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
    finally:
        _FOLD_JOB.clear()
    got = {folds[i].test_subject: pr for c, (pr, _) in zip(chunks, parts, strict=True) for i in c}
    out = {r: FoldPredictions() for r in parts[0][0]}
    for f in folds:  # fold order, as run_regimes gives it
        for r, p in out.items():
            fold_preds = got[f.test_subject][r].by_fold
            if f.test_subject in fold_preds:  # (within_subject off: no reference)
                p.by_fold[f.test_subject] = fold_preds[f.test_subject]
    return out, sum(cpu for _, cpu in parts)


def _spread(values: dict[str, float]) -> dict[str, Any]:
    v = np.array(list(values.values()), dtype=np.float64)
    v = v[np.isfinite(v)]
    if not len(v):
        return {"mean": None, "std": None, "min": None, "max": None, "per_subject": values}
    return {
        "mean": float(v.mean()),
        "std": float(v.std()),
        "min": float(v.min()),
        "max": float(v.max()),
        "per_subject": values,
    }


def trial_votes(
    pred: np.ndarray, idx: np.ndarray, windows: Sequence[Window], y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(true, voted) class per trial: majority vote over the trial's windows (ties: lowest)."""
    groups: dict[str, list[int]] = {}
    for k, i in enumerate(idx):
        groups.setdefault(windows[i].trial_key, []).append(k)
    true, voted = [], []
    for ks in groups.values():
        true.append(int(y[idx[ks[0]]]))
        voted.append(int(np.bincount(pred[ks]).argmax()))
    return np.array(true, np.int64), np.array(voted, np.int64)


def summarise(
    preds: FoldPredictions, y: np.ndarray, windows: Sequence[Window], n_classes: int
) -> dict[str, Any]:
    """Window and trial accuracy (mean, spread, per subject) and the pooled confusion matrix."""
    win: dict[str, float] = {}
    trial: dict[str, float] = {}
    n_test: dict[str, int] = {}
    confusion = np.zeros((n_classes, n_classes), np.int64)
    for subject, (idx, pred) in preds.by_fold.items():
        n_test[subject] = int(len(idx))
        if not len(idx):
            win[subject] = trial[subject] = float("nan")
            continue
        win[subject] = float((pred == y[idx]).mean())
        t_true, t_pred = trial_votes(pred, idx, windows, y)
        trial[subject] = float((t_true == t_pred).mean())
        np.add.at(confusion, (y[idx], pred), 1)
    return {
        "window_accuracy": _spread(win),
        "trial_accuracy": _spread(trial),
        "n_test_windows": n_test,
        "confusion": confusion.tolist(),
    }


def method_summary(
    preds: dict[str, FoldPredictions],
    y: np.ndarray,
    windows: Sequence[Window],
    n_classes: int,
    within_subject: bool,
) -> dict[str, Any]:
    """Regime -> :func:`summarise` of one method; with ``within_subject`` (and a reference
    that tested something) each few-shot regime also as a share of it per subject."""
    res = {r: summarise(preds[r], y, windows, n_classes) for r in preds}
    ws = res.get(REFERENCE, {}).get("window_accuracy", {}).get("per_subject") or {}
    if within_subject and ws:
        for regime in FEW_SHOT_SPLITS:
            fs = res[regime]["window_accuracy"]["per_subject"]
            share = {s: fs[s] / ws[s] if ws.get(s) else float("nan") for s in fs}
            res[regime]["share_of_within_subject"] = _spread(share)
    return res


def finetune_regime(
    encoder: TokenEncoder,
    tokens: dict[str, RecordingTokens],
    windows: Sequence[Window],
    folds: Sequence[Fold],
    y: np.ndarray,
    n_classes: int,
    config: EvalConfig,
    progress: bool = True,
) -> dict[str, dict[str, Any]]:
    """The ``model-finetune`` method: per fold, a fresh copy of the backbone's last
    ``finetune_layers`` layers and a head trained on the training subjects' labels
    (training.finetune.supervised_fold); method name -> regime -> summary.

    ``finetune_adapt`` ``probe``: the fold's fine-tuned pooled features (the head's input)
    of every window go through :func:`run_regimes` for that fold alone, as the frozen
    ``model`` method's features do (the configured probe; per-subject standardisation from
    unlabelled windows; the adaptation windows added to the training subjects): every
    regime and the within-subject reference. ``gradient``: the head's zero-shot
    predictions, and few-shot by adapting a copy of the model with gradient steps on the
    adaptation windows (unsupervised calibration and within-subject not defined: None).
    ``both``: ``probe`` as ``model-finetune`` and ``gradient`` as
    ``model-finetune-gradient``. Neither sees the target subject's labels before its
    adaptation windows.
    """
    adapt = check_option("finetune_adapt", config.finetune_adapt, FINETUNE_ADAPTS)
    fcfg = FinetuneConfig(
        steps=config.finetune_steps,
        lr=config.finetune_lr,
        layers=config.finetune_layers,
        seed=config.seed,
        pool_max=config.pool_max,
        pooling=config.pooling,
    )
    slots = pooling_slots(tokens, config.pooling, windows)
    items = window_items(
        tokens,
        windows,
        model_window_s=config.model_window_s,
        max_window_tokens=config.max_window_tokens,
    )
    torch_device = resolve_torch_device(config.torch_device)
    probe = {r: FoldPredictions() for r in (*REGIMES, REFERENCE)}
    gradient = {r: FoldPredictions() for r in (*REGIMES, REFERENCE)}
    every = np.arange(len(windows))
    bar = tqdm(folds, desc="fine-tune", disable=not progress or not sys.stderr.isatty())
    for f in bar:
        splits = few_shot_splits(windows, f.test_idx, config.few_shot)
        fold = supervised_fold(
            encoder,
            items,
            y,
            f.train_idx,
            f.test_idx,
            list(splits.values()) if adapt != "probe" else [],
            n_classes,
            slots,
            fcfg,
            torch_device,
            features_of=every if adapt != "gradient" else None,
        )
        gradient["zero_shot"].by_fold[f.test_subject] = (f.test_idx, fold.zero)
        if adapt != "probe":
            for (regime, (_, rest)), pred in zip(splits.items(), fold.few, strict=True):
                gradient[regime].by_fold[f.test_subject] = (rest, pred)
        if fold.features is not None:
            got = run_regimes("model", fold.features, y, windows, [f], config, n_classes)
            for r, p in got.items():
                probe[r].by_fold.update(p.by_fold)
    out = {}
    if adapt != "gradient":
        out["model-finetune"] = probe
    if adapt != "probe":
        out["model-finetune" if adapt == "gradient" else "model-finetune-gradient"] = gradient
    return {
        name: method_summary(p, y, windows, n_classes, config.within_subject)
        for name, p in out.items()
    }


def evaluation_windows(
    config: EvalConfig,
    shard_recs: list[RecordingEvents],
    lake_path: str | Path | None,
) -> tuple[list[Window], str]:
    """(windows, where their events came from) for ``config``'s dataset and filters.

    Events come from the lake when ``lake_path`` is given, else from the shards
    (``shard_recs``); ``config.device`` needs the lake. ConfigError when a filter leaves
    nothing or names what is not there.
    """
    if lake_path is not None:
        recs = lake_recording_events(lake_path, config.dataset, config.device)
        source = "lake events"
    elif config.device is not None:
        raise ConfigError("--device needs the lake (the shards do not record the EMG device)")
    else:
        recs, source = shard_recs, "shard events"
    if config.sessions is not None:
        found = sorted({r.session for r in recs})
        recs = [r for r in recs if r.session in set(config.sessions)]
        if not recs:
            raise ConfigError(
                f"--sessions {config.sessions}: dataset {config.dataset!r} has sessions {found}"
            )
    windows = make_windows(recs, config.spec)
    if config.subjects is not None:
        unknown = sorted(set(config.subjects) - {w.subject_key for w in windows})
        if unknown:
            raise ConfigError(
                f"--subjects {unknown} have no labelled windows in dataset {config.dataset!r}"
            )
        windows = [w for w in windows if w.subject_key in set(config.subjects)]
    if not windows:
        raise ConfigError(
            f"dataset {config.dataset!r}: no labelled windows of {config.spec.window_s} s "
            f"(labelled event kinds: gesture{' and rest' if config.spec.include_rest else ''})"
        )
    return windows, source


def evaluation_folds(
    config: EvalConfig, shard_recs: list[RecordingEvents], lake_path: str | Path | None
) -> tuple[list[Window], str, list[Any]]:
    """The evaluation's windows (:func:`evaluation_windows`), where they were cut from, and
    their LOSO folds, checked disjoint: what every method, the audit included, classifies."""
    windows, source = evaluation_windows(config, shard_recs, lake_path)
    folds = loso_folds(windows)
    check_disjoint(folds, windows)
    return windows, source, folds


def config_embedding(
    encoder: Any,
    tokens: dict[str, Any],
    windows: list[Window],
    config: EvalConfig,
    progress: bool = False,
) -> np.ndarray:
    """The frozen ``encoder``'s features of ``windows`` as ``config`` asks for them (model
    window [s], token cap, pooling, batch size, torch device): the one call the evaluation
    and bench/bench_eval.py make."""
    return embed_windows(
        encoder,
        tokens,
        windows,
        model_window_s=config.model_window_s,
        max_window_tokens=config.max_window_tokens,
        pooling=config.pooling,
        pool_max=config.pool_max,
        batch_size=config.batch_size,
        torch_device=config.torch_device,
        progress=progress,
    )


def config_word_bags(
    config: EvalConfig,
    shard_set: ShardSet,
    tokens: dict[str, RecordingTokens],
    windows: list[Window],
    folds: Sequence[Fold],
    n_words: int,
) -> tuple[Callable[[Fold], np.ndarray] | None, str | None]:
    """training.spatial_words.spatial_word_bags of ``n_words`` words on the evaluation's
    windows and folds, with the model window, token cap and seed of ``config``."""
    items = window_items(
        tokens,
        windows,
        model_window_s=config.model_window_s,
        max_window_tokens=config.max_window_tokens,
    )
    return spatial_word_bags(
        items,
        position_slots(tokens, windows),
        intensity_index(shard_set.index),
        windows,
        folds,
        model_window_s=config.model_window_s,
        n_words=n_words,
        seed=config.seed,
    )


def evaluate_loso(
    shards: str | Path | None,
    checkpoint: str | Path | None,
    config: EvalConfig,
    *,
    lake_path: str | Path | None = None,
    window_shards: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the LOSO protocol on ``config.dataset``; return the report as a JSON-able dict.

    ``checkpoint`` None: baselines only (no ``model`` method; its report part is None).
    ``shards`` None (only without a checkpoint): windows from the lake, no audit.
    Raises ConfigError if nothing is left to evaluate (no checkpoint, no baseline), if
    neither shards nor a lake are given, if the checkpoint was pretrained on an evaluation
    subject, if its vocabulary differs from the shards', if it embeds descriptors the
    shards lack, if a lake baseline is asked for without a lake, or if the window baseline
    is asked for without ``window_shards``.
    """
    t0 = time.perf_counter()
    baselines = parse_baselines(config.baselines)
    if not config.few_shot_weight > 0:
        raise ConfigError(f"few_shot_weight must be > 0, got {config.few_shot_weight}")
    if checkpoint is None and not baselines:
        raise ConfigError("nothing to evaluate: no checkpoint and no baseline")
    if shards is None and checkpoint is not None:
        raise ConfigError(f"checkpoint {checkpoint}: the model reads token shards, give them")
    if shards is None and lake_path is None:
        raise ConfigError("no lake and no token shards: the windows are cut from one of them")
    if any(b in LAKE_BASELINES for b in baselines) and lake_path is None:
        raise ConfigError(f"baselines {baselines} read raw samples: a lake path is needed")
    if "window" in baselines and window_shards is None:
        raise ConfigError("--baselines window needs --window-shards DIR (window-tokenizer shards)")
    shard_set = ShardSet.open(shards) if shards is not None else None
    tokens, shard_recs = load_dataset_tokens(shard_set, config.dataset) if shard_set else ({}, [])
    windows, source, folds = evaluation_folds(config, shard_recs, lake_path)
    eval_subjects = subjects_of(windows)

    encoder_model, meta = load_checkpoint(checkpoint) if checkpoint is not None else (None, None)
    if meta is not None:
        assert shard_set is not None
        check_no_overlap(meta.pretrain_subjects, eval_subjects, what=f"checkpoint {checkpoint}")
        check_descriptors(meta.model.desc_dim, shard_set, what=f"checkpoint {checkpoint}")
        if meta.vocab_id and shard_set.vocab_id and meta.vocab_id != shard_set.vocab_id:
            raise ConfigError(
                f"checkpoint {checkpoint} was pretrained on vocabulary {meta.vocab_id}, "
                f"the shards at {shard_set.root} use {shard_set.vocab_id}"
            )
    labels = window_labels(windows)
    y = np.array([labels.index(w.label) for w in windows], np.int64)
    ids = [w.window_id for w in windows]

    features: dict[str, tuple[list[str], np.ndarray]] = {}
    model_words = config.spatial_words if encoder_model is not None else 0
    word_bags = None  # the audit's N_WORDS words, also the model's when it asks for as many
    if shard_set is not None and (config.audit or model_words == N_WORDS):
        word_bags = config_word_bags(config, shard_set, tokens, windows, folds, N_WORDS)
    model_block, words_note = None, None
    if model_words > 0:
        assert shard_set is not None
        if word_bags is not None and model_words == N_WORDS:
            model_block, why = word_bags
        else:
            model_block, why = config_word_bags(
                config, shard_set, tokens, windows, folds, model_words
            )
        words_note = (
            f"the model's features + a bag of {config.spatial_words} spatial words per window"
            if model_block is not None
            else f"spatial words ({config.spatial_words}) not appended: {why}"
        )
    if encoder_model is not None:
        emb = config_embedding(encoder_model.encoder, tokens, windows, config, progress)
        features["model"] = ([w.window_id for w in windows], emb)
    lake_methods = [b for b in baselines if b in LAKE_BASELINES]
    if lake_methods:
        assert lake_path is not None
        feats = lake_features(lake_path, windows, lake_methods, progress)
        for m in lake_methods:
            features[m] = ([w.window_id for w in windows], feats[m])
    if "window" in baselines:
        assert window_shards is not None
        w_tokens, _ = load_dataset_tokens(ShardSet.open(window_shards), config.dataset)
        features["window"] = ([w.window_id for w in windows], bag_of_tokens(w_tokens, windows))
    for name, (method_ids, mat) in features.items():
        if method_ids != ids or mat.shape[0] != len(ids):
            raise ConfigError(f"method {name} did not classify the evaluation's window list")

    methods: dict[str, Any] = {}
    bar = tqdm(features.items(), desc="LOSO", disable=not progress or not sys.stderr.isatty())
    for name, (_, mat) in bar:
        bar.set_postfix(method=name)
        block = model_block if name == "model" else None
        preds, _ = regimes_in_workers(name, mat, y, windows, folds, config, len(labels), block)
        methods[name] = method_summary(preds, y, windows, len(labels), config.within_subject)

    if config.finetune_steps > 0 and encoder_model is not None:
        methods.update(
            finetune_regime(
                encoder_model.encoder, tokens, windows, folds, y, len(labels), config, progress
            )
        )
    report = loso_report(config, windows, source, folds, labels, checkpoint, meta, shard_set)
    if words_note is not None:
        report["spatial_words"] = {"appended": model_block is not None, "note": words_note}
    if config.audit and shard_set is not None:
        from training.audit import config_audit

        report["audit"] = config_audit(config, shard_set, tokens, windows, folds, word_bags)
    return {**report, "methods": methods, "seconds": time.perf_counter() - t0}


def loso_report(
    config: EvalConfig,
    windows: Sequence[Window],
    source: str,
    folds: Sequence[Fold],
    labels: list[str],
    checkpoint: str | Path | None,
    meta: CheckpointMeta | None,
    shard_set: ShardSet | None,
) -> dict[str, Any]:
    """The report's description of what was evaluated (all but ``methods`` and ``seconds``;
    ``checkpoint``/``shards`` None when there were none: baselines only)."""
    pct = round(100 * config.few_shot, 2)
    eval_subjects = subjects_of(windows)
    return {
        "protocol": "loso",
        "dataset": config.dataset,
        "config": config.to_dict(),
        "regimes": {
            r: REGIME_SEES[r].format(pct=pct, weight=config.few_shot_weight)
            for r in (*REGIMES, REFERENCE)
        },
        "windows": {
            "source": source,
            "n_windows": len(windows),
            "n_trials": len({w.trial_key for w in windows}),
            "n_subjects": len(eval_subjects),
            "subjects": eval_subjects,
            "labels": labels,
            "model_sees": (
                "tokens whose onset falls in the window"
                if config.model_window_s is None
                else f"tokens whose onset falls in a {config.model_window_s} s window with the "
                "same centre, clipped to the window's own repetition"
            ),
            "baselines_see": "raw samples of the window at the native rate (lake)",
        },
        "folds": [
            {"test_subject": f.test_subject, "n_train": len(f.train_idx), "n_test": len(f.test_idx)}
            for f in folds
        ],
        "checkpoint": None
        if meta is None
        else {
            "path": str(checkpoint),
            "vocab_id": meta.vocab_id,
            "snapshot": meta.snapshot,
            "pretrain_subjects": len(meta.pretrain_subjects),
            "pretrain_datasets": meta.pretrain_datasets,
            "model": meta.model.to_dict(),
        },
        "shards": None
        if shard_set is None
        else {"path": str(shard_set.root), "vocab_id": shard_set.vocab_id},
        "curve": meta.curve if meta is not None else [],
    }
