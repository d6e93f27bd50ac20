"""A content-addressed cache of segmentations: the NCT runs once for `vocab build` + `tokenize`.

The vocabulary build's map pass segments every recording (the expensive step: filter,
envelope, contractions, descriptors); with this cache it also writes every partition's
segments (all of them, rest segments included) to ``<lake>/_cache/segments/<key>/``, and
``tokenize`` reads them back instead of reading the samples and segmenting again. The
shards are byte-identical either way: the cache holds the exact arrays (channel int32,
onset float64, duration float32, kind int8, descriptor float32) segment_partition yields.

What a recording's segments depend on: the lake snapshot (every table's version), the
tokenizer (name, version, parameters), the rate the recordings are read at (the *base
key*, :func:`base_key`) and the recordings of its session (their noise floors are pooled
over the whole session, however the partitions cut it, so the segments do not depend on
the partitioning). The manifest records, per recording, a *session signature* (the sha256
of its session's recording ids, :func:`session_signatures`); tokenize reuses a session's
segments when the base key and the signature match, and segments the other sessions from
the lake. So a vocabulary compiled on some datasets (or without some subjects) still saves
the segmentation of those sessions when the whole lake is tokenized. A new snapshot (an
ingest, a harmonize, a removal), other tokenizer parameters or another rate is another
base key: the cache is not used, never wrong.

Integrity: a cache folder appears only complete (written under a temporary name, renamed
when the map pass ends, with ``manifest.json`` listing every part file's sha256; a killed
build's temporary folder is removed by a later build after STALE_TMP_S); a reader
checks each file's sha256 and a mismatch is a :class:`SegmentCacheError` (tokenize then
removes the folder and segments from the lake).

Disk: a part holds 19 + 4 x descriptor_dim bytes per segment (NCT: 19 + 4 x 16 = 83),
plus a few bytes per recording; on the simulated corpus about a tenth of the lake's
sample bytes (6 MiB for 54 MiB in bench/bench_scale.py's 1 h corpus, which prints it).
At most :data:`SEGMENT_CACHE_KEEP` caches are kept per lake (the least recently used go
first); removing ``<lake>/_cache`` at any time only costs the next tokenize a
segmentation.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from emgcorpus.canonical_json import canonical_json
from emgcorpus.errors import LakeError
from emgcorpus.lake_location import local_side
from vocab.lake_partitions import RecordingRef
from vocab.spill import save_file
from vocab.tokenizer_base import Segments

FORMAT = "emgcorpus.segment-cache/1"
#: Folder below the lake that holds the segment caches.
CACHE_DIRNAME = os.path.join("_cache", "segments")
MANIFEST = "manifest.json"
#: Caches kept per lake (least recently used removed first when a new one is written).
SEGMENT_CACHE_KEEP = 2
#: A temporary cache folder older than this [s] is a killed build's, removed by the next.
STALE_TMP_S = 24 * 3600.0
#: The arrays of a part file, one entry per segment (in recording order).
_SEGMENT_ARRAYS = ("channel", "onset_s", "duration_s", "kind", "descriptor")


class SegmentCacheError(LakeError):
    """A segment cache file is missing, unreadable or differs from its manifest."""


def plain_json(obj: Any) -> Any:
    """``obj`` as plain JSON types (tuples -> lists, numpy scalars -> Python), e.g. a
    tokenizer config."""
    if isinstance(obj, dict):
        return {str(k): plain_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain_json(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def base_key(snapshot: dict[str, int], tokenizer_config: dict[str, Any], fs: float | None) -> str:
    """32 hex digits of the sha256 of the inputs every cached segment shares: the
    snapshot, the tokenizer config and the rate [Hz] (None: native)."""
    inputs = {
        "format": FORMAT,
        "snapshot": {str(k): int(v) for k, v in snapshot.items()},
        "tokenizer": plain_json(tokenizer_config),
        "fs": None if fs is None else float(fs),
    }
    return hashlib.sha256(canonical_json(inputs)).hexdigest()[:32]


def segment_cache_key(base: str, partitions: list[list[RecordingRef]]) -> str:
    """The folder name of one build's cache: the base key and its partition plan."""
    plan = [[[r.recording_id, r.session] for r in refs] for refs in partitions]
    return hashlib.sha256(canonical_json({"base": base, "plan": plan})).hexdigest()[:32]


def _session_of(ref: RecordingRef) -> str:
    return ref.session if ref.session else f"\x00{ref.recording_id}"


