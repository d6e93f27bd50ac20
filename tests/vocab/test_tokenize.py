"""vocab.tokenize: shard schema, sentences, index, idempotence and verification."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from emgcorpus.errors import ConfigError
from emgcorpus.lake import Lake
from emgcorpus.shards.index import INDEX_FILE, default_shard_dir, read_index
from emgcorpus.shards.schema import SHARD_SCHEMA
from emgcorpus.shards.verify import verify_shards
from emgcorpus.topology import POSITION_DIM, position_vector
from vocab.compiler import VocabularyBuilder
from vocab.tokenize import tokenize_lake


@pytest.fixture(scope="module")
def lake_and_vocab(sim_lake: Path) -> tuple[Path, str]:
    lake = sim_lake
    vocab = VocabularyBuilder(
        lake, "nct", size=8, sample_size=200, scheduler="sync", partition_size=2
    ).build(progress=False)
    return lake, vocab.id


def _tokenize(lake: Path, vid: str, out: Path | None = None, **kw: object) -> Path:
    params: dict = {"scheduler": "sync", "progress": False, "partition_size": 2}
    params.update(kw)
    return tokenize_lake(lake, vid[:8], out_dir=out, **params)


def test_shards_follow_schema_and_sentence_rules(lake_and_vocab: tuple[Path, str]) -> None:
    lake, vid = lake_and_vocab
    out = _tokenize(lake, vid, max_rows_per_shard=3, max_tokens_per_sentence=40)
    assert out == default_shard_dir(lake.resolve(), vid)
    index = read_index(out)
    assert index["vocab_id"] == vid
    assert index["snapshot"] == Lake.open(lake).snapshot()
    assert index["tokenizer"]["name"] == "nct"
    assert all(s["rows"] <= 3 for s in index["shards"])
    table = pq.read_table([out / s["file"] for s in index["shards"]][0])
    assert table.schema.remove_metadata().equals(SHARD_SCHEMA)
    rows = [r for s in index["shards"] for r in pq.read_table(out / s["file"]).to_pylist()]
    assert len(rows) == index["totals"]["rows"]
    assert sum(len(r["token_ids"]) for r in rows) == index["totals"]["tokens"]
    assert {r["recording_id"] for r in rows} == set(Lake.open(lake).recordings()["recording_id"])
    ld = Lake.open(lake)
    for r in rows:
        n = len(r["token_ids"])
        assert 1 <= n <= 40
        assert len(r["token_channel"]) == len(r["token_onset_s"]) == n
        assert len(r["token_pos"]) == n * POSITION_DIM
        assert np.all(np.diff(r["token_onset_s"]) >= 0)
        assert min(r["token_ids"]) >= 5 and max(r["token_ids"]) < index["vocab_size"]
        infos = ld.channel_infos(r["recording_id"])
        ch = r["token_channel"][0]
        expected = position_vector(infos[ch].position)
        np.testing.assert_allclose(r["token_pos"][:POSITION_DIM], expected, rtol=1e-6)
        for e in r["events"]:
            assert e["onset"] < r["t_end_s"] and e["onset"] + e["duration"] > r["t_start_s"]
    # sentences of a recording are numbered 0.. in time order
    first = [r for r in rows if r["recording_id"] == rows[0]["recording_id"]]
    assert [r["sentence_index"] for r in first] == list(range(len(first)))
    assert all(a["t_start_s"] <= b["t_start_s"] for a, b in zip(first, first[1:]))
    assert any(r["events"] for r in rows)


def test_shards_carry_standardised_descriptors_beside_the_codes(
    lake_and_vocab: tuple[Path, str],
) -> None:
    from emgcorpus.shards.special_tokens import FIRST_CODE_ID
    from vocab.artifact import Vocabulary, default_store
    from vocab.codebook import nearest_centroid

    lake, vid = lake_and_vocab
    out = _tokenize(lake, vid)
    index = read_index(out)
    vocab = Vocabulary.load(default_store(lake), vid)
    dim = index["descriptor_dim"]
    assert dim == vocab.codebook.shape[1] > 0
    rows = [r for s in index["shards"] for r in pq.read_table(out / s["file"]).to_pylist()]
    n_codes = 0
    for r in rows:
        ids = np.asarray(r["token_ids"])
        z = np.asarray(r["token_desc"], np.float64).reshape(len(ids), dim)
        code = ids >= FIRST_CODE_ID
        assert np.isnan(z[~code]).all()  # rest tokens carry no descriptor
        if code.any():
            # the descriptor lives in the codebook's space: its nearest code is the token
            near, _ = nearest_centroid(np.nan_to_num(z[code]), vocab.codebook.astype(np.float64))
            assert np.array_equal(near + FIRST_CODE_ID, ids[code])
            n_codes += int(code.sum())
    assert n_codes > 0


def test_retokenize_is_idempotent(lake_and_vocab: tuple[Path, str], tmp_path: Path) -> None:
    lake, vid = lake_and_vocab
    out = _tokenize(lake, vid, tmp_path / "s", max_rows_per_shard=2)
    files = sorted(out.iterdir())
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in files}
    _tokenize(lake, vid, tmp_path / "s", max_rows_per_shard=2)
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(out.iterdir())}
    assert after == before  # same bytes, and identical files were not even rewritten
    # other sharding: stale files go, index changes accordingly
    _tokenize(lake, vid, tmp_path / "s", max_rows_per_shard=100)
    index = read_index(out)
    assert sorted(p.name for p in out.glob("part-*")) == sorted(s["file"] for s in index["shards"])
    assert verify_shards(out) == []


def test_verify_reports_tampering(lake_and_vocab: tuple[Path, str], tmp_path: Path) -> None:
    lake, vid = lake_and_vocab
    out = _tokenize(lake, vid, tmp_path / "s", max_rows_per_shard=1, max_tokens_per_sentence=30)
    assert verify_shards(out) == []
    index = json.loads((out / INDEX_FILE).read_text())
    first, second = index["shards"][0]["file"], index["shards"][1]["file"]
    # tamper: rewrite one shard with a row dropped
    table = pq.read_table(out / first)
    pq.write_table(table.slice(0, table.num_rows - 1), out / first)
    (out / second).unlink()
    shutil.copy(out / index["shards"][2]["file"], out / "part-99999-000.parquet")
    problems = verify_shards(out)
    text = "\n".join(problems)
    assert f"{first}: sha256" in text
    assert f"{first}: {table.num_rows - 1} rows, the index lists {table.num_rows}" in text
    assert f"{second}: missing" in text
    assert "part-99999-000.parquet: shard file not listed" in text
    (out / INDEX_FILE).unlink()
    assert "no shard index" in verify_shards(out)[0]


def test_bad_options(lake_and_vocab: tuple[Path, str]) -> None:
    lake, vid = lake_and_vocab
    with pytest.raises(ConfigError, match="max_tokens_per_sentence"):
        _tokenize(lake, vid, max_tokens_per_sentence=0)
