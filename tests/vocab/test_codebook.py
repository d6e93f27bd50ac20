"""k-means as map-reduce: blobs are recovered, partitioned Lloyd equals single-machine Lloyd."""

from __future__ import annotations

import numpy as np
import pytest

from emgcorpus.errors import ConfigError
from vocab.codebook import (
    DISTANCE_BLOCK_ROWS,
    DescriptorSample,
    LloydPartial,
    MomentStats,
    kmeans_plus_plus,
    lloyd_kmeans,
    lloyd_partial_blocks,
    merge_moments,
    merge_partials,
    merge_samples,
    nearest_centroid,
    sample_threshold,
    segment_hashes,
    standardize,
    update_centroids,
)


def _blobs(rng: np.random.Generator, centers: np.ndarray, per: int, scale: float) -> np.ndarray:
    return np.concatenate(
        [c + scale * rng.standard_normal((per, centers.shape[1])) for c in centers]
    )


def _plain_lloyd(x: np.ndarray, c: np.ndarray, iterations: int) -> np.ndarray:
    """Textbook Lloyd with explicit pairwise distances (independent of vocab.codebook)."""
    c = c.copy()
    for _ in range(iterations):
        d = ((x[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)
        lab = d.argmin(axis=1)
        for j in range(c.shape[0]):
            if (lab == j).any():
                c[j] = x[lab == j].mean(axis=0)
    return c


def test_kmeans_recovers_well_separated_blobs() -> None:
    rng = np.random.default_rng(1)
    centers = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0], [0, 0, 10], [10, 10, 10.0]])
    x = _blobs(rng, centers, 200, 0.3)
    init = kmeans_plus_plus(x, 5, np.random.default_rng(0))
    found, inertia = lloyd_kmeans(x, init, iterations=30)
    # every true centre has a found centroid within 0.1, and vice versa
    d = np.sqrt(((centers[:, None, :] - found[None, :, :]) ** 2).sum(axis=2))
    assert d.min(axis=1).max() < 0.1
    assert d.min(axis=0).max() < 0.1
    assert inertia[-1] <= inertia[0]
    assert inertia[-1] / x.shape[0] < 3 * 0.3**2 * 1.2


def test_partitioned_lloyd_equals_single_machine_lloyd() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((900, 4)) * np.array([1.0, 2.0, 0.5, 3.0])
    init = x[:7].copy()
    reference = _plain_lloyd(x, init, 5)
    c = init.copy()
    for _ in range(5):
        parts = [LloydPartial.of(chunk, c) for chunk in np.array_split(x, 6)]
        c, dead = update_centroids(c, merge_partials(parts, 7, 4), x)
        assert dead == []
    np.testing.assert_allclose(c, reference, rtol=1e-10, atol=1e-12)


def test_lloyd_partial_over_blocks_is_bit_identical() -> None:
    rng = np.random.default_rng(7)
    n, dim, k = 2 * DISTANCE_BLOCK_ROWS + 321, 5, 9
    x = rng.standard_normal((n, dim)).astype(np.float32) * 3 + 1
    x[rng.random(x.shape) < 0.05] = np.nan  # absent entries
    mean, std = rng.standard_normal(dim), rng.random(dim) + 0.5
    c = rng.standard_normal((k, dim))
    whole = LloydPartial.of(standardize(x, mean, std), c)
    for size in (DISTANCE_BLOCK_ROWS, 2 * DISTANCE_BLOCK_ROWS, n):
        blocks = (x[i : i + size] for i in range(0, n, size))
        got = lloyd_partial_blocks(blocks, n, mean, std, c)
        assert np.array_equal(got.sums, whole.sums)
        assert np.array_equal(got.counts, whole.counts)
        assert got.inertia == whole.inertia  # exactly: the vocabulary id depends on it
    empty = lloyd_partial_blocks(iter([]), 0, mean, std, c)
    assert empty.counts.sum() == 0 and empty.sums.shape == (k, dim)
    with pytest.raises(ConfigError, match="multiple"):
        lloyd_partial_blocks((x[i : i + 1000] for i in range(0, n, 1000)), n, mean, std, c)
    with pytest.raises(ConfigError, match="expected"):
        lloyd_partial_blocks(iter([x[:DISTANCE_BLOCK_ROWS]]), n, mean, std, c)


def test_samples_below_a_threshold_merge_to_the_same_sample() -> None:
    rng = np.random.default_rng(11)
    sizes = [rng.integers(0, 3000) for _ in range(12)]
    hashes = [rng.integers(0, 2**64, n, dtype=np.uint64) for n in sizes]
    rows = [rng.standard_normal((n, 3)).astype(np.float32) for n in sizes]
    capacity, total = 300, sum(sizes)
    whole = [DescriptorSample.bottom(h, x, capacity) for h, x in zip(hashes, rows)]
    flat = merge_samples(whole, capacity, 3)
    threshold = sample_threshold(total, capacity, 8.0)
    assert threshold is not None
    parts = [DescriptorSample.below(h, x, threshold, capacity) for h, x in zip(hashes, rows)]
    kept = sum(p.hashes.shape[0] for p in parts)
    assert capacity <= kept < 2 * capacity  # about the sample, not the corpus
    got = merge_samples(parts, capacity, 3)
    assert np.array_equal(got.hashes, flat.hashes)
    assert np.array_equal(got.descriptors, flat.descriptors)
    assert sample_threshold(capacity, capacity, 8.0) is None  # small corpus: every row


