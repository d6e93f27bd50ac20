"""Information audit: what a tokenizer's tokens carry about the gesture before any model.

On exactly the evaluation's windows and folds (training.evaluate.evaluation_windows,
training.splits.loso_folds) and from the tokens the model would see of each window
(training.embedding.window_items: onset in the window, or in ``model_window_s`` around its
centre, capped at ``max_window_tokens``), three feature sets per window, each per
electrode position (training.embedding.position_slots; datasets with more than
MAX_POOL_POSITIONS positions get none of them):

- ``pooled-descriptors``: the mean of the tokens' stored continuous descriptors
  (``token_desc``, NaN entries ignored) and a flag "the position has a code token"; not
  available when the shards store no descriptors;
- ``bag-position-code``: a histogram of the position's token ids (rest and special ids
  included) over the ``BAG_CODES`` most frequent ids of these windows plus one "other"
  bin, normalised by the position's token count;
- ``spatial-intensity``: the spatial intensity pattern alone: per position, the mean
  intensity entry of its tokens' descriptors (emgcorpus.shards.descriptor_layout) minus
  the mean of that over the window's active positions (relative log-intensity: independent
  of gain and strength), with a presence flag (absent positions: 0); not available without
  descriptors or an intensity entry;
- ``spatial-words``: what the positions do *together*, step by step: the bag of spatial
  words of training.spatial_words (the relative intensity pattern every 50 ms, quantised
  by a k-means codebook fitted per fold on the training subjects' steps); available when
  ``spatial-intensity`` is.

Each is classified by shrinkage LDA (training.baselines.linear_probe("lda"), the model's
LDA probe) zero-shot (standardised by the training subjects) and within-subject (first
half of the target's repetitions trains, calibrated), as training.evaluate does for every
method. The result has the shape of a report's ``methods`` (name -> regime -> summary),
with ``unavailable`` naming the sets that could not be built and why.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emgcorpus.errors import ConfigError
from emgcorpus.shards.descriptor_layout import intensity_index
from emgcorpus.shards.reader import RecordingTokens, ShardSet
from emgcorpus.shards.special_tokens import FIRST_CODE_ID
from training.baselines import linear_probe
from training.data import load_dataset_tokens
from training.embedding import item_slots, position_slots, window_items
from training.spatial_words import (
    N_WORDS,
    NO_DESCRIPTORS,
    NO_INTENSITY,
    NO_SLOTS,
    STEP_S,
    spatial_word_bags,
)
from training.windows import Window, window_labels

#: most frequent token ids given their own histogram bin (the rest share one "other" bin)
BAG_CODES = 32
FEATURE_SETS = ("pooled-descriptors", "bag-position-code", "spatial-intensity")
#: every feature set the audit reports (the last fitted per fold: training.spatial_words)
AUDIT_SETS = (*FEATURE_SETS, "spatial-words")
AUDIT_REGIMES = ("zero_shot", "within_subject")


def audit_features(
    items: Sequence[dict[str, np.ndarray]],
    slots: dict[bytes, int],
    intensity: int | None,
    bag_codes: int = BAG_CODES,
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(feature set -> (n_windows, n_features) matrix, feature set -> why it is unavailable)
    for the token sequences ``items`` (training.embedding.window_items)."""
    unavailable: dict[str, str] = {}
    if not slots:
        return {}, {name: NO_SLOTS for name in FEATURE_SETS}
    n, s = len(items), len(slots)
    slot_idx = item_slots(items, slots)
    feats: dict[str, np.ndarray] = {}

    ids_all = np.concatenate([np.asarray(it["token_ids"]) for it in items]) if n else np.zeros(0)
    uniq, counts = np.unique(ids_all, return_counts=True)
    top = np.sort(uniq[np.argsort(-counts, kind="stable")[:bag_codes]])
    col = {int(t): j for j, t in enumerate(top)}
    k = len(col) + 1
    bag = np.zeros((n, s, k), np.float64)
    for i, it in enumerate(items):
        for t, sl in zip(np.asarray(it["token_ids"]), slot_idx[i]):
            if sl >= 0:
                bag[i, sl, col.get(int(t), k - 1)] += 1.0
    tot = bag.sum(axis=2, keepdims=True)
    feats["bag-position-code"] = (bag / np.where(tot == 0, 1.0, tot)).reshape(n, -1)

    has_desc = n > 0 and all("desc" in it for it in items)
    if not has_desc:
        unavailable["pooled-descriptors"] = unavailable["spatial-intensity"] = NO_DESCRIPTORS
        return feats, unavailable
    d = int(np.asarray(items[0]["desc"]).reshape(len(items[0]["token_ids"]), -1).shape[1])
    pooled = np.zeros((n, s, d + 1), np.float64)
    spatial = np.zeros((n, s, 2), np.float64)
    for i, it in enumerate(items):
        desc = np.asarray(it["desc"], np.float64).reshape(-1, d)
        code = np.asarray(it["token_ids"]) >= FIRST_CODE_ID
        sl = slot_idx[i]
        level = np.full(s, np.nan)
        for j in range(s):
            sel = (sl == j) & code
            if not sel.any():
                continue
            block = desc[sel]
            fin = np.isfinite(block)
            m = np.where(fin, block, 0.0).sum(0) / np.maximum(fin.sum(0), 1)
            pooled[i, j, :d] = m
            pooled[i, j, d] = 1.0
            if intensity is not None and fin[:, intensity].any():
                level[j] = m[intensity]
        ok = np.isfinite(level)
        if ok.any():
            spatial[i, ok, 0] = level[ok] - level[ok].mean()
            spatial[i, ok, 1] = 1.0
    feats["pooled-descriptors"] = pooled.reshape(n, -1)
    if intensity is None or not 0 <= intensity < d:
        unavailable["spatial-intensity"] = NO_INTENSITY
    else:
        feats["spatial-intensity"] = spatial.reshape(n, -1)
    return feats, unavailable