def session_signatures(partitions: list[list[RecordingRef]]) -> dict[str, str]:
    """Recording id -> the signature of its session in this plan: 16 hex digits of the
    sha256 of the session's key and sorted recording ids (a recording without a session
    key is a session of its own)."""
    members: dict[str, list[str]] = {}
    for refs in partitions:
        for r in refs:
            members.setdefault(_session_of(r), []).append(r.recording_id)
    sig = {
        key: hashlib.sha256("\x1f".join([key, *sorted(ids)]).encode()).hexdigest()[:16]
        for key, ids in members.items()
    }
    return {r.recording_id: sig[_session_of(r)] for refs in partitions for r in refs}


def cache_root(lake_path: str | Path) -> Path:
    """``<lake>/_cache/segments`` (a remote lake's: on its local side)."""
    return local_side(lake_path) / CACHE_DIRNAME


def _part_name(index: int) -> str:
    return f"part-{index:05d}.npz"


# --------------------------------------------------------------------------- writing
class CacheWriter:
    """Writes one cache (context manager, used by the build's client).

    Workers write the part files (:func:`write_part`) into a temporary folder; on a clean
    exit :meth:`commit` must have been called with every part's entry, which writes the
    manifest and renames the folder to its key (an existing cache with that key is left
    as it is). On error the temporary folder is removed.
    """

    def __init__(
        self, lake_path: str | Path, base: str, partitions: list[list[RecordingRef]]
    ) -> None:
        self.root = cache_root(lake_path).resolve()
        self.base = base
        self.partitions = partitions
        key = segment_cache_key(base, partitions)
        self.key = key
        self.final = self.root / key
        self.tmp = self.root / f".{key}.{uuid.uuid4().hex[:8]}.tmp"

    def __enter__(self) -> CacheWriter:
        remove_stale(self.root)
        try:
            self.tmp.mkdir(parents=True)
        except OSError as exc:
            raise LakeError(f"cannot create the segment cache folder {self.tmp}: {exc}") from exc
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def part(self, index: int) -> str:
        """Where partition ``index``'s file goes (a string: it travels in task arguments)."""
        return str(self.tmp / _part_name(index))

    @property
    def exists(self) -> bool:
        """Whether this very cache (same base key and plan) is already stored."""
        return (self.final / MANIFEST).is_file()

    def commit(self, entries: list[dict[str, Any]]) -> Path | None:
        """Write the manifest (``entries`` in partition order) and publish the folder;
        then drop the least recently used caches beyond SEGMENT_CACHE_KEEP. Returns the
        cache folder (None when it could not be published)."""
        sigs = session_signatures(self.partitions)
        recordings = {
            r.recording_id: [p, sigs[r.recording_id]]
            for p, refs in enumerate(self.partitions)
            for r in refs
        }
        doc = {
            "format": FORMAT,
            "base": self.base,
            "key": self.key,
            "parts": entries,
            "recordings": recordings,
        }
        (self.tmp / MANIFEST).write_bytes(canonical_json(doc))
        try:
            os.rename(self.tmp, self.final)
        except OSError:  # another build published the same key first: the same content
            return self.final if (self.final / MANIFEST).is_file() else None
        prune_caches(self.root, SEGMENT_CACHE_KEEP)
        return self.final


def remove_stale(root: Path, age_s: float = STALE_TMP_S) -> None:
    """Remove the temporary folders in ``root`` older than ``age_s`` (a killed build's)."""
    now = time.time()
    for tmp in root.glob(".*.tmp"):
        with contextlib.suppress(OSError):
            if now - tmp.stat().st_mtime > age_s:
                shutil.rmtree(tmp, ignore_errors=True)


def prune_caches(root: Path, keep: int) -> None:
    """Remove all but the ``keep`` most recently used caches (manifest mtime) in ``root``."""
    caches = sorted(
        (p for p in root.glob(f"*/{MANIFEST}") if not p.parent.name.startswith(".")),
        key=lambda p: p.stat().st_mtime_ns,
        reverse=True,
    )
    for manifest in caches[keep:]:
        shutil.rmtree(manifest.parent, ignore_errors=True)


def write_part(
    path: str, refs: list[RecordingRef], items: list[tuple[Segments, float]], dim: int
) -> dict[str, Any]:
    """Write one partition's segments (``items``: per ref, its segments and duration [s])
    to ``path`` atomically; return its manifest entry (file, sha256, segments, bytes)."""
    segs = [s for s, _ in items]
    arrays: dict[str, np.ndarray] = {
        "recording_id": np.array([r.recording_id for r in refs], dtype=str),
        "rows": np.array([len(s) for s in segs], np.int64),
        "seconds": np.array([float(t) for _, t in items], np.float64),
    }
    for name in _SEGMENT_ARRAYS:
        parts = [np.asarray(getattr(s, name)) for s in segs]
        if name == "descriptor":
            parts = [p.reshape(-1, dim) for p in parts]
        empty = getattr(Segments.empty(dim), name)
        arrays[name] = np.concatenate([empty, *parts]) if parts else empty
    buf = io.BytesIO()
    np.savez(buf, allow_pickle=False, **arrays)
    data = buf.getvalue()
    save_file(path, lambda fh: fh.write(data))
    return {
        "file": os.path.basename(path),
        "sha256": hashlib.sha256(data).hexdigest(),
        "segments": int(arrays["rows"].sum()),
        "bytes": len(data),
    }