def test_moments_merge_equals_whole() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((500, 3)) * 5 + 7
    merged = merge_moments([MomentStats.of(p) for p in np.array_split(x, 7)], 3)
    assert merged.count == 500
    np.testing.assert_allclose(merged.mean, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(merged.std(), x.std(axis=0), rtol=1e-12)
    const = MomentStats.of(np.ones((10, 2)))
    assert list(const.std()) == [1.0, 1.0]


def test_hash_sample_independent_of_partitioning() -> None:
    rng = np.random.default_rng(4)
    rows = {f"rec{i}": rng.standard_normal((50, 2)).astype(np.float32) for i in range(6)}

    def sample(groups: list[list[str]]) -> DescriptorSample:
        parts = []
        for g in groups:
            h = np.concatenate([segment_hashes(r, np.arange(50), seed=9) for r in g])
            d = np.concatenate([rows[r] for r in g])
            parts.append(DescriptorSample.bottom(h, d, 40))
        return merge_samples(parts, 40, 2)

    a = sample([["rec0", "rec1"], ["rec2", "rec3"], ["rec4", "rec5"]])
    b = sample([["rec0"], ["rec1", "rec2", "rec3", "rec4"], ["rec5"]])
    assert a.descriptors.shape == (40, 2)
    np.testing.assert_array_equal(a.hashes, b.hashes)
    np.testing.assert_array_equal(a.descriptors, b.descriptors)
    other_seed = segment_hashes("rec0", np.arange(50), seed=10)
    assert not np.array_equal(other_seed, segment_hashes("rec0", np.arange(50), seed=9))


def test_dead_codes_are_reseeded_from_farthest_sample_points() -> None:
    x = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0]])
    c = np.array([[0.0, 0.0], [100.0, 100.0], [5.0, 5.0]])
    partial = LloydPartial.of(x, c)
    assert list(partial.counts) == [2, 0, 1]
    new, dead = update_centroids(c, partial, x)
    assert dead == [1]
    # farthest sample point from the live centroids (0.05, 0) and (5, 5) is (0.1, 0) or (0,0)
    labels, _ = nearest_centroid(x, new)
    assert new[1].tolist() in ([0.0, 0.0], [0.1, 0.0])
    assert set(labels.tolist()) >= {0, 2}


def test_kmeans_plus_plus_with_too_few_points_and_errors() -> None:
    x = np.array([[1.0, 1.0], [1.0, 1.0]])
    c = kmeans_plus_plus(x, 4, np.random.default_rng(0))
    assert c.shape == (4, 2)
    assert (c == 1.0).all()
    with pytest.raises(ConfigError, match="no active segment"):
        kmeans_plus_plus(np.zeros((0, 2)), 3, np.random.default_rng(0))


def test_nearest_centroid_blocks_match_bruteforce() -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((20000, 3))
    c = rng.standard_normal((11, 3))
    labels, d2 = nearest_centroid(x, c)
    brute = ((x[:, None, :] - c[None]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(labels, brute.argmin(axis=1))
    np.testing.assert_allclose(d2, brute.min(axis=1), atol=1e-9)


def test_nearest_centroid_distances_are_taken_elementwise() -> None:
    """The distances (and so the inertia stored in a vocabulary) have the bits of the
    elementwise sum of squares to the chosen centroid, whatever BLAS does in the process."""
    from vocab.codebook import nearest_centroid

    rng = np.random.default_rng(5)
    x, c = rng.normal(size=(3000, 16)), rng.normal(size=(40, 16))
    labels, d2 = nearest_centroid(x, c)
    full = ((x[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)
    assert np.array_equal(labels, full.argmin(axis=1))
    diff = x - c[labels]
    assert np.array_equal(d2, (diff * diff).sum(axis=1))


def test_nearest_centroid_ties_go_to_the_lowest_code() -> None:
    """Duplicated centroids (an exact tie for every point) take the lowest index, and a
    point exactly on a centroid gets that centroid, at distance 0."""
    rng = np.random.default_rng(7)
    c = rng.normal(size=(12, 4))
    c[7] = c[2]  # code 7 duplicates code 2: every tie must go to 2
    c[11] = c[0]
    on = rng.integers(12, size=3000)
    x = np.concatenate([c[on], rng.normal(size=(20000, 4))])
    labels, d2 = nearest_centroid(x, c)
    assert not np.isin(labels, [7, 11]).any()
    expected = np.where(on == 7, 2, np.where(on == 11, 0, on))
    assert np.array_equal(labels[:3000], expected)
    assert (d2[:3000] == 0.0).all()
