"""A content-addressed cache of segmentations: the NCT runs once for `vocab build` + `tokenize`.

The vocabulary build's map pass segments every recording (the expensive step: filter,
envelope, contractions, descriptors); with this cache it also writes every partition's
segments (all of them, rest segments included) to ``<lake>/_cache/segments/<key>/``, and
``tokenize`` reads them back instead of reading the samples and segmenting again. The
shards are byte-identical either way: the cache holds the exact arrays (channel int32,
onset float64, duration float32, kind int8, descriptor float32) segment_partition yields.

The key is the sha256 of everything the segments depend on (:func:`segment_cache_key`):
the lake snapshot (every table's version), the tokenizer (name, version, parameters), the
rate the recordings are read at, and the partition plan (the recording ids of every
partition: the recording set, and which sessions are cut over partitions, which decides
their noise floors). A different snapshot (a new ingest, a harmonize), other tokenizer
parameters, another rate or another recording set or partitioning is another key: the
cache is then not used (tokenize segments as before) and is never wrong. Tokenize uses it
when its plan equals the build's: the same partition settings and either every dataset
(a vocabulary compiled on the whole lake) or ``datasets`` = the vocabulary's datasets.

Integrity: a cache folder appears only complete (written under a temporary name, renamed
when the build ends, with ``manifest.json`` listing every part file's sha256); a reader
checks each file's sha256 and a mismatch is a :class:`SegmentCacheError` (tokenize then
removes the folder and segments from the lake).

Disk: a part holds 19 + 4 x descriptor_dim bytes per segment (NCT: 19 + 4 x 24 = 115),
plus a few bytes per recording; on the simulated corpus about 10% of the lake's raw
sample bytes. At most :data:`SEGMENT_CACHE_KEEP` caches are kept per lake (the least
recently used go first); remove ``<lake>/_cache`` at any time to reclaim the space.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from emgcorpus.canonical_json import canonical_json
from emgcorpus.errors import LakeError
from vocab.lake_partitions import RecordingRef, tokenized_channels
from vocab.spill import save_file
from vocab.tokenizer_base import Segments

FORMAT = "emgcorpus.segment-cache/1"
#: Folder below the lake that holds the segment caches.
CACHE_DIRNAME = os.path.join("_cache", "segments")
MANIFEST = "manifest.json"
#: Caches kept per lake (least recently used removed first when a new one is written).
SEGMENT_CACHE_KEEP = 2
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


def segment_cache_key(
    snapshot: dict[str, int],
    tokenizer_config: dict[str, Any],
    fs: float | None,
    partitions: list[list[RecordingRef]],
) -> str:
    """32 hex digits of the sha256 of every input the segments depend on (module
    docstring): snapshot, tokenizer config, rate [Hz] (None: native) and the partitions'
    recording ids and session keys."""
    inputs = {
        "format": FORMAT,
        "snapshot": {str(k): int(v) for k, v in snapshot.items()},
        "tokenizer": plain_json(tokenizer_config),
        "fs": None if fs is None else float(fs),
        "partitions": [[[r.recording_id, r.session] for r in refs] for refs in partitions],
    }
    return hashlib.sha256(canonical_json(inputs)).hexdigest()[:32]


def cache_root(lake_path: str | Path) -> Path:
    """``<lake>/_cache/segments``."""
    return Path(lake_path) / CACHE_DIRNAME


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

    def __init__(self, lake_path: str | Path, key: str) -> None:
        self.root = cache_root(lake_path).resolve()
        self.key = key
        self.final = self.root / key
        self.tmp = self.root / f".{key}.{uuid.uuid4().hex[:8]}.tmp"

    def __enter__(self) -> CacheWriter:
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

    def commit(self, entries: list[dict[str, Any]]) -> Path | None:
        """Write the manifest (``entries`` in partition order) and publish the folder;
        then drop the least recently used caches beyond SEGMENT_CACHE_KEEP. Returns the
        cache folder (None when it could not be published)."""
        doc = {"format": FORMAT, "key": self.key, "parts": entries}
        (self.tmp / MANIFEST).write_bytes(canonical_json(doc))
        try:
            os.rename(self.tmp, self.final)
        except OSError:  # another build published the same key first: the same content
            return self.final if (self.final / MANIFEST).is_file() else None
        prune_caches(self.root, SEGMENT_CACHE_KEEP)
        return self.final


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
def find_cache(lake_path: str | Path, key: str) -> tuple[str, list[dict[str, Any]]] | None:
    """The cache folder and manifest entries of ``key`` when a complete one exists (its
    use is recorded: the manifest's mtime is the LRU clock), else None."""
    folder = cache_root(lake_path).resolve() / key
    manifest = folder / MANIFEST
    try:
        doc = json.loads(manifest.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("key") != key:
        return None
    with contextlib.suppress(OSError):
        os.utime(manifest)
    return str(folder), list(doc["parts"])


def remove_cache(folder: str | Path) -> None:
    """Delete one cache folder (e.g. after a SegmentCacheError)."""
    shutil.rmtree(folder, ignore_errors=True)


def read_part(
    folder: str, entry: dict[str, Any], lake: Any, refs: list[RecordingRef]
) -> Iterator[tuple[int, Segments, float, list[int], list[Any]]]:
    """A cached partition as vocab.lake_partitions.segment_partition yields it: the index
    into ``refs``, the segments, the duration [s], the tokenized channel indices and every
    ChannelInfo (read from ``lake``). SegmentCacheError when the file is missing, differs
    from its manifest entry or holds other recordings."""
    path = os.path.join(folder, str(entry["file"]))
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise SegmentCacheError(f"segment cache file {path} cannot be read: {exc}") from exc
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise SegmentCacheError(f"segment cache file {path}: sha256 differs from {MANIFEST}")
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    ids = [str(v) for v in arrays["recording_id"]]
    if ids != [r.recording_id for r in refs]:
        raise SegmentCacheError(f"segment cache file {path} holds other recordings")
    bounds = np.concatenate([[0], np.cumsum(arrays["rows"])])
    for i, ref in enumerate(refs):
        a, b = int(bounds[i]), int(bounds[i + 1])
        seg = Segments(**{name: arrays[name][a:b] for name in _SEGMENT_ARRAYS})
        infos = lake.channel_infos(ref.recording_id)
        yield i, seg, float(arrays["seconds"][i]), tokenized_channels(infos), infos
