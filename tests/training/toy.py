"""Tiny shards in SHARD_SCHEMA and tiny labelled signals, built directly for the tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from emgcorpus.shards.index import write_index
from emgcorpus.shards.schema import SHARD_SCHEMA
from emgcorpus.topology import POSITION_DIM
from training.windows import RecordingEvents, Window, WindowSpec, make_windows

N_CHANNELS = 4


def ring_positions(chans: list[int]) -> np.ndarray:
    """(n, POSITION_DIM) float32: channel c of ``chans`` on a ring of N_CHANNELS electrodes."""
    pos = np.zeros((len(chans), POSITION_DIM), np.float32)
    for k, c in enumerate(chans):
        a = 2 * np.pi * c / N_CHANNELS
        pos[k, [0, 3, 4]] = (1.0, np.sin(a), np.cos(a))
    return pos


def sentence_row(
    rid: str,
    dataset: str,
    subject: str,
    index: int,
    ids: list[int],
    onsets: list[float],
    events: list[dict[str, Any]] | None = None,
    t_start: float | None = None,
    t_end: float | None = None,
) -> dict[str, Any]:
    """One shard row; channel i of a token is ``k % N_CHANNELS`` with a ring position."""
    n = len(ids)
    chans = [k % N_CHANNELS for k in range(n)]
    pos = ring_positions(chans)
    return {
        "recording_id": rid,
        "dataset": dataset,
        "device": "toy",
        "subject": subject,
        "session": "1",
        "trial": "1",
        "sentence_index": index,
        "t_start_s": float(onsets[0]) if t_start is None else t_start,
        "t_end_s": float(onsets[-1]) + 0.1 if t_end is None else t_end,
        "n_channels": N_CHANNELS,
        "token_ids": ids,
        "token_channel": chans,
        "token_onset_s": [float(o) for o in onsets],
        "token_duration_s": [0.05] * n,
        "token_pos": pos.reshape(-1).tolist(),
        "events": events or [],
    }


def write_shards(
    out: Path,
    rows: list[dict[str, Any]],
    n_files: int = 2,
    vocab_size: int | None = None,
    descriptor_dim: int | None = None,
) -> Path:
    """Write ``rows`` into ``n_files`` Parquet shards plus index.json; return the folder
    (``descriptor_dim``: recorded in the index, for rows that carry ``token_desc``)."""
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for f in range(n_files):
        part = rows[f::n_files]
        table = pa.Table.from_pylist(part, schema=SHARD_SCHEMA)
        name = f"shard-{f:03d}.parquet"
        pq.write_table(table, out / name)
        entries.append({"file": name, "rows": len(part), "tokens": 0, "sha256": ""})
    fields: dict[str, Any] = {"vocab_id": "toy-vocab", "tokenizer": "toy", "snapshot": {"v": 1}}
    if vocab_size is not None:
        fields["vocab_size"] = vocab_size
    if descriptor_dim is not None:
        fields["descriptor_dim"] = descriptor_dim
    write_index(out, fields, entries, recordings=len({r["recording_id"] for r in rows}))
    return out


def numbered_shards(out: Path, n_rows: int = 37, n_files: int = 3) -> Path:
    """Rows whose first token id is 100 + row number, so a test can tell rows apart."""
    rows = [
        sentence_row(f"rec{i % 5}", "toy", f"s{i % 3}", i, [100 + i, 5, 6], [0.0, 0.1, 0.2])
        for i in range(n_rows)
    ]
    return write_shards(out, rows, n_files=n_files, vocab_size=200)


def periodic_shards(out: Path, n_rows: int = 64, length: int = 24, desc_dim: int = 0) -> Path:
    """A learnable toy: a token's id is set by its channel (k % 4), which its position shows.

    ``desc_dim`` > 0: every token also carries a descriptor (its id, then zeros) and the
    index records ``descriptor_dim``."""
    rows = []
    for i in range(n_rows):
        ids = [5 + k % N_CHANNELS for k in range(length)]
        row = sentence_row(f"r{i}", "toy", f"s{i % 4}", 0, ids, [0.05 * k for k in range(length)])
        if desc_dim:
            desc = np.zeros((length, desc_dim), np.float32)
            desc[:, 0] = ids
            row["token_desc"] = desc.reshape(-1).tolist()
        rows.append(row)
    dim = desc_dim or None
    return write_shards(out, rows, n_files=2, vocab_size=12, descriptor_dim=dim)


def gesture_recording_rows(
    dataset: str, subject: str, n_events: int = 8, labels: tuple[str, ...] = ("open", "fist")
) -> list[dict[str, Any]]:
    """One recording: 1 s gestures separated by 1 s gaps; gesture tokens are 10 + label index.

    Two sentences split the recording in half; each carries the events that overlap it.
    """
    rid = f"{dataset}-{subject}"
    events: list[dict[str, Any]] = [
        {
            "onset": 1.0 + 2.0 * k,
            "duration": 1.0,
            "label": labels[k % len(labels)],
            "repetition": k // len(labels),
            "kind": "gesture",
        }
        for k in range(n_events)
    ]
    end = 2.0 * n_events + 1.0
    ids, onsets = [], []
    t = 0.0
    while t < end:
        label = next((e["label"] for e in events if e["onset"] <= t < e["onset"] + 1.0), None)
        ids.append(5 if label is None else 10 + labels.index(label))
        onsets.append(t)
        t = round(t + 0.05, 6)
    half = end / 2
    rows = []
    for s, (lo, hi) in enumerate(((0.0, half), (half, end))):
        sel = [k for k, o in enumerate(onsets) if lo <= o < hi]
        evs = [e for e in events if e["onset"] < hi and e["onset"] + e["duration"] > lo]
        rows.append(
            sentence_row(
                rid,
                dataset,
                subject,
                s,
                [ids[k] for k in sel],
                [onsets[k] for k in sel],
                events=evs,
                t_start=lo,
                t_end=hi,
            )
        )
    return rows


def gesture_shards(out: Path, subjects: tuple[str, ...] = ("a", "b", "c")) -> Path:
    """Shards of dataset ``toy`` (evaluation subjects) and ``pre`` (pretraining only)."""
    rows = []
    for s in subjects:
        rows += gesture_recording_rows("toy", s)
    for s in ("p1", "p2"):
        rows += gesture_recording_rows("pre", s)
    return write_shards(out, rows, n_files=2, vocab_size=16)


def pretrained_gesture_toy(root: Path, model_config: dict[str, Any]) -> tuple[Path, Path]:
    """Gesture shards under ``root`` and a 5-step checkpoint pretrained without dataset toy."""
    shards = gesture_shards(root / "shards")
    return shards, pretrained_without_toy(shards, root / "ckpt", model_config)


def pretrained_without_toy(shards: Path, out: Path, model_config: dict[str, Any]) -> Path:
    """A 5-step checkpoint at ``out`` pretrained on ``shards`` without dataset toy."""
    from training.pretrain import PretrainConfig, pretrain

    return pretrain(
        shards,
        out,
        model_config=model_config,
        config=PretrainConfig(steps=5, batch_size=4),
        exclude_datasets=["toy"],
        progress=False,
    ).checkpoint


def abc_windows(n_subjects: int, n_events: int = 12) -> list[Window]:
    """Windows of ``n_subjects`` recordings (one per subject, dataset ``d``) of ``n_events``
    1 s gestures a, b, c in turn every 1.5 s, three per repetition."""
    recs = []
    for s in range(n_subjects):
        evs = [
            {
                "onset": 0.5 + 1.5 * k,
                "duration": 1.0,
                "label": "abc"[k % 3],
                "repetition": k // 3,
                "kind": "gesture",
            }
            for k in range(n_events)
        ]
        recs.append(RecordingEvents(f"r{s}", "d", str(s), "1", "1", 1.5 * n_events + 1.0, evs))
    return make_windows(recs, WindowSpec())


SPATIAL_LABELS = ("open", "fist")
SPATIAL_DESC_DIM = 3
SPATIAL_INTENSITY = 1  # the toy descriptors' intensity entry (recorded in the index)


def spatial_rows(
    subject: str, mode: str, seed: int, n_events: int = 8, dataset: str = "toy"
) -> list[dict[str, Any]]:
    """One recording of 1 s gestures with 1 s gaps; code ids (12-15) are random whatever
    the gesture, so only the spatial pattern tells gestures apart.

    ``mode`` ``active``: gesture k activates channels {2k, 2k+1} only; ``intensity``: every
    channel is active, gesture k makes channel 3k louder than the others, and the
    subject's gain shifts every intensity by a random offset; ``synergy``: two of channels
    0-3 are active at each 50 ms step at the same level, in turn {0, 1} and {2, 3} for
    ``open``, {0, 2} and {1, 3} for ``fist``, so every channel is active half the time in
    both gestures and only which channels act *together* tells them apart."""
    rng = np.random.default_rng(seed)
    gain = rng.normal(0.0, 3.0)
    events = [
        {
            "onset": 1.0 + 2.0 * k,
            "duration": 1.0,
            "label": SPATIAL_LABELS[k % 2],
            "repetition": k // 2,
            "kind": "gesture",
        }
        for k in range(n_events)
    ]
    ids: list[int] = []
    onsets: list[float] = []
    chans: list[int] = []
    desc: list[list[float]] = []
    end = 2.0 * n_events + 1.0
    for step in range(int(end / 0.05)):
        t = round(step * 0.05, 6)
        ev = next((e for e in events if e["onset"] <= t < e["onset"] + 1.0), None)
        if ev is None:
            ids.append(5)
            onsets.append(t)
            chans.append(0)
            desc.append([np.nan] * SPATIAL_DESC_DIM)
            continue
        g = SPATIAL_LABELS.index(ev["label"])
        if mode == "synergy":
            active = [(0, 1), (2, 3)][step % 2] if g == 0 else [(0, 2), (1, 3)][step % 2]
        elif mode == "active":
            active = (2 * g, 2 * g + 1)
        else:
            active = tuple(range(N_CHANNELS))
        for c in active:
            level = gain + rng.normal(0.0, 0.3) + (2.0 if mode == "intensity" and c == 3 * g else 0)
            ids.append(int(rng.integers(12, 16)))
            onsets.append(t)
            chans.append(c)
            desc.append([rng.normal(), level, rng.normal()])
    row = sentence_row(f"{dataset}-{subject}", dataset, subject, 0, ids, onsets, events=events)
    row["t_start_s"], row["t_end_s"] = 0.0, end
    row["token_channel"] = chans
    row["token_pos"] = ring_positions(chans).reshape(-1).tolist()
    row["token_desc"] = np.asarray(desc, np.float32).reshape(-1).tolist()
    return [row]


def spatial_toy(out: Path, mode: str, subjects: int = 4, others: int = 0) -> Path:
    """Shards of ``subjects`` recordings of dataset ``toy`` (:func:`spatial_rows`) and
    ``others`` more of dataset ``pre`` (to pretrain on)."""
    rows = []
    for k in range(subjects):
        rows += spatial_rows(f"s{k}", mode, seed=k)
    for k in range(others):
        rows += spatial_rows(f"p{k}", mode, seed=100 + k, dataset="pre")
    write_shards(out, rows, n_files=2, vocab_size=16, descriptor_dim=SPATIAL_DESC_DIM)
    index = json.loads((out / "index.json").read_text())
    fields = {k: v for k, v in index.items() if k not in ("format", "schema", "shards", "totals")}
    write_index(out, {**fields, "intensity_index": SPATIAL_INTENSITY}, index["shards"], len(rows))
    return out
