"""The token id layout: specials, rest tokens by duration, codebook codes."""

from __future__ import annotations

import numpy as np
import pytest

from emgcorpus.errors import ConfigError
from emgcorpus.shards import special_tokens as st


def test_layout_is_contiguous_and_distinct() -> None:
    ids = sorted(st.SPECIAL_TOKENS.values())
    assert ids == list(range(st.FIRST_CODE_ID))
    assert (st.PAD, st.MASK, st.CLS, st.SEP, st.UNK) == (0, 1, 2, 3, 4)
    assert st.SPECIAL_TOKENS["REST_0"] == st.FIRST_REST_ID
    assert st.FIRST_CODE_ID == st.FIRST_REST_ID + st.N_REST_TOKENS


def test_rest_tokens_bin_by_duration() -> None:
    edges = st.REST_BIN_EDGES_S
    d = np.array([0.0, edges[1] - 1e-6, edges[1], 0.3, 0.999, 1.0, 4.0, 5.0, 3600.0])
    tok = st.rest_tokens(d)
    assert tok.dtype == np.int32
    assert tok[0] == st.FIRST_REST_ID
    assert tok[1] == st.FIRST_REST_ID and tok[2] == st.FIRST_REST_ID + 1
    assert tok[-1] == st.FIRST_CODE_ID - 1
    assert np.all(np.diff(tok) >= 0), "longer rests never get a shorter bin"
    assert st.rest_token(0.3) == tok[3]
    for t, dur in zip(tok, d):
        low, high = st.rest_bin_range_s(int(t))
        assert low <= dur < high


@pytest.mark.parametrize("bad", [np.nan, -0.1, np.inf])
def test_rest_tokens_reject_bad_durations(bad: float) -> None:
    with pytest.raises(ConfigError, match="rest duration"):
        st.rest_tokens(np.array([0.5, bad]))


def test_codes_round_trip() -> None:
    codes = np.array([0, 1, 511])
    tok = st.code_to_token(codes)
    assert tok[0] == st.FIRST_CODE_ID
    assert np.array_equal(st.token_to_code(tok), codes)
    assert st.is_code_token(tok).all()
    assert not st.is_code_token(np.array([st.SEP, st.FIRST_REST_ID])).any()
    assert st.token_to_code(np.array([st.MASK]))[0] == -1
    assert st.is_rest_token(np.array([st.FIRST_REST_ID, st.FIRST_CODE_ID])).tolist() == [
        True,
        False,
    ]
    with pytest.raises(ConfigError):
        st.code_to_token(np.array([-1]))


def test_vocab_size_and_descriptions() -> None:
    assert st.vocab_size(512) == st.FIRST_CODE_ID + 512
    assert st.vocab_size(0) == st.FIRST_CODE_ID
    assert st.describe_token(st.SEP) == "SEP"
    assert st.describe_token(st.FIRST_CODE_ID + 17) == "code 17"
    assert st.describe_token(st.rest_token(0.7)).startswith("REST_3 [0.5, 1)")
    with pytest.raises(ConfigError):
        st.vocab_size(-1)
