"""The shard index: ``index.json`` beside the shard files, written and read here only.

Layout of a shard folder (default ``<lake>/_shards/<vocab_id>/``)::

    index.json                 format, vocab id, tokenizer, snapshot, per shard:
                               file/rows/tokens/recordings/sha256, totals
    part-00000-000.parquet     sentences of map partition 0 (first max_rows_per_shard rows)
    part-00000-001.parquet     ...

The index is canonical JSON (emgcorpus.canonical_json), rewritten only when its bytes
change; writing it removes the ``part-*.parquet`` files it does not list.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from emgcorpus.canonical_json import canonical_json
from emgcorpus.errors import LakeError
from emgcorpus.lake_location import local_side
from emgcorpus.shards.schema import SHARD_SCHEMA
from emgcorpus.shards.writer import write_if_changed

FORMAT = "emgcorpus.shards/1"
INDEX_FILE = "index.json"
#: Folder of the token shards under a lake: ``<lake>/_shards/<vocab_id>``.
SHARDS_DIRNAME = "_shards"
#: The names of the shard files a tokenizer job writes (emgcorpus.shards.writer).
SHARD_GLOB = "part-*.parquet"


def default_shard_dir(lake_path: str | Path, vocab_id: str) -> Path:
    """``<lake>/_shards/<vocab_id>`` (a remote lake's: under its local side)."""
    return local_side(lake_path) / SHARDS_DIRNAME / vocab_id


def shard_folders(lake_path: str | Path) -> list[Path]:
    """Token shard folders stored under the lake (those with an ``index.json``), sorted."""
    return sorted(
        p.parent for p in (local_side(lake_path) / SHARDS_DIRNAME).glob(f"*/{INDEX_FILE}")
    )


def read_index(shard_dir: str | Path) -> dict[str, Any]:
    """The parsed ``index.json`` of a shard folder (written by :func:`write_index`).

    LakeError if it is missing, not JSON, has no ``shards`` list or is not a FORMAT index.
    """
    path = Path(shard_dir) / INDEX_FILE
    try:
        index = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise LakeError(f"{path}: no shard index (run `emgcorpus tokenize --vocab ID`)") from None
    except json.JSONDecodeError as exc:
        raise LakeError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(index, dict) or not isinstance(index.get("shards"), list):
        raise LakeError(f"{path}: expected a 'shards' list of {{file, rows, ...}}")
    if index.get("format") != FORMAT:
        raise LakeError(f"{path}: expected a {FORMAT} index, found format {index.get('format')!r}")
    return dict(index)


def write_index(
    shard_dir: str | Path,
    fields: dict[str, Any],
    shards: list[dict[str, Any]],
    recordings: int,
) -> dict[str, Any]:
    """Write the folder's ``index.json`` and remove the shard files it does not list.

    ``fields`` are what the tokenizer job records (vocab id and size, tokenizer, lake,
    snapshot, datasets, rate, sentence and shard limits, partitioning); ``shards`` the
    entries of the written files (emgcorpus.shards.writer.write_partition_shards), in
    order; ``recordings`` the number of recordings tokenized. Returns the index.
    """
    out = Path(shard_dir)
    index = {
        **fields,
        "format": FORMAT,
        "schema": [f"{f.name}: {f.type}" for f in SHARD_SCHEMA],
        "shards": shards,
        "totals": {
            "shards": len(shards),
            "rows": sum(s["rows"] for s in shards),
            "tokens": sum(s["tokens"] for s in shards),
            "recordings": recordings,
        },
    }
    keep = {s["file"] for s in shards}
    for stale in out.glob(SHARD_GLOB):
        if stale.name not in keep:
            stale.unlink()
    data = canonical_json(index)
    write_if_changed(out / INDEX_FILE, lambda p: p.write_bytes(data))
    return index