def audit_regimes(
    features: np.ndarray,
    y: np.ndarray,
    windows: Sequence[Window],
    folds: Sequence[Any],
    n_classes: int,
    within_subject: bool = True,
    fold_block: Callable[[Any], np.ndarray] | None = None,
) -> dict[str, Any]:
    """Zero-shot and within-subject summaries (training.evaluate.summarise) of shrinkage LDA
    on ``features``, over ``folds``, exactly as training.evaluate.run_regimes fits them
    (``fold_block`` too: per-fold columns appended to ``features``)."""
    from training.evaluate import (
        FoldPredictions,
        _fit_predict,
        _standardise,
        fold_features,
        per_subject_standardise,
        summarise,
    )
    from training.splits import time_half_split

    def make() -> Any:
        return linear_probe("lda")

    preds = {r: FoldPredictions() for r in AUDIT_REGIMES}
    base = features
    base_calibrated = per_subject_standardise(base, windows) if within_subject else None
    for f in folds:
        features, calibrated = fold_features(base, base_calibrated, fold_block, f, windows)
        tr, te = f.train_idx, f.test_idx
        xtr, xte = _standardise(features[tr].astype(np.float64), features[te].astype(np.float64))
        preds["zero_shot"].by_fold[f.test_subject] = (
            te,
            _fit_predict(make, xtr, y[tr], xte, n_classes),
        )
        if within_subject:
            assert calibrated is not None
            first, second = time_half_split(windows, te)
            preds["within_subject"].by_fold[f.test_subject] = (
                second,
                _fit_predict(make, calibrated[first], y[first], calibrated[second], n_classes),
            )
    return {r: summarise(p, y, windows, n_classes) for r, p in preds.items() if p.by_fold}


