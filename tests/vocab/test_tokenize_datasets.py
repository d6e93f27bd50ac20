"""vocab.tokenize: the vocabulary's datasets are provenance, not a filter (issue 9).

Any dataset of a lake, or of another lake, is tokenized with any vocabulary; ``datasets``
selects; the index records what the shards hold and what the vocabulary was fitted on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from adapters.registry import make_adapter
from emgcorpus.cli import cli
from emgcorpus.errors import ConfigError, LakeError
from emgcorpus.ingest import ingest
from emgcorpus.lake import Lake
from emgcorpus.shards.index import default_shard_dir, read_index
from vocab.artifact import Vocabulary, default_store
from vocab.compiler import VocabularyBuilder
from vocab.lake_partitions import DEFAULT_PARTITION_SAMPLES, lake_snapshot, plan_partitions
from vocab.segment_cache import base_key, find_cached
from vocab.tokenize import shard_folder_name, tokenize_lake

#: Two small simulated datasets on different devices (the second on a 16-channel ring).
SIM = {"subjects": 2, "gestures": 2, "repetitions": 1, "contraction_s": 1.0, "rest_s": 1.0}
OTHER = {"devices": "ring16", "dataset": "simb", "seed": 3}


@pytest.fixture(scope="module")
def lakes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Vocabulary]:
    """A lake with datasets ``sim`` and ``simb``, a lake holding only ``simb``, and a
    vocabulary compiled on ``sim`` only (stored in the first lake)."""
    root = tmp_path_factory.mktemp("datasets")
    both, alone = root / "both", root / "alone"
    ingest(both, make_adapter("sim", "builtin", devices="myo8", **SIM), progress=False)
    ingest(both, make_adapter("sim", "builtin", **OTHER, **SIM), progress=False)
    ingest(alone, make_adapter("sim", "builtin", **OTHER, **SIM), progress=False)
    vocab = VocabularyBuilder(
        both, "nct", size=8, sample_size=200, datasets=["sim"], scheduler="sync"
    ).build(progress=False)
    return both, alone, vocab


def _tokenize(lake: Path, vid: str, **kw: Any) -> Path:
    return tokenize_lake(lake, vid, scheduler="sync", progress=False, partition_size=2, **kw)


def _rows(folder: Path) -> dict[str, str]:
    """Every sentence of a shard folder, keyed by recording and sentence index, as JSON
    text (rest tokens carry NaN descriptors, which compare unequal as floats)."""
    index = read_index(folder)
    rows = [r for s in index["shards"] for r in pq.read_table(folder / s["file"]).to_pylist()]
    return {f"{r['recording_id']}/{r['sentence_index']}": json.dumps(r) for r in rows}


def _datasets(rows: dict[str, str]) -> set[str]:
    return {json.loads(r)["dataset"] for r in rows.values()}


def _of(rows: dict[str, str], dataset: str) -> dict[str, str]:
    return {k: r for k, r in rows.items() if json.loads(r)["dataset"] == dataset}


def test_every_dataset_is_tokenized_and_the_vocabulary_is_provenance(
    lakes: tuple[Path, Path, Vocabulary],
) -> None:
    both, _, vocab = lakes
    assert vocab.compiled_datasets == ["sim"]
    out = _tokenize(both, vocab.id)
    assert out == default_shard_dir(both.resolve(), vocab.id)
    index = read_index(out)
    assert index["datasets"] == ["sim", "simb"]
    assert index["vocab_datasets"] == ["sim"]
    assert _datasets(_rows(out)) == {"sim", "simb"}


def test_a_selection_gets_its_own_folder_and_the_same_rows(
    lakes: tuple[Path, Path, Vocabulary],
) -> None:
    both, _, vocab = lakes
    full = _rows(_tokenize(both, vocab.id))
    out = _tokenize(both, vocab.id, datasets=["simb", "simb"])
    assert out.name == f"{vocab.id}.simb"
    index = read_index(out)
    assert index["datasets"] == ["simb"] and index["vocab_datasets"] == ["sim"]
    rows = _rows(out)
    assert rows and _datasets(rows) == {"simb"}
    # the same sentences as in the full tokenization (tokens do not depend on partitions)
    assert rows == _of(full, "simb")
    # naming every dataset is the full tokenization, in the default folder
    assert _tokenize(both, vocab.id, datasets=["simb", "sim"]).name == vocab.id
    assert read_index(default_shard_dir(both.resolve(), vocab.id))["datasets"] == ["sim", "simb"]


def test_another_lake_with_the_vocabulary_store_given(
    lakes: tuple[Path, Path, Vocabulary],
) -> None:
    both, alone, vocab = lakes
    with pytest.raises(LakeError, match="no vocabulary .* give its store"):
        _tokenize(alone, vocab.id)  # not in the other lake's own store
    out = _tokenize(alone, vocab.id[:8], store=default_store(both))
    assert out == default_shard_dir(alone.resolve(), vocab.id)
    index = read_index(out)
    assert index["lake"] == str(alone.resolve()) and index["datasets"] == ["simb"]
    rows = _rows(out)
    full = _rows(_tokenize(both, vocab.id))
    assert rows == _of(full, "simb")


def test_unknown_or_empty_dataset_is_a_clear_error(lakes: tuple[Path, Path, Vocabulary]) -> None:
    both, _, vocab = lakes
    with pytest.raises(ConfigError, match=r"no dataset 'nope' in the lake \(it holds: sim, simb\)"):
        _tokenize(both, vocab.id, datasets=["sim", "nope"])
    with pytest.raises(ConfigError, match="at least one dataset"):
        _tokenize(both, vocab.id, datasets=[])


def test_shard_folder_names() -> None:
    assert shard_folder_name("abc", None) == "abc"
    assert shard_folder_name("abc", ["a", "b-2"]) == "abc.a+b-2"
    odd = shard_folder_name("abc", ["a b"])
    assert odd.startswith("abc.") and len(odd) == len("abc.") + 12 and " " not in odd


def test_cli_datasets_and_vocab_store(lakes: tuple[Path, Path, Vocabulary]) -> None:
    both, alone, vocab = lakes
    args = ["tokenize", "--vocab", vocab.id, "--scheduler", "sync", "--json"]
    store = ["--vocab-store", str(default_store(both))]
    result = CliRunner().invoke(cli, ["--lake", str(alone), *args, *store])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["datasets"] == ["simb"] and doc["vocab_datasets"] == ["sim"]
    assert doc["totals"]["tokens"] > 0
    result = CliRunner().invoke(cli, ["--lake", str(both), *args, "--datasets", "nope"])
    assert result.exit_code == 1 and "no dataset 'nope'" in result.output
    result = CliRunner().invoke(
        cli, ["--lake", str(both), *args[:-1], "--datasets", "simb,sim", "--no-segment-cache"]
    )
    assert result.exit_code == 0 and "of sim, simb" in result.stdout


def test_the_sessions_the_build_segmented_come_from_its_cache(
    lakes: tuple[Path, Path, Vocabulary], tmp_path: Path
) -> None:
    both, _, vocab = lakes
    lake = Lake.open(both)
    table = lake.recordings().sort("recording_id")
    plan = plan_partitions(table, 2, None, DEFAULT_PARTITION_SAMPLES)
    parts = [[plan.refs[i] for i in p] for p in plan.partitions]
    base = base_key(lake_snapshot(lake), vocab.tokenizer_config, None)
    cached, used = find_cached(both, base, parts)
    found = {rid for part in cached for rid in part}
    assert len(used) == 1  # the vocabulary build's cache (compiled on ``sim`` only)
    assert found == set(table.filter(pl.col("dataset") == "sim")["recording_id"])
    with_cache = _tokenize(both, vocab.id, out_dir=tmp_path / "a")
    without = _tokenize(both, vocab.id, out_dir=tmp_path / "b", segment_cache=False)
    assert _rows(with_cache) == _rows(without)
    assert (with_cache / "index.json").read_bytes() == (without / "index.json").read_bytes()
