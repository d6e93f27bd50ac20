"""``emgcorpus gestures``: the gesture vocabulary (:mod:`emgcorpus.gestures`) - canonical
names and which raw label of which dataset maps to each."""

from __future__ import annotations

import click

from emgcorpus.cli.common import echo_doc, json_option


@click.command("gestures")
@click.option(
    "--dataset",
    default=None,
    help="Only this dataset's mapping (a <name>-db<x> dataset uses <name>'s).",
)
@json_option("the vocabulary")
def gestures_cmd(dataset: str | None, as_json: bool) -> None:
    """Canonical gestures and each dataset's labels."""
    from emgcorpus.gestures import GESTURES_FILE, vocabulary

    vocab = vocabulary()
    key = None if dataset is None else vocab.dataset_key(dataset)
    rows = [r for r in vocab.rows() if dataset is None or r["dataset"] == key]
    doc = {"file": str(GESTURES_FILE), "canonical": vocab.canonical, "mapping": rows}

    def text() -> str:
        lines = [f"{name:18s} {what}" for name, what in vocab.canonical.items()]
        lines.append("")
        lines += [f"{r['dataset']:14s} {r['label']!r:44s} -> {r['gesture']}" for r in rows]
        lines.append("(every dataset's rest events are 'rest'; other labels: no gesture)")
        return "\n".join(lines)

    echo_doc(doc, as_json, text)
