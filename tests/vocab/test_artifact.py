"""Content-addressed vocabulary artifacts: ids, atomic save, load by prefix, ls and diff."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from emgcorpus.canonical_json import canonical_json
from emgcorpus.errors import ConfigError, LakeError
from emgcorpus.shards.special_tokens import FIRST_CODE_ID, FIRST_REST_ID, UNK, rest_tokens
from vocab.artifact import (
    CODEBOOK_FILE,
    VOCAB_FILE,
    Vocabulary,
    diff,
    list_vocabularies,
    resolve_id,
)
from vocab.tokenizer_base import KIND_ACTIVE, KIND_REST, Segments


def _vocab(codebook: np.ndarray, seed: int = 0, mean: float = 0.0) -> Vocabulary:
    dim = codebook.shape[1]
    meta = {
        "format": "emgcorpus.vocabulary/1",
        "tokenizer": {"name": "nct", "version": "1", "params": {"grid_ms": 10.0}},
        "params": {"size": codebook.shape[0], "seed": seed, "datasets": None},
        "corpus": {"lake": "/l", "snapshot": {"recordings": 1}, "recordings": 2},
        "standardization": {"mean": [mean] * dim, "std": [2.0] * dim},
        "fit": {"iterations_run": 1, "inertia": [1.0]},
        "statistics": {"size": codebook.shape[0], "perplexity": 1.5, "dead_codes": 0},
    }
    return Vocabulary(meta=meta, codebook=codebook.astype(np.float32))


def test_id_is_content_hash_and_save_is_atomic(tmp_path: Path) -> None:
    cb = np.arange(12, dtype=np.float32).reshape(4, 3)
    a = _vocab(cb)
    assert len(a.id) == 16 and a.id == _vocab(cb.copy()).id
    assert _vocab(cb, seed=1).id != a.id
    cb2 = cb.copy()
    cb2[0, 0] = np.nextafter(cb2[0, 0], 1, dtype=np.float32)
    assert _vocab(cb2).id != a.id  # one ulp in the codebook changes the id
    folder = a.save(tmp_path)
    assert folder.name == a.id
    assert sorted(p.name for p in tmp_path.iterdir()) == [a.id]  # no temp dirs left
    stored = (folder / VOCAB_FILE).read_bytes()
    assert stored == canonical_json(json.loads(stored))  # canonical: sorted keys, fixed format
    assert json.loads(stored)["codebook"]["shape"] == [4, 3]
    loaded = Vocabulary.load(tmp_path, a.id[:5])
    assert loaded.id == a.id
    np.testing.assert_array_equal(loaded.codebook, a.codebook)
    assert np.load(folder / CODEBOOK_FILE).dtype == np.float32


def test_prefix_resolution_and_listing(tmp_path: Path) -> None:
    ids = [_vocab(np.eye(3) * i).save(tmp_path).name for i in range(1, 20)]
    with pytest.raises(LakeError, match="no vocabulary"):
        resolve_id(tmp_path, "xyz")
    first = {i[0] for i in ids}
    shared = next(c for c in first if sum(i.startswith(c) for i in ids) > 1)
    with pytest.raises(ConfigError, match="ambiguous"):
        resolve_id(tmp_path, shared)
    rows = list_vocabularies(tmp_path)
    assert [r["id"] for r in rows] == sorted(ids)
    assert rows[0]["size"] == 3 and rows[0]["tokenizer"] == "nct/1"


def test_encode_codes_rest_and_unknown() -> None:
    v = _vocab(np.array([[0.0, 0.0], [5.0, 5.0]]), mean=1.0)
    seg = Segments(
        channel=np.array([0, 1, 0, 1, 0, 1], np.int32),
        onset_s=np.array([0.0, 0.1, 0.5, 0.9, 1.0, 1.1]),
        duration_s=np.array([0.1, 0.3, 1.5, 0.2, 0.2, 0.2], np.float32),
        kind=np.array([KIND_ACTIVE, KIND_ACTIVE, KIND_REST] + [KIND_ACTIVE] * 3, np.int8),
        descriptor=np.array(
            [
                [1.0, 1.0],
                [10.0, 12.0],
                [np.nan, np.nan],
                [np.nan, np.nan],
                [np.inf, 1.0],
                [np.nan, 12.0],
            ],
            np.float32,
        ),  # fmt: skip
    )
    ids = v.encode(seg)
    # (1-1)/2 = 0 -> code 0; (10-1)/2 = 4.5, (12-1)/2 = 5.5 -> code 1; an all-NaN or
    # infinite descriptor -> UNK; a NaN entry is absent (standardised to 0): (0, 5.5) -> 1
    assert ids.tolist() == [
        FIRST_CODE_ID,
        FIRST_CODE_ID + 1,
        int(rest_tokens(np.array([1.5]))[0]),
        UNK,
        UNK,
        FIRST_CODE_ID + 1,
    ]
    assert FIRST_REST_ID <= ids[2] < FIRST_CODE_ID


def test_diff_reports_params_and_code_matching() -> None:
    a = _vocab(np.array([[0.0, 0.0], [4.0, 4.0]]))
    b = _vocab(np.array([[0.0, 0.0], [4.0, 4.5]]), seed=7)
    d = diff(a, b)
    assert d["params"] == {"seed": [0, 7]}
    assert d["snapshot"] == {} and d["tokenizer"] == {}
    assert d["codes"]["mutual_nearest_pairs"] == 2
    assert d["codes"]["identical_codes"] == 1
    assert d["codes"]["distance_max"] == pytest.approx(0.5)
    c = _vocab(np.zeros((2, 3)))
    assert diff(a, c)["codes"]["comparable"] is False


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002], ids=["022", "077", "002"])
def test_saved_folder_mode_follows_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        folder = _vocab(np.eye(3)).save(tmp_path / "store")
    finally:
        os.umask(old)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o777 & ~umask
    for name in (VOCAB_FILE, CODEBOOK_FILE):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o666 & ~umask