# --------------------------------------------------------------------------- reading
def _manifests(lake_path: str | Path, base: str) -> list[tuple[str, dict[str, Any]]]:
    """(folder, manifest) of every complete cache of ``base``, most recently used first."""
    found = []
    for manifest in cache_root(lake_path).resolve().glob(f"*/{MANIFEST}"):
        if manifest.parent.name.startswith("."):
            continue
        try:
            doc = json.loads(manifest.read_bytes())
            mtime = manifest.stat().st_mtime_ns
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and doc.get("format") == FORMAT and doc.get("base") == base:
            found.append((mtime, str(manifest.parent), doc))
    found.sort(key=lambda t: t[0], reverse=True)
    return [(folder, doc) for _, folder, doc in found]


#: Recording id -> (cache folder, manifest entry of the part file holding it).
CachedRecordings = dict[str, tuple[str, dict[str, Any]]]


def find_cached(
    lake_path: str | Path, base: str, partitions: list[list[RecordingRef]]
) -> tuple[list[CachedRecordings], list[str]]:
    """Where the caches of ``base`` hold the recordings of ``partitions`` with the same
    session signature: per partition, the recordings found (whole sessions only, see
    session_signatures), and the cache folders used (their use is recorded: the
    manifest's mtime is the LRU clock)."""
    sigs = session_signatures(partitions)
    where: dict[str, tuple[str, dict[str, Any]]] = {}
    for folder, doc in reversed(_manifests(lake_path, base)):  # the most recent wins
        parts = doc["parts"]
        for rid, (p, sig) in doc["recordings"].items():
            if sigs.get(rid) == sig:
                where[rid] = (folder, parts[int(p)])
    out: list[CachedRecordings] = []
    for refs in partitions:
        found = {r.recording_id: where[r.recording_id] for r in refs if r.recording_id in where}
        out.append(found)
    used = sorted({folder for folder, _ in where.values()})
    for folder in used:
        with contextlib.suppress(OSError):
            os.utime(Path(folder) / MANIFEST)
    return out, used


def find_cache(lake_path: str | Path, key: str) -> str | None:
    """The folder of the complete cache named ``key``, else None."""
    folder = cache_root(lake_path).resolve() / key
    return str(folder) if (folder / MANIFEST).is_file() else None


def remove_cache(folder: str | Path) -> None:
    """Delete one cache folder (e.g. after a SegmentCacheError)."""
    shutil.rmtree(folder, ignore_errors=True)


class CachedSegments:
    """The cached segments of one task's recordings (vocab.lake_partitions.SegmentSource):
    part files are read once each, checked against their manifest sha256."""

    def __init__(self, where: CachedRecordings) -> None:
        self.where = where
        self._parts: dict[str, dict[str, np.ndarray]] = {}

    def has(self, recording_id: str) -> bool:
        return recording_id in self.where

    def get(self, recording_id: str) -> tuple[Segments, float]:
        """The recording's segments and duration [s]; SegmentCacheError when its part file
        is missing, differs from its manifest entry or does not hold it."""
        folder, entry = self.where[recording_id]
        path = os.path.join(folder, str(entry["file"]))
        if path not in self._parts:
            self._parts = {path: _load_part(path, str(entry["sha256"]))}  # one part at a time
        arrays = self._parts[path]
        hit = np.flatnonzero(arrays["recording_id"] == recording_id)
        if hit.shape[0] != 1:
            raise SegmentCacheError(f"segment cache file {path} does not hold {recording_id}")
        i = int(hit[0])
        a, b = int(arrays["bounds"][i]), int(arrays["bounds"][i + 1])
        seg = Segments(**{name: arrays[name][a:b] for name in _SEGMENT_ARRAYS})
        return seg, float(arrays["seconds"][i])


def _load_part(path: str, sha256: str) -> dict[str, np.ndarray]:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise SegmentCacheError(f"segment cache file {path} cannot be read: {exc}") from exc
    if hashlib.sha256(data).hexdigest() != sha256:
        raise SegmentCacheError(f"segment cache file {path}: sha256 differs from {MANIFEST}")
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["bounds"] = np.concatenate([[0], np.cumsum(arrays["rows"])])
    return arrays
