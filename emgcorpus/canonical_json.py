"""Canonical JSON: the deterministic bytes of the JSON files whose bytes are hashed or compared.

The vocabulary's ``vocab.json`` (its sha256 is the vocabulary id) and the token shards'
``index.json`` (rewritten only when its bytes change) are written with it, so equal
content gives equal bytes.
"""

from __future__ import annotations

import json
from typing import Any


def canonical_json(obj: Any) -> bytes:
    """Deterministic JSON bytes: sorted keys, indent 1, fixed separators, no NaN, trailing
    newline."""
    text = json.dumps(obj, sort_keys=True, indent=1, separators=(",", ": "), allow_nan=False)
    return (text + "\n").encode()
