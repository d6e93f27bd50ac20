"""vocab.segment_cache: the build's segments are reused by tokenize, byte for byte (issue 11).

The cache is shown to be *read* by tampering with it consistently (tokens change), to be
*ignored* when its inputs differ (a new snapshot), dropped when damaged, and to give the
same shards as segmenting from the lake (on a Dask cluster: tests/vocab/test_dask_cluster.py).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from adapters.registry import make_adapter
from emgcorpus.ingest import ingest
from vocab.compiler import VocabularyBuilder
from vocab.lake_partitions import RecordingRef
from vocab.segment_cache import (
    MANIFEST,
    SEGMENT_CACHE_KEEP,
    CacheWriter,
    base_key,
    cache_root,
    find_cache,
    segment_cache_key,
    session_signatures,
    write_part,
)
from vocab.tokenize import tokenize_lake
from vocab.tokenizer_base import Segments

BUILD = {"size": 8, "sample_size": 200, "partition_size": 2, "iterations": 3}
#: A small second dataset (ingesting it makes a new snapshot).
OTHER = {"subjects": 1, "gestures": 1, "repetitions": 1, "devices": "myo8", "dataset": "simc"}


def _files(folder: Path) -> dict[str, bytes]:
    """The bytes of every shard file of a shard folder, by name."""
    return {p.name: p.read_bytes() for p in sorted(folder.glob("part-*"))}


def _tokenize(lake: Path, vid: str, out: Path, **kw: object) -> dict[str, bytes]:
    tokenize_lake(lake, vid, out_dir=out, progress=False, partition_size=2, **kw)
    return _files(out)


def _caches(lake: Path) -> list[Path]:
    return sorted(p.parent for p in cache_root(lake).glob(f"*/{MANIFEST}"))


@pytest.fixture(scope="module")
def built(sim_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict]:
    """A copy of the simulated lake with a vocabulary (its build wrote the segment cache)
    and the shards tokenized without the cache (the reference)."""
    lake = tmp_path_factory.mktemp("cache") / "lake"
    shutil.copytree(sim_lake, lake, ignore=shutil.ignore_patterns("_vocab", "_shards", "_cache"))
    vocab = VocabularyBuilder(lake, "nct", scheduler="sync", **BUILD).build(progress=False)
    reference = _tokenize(
        lake, vocab.id, lake.parent / "ref", scheduler="sync", segment_cache=False
    )
    return lake, vocab.id, reference


def test_the_build_writes_one_complete_cache_and_tokenize_matches(
    built: tuple[Path, str, dict], tmp_path: Path
) -> None:
    lake, vid, reference = built
    (folder,) = _caches(lake)
    manifest = json.loads((folder / MANIFEST).read_bytes())
    parts = sorted(p.name for p in folder.glob("part-*.npz"))
    assert [e["file"] for e in manifest["parts"]] == parts and len(parts) == 2
    assert all(e["segments"] > 0 for e in manifest["parts"])
    assert not list(cache_root(lake).glob(".*"))  # no temporary folder left
    assert _tokenize(lake, vid, tmp_path / "s", scheduler="sync") == reference
    index = tmp_path / "s" / "index.json"
    assert index.read_bytes() == (lake.parent / "ref" / "index.json").read_bytes()
    # a second build of the same recordings (another codebook size) reads the cache: the
    # same vocabulary as segmenting again, and no second cache
    other = {**BUILD, "size": 6, "scheduler": "sync"}
    read = VocabularyBuilder(lake, "nct", **other).build(progress=False, save=False)
    fresh = VocabularyBuilder(lake, "nct", segment_cache=False, **other).build(save=False)
    assert read.id == fresh.id and read.files() == fresh.files()
    assert _caches(lake) == [folder]


def _rewrite_part(folder: Path, change: bool, fix_manifest: bool) -> None:
    """Change the first part's descriptors (or its bytes), keeping the manifest
    consistent when ``fix_manifest``."""
    manifest_path = folder / MANIFEST
    manifest = json.loads(manifest_path.read_bytes())
    entry = manifest["parts"][0]
    path = folder / entry["file"]
    if change:
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
        arrays["descriptor"] = arrays["descriptor"][::-1].copy()  # other codes
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        path.write_bytes(buf.getvalue())
    else:
        path.write_bytes(path.read_bytes()[:-7])
    if fix_manifest:
        entry["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        manifest_path.write_text(json.dumps(manifest))


def test_cache_is_read_ignored_on_a_new_snapshot_and_dropped_when_damaged(
    built: tuple[Path, str, dict], tmp_path: Path
) -> None:
    src, vid, reference = built
    lake = tmp_path / "lake"
    shutil.copytree(src, lake, ignore=shutil.ignore_patterns("_shards"))
    (folder,) = _caches(lake)
    _rewrite_part(folder, change=True, fix_manifest=True)
    tampered = _tokenize(lake, vid, tmp_path / "a", scheduler="sync")
    assert tampered != reference  # the tokens came from the cache
    other = {**BUILD, "size": 6, "scheduler": "sync"}
    from_cache = VocabularyBuilder(lake, "nct", **other).build(progress=False, save=False)
    fresh = VocabularyBuilder(lake, "nct", segment_cache=False, **other).build(save=False)
    assert from_cache.id != fresh.id  # so did the build's descriptors
    # damaged (sha256 differs from the manifest): dropped, tokens from the lake
    _rewrite_part(folder, change=False, fix_manifest=False)
    assert _tokenize(lake, vid, tmp_path / "b", scheduler="sync") == reference
    assert _caches(lake) == []
    # a consistent but wrong cache of the old snapshot is not used once the lake changed
    shutil.copytree(src / "_cache", lake / "_cache", dirs_exist_ok=True)
    _rewrite_part(_caches(lake)[0], change=True, fix_manifest=True)
    assert _tokenize(lake, vid, tmp_path / "c", scheduler="sync") == tampered
    ingest(lake, make_adapter("sim", "builtin", **OTHER), progress=False)
    assert _tokenize(lake, vid, tmp_path / "d", scheduler="sync", datasets=["sim"]) == reference


def test_keys_cover_snapshot_tokenizer_rate_and_sessions() -> None:
    tok = {"name": "nct", "version": "2", "params": {"x_ms": 1.0}}
    base = base_key({"recordings": 1}, tok, None)
    assert base == base_key({"recordings": 1}, dict(tok), None)
    others = [
        base_key({"recordings": 2}, tok, None),
        base_key({"recordings": 1}, {**tok, "params": {"x_ms": 2.0}}, None),
        base_key({"recordings": 1}, {**tok, "version": "3"}, None),
        base_key({"recordings": 1}, tok, 1000.0),
    ]
    assert len({base, *others}) == 5
    a, b, c = (RecordingRef(r, "d", "dev", "s1") for r in "abc")
    solo = RecordingRef("z", "d", "dev")
    sigs = session_signatures([[a, b], [c, solo]])
    assert sigs["a"] == sigs["b"] == sigs["c"] != sigs["z"]
    # the same session in another partitioning: the same signature; with a recording less, not
    assert session_signatures([[a], [b, c]])["a"] == sigs["a"]
    assert session_signatures([[a, b]])["a"] != sigs["a"]
    assert segment_cache_key(base, [[a, b], [c]]) != segment_cache_key(base, [[a], [b, c]])


def test_at_most_keep_caches_per_lake(tmp_path: Path) -> None:
    ref = RecordingRef("r", "d", "dev")
    keys = []
    for i in range(SEGMENT_CACHE_KEEP + 2):
        with CacheWriter(tmp_path, f"{i:032x}", [[ref]]) as writer:
            entry = write_part(writer.part(0), [ref], [(Segments.empty(3), 1.0)], 3)
            writer.commit([entry])
        assert writer.exists and find_cache(tmp_path, writer.key) is not None
        keys.append(writer.key)
    assert [p.name for p in _caches(tmp_path)] == sorted(keys[-SEGMENT_CACHE_KEEP:])
    # a killed build's temporary folder goes once it is old
    root = cache_root(tmp_path)
    stale, fresh = root / ".a.1.tmp", root / ".b.2.tmp"
    stale.mkdir()
    fresh.mkdir()
    os.utime(stale, (0, 0))
    with CacheWriter(tmp_path, "f" * 32, [[ref]]):
        assert not stale.exists() and fresh.exists()
