"""k-means as a map-reduce over sufficient statistics.

The codebook fit never needs all descriptors in one place. Each partition of the corpus
returns small partial results, and the client merges them *in partition order*:

- :class:`MomentStats` (count, mean, M2; float64) for the descriptor standardisation,
  merged with Chan's parallel formula;
- :class:`DescriptorSample`, a bounded sample chosen by a hash of (recording id, segment
  index) -- the same segments whatever the partitioning of work across workers -- used to
  initialise the centroids with k-means++ on the client;
- :class:`LloydPartial` (per-centroid float64 sums, counts, inertia) for each Lloyd step.

Everything is float64 and seeded, so the same descriptors in the same partitions give a
byte-identical codebook whatever the scheduler or the number of workers.
Descriptors are standardised (``(x - mean) / std``) before any distance is taken.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from emgcorpus.errors import ConfigError

#: Rows per block when computing distances (bounds memory to block x k float64).
DISTANCE_BLOCK_ROWS = 8192
#: A standard deviation below this is treated as 1 (a constant descriptor dimension).
MIN_STD = 1e-12


# --------------------------------------------------------------------------- moments
@dataclass
class MomentStats:
    """Count, mean and sum of squared deviations (M2) per dimension, float64.

    ``count`` is the number of rows; ``n`` (per dimension) the number of rows in which
    that entry is present (not NaN: an absent optional entry, see :func:`standardize`).
    """

    count: int
    mean: np.ndarray
    m2: np.ndarray
    n: np.ndarray | None = None  # int64 (dim,); None: every entry present in every row

    def __post_init__(self) -> None:
        if self.n is None:
            self.n = np.full(self.mean.shape[0], self.count, np.int64)

    @classmethod
    def empty(cls, dim: int) -> MomentStats:
        return cls(0, np.zeros(dim, np.float64), np.zeros(dim, np.float64))

    @classmethod
    def of(cls, x: np.ndarray) -> MomentStats:
        """Moments of the rows of ``x`` (n, dim); NaN entries are left out per dimension."""
        x64 = np.asarray(x, dtype=np.float64)
        rows = int(x64.shape[0])
        if rows == 0:
            return cls.empty(int(x64.shape[1]))
        present = ~np.isnan(x64)
        n = present.sum(axis=0).astype(np.int64)
        if n.min() == rows:
            mean = x64.mean(axis=0)
            m2 = ((x64 - mean) ** 2).sum(axis=0)
        else:
            filled = np.where(present, x64, 0.0)
            mean = filled.sum(axis=0) / np.maximum(n, 1)
            m2 = np.where(present, (x64 - mean) ** 2, 0.0).sum(axis=0)
        return cls(rows, mean, m2, n)

    def merge(self, other: MomentStats) -> MomentStats:
        """Chan et al.'s pairwise update per dimension; ``self`` first (order fixed by the
        caller)."""
        assert self.n is not None and other.n is not None
        n = self.n + other.n
        safe = np.maximum(n, 1)
        delta = other.mean - self.mean
        mean = np.where(
            other.n == 0,
            self.mean,
            np.where(self.n == 0, other.mean, self.mean + delta * (other.n / safe)),
        )
        m2 = self.m2 + other.m2 + delta**2 * (self.n * other.n / safe)
        return MomentStats(self.count + other.count, mean, m2, n)

    def std(self) -> np.ndarray:
        """Population standard deviation per dimension; constant or empty dimensions give 1."""
        assert self.n is not None
        std = np.sqrt(self.m2 / np.maximum(self.n, 1))
        return np.where((std < MIN_STD) | (self.n == 0), 1.0, std)


def merge_moments(parts: Sequence[MomentStats], dim: int) -> MomentStats:
    """Merge partial moments in the given (partition) order."""
    total = MomentStats.empty(dim)
    for p in parts:
        total = total.merge(p)
    return total


def usable_rows(x: np.ndarray) -> np.ndarray:
    """Rows that can be coded: no infinite entry and not every entry absent (NaN).

    A NaN entry is an *absent* optional descriptor (e.g. a band the device did not
    record); a row of NaN (a rest segment) or with an infinite value has no code.
    """
    x = np.asarray(x)
    if x.shape[0] == 0:
        return np.zeros(0, bool)
    return ~np.isinf(x).any(axis=1) & ~np.isnan(x).all(axis=1)


def standardize(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(x - mean) / std`` as float64; absent (NaN) entries become 0, the corpus mean.

    So an entry a device cannot measure is neutral: it pulls the segment towards no code
    in particular.
    """
    z = (np.asarray(x, dtype=np.float64) - mean) / std
    if np.isnan(z).any():
        np.nan_to_num(z, copy=False, nan=0.0)
    return z


