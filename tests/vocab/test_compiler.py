"""The vocabulary compiler on a tiny simulated lake (synchronous scheduler)."""

from __future__ import annotations

from pathlib import Path

import dask
import numpy as np
import pytest
from dask import delayed

from emgcorpus.errors import ConfigError, LakeError
from emgcorpus.lake import Lake
from emgcorpus.shards.special_tokens import FIRST_CODE_ID, FIRST_REST_ID
from vocab import compiler
from vocab.artifact import CODEBOOK_FILE, VOCAB_FILE, Vocabulary
from vocab.codebook import DescriptorSample, merge_samples
from vocab.compiler import VocabularyBuilder
from vocab.lake_partitions import recording_weights, session_partitions
from vocab.partition_tasks import tree_merge_samples
from vocab.spill import SCRATCH_DIRNAME
from vocab.tokenizers import get_tokenizer


def _build(lake: Path, store: Path, **kw: object) -> Vocabulary:
    params: dict = {"size": 12, "sample_size": 500, "partition_size": 2, "scheduler": "sync"}
    params.update(kw)
    return VocabularyBuilder(lake, "nct", store=store, **params).build(progress=False)


def test_build_records_snapshot_params_and_statistics(sim_lake: Path, tmp_path: Path) -> None:
    vocab = _build(sim_lake, tmp_path / "store")
    assert vocab.path == tmp_path / "store" / vocab.id
    assert vocab.codebook.shape == (12, get_tokenizer("nct").descriptor_dim)
    assert vocab.codebook.dtype == np.float32
    assert vocab.snapshot == Lake.open(sim_lake).snapshot()
    assert vocab.meta["corpus"]["recordings"] == 4
    assert vocab.meta["corpus"]["partitions"] == 2
    assert vocab.tokenizer_config["name"] == "nct"
    stats = vocab.statistics
    assert stats["size"] == 12
    assert sum(stats["counts"]) == stats["code_tokens"] == vocab.meta["corpus"]["active_segments"]
    assert stats["dead_codes"] == 12 - stats["codes_used"]
    assert 1.0 <= stats["perplexity"] <= 12.0
    assert set(stats["per_device"]) == {"sim-myo8", "sim-bipolar4"}
    per = stats["per_dataset"]["sim"]
    assert per["recordings"] == 4
    assert per["seconds"] == pytest.approx(20.0)
    assert per["tokens_per_second"] > per["code_tokens_per_second"] > 0
    inertia = vocab.meta["fit"]["inertia"]
    assert 1 <= len(inertia) <= 20
    assert inertia[-1] <= inertia[0]


def test_same_inputs_give_byte_identical_files(sim_lake: Path, tmp_path: Path) -> None:
    a = _build(sim_lake, tmp_path / "a")  # descriptors spilled to scratch files (default)
    assert a.path is not None
    for mode in ("recompute", "memory"):
        b = _build(sim_lake, tmp_path / mode, descriptors=mode)
        assert a.id == b.id, mode
        assert b.path is not None
        for name in (VOCAB_FILE, CODEBOOK_FILE):
            assert (a.path / name).read_bytes() == (b.path / name).read_bytes(), (mode, name)
    # a parameter that matters changes the id
    c = _build(sim_lake, tmp_path / "a", seed=1)
    assert c.id != a.id
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted([a.id, c.id])


def test_spilled_descriptors_are_removed_after_the_build(sim_lake: Path, tmp_path: Path) -> None:
    assert not (sim_lake / SCRATCH_DIRNAME).exists()
    _build(sim_lake, tmp_path / "store")
    assert not (sim_lake / SCRATCH_DIRNAME).exists()
    # a folder given by the user: a sub-folder of it is used, then removed; it stays
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "keep.txt").write_text("mine")
    _build(sim_lake, tmp_path / "store", scratch_dir=scratch)
    assert sorted(p.name for p in scratch.iterdir()) == ["keep.txt"]
    # also on error (after the map pass wrote its files: nothing active to compile)
    with pytest.raises(LakeError, match="no active segment"):
        _build(sim_lake, tmp_path / "s2", tokenizer_params={"on_ratio": 1e12, "off_ratio": 1e11})
    assert not (sim_lake / SCRATCH_DIRNAME).exists()


def test_partitions_bounded_by_channel_samples_keep_sessions_whole() -> None:
    keys = ["a", "a", "b", "b", "b", "", "c"]
    weights = [40, 40, 10, 10, 10, 100, 5]
    parts = session_partitions(keys, 16, weights, 60)
    assert sorted(i for p in parts for i in p) == list(range(len(keys)))
    # within both bounds, unless a single recording alone is heavier than the budget
    assert all(sum(weights[i] for i in p) <= 60 or len(p) == 1 for p in parts)
    # session "b" (30) stays whole; "a" (80 > 60) is cut into chunks within the budget
    assert [2, 3, 4] in parts
    assert [0] in parts and [1, 2, 3, 4] not in parts
    assert [5] in parts  # heavier than the budget: a partition of its own
    # a budget larger than the corpus: the recording-count partitions, unchanged
    assert session_partitions(keys, 2, weights, 10**9) == session_partitions(keys, 2)
    with pytest.raises(ConfigError, match="weights"):
        session_partitions(keys, 2, None, 10)


