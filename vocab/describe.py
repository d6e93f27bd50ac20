"""Vocabularies and token shards described for people: the summary of a build and the text
of ``emgcorpus vocab ls|show|diff`` and ``emgcorpus tokenize``.

The data come from :mod:`vocab.artifact` (:func:`~vocab.artifact.list_vocabularies`,
:func:`~vocab.artifact.diff`) and the shard index; this module only selects and lays out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emgcorpus.shards.index import read_index
from vocab.artifact import Vocabulary


def build_summary(vocab: Vocabulary) -> dict[str, Any]:
    """What a finished build reports: id, folder, size, recordings, iterations and the
    codebook statistics (perplexity, dead codes, codes used by more than one device)."""
    stats = vocab.statistics
    return {
        "id": vocab.id,
        "path": str(vocab.path),
        "size": vocab.size,
        "perplexity": stats["perplexity"],
        "dead_codes": stats["dead_codes"],
        "codes_multi_device": stats["codes_multi_device"],
        "recordings": vocab.meta["corpus"]["recordings"],
        "iterations": vocab.meta["fit"]["iterations_run"],
    }


def format_build_summary(summary: dict[str, Any]) -> str:
    """:func:`build_summary` as text."""
    lines = [f"vocabulary {summary['id']} ({summary['path']})"]
    for key in ("size", "recordings", "iterations", "perplexity", "dead_codes"):
        lines.append(f"  {key}: {summary[key]}")
    lines.append(f"  codes used by > 1 device: {summary['codes_multi_device']}")
    return "\n".join(lines)


def format_vocabulary_list(rows: list[dict[str, Any]]) -> str:
    """:func:`vocab.artifact.list_vocabularies` rows as a table (a hint when there are none)."""
    if not rows:
        return "no vocabularies (build one with `emgcorpus vocab build`)"
    lines = [f"{'id':<18}{'tokenizer':<12}{'size':>6}{'perplexity':>12}{'dead':>6}{'multi':>7}"]
    for r in rows:
        lines.append(
            f"{r['id']:<18}{r['tokenizer']:<12}{r['size']:>6}{r['perplexity']:>12}"
            f"{r['dead_codes']:>6}{r['codes_multi_device']:>7}"
        )
    return "\n".join(lines)


def vocabulary_document(vocab: Vocabulary) -> dict[str, Any]:
    """All of ``vocab.json`` with the vocabulary's id first."""
    return {"id": vocab.id, **vocab.meta}


def format_vocabulary(vocab: Vocabulary) -> str:
    """One vocabulary as text: tokenizer, parameters, snapshot and statistics per dataset."""
    s = vocab.statistics
    tok = vocab.tokenizer_config
    lines = [
        f"vocabulary {vocab.id}  ({vocab.path})",
        f"  tokenizer: {tok['name']} {tok['version']}  params: {tok['params']}",
        f"  params: {vocab.meta['params']}",
        f"  snapshot: {vocab.snapshot}",
        f"  size: {vocab.size}  tokens: {vocab.n_tokens}  code tokens: {s['code_tokens']}",
        f"  perplexity: {s['perplexity']}  dead codes: {s['dead_codes']}",
        f"  codes used by > 1 device: {s['codes_multi_device']} of {s['size']}",
    ]
    for ds, d in s.get("per_dataset", {}).items():
        lines.append(f"  {ds}: {d['tokens_per_second']} tokens/s over {d['seconds']} s")
    return "\n".join(lines)


def format_diff(d: dict[str, Any]) -> str:
    """:func:`vocab.artifact.diff` as text: each section ``same`` or its changed keys."""
    lines = [f"a = {d['a']}   b = {d['b']}"]
    for section in ("tokenizer", "params", "snapshot", "statistics"):
        if not d[section]:
            lines.append(f"{section}: same")
            continue
        lines.append(f"{section}:")
        for key, (va, vb) in d[section].items():
            lines.append(f"  {key}: {va} -> {vb}")
    lines.append(f"codes: {d['codes']}")
    return "\n".join(lines)


def format_shard_totals(folder: Path) -> str:
    """One line on a shard folder: shards, sentences, tokens, recordings and datasets (from
    its index)."""
    index = read_index(folder)
    totals = index["totals"]
    held = index.get("datasets")
    of = f" of {', '.join(held)}" if isinstance(held, list) and held else ""
    return (
        f"{folder}: {totals['shards']} shards, {totals['rows']} sentences, "
        f"{totals['tokens']} tokens from {totals['recordings']} recordings{of}"
    )