# --------------------------------------------------------------------------- sample
def _splitmix64(z: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser on uint64 arrays (wrapping arithmetic)."""
    z = z.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        z += np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return z


def segment_hashes(recording_id: str, segment_index: np.ndarray, seed: int) -> np.ndarray:
    """A uint64 hash per segment of (seed, recording id, segment index within the recording).

    Sampling by the smallest hashes picks the same segments wherever they are computed.
    """
    key = hashlib.sha256(f"{seed}\x1f{recording_id}".encode()).digest()
    base = np.uint64(int.from_bytes(key[:8], "little"))
    with np.errstate(over="ignore"):
        z = np.asarray(segment_index, dtype=np.uint64) * np.uint64(0xD1B54A32D192ED03) + base
    return _splitmix64(z)


@dataclass
class DescriptorSample:
    """At most ``capacity`` descriptors with the smallest hashes, sorted by hash."""

    hashes: np.ndarray  # uint64 (n,)
    descriptors: np.ndarray  # float32 (n, dim)

    @classmethod
    def empty(cls, dim: int) -> DescriptorSample:
        return cls(np.zeros(0, np.uint64), np.zeros((0, dim), np.float32))

    @classmethod
    def bottom(cls, hashes: np.ndarray, descriptors: np.ndarray, capacity: int) -> DescriptorSample:
        """Keep the ``capacity`` rows with the smallest hashes (stable on ties)."""
        order = np.argsort(hashes, kind="stable")[:capacity]
        return cls(hashes[order].astype(np.uint64), descriptors[order].astype(np.float32))

    @classmethod
    def below(
        cls, hashes: np.ndarray, descriptors: np.ndarray, threshold: int | None, capacity: int
    ) -> DescriptorSample:
        """:meth:`bottom` of the rows whose hash is below ``threshold`` (None: every row).

        When at least ``capacity`` rows of the whole corpus fall below the threshold, the
        merged result equals the merge of unthresholded samples (see sample_threshold).
        """
        if threshold is not None:
            keep = hashes < np.uint64(threshold)
            hashes, descriptors = hashes[keep], descriptors[keep]
        return cls.bottom(hashes, descriptors, capacity)


def sample_threshold(rows: int, capacity: int, slack: float) -> int | None:
    """A uint64 hash threshold expected to keep ``capacity`` + ``slack`` standard deviations
    (+ 64) of ``rows`` uniformly hashed rows; None (keep all) when that is every row.

    The bottom-``capacity`` sample of the corpus is then the bottom of the rows below it,
    *provided at least ``capacity`` rows fall below* -- the caller checks and retries with
    more slack -- while a worker holds ~capacity x its share of rows instead of capacity.
    """
    want = capacity + slack * float(np.sqrt(capacity)) + 64.0
    if rows <= want:
        return None
    return min(int(want / rows * 2.0**64), 2**64 - 1)


def merge_samples(parts: Sequence[DescriptorSample], capacity: int, dim: int) -> DescriptorSample:
    """Merge partition samples in partition order and keep the ``capacity`` smallest hashes."""
    if not parts:
        return DescriptorSample.empty(dim)
    hashes = np.concatenate([p.hashes for p in parts])
    descriptors = np.concatenate([p.descriptors.reshape(-1, dim) for p in parts])
    return DescriptorSample.bottom(hashes, descriptors, capacity)


# --------------------------------------------------------------------------- distances
def nearest_centroid(x: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest centroid (int64) and squared distance (float64) for every row.

    Works in blocks of DISTANCE_BLOCK_ROWS rows; exact ties (duplicated centroids) go to the
    lowest centroid index. The nearest centroid is found through one matrix product per
    block, as the argmin of ``|c|^2 / 2 - x.c``: exactly half of ``|c|^2 - 2 x.c`` in floating
    point (halving is exact), so the same argmin and ties, in one pass over the block
    instead of two. Its distance is then taken elementwise, so it has the same bits in
    every process.
    """
    x64 = np.asarray(x, dtype=np.float64)
    c64 = np.asarray(centroids, dtype=np.float64)
    n = x64.shape[0]
    labels = np.zeros(n, np.int64)
    dist2 = np.zeros(n, np.float64)
    if n == 0:
        return labels, dist2
    half_sq = 0.5 * (c64**2).sum(axis=1)
    for start in range(0, n, DISTANCE_BLOCK_ROWS):
        block = x64[start : start + DISTANCE_BLOCK_ROWS]
        d = block @ c64.T  # x.c
        np.subtract(half_sq[None, :], d, out=d)  # in place: no temporaries
        idx = np.argmin(d, axis=1)
        labels[start : start + block.shape[0]] = idx
        # the distance to the chosen centroid again, elementwise: BLAS's matrix product may
        # round differently from one process to the next (seen across Dask workers), and
        # the inertia (stored in the vocabulary) must not
        diff = block - c64[idx]
        dist2[start : start + block.shape[0]] = (diff * diff).sum(axis=1)
    return labels, dist2


# --------------------------------------------------------------------------- Lloyd steps
@dataclass
class LloydPartial:
    """One partition's share of a Lloyd step: per-centroid sums and counts, and inertia."""

    sums: np.ndarray  # float64 (k, dim)
    counts: np.ndarray  # int64 (k,)
    inertia: float  # sum of squared distances to the nearest centroid

    @classmethod
    def empty(cls, k: int, dim: int) -> LloydPartial:
        return cls(np.zeros((k, dim), np.float64), np.zeros(k, np.int64), 0.0)

    @classmethod
    def of(cls, x: np.ndarray, centroids: np.ndarray) -> LloydPartial:
        """The partial of standardised descriptors ``x`` against ``centroids``."""
        k, dim = centroids.shape
        if x.shape[0] == 0:
            return cls.empty(k, dim)
        labels, dist2 = nearest_centroid(x, centroids)
        x64 = np.asarray(x, dtype=np.float64)
        sums = np.stack(
            [np.bincount(labels, weights=x64[:, j], minlength=k) for j in range(dim)], axis=1
        )
        counts = np.bincount(labels, minlength=k).astype(np.int64)
        return cls(sums, counts, float(dist2.sum()))

    def merge(self, other: LloydPartial) -> LloydPartial:
        return LloydPartial(
            self.sums + other.sums, self.counts + other.counts, self.inertia + other.inertia
        )


def lloyd_partial_blocks(
    blocks: Iterable[np.ndarray],
    rows: int,
    mean: np.ndarray,
    std: np.ndarray,
    centroids: np.ndarray,
) -> LloydPartial:
    """:meth:`LloydPartial.of` on ``standardize(x, mean, std)`` with the raw rows of ``x``
    (``rows`` of them) arriving in consecutive blocks, bit for bit.

    Every block but the last must hold a multiple of DISTANCE_BLOCK_ROWS rows, so the
    distances are taken on the same row blocks; sums are accumulated row by row in row
    order (as ``np.bincount`` does) and the inertia is summed over all rows at the end.
    Memory: one standardised block plus 8 bytes per row (the squared distances).
    """
    k, dim = centroids.shape
    if rows == 0:
        return LloydPartial.empty(k, dim)
    sums_t = np.zeros((dim, k), np.float64)  # per column: np.add.at's fast 1-d path
    counts = np.zeros(k, np.int64)
    dist2 = np.empty(rows, np.float64)
    start = 0
    for block in blocks:
        n = int(block.shape[0])
        if n == 0:
            continue
        if start + n < rows and n % DISTANCE_BLOCK_ROWS:
            raise ConfigError(
                f"a block of {n} rows before the last is not a multiple of "
                f"{DISTANCE_BLOCK_ROWS}: the result would depend on the blocking"
            )
        z = standardize(block, mean, std)
        labels, d2 = nearest_centroid(z, centroids)
        for j in range(dim):
            np.add.at(sums_t[j], labels, z[:, j])
        counts += np.bincount(labels, minlength=k)
        dist2[start : start + n] = d2
        start += n
    if start != rows:
        raise ConfigError(f"expected {rows} rows in blocks, got {start}")
    return LloydPartial(np.ascontiguousarray(sums_t.T), counts, float(dist2.sum()))


def merge_partials(parts: Sequence[LloydPartial], k: int, dim: int) -> LloydPartial:
    """Merge Lloyd partials in the given (partition) order."""
    total = LloydPartial.empty(k, dim)
    for p in parts:
        total = total.merge(p)
    return total


def kmeans_plus_plus(sample: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ initial centroids (float64, (k, dim)) drawn from standardised ``sample``.

    When the sample has fewer distinct points than ``k``, the remaining centroids are
    copies of sample points (they stay dead codes unless re-seeding finds better ones).
    """
    n = sample.shape[0]
    if n == 0:
        raise ConfigError("cannot initialise a codebook: no active segment descriptors found")
    if k < 1:
        raise ConfigError(f"codebook size must be >= 1, got {k}")
    x = np.asarray(sample, dtype=np.float64)
    centroids = np.empty((k, x.shape[1]), np.float64)
    centroids[0] = x[rng.integers(n)]
    closest = ((x - centroids[0]) ** 2).sum(axis=1)
    for i in range(1, k):
        total = closest.sum()
        if total <= 0.0:
            idx = int(rng.integers(n))
        else:
            cdf = np.cumsum(closest)
            idx = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
            idx = min(idx, n - 1)
        centroids[i] = x[idx]
        closest = np.minimum(closest, ((x - centroids[i]) ** 2).sum(axis=1))
    return centroids


def update_centroids(
    centroids: np.ndarray, partial: LloydPartial, sample: np.ndarray
) -> tuple[np.ndarray, list[int]]:
    """New centroids from merged sums/counts; dead codes re-seeded from the sample.

    A code that received no descriptor is moved to the sample point farthest from its
    nearest (updated) centroid, one point per dead code, in code order: deterministic.
    Returns the new centroids and the indices of the re-seeded codes.
    """
    new = centroids.copy()
    alive = partial.counts > 0
    new[alive] = partial.sums[alive] / partial.counts[alive, None]
    dead = [int(i) for i in np.flatnonzero(~alive)]
    if dead and sample.shape[0] > 0:
        live_centroids = new[alive] if alive.any() else new[:1]
        _, d2 = nearest_centroid(sample, live_centroids)
        order = np.argsort(-d2, kind="stable")
        for code, row in zip(dead, order):
            new[code] = np.asarray(sample[row], dtype=np.float64)
    return new, dead


def lloyd_kmeans(
    x: np.ndarray, centroids: np.ndarray, iterations: int, tol: float = 1e-4
) -> tuple[np.ndarray, list[float]]:
    """Single-machine Lloyd iterations with the same update rule (reference and tests).

    Returns the final centroids and the inertia of every iteration.
    """
    inertia: list[float] = []
    for _ in range(iterations):
        partial = LloydPartial.of(x, centroids)
        inertia.append(partial.inertia)
        centroids, reseeded = update_centroids(centroids, partial, x)
        if converged(inertia, tol) and not reseeded:
            break
    return centroids, inertia


def converged(inertia: Sequence[float], tol: float) -> bool:
    """Stopping rule: relative inertia decrease of the last iteration below ``tol``."""
    if len(inertia) < 2:
        return False
    prev, last = inertia[-2], inertia[-1]
    if prev <= 0.0:
        return True
    return (prev - last) / prev < tol