def test_partition_samples_bound_changes_partitions_not_the_codes_used(
    sim_lake: Path, tmp_path: Path
) -> None:
    lake = Lake.open(sim_lake)
    one = max(recording_weights(lake.recordings(), None))
    a = _build(sim_lake, tmp_path / "s", partition_size=16, partition_samples=None)
    b = _build(sim_lake, tmp_path / "s", partition_size=16, partition_samples=one)
    assert a.meta["corpus"]["partitions"] < b.meta["corpus"]["partitions"] == 4
    assert "partition_samples" not in a.meta["params"]
    assert b.meta["params"]["partition_samples"] == one
    assert a.id != b.id
    # the default budget does not bind on this tiny corpus: not recorded, the same bytes
    c = _build(sim_lake, tmp_path / "s", partition_size=16)
    assert c.id == a.id and "partition_samples" not in c.meta["params"]
    # the same segments are coded either way (sessions of one recording here)
    assert a.meta["corpus"]["active_segments"] == b.meta["corpus"]["active_segments"]
    with pytest.raises(ConfigError, match="partition_samples"):
        _build(sim_lake, tmp_path / "s", partition_samples=0)


def test_tree_merged_sample_equals_the_flat_merge_ties_included() -> None:
    rng = np.random.default_rng(5)
    parts = []
    for n in (0, 7, 30, 3, 30, 12, 1, 25, 9, 0, 14):
        hashes = rng.integers(0, 40, n).astype(np.uint64)  # many ties across partitions
        parts.append(DescriptorSample.bottom(hashes, rng.standard_normal((n, 3)), 20))
    flat = merge_samples(parts, 20, 3)
    (tree,) = dask.compute(tree_merge_samples([delayed(p) for p in parts], 20, 3))
    assert np.array_equal(tree.hashes, flat.hashes)
    assert np.array_equal(tree.descriptors, flat.descriptors)
    (empty,) = dask.compute(tree_merge_samples([], 20, 3))
    assert empty.descriptors.shape == (0, 3)


def test_sample_threshold_retry_gives_the_same_vocabulary(
    sim_lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = _build(sim_lake, tmp_path / "a", sample_size=100)  # 192 rows: every row is kept
    assert a.meta["corpus"]["active_segments"] > 150
    ids = {a.id}
    # a threshold that keeps ~164 rows, then one far too low (~14 rows): retried
    for slack in ((0.0, None), (-15.0, None)):
        monkeypatch.setattr(compiler, "SAMPLE_SLACK", slack)
        b = _build(sim_lake, tmp_path / str(slack[0]), sample_size=100)
        assert b.meta["fit"]["sample_rows"] == 100
        ids.add(b.id)
    assert ids == {a.id}


def test_rebuild_same_id_is_idempotent_and_never_overwrites(sim_lake: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    vocab = _build(sim_lake, store)
    assert vocab.path is not None
    before = (vocab.path / VOCAB_FILE).read_bytes()
    assert vocab.save(store) == vocab.path  # identical bytes: accepted, nothing written
    # tamper with the stored artifact: saving the genuine one must refuse, not overwrite
    (vocab.path / CODEBOOK_FILE).write_bytes(b"not a codebook")
    with pytest.raises(LakeError, match="never overwritten"):
        vocab.save(store)
    assert (vocab.path / CODEBOOK_FILE).read_bytes() == b"not a codebook"
    assert (vocab.path / VOCAB_FILE).read_bytes() == before
    with pytest.raises(LakeError, match="sha256"):
        Vocabulary.load(store, vocab.id)


def test_encode_maps_active_to_codes_and_rest_by_duration(sim_lake: Path, tmp_path: Path) -> None:
    vocab = _build(sim_lake, tmp_path / "store")
    lake = Lake.open(sim_lake)
    rid = lake.recordings()["recording_id"][0]
    tok = vocab.tokenizer()
    x = lake.read_samples(rid)
    seg = tok.segment(x, float(lake.recording_row(rid)["native_fs"]), lake.channel_infos(rid))
    ids = vocab.encode(seg)
    assert ids.shape == (len(seg),) and ids.dtype == np.int32
    active = seg.kind == 0
    assert (ids[active] >= FIRST_CODE_ID).all() and (ids[active] < vocab.n_tokens).all()
    assert ((ids[~active] >= FIRST_REST_ID) & (ids[~active] < FIRST_CODE_ID)).all()
    # the code of an active segment is its nearest centroid after standardisation
    z = (seg.descriptor[active].astype(np.float64) - vocab.mean) / vocab.std
    d = ((z[:, None, :] - vocab.codebook[None].astype(np.float64)) ** 2).sum(axis=2)
    np.testing.assert_array_equal(ids[active] - FIRST_CODE_ID, d.argmin(axis=1))


def test_dataset_filter_and_bad_options(sim_lake: Path, tmp_path: Path) -> None:
    with pytest.raises(LakeError, match="no recordings of datasets nope"):
        _build(sim_lake, tmp_path / "s", datasets=["nope"])
    with pytest.raises(ConfigError, match="sample_size"):
        VocabularyBuilder(sim_lake, "nct", size=64, sample_size=10)
    with pytest.raises(ConfigError, match="scheduler"):
        _build(sim_lake, tmp_path / "s", scheduler="localhost")
    with pytest.raises(ConfigError, match="descriptors must be one of"):
        VocabularyBuilder(sim_lake, "nct", descriptors="cache")
    with pytest.raises(ConfigError, match="unknown tokenizer"):
        VocabularyBuilder(sim_lake, "bpe")