def information_audit(
    shard_set: ShardSet,
    tokens: dict[str, RecordingTokens],
    windows: Sequence[Window],
    folds: Sequence[Any],
    *,
    model_window_s: float | None,
    max_window_tokens: int,
    within_subject: bool = True,
    word_bags: tuple[Callable[[Any], np.ndarray] | None, str | None] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """The audit section of a report (module docstring) on given windows and folds;
    ``word_bags``: the result of training.spatial_words.spatial_word_bags with
    ``N_WORDS`` words on these windows and folds, if already computed (else they are
    computed here with codebook seed ``seed``)."""
    t0 = time.perf_counter()
    labels = window_labels(windows)
    y = np.array([labels.index(w.label) for w in windows], np.int64)
    items = window_items(
        tokens, windows, model_window_s=model_window_s, max_window_tokens=max_window_tokens
    )
    slots = position_slots(tokens, windows)
    inten = intensity_index(shard_set.index)
    feats, unavailable = audit_features(items, slots, inten)
    methods = {
        name: audit_regimes(feats[name], y, windows, folds, len(labels), within_subject)
        for name in FEATURE_SETS
        if name in feats
    }
    if word_bags is None:
        word_bags = spatial_word_bags(
            items, slots, inten, windows, folds, model_window_s=model_window_s, seed=seed
        )
    bags, why = word_bags
    if bags is None:
        unavailable["spatial-words"] = str(why)
    else:
        empty = np.zeros((len(windows), 0), np.float32)
        methods["spatial-words"] = audit_regimes(
            empty, y, windows, folds, len(labels), within_subject, fold_block=bags
        )
    return {
        "probe": "lda",
        "sees": "tokens whose onset falls in the model's window (training.embedding), "
        "pooled per electrode position",
        "feature_sets": {
            "pooled-descriptors": "per position: mean stored descriptor of its code tokens "
            "+ 'has a code token' flag",
            "bag-position-code": f"per position: normalised histogram over the {BAG_CODES} "
            "most frequent token ids + other",
            "spatial-intensity": "per position: mean intensity entry relative to the window's "
            "mean over active positions + presence flag",
            "spatial-words": f"bag of {N_WORDS} spatial words (the relative intensity pattern "
            f"over positions every {STEP_S * 1000:.0f} ms, k-means fitted per fold on the "
            "training subjects) + no-word share",
        },
        "n_positions": len(slots),
        "descriptor_dim": shard_set.descriptor_dim,
        "intensity_index": inten,
        "n_features": {
            **{name: int(m.shape[1]) for name, m in feats.items()},
            **({"spatial-words": N_WORDS + 1} if "spatial-words" in methods else {}),
        },
        "chance": 1.0 / max(1, len(labels)),
        "methods": methods,
        "unavailable": unavailable,
        "seconds": time.perf_counter() - t0,
    }


def config_audit(
    config: Any,
    shard_set: ShardSet,
    tokens: dict[str, RecordingTokens],
    windows: Sequence[Window],
    folds: Sequence[Any],
    word_bags: tuple[Callable[[Any], np.ndarray] | None, str | None] | None = None,
) -> dict[str, Any]:
    """:func:`information_audit` with the model window, token cap, within-subject switch
    and seed of ``config`` (a training.evaluate.EvalConfig), as evaluate_loso and run_audit
    use it (``word_bags``: the spatial words, if evaluate_loso computed them already)."""
    return information_audit(
        shard_set,
        tokens,
        windows,
        folds,
        model_window_s=config.model_window_s,
        max_window_tokens=config.max_window_tokens,
        within_subject=config.within_subject,
        word_bags=word_bags,
        seed=config.seed,
    )


def run_audit(
    shards: str | Path,
    config: Any,
    *,
    lake_path: str | Path | None = None,
) -> dict[str, Any]:
    """The audit alone (``emgcorpus train audit``): ``config`` is a training.evaluate.EvalConfig
    (dataset, window spec, filters, model window); windows and folds as evaluate_loso cuts
    them, no checkpoint needed."""
    from training.evaluate import evaluation_folds

    shard_set = ShardSet.open(shards)
    tokens, shard_recs = load_dataset_tokens(shard_set, config.dataset)
    if not tokens:
        raise ConfigError(f"dataset {config.dataset!r} has no sentences in {shard_set.root}")
    windows, source, folds = evaluation_folds(config, shard_recs, lake_path)
    audit = config_audit(config, shard_set, tokens, windows, folds)
    return {
        "dataset": config.dataset,
        "shards": {"path": str(shard_set.root), "vocab_id": shard_set.vocab_id},
        "windows": {"source": source, "n_windows": len(windows), "n_subjects": len(folds)},
        "audit": audit,
    }


def audit_lines(audit: dict[str, Any]) -> list[str]:
    """One line per feature set, e.g. ``bag-position-code: zero_shot 0.612, within_subject
    0.801`` (``unavailable: ...`` for the sets that could not be built)."""
    lines = []
    for name in AUDIT_SETS:
        if name in audit["methods"]:
            res = audit["methods"][name]
            parts = [
                f"{r} {res[r]['window_accuracy']['mean']:.3f}"
                for r in AUDIT_REGIMES
                if r in res and res[r]["window_accuracy"]["mean"] is not None
            ]
            lines.append(f"audit {name}: " + ", ".join(parts))
        else:
            lines.append(f"audit {name}: unavailable ({audit['unavailable'].get(name, '')})")
    return lines


def _fmt_spread(spread: dict[str, Any]) -> str:
    if spread.get("mean") is None:
        return "n/a"
    return f"{spread['mean']:.3f} &plusmn; {spread['std']:.3f}"


def audit_html(audit: dict[str, Any] | None) -> str:
    """The information audit's table (training.audit), or "" when the report has none."""
    if not audit:
        return ""
    e = html.escape
    rows = []
    for name, about in audit["feature_sets"].items():
        res = audit["methods"].get(name)
        if res is None:
            why = audit["unavailable"].get(name, "")
            rows.append(f"<tr><td>{e(name)}</td><td colspan=3>unavailable: {e(why)}</td></tr>")
            continue
        cells = "".join(
            f"<td>{_fmt_spread(res[r]['window_accuracy']) if r in res else 'n/a'}</td>"
            for r in AUDIT_REGIMES
        )
        rows.append(f"<tr><td>{e(name)}</td>{cells}<td>{e(about)}</td></tr>")
    return f"""<h2>Information audit: what the tokens carry before any model</h2>
<p>Shrinkage LDA on features of the {e(audit["sees"])} ({audit["n_positions"]} positions;
chance {audit["chance"]:.3f}), same windows and folds as above.</p>
<table><tr><th>feature set</th><th>zero-shot (per window)</th><th>within-subject</th>
<th>what it is</th></tr>{"".join(rows)}</table>"""
