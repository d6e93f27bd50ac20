"""The token id layout of every vocabulary: special tokens, rest tokens, then codebook codes.

This module is the ONE place where token ids are defined. The layout is::

    id  name      meaning
    --  --------  ----------------------------------------------------------------
     0  PAD       padding (never produced by a tokenizer)
     1  MASK      masked token for self-supervised pretraining
     2  CLS       sentence summary token
     3  SEP       sentence / recording boundary
     4  UNK       a segment that could not be encoded (e.g. a NaN descriptor)
     5  REST_0    rest of duration [0, 0.1) s
     6  REST_1    rest of duration [0.1, 0.2) s
     7  REST_2    rest of duration [0.2, 0.5) s
     8  REST_3    rest of duration [0.5, 1) s
     9  REST_4    rest of duration [1, 2) s
    10  REST_5    rest of duration [2, 5) s
    11  REST_6    rest of duration [5, inf) s
    12  code 0    first codebook code (FIRST_CODE_ID)
    ..  code k    FIRST_CODE_ID + k

Rest durations are binned on the log-spaced edges ``REST_BIN_EDGES_S`` (seconds, left
closed, right open). A vocabulary with ``n_codes`` codes has ``vocab_size(n_codes)`` ids.
"""

from __future__ import annotations

import numpy as np

from emgcorpus.errors import ConfigError

PAD = 0
MASK = 1
CLS = 2
SEP = 3
UNK = 4

#: Left edges of the rest-duration bins [s]; the last bin is open to +inf.
REST_BIN_EDGES_S: tuple[float, ...] = (0.0, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
FIRST_REST_ID = 5
N_REST_TOKENS = len(REST_BIN_EDGES_S)
FIRST_CODE_ID = FIRST_REST_ID + N_REST_TOKENS

#: Every named (non-code) token and its id.
SPECIAL_TOKENS: dict[str, int] = {
    "PAD": PAD,
    "MASK": MASK,
    "CLS": CLS,
    "SEP": SEP,
    "UNK": UNK,
    **{f"REST_{i}": FIRST_REST_ID + i for i in range(N_REST_TOKENS)},
}

_EDGES = np.asarray(REST_BIN_EDGES_S, dtype=np.float64)


def rest_tokens(durations: np.ndarray) -> np.ndarray:
    """Rest token ids (int32) for rest durations [s]; negative or non-finite -> ConfigError."""
    d = np.asarray(durations, dtype=np.float64)
    if d.size and (not np.all(np.isfinite(d)) or np.any(d < 0)):
        bad = d[~(np.isfinite(d) & (d >= 0))][0]
        raise ConfigError(f"rest duration must be a finite number >= 0 s, got {bad!r}")
    bins = np.searchsorted(_EDGES, d, side="right") - 1
    return (FIRST_REST_ID + bins).astype(np.int32)


def rest_token(duration_s: float) -> int:
    """Rest token id for one rest duration [s]."""
    return int(rest_tokens(np.asarray([duration_s]))[0])


def rest_bin_range_s(token_id: int) -> tuple[float, float]:
    """The [low, high) duration range [s] of a rest token."""
    i = int(token_id) - FIRST_REST_ID
    if not 0 <= i < N_REST_TOKENS:
        raise ConfigError(
            f"token {token_id} is not a rest token ({FIRST_REST_ID}..{FIRST_CODE_ID - 1})"
        )
    high = REST_BIN_EDGES_S[i + 1] if i + 1 < N_REST_TOKENS else float("inf")
    return REST_BIN_EDGES_S[i], high


def code_to_token(codes: np.ndarray) -> np.ndarray:
    """Token ids (int32) of codebook codes (0-based); negative codes -> ConfigError."""
    c = np.asarray(codes)
    if c.size and int(c.min()) < 0:
        raise ConfigError(f"codebook codes must be >= 0, got {int(c.min())}")
    return (c.astype(np.int64) + FIRST_CODE_ID).astype(np.int32)


def token_to_code(tokens: np.ndarray) -> np.ndarray:
    """Codebook codes (int32) of code token ids; -1 where the token is not a code token."""
    t = np.asarray(tokens).astype(np.int64)
    return np.where(t >= FIRST_CODE_ID, t - FIRST_CODE_ID, -1).astype(np.int32)


def is_code_token(tokens: np.ndarray) -> np.ndarray:
    """Boolean mask: which token ids are codebook codes."""
    return np.asarray(tokens) >= FIRST_CODE_ID


def is_rest_token(tokens: np.ndarray) -> np.ndarray:
    """Boolean mask: which token ids are rest tokens."""
    t = np.asarray(tokens)
    return (t >= FIRST_REST_ID) & (t < FIRST_CODE_ID)


def vocab_size(n_codes: int) -> int:
    """Number of token ids of a vocabulary with ``n_codes`` codebook codes."""
    if int(n_codes) < 0:
        raise ConfigError(f"n_codes must be >= 0, got {n_codes}")
    return FIRST_CODE_ID + int(n_codes)


_NAMES = {v: k for k, v in SPECIAL_TOKENS.items()}


def describe_token(token_id: int) -> str:
    """Human-readable name of a token id, e.g. ``SEP``, ``REST_3 [0.5, 1) s``, ``code 17``."""
    t = int(token_id)
    if t < 0:
        return f"invalid token {t}"
    if t >= FIRST_CODE_ID:
        return f"code {t - FIRST_CODE_ID}"
    name = _NAMES[t]
    if FIRST_REST_ID <= t < FIRST_CODE_ID:
        low, high = rest_bin_range_s(t)
        return f"{name} [{low:g}, {high:g}) s"
    return name
