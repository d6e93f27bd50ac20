"""Which entry of a token's stored descriptor (``token_desc``) is its intensity.

The trainer never imports the tokenizers (ARCHITECTURE.md), so the one fact the information
audit (training.audit) needs about a descriptor layout lives here, beside the shard format:
a shard index may say it itself (field ``intensity_index``), else the tokenizer's name does.
``tests/vocab/test_descriptor_layout.py`` checks the table against the tokenizers' layouts.
"""

from __future__ import annotations

from typing import Any

#: tokenizer name -> index of the log-intensity entry of its descriptors
#: (NCT: vocab.descriptors entry 1, ``log_intensity``; the window tokenizer has none)
INTENSITY_ENTRY: dict[str, int] = {"nct": 1}


def intensity_index(index: dict[str, Any]) -> int | None:
    """The intensity entry of the descriptors of the shards ``index`` (index.json) describes:
    its ``intensity_index`` field, else by its tokenizer's name; None when unknown or the
    shards store no descriptors."""
    if not int(index.get("descriptor_dim") or 0):
        return None
    if index.get("intensity_index") is not None:
        return int(index["intensity_index"])
    tok = index.get("tokenizer")
    name = tok.get("name") if isinstance(tok, dict) else tok
    return INTENSITY_ENTRY.get(str(name)) if name is not None else None
