"""Verification of token shards: the index against the files it lists, and the lake's folders.

Each problem is one sentence naming the file; an empty list means all good.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from emgcorpus.checksums import file_sha256
from emgcorpus.errors import LakeError
from emgcorpus.shards.index import INDEX_FILE, SHARD_GLOB, read_index, shard_folders
from emgcorpus.shards.schema import SHARD_SCHEMA, SHARD_SCHEMA_WITHOUT_DESC


def verify_shards(shard_dir: str | Path) -> list[str]:
    """Problems of a shard folder, one sentence each (empty list: all good).

    Checks the index, every listed file's presence, sha256, row count and schema, and
    ``part-*.parquet`` files the index does not list.
    """
    shard_dir = Path(shard_dir)
    try:
        index = read_index(shard_dir)
    except LakeError as exc:
        return [str(exc)]
    problems: list[str] = []
    listed = set()
    for entry in index["shards"]:
        name = str(entry.get("file"))
        listed.add(name)
        path = shard_dir / name
        if not path.is_file():
            problems.append(f"{path}: missing (listed in {INDEX_FILE})")
            continue
        sha = file_sha256(path)
        if sha != entry.get("sha256"):
            problems.append(f"{path}: sha256 {sha} differs from {entry.get('sha256')} in the index")
        try:
            meta = pq.read_metadata(path)
            schema = pq.read_schema(path)
        except (OSError, pa.ArrowException) as exc:
            problems.append(f"{path}: not a readable Parquet file ({exc})")
            continue
        if meta.num_rows != entry.get("rows"):
            problems.append(f"{path}: {meta.num_rows} rows, the index lists {entry.get('rows')}")
        bare = schema.remove_metadata()
        if not (bare.equals(SHARD_SCHEMA) or bare.equals(SHARD_SCHEMA_WITHOUT_DESC)):
            problems.append(f"{path}: schema differs from emgcorpus.shards.schema.SHARD_SCHEMA")
    for extra in sorted(shard_dir.glob(SHARD_GLOB)):
        if extra.name not in listed:
            problems.append(f"{extra}: shard file not listed in {INDEX_FILE}")
    return problems


def verify_lake_shards(lake_path: str | Path) -> list[str]:
    """Problems of every token shard folder under the lake (``<lake>/_shards/*`` with an
    ``index.json``), each prefixed ``token shards <folder name>:``."""
    problems: list[str] = []
    for folder in shard_folders(lake_path):
        problems.extend(f"token shards {folder.name}: {p}" for p in verify_shards(folder))
    return problems
