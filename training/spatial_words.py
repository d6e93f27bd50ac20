"""Spatial words: the activation pattern over electrode positions at each time step, quantised.

A *step pattern* is what the electrodes show at one instant of a window: on a grid of
``step_s`` [s] over the window (its model window, training.embedding.model_window_bounds),
every code token active at the step (onset <= t < onset + duration) gives its position's
level, the token's intensity descriptor entry (emgcorpus.shards.descriptor_layout; the
largest where a position has several). The pattern holds, per position (the slots of
training.embedding.position_slots), that level minus the mean level over the step's active
positions (relative log-intensity: free of gain, skin and the person's strength) and a
presence flag; absent positions are 0. Steps with no active position are not patterns;
they count as the "no word" share.

A *spatial word* is the pattern's nearest centroid in a k-means codebook of ``n_words``
centroids. The codebook is fitted per LOSO fold on the training subjects' steps only (a
sample of at most ``max_fit_steps``, seeded), so nothing of the held-out subject enters it,
and a window's features are its bag of words: the share of its grid steps given each word,
plus the share with no word (``n_words + 1`` columns summing to 1).

Why a per-fold codebook and not one compiled with the vocabulary on the pretraining corpus:
a pattern over electrode *positions* is only comparable between recordings whose positions
mean the same muscles. On CIIL a codebook fitted on the Côté-Allard tokens of the pretrain
lake (the same 8-electrode armband, other people, another protocol) lost to the per-fold one by
2-8 points (training/RESULTS.md, screen E3-b).

Where words help: pooling the descriptors per position over a window keeps which
positions were active and how strongly, on average, but not which were active *together*;
a word per step keeps the co-activation (a synergy), which the bag then counts. Appended
to the model's features (training.evaluate.EvalConfig.spatial_words) they gained 4.3
points zero-shot on CIIL and cost 2.3 on Côté-Allard, so they are opt-in; the audit
reports them on every run (training/RESULTS.md, row W64).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from emgcorpus.shards.special_tokens import FIRST_CODE_ID
from training.embedding import MAX_POOL_POSITIONS, item_slots, model_window_bounds
from training.windows import Window

#: why words (or the audit's per-position feature sets) cannot be built
NO_SLOTS = f"more than {MAX_POOL_POSITIONS} electrode positions (no per-position pooling)"
NO_DESCRIPTORS = "the shards store no token descriptors (token_desc)"
NO_INTENSITY = (
    "no intensity entry known for these descriptors "
    "(index field intensity_index or emgcorpus.shards.descriptor_layout)"
)
#: grid step [s] of the step patterns (the NCT's 50 ms onset resolution)
STEP_S = 0.05
#: codebook size
N_WORDS = 64
#: most training steps the k-means of one fold is fitted on
MAX_FIT_STEPS = 60_000
#: k-means (Lloyd) iterations of one codebook fit
KMEANS_ITER = 50


@dataclass(frozen=True)
class StepPatterns:
    """Every active step pattern of every window, in window order."""

    vectors: np.ndarray  # float32 (m, 2 * n_positions): relative levels, then presence flags
    owner: np.ndarray  # int64 (m,): index of the window each step belongs to
    n_steps: np.ndarray  # int64 (n_windows,): grid steps of each window (active or not)


def window_patterns(
    item: dict[str, np.ndarray],
    slot: np.ndarray,
    intensity: int,
    n_positions: int,
    length_s: float,
    step_s: float = STEP_S,
) -> tuple[np.ndarray, int]:
    """(active step patterns (a, 2 * n_positions) float32, grid steps) of one window's
    tokens ``item`` (training.embedding.window_items; onsets [s] from the window start),
    ``slot`` the position slot of each token (-1: none), over a window of ``length_s`` [s]."""
    n_grid = max(1, int(np.ceil(length_s / step_s - 1e-9)))
    ids = np.asarray(item["token_ids"])
    if len(ids) == 0:
        return np.zeros((0, 2 * n_positions), np.float32), n_grid
    level = np.asarray(item["desc"], np.float64).reshape(len(ids), -1)[:, intensity]
    keep = (ids >= FIRST_CODE_ID) & (slot >= 0) & np.isfinite(level)
    if not keep.any():
        return np.zeros((0, 2 * n_positions), np.float32), n_grid
    on = np.asarray(item["onset_s"], np.float64)[keep]
    end = on + np.asarray(item["duration_s"], np.float64)[keep]
    sl, lev = slot[keep], level[keep]
    t = (np.arange(n_grid) + 0.5) * step_s
    active = (on[None, :] <= t[:, None]) & (t[:, None] < end[None, :])  # (grid, tokens)
    grid = np.full((n_grid, n_positions), -np.inf)
    for j in np.unique(sl):
        cols = sl == j
        grid[:, j] = np.where(active[:, cols], lev[cols][None, :], -np.inf).max(axis=1)
    present = np.isfinite(grid)
    rows = present.any(axis=1)
    grid, present = grid[rows], present[rows]
    vals = np.where(present, grid, 0.0)
    mean = vals.sum(axis=1, keepdims=True) / present.sum(axis=1, keepdims=True)
    rel = np.where(present, vals - mean, 0.0)
    return np.hstack([rel, present]).astype(np.float32), n_grid


def step_patterns(
    items: Sequence[dict[str, np.ndarray]],
    slot_of: Sequence[np.ndarray],
    windows: Sequence[Window],
    n_positions: int,
    intensity: int,
    model_window_s: float | None,
    step_s: float = STEP_S,
) -> StepPatterns:
    """:func:`window_patterns` of every window: ``items`` its tokens, ``slot_of`` their
    position slots, ``windows`` the windows (each grid spans its model window)."""
    vecs, owners, n_steps = [], [], np.zeros(len(items), np.int64)
    for i, (it, sl, w) in enumerate(zip(items, slot_of, windows, strict=True)):
        a, b = model_window_bounds(w, model_window_s)
        v, n_steps[i] = window_patterns(it, sl, intensity, n_positions, b - a, step_s)
        vecs.append(v)
        owners.append(np.full(len(v), i, np.int64))
    width = 2 * n_positions
    return StepPatterns(
        vectors=np.concatenate(vecs) if vecs else np.zeros((0, width), np.float32),
        owner=np.concatenate(owners) if owners else np.zeros(0, np.int64),
        n_steps=n_steps,
    )


def fit_codebook(
    vectors: np.ndarray,
    n_words: int = N_WORDS,
    seed: int = 0,
    max_fit_steps: int = MAX_FIT_STEPS,
) -> Any:
    """A fitted sklearn KMeans of ``n_words`` centroids (fewer when there are fewer distinct
    patterns) on a seeded sample of at most ``max_fit_steps`` rows of ``vectors``."""
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(seed)
    pick = rng.choice(len(vectors), size=min(max_fit_steps, len(vectors)), replace=False)
    sample = vectors[np.sort(pick)]
    k = max(1, min(n_words, len(np.unique(sample, axis=0))))
    return KMeans(k, n_init=1, max_iter=KMEANS_ITER, random_state=seed).fit(sample)


def word_bag(words: np.ndarray, patterns: StepPatterns, n_words: int) -> np.ndarray:
    """(n_windows, n_words + 1) float32: each window's share of grid steps per word
    (``words``: the word of every step of ``patterns``), last column the no-word share."""
    n = len(patterns.n_steps)
    bag = np.zeros((n, n_words + 1), np.float64)
    np.add.at(bag, (patterns.owner, words), 1.0)
    bag[:, n_words] = np.maximum(0, patterns.n_steps - bag[:, :n_words].sum(axis=1))
    return (bag / np.maximum(patterns.n_steps, 1)[:, None]).astype(np.float32)


def fold_word_bags(
    patterns: StepPatterns,
    folds: Sequence[Any],
    n_words: int = N_WORDS,
    seed: int = 0,
    max_fit_steps: int = MAX_FIT_STEPS,
) -> Callable[[Any], np.ndarray]:
    """fold -> every window's bag of words (:func:`word_bag`) under the codebook fitted on
    that fold's training windows' steps (``folds``: training.splits.Fold). The codebooks
    are fitted here, up front, in this process (fold workers only count words); a fold
    whose training windows have no active step gives every window the no-word share only."""
    words: dict[str, np.ndarray] = {}
    for f in folds:
        train_steps = np.isin(patterns.owner, f.train_idx)
        if not train_steps.any():
            words[f.test_subject] = np.zeros(0, np.int16)
            continue
        book = fit_codebook(patterns.vectors[train_steps], n_words, seed, max_fit_steps)
        words[f.test_subject] = book.predict(patterns.vectors).astype(np.int16)

    def bag(fold: Any) -> np.ndarray:
        w = words[fold.test_subject]
        if len(w) == 0:
            empty = StepPatterns(patterns.vectors[:0], patterns.owner[:0], patterns.n_steps)
            return word_bag(w.astype(np.int64), empty, n_words)
        return word_bag(w.astype(np.int64), patterns, n_words)

    return bag


def spatial_word_bags(
    items: Sequence[dict[str, np.ndarray]],
    slots: dict[bytes, int],
    intensity: int | None,
    windows: Sequence[Window],
    folds: Sequence[Any],
    *,
    model_window_s: float | None,
    n_words: int = N_WORDS,
    seed: int = 0,
) -> tuple[Callable[[Any], np.ndarray] | None, str | None]:
    """(fold -> bags of words (:func:`fold_word_bags`), None) for the windows' token
    sequences ``items`` (training.embedding.window_items), or (None, why not) when the
    words cannot be built: no position slots (dense grids), no stored descriptors, no
    intensity entry."""
    if not slots:
        return None, NO_SLOTS
    if not items or not all("desc" in it for it in items):
        return None, NO_DESCRIPTORS
    if intensity is None:
        return None, NO_INTENSITY
    slot_of = item_slots(items, slots)
    patterns = step_patterns(items, slot_of, windows, len(slots), intensity, model_window_s)
    return fold_word_bags(patterns, folds, n_words, seed), None
