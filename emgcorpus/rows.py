"""Row mapping: recording objects <-> rows of the lake's metadata tables.

One place for how a :class:`~emgcorpus.recording.Recording` becomes rows of
``recordings``, ``channels``, ``events`` and ``subjects`` (dicts keyed by the column
names of :mod:`emgcorpus.schema`), and how rows read back become
:class:`~emgcorpus.recording.ChannelInfo`, :class:`~emgcorpus.recording.Event`,
:class:`~emgcorpus.recording.SourceFile` and :class:`~emgcorpus.recording.SubjectInfo`.
Ingest writes through the first half, :class:`emgcorpus.lake.Lake` reads through the
second. Units are those of the recording contract: ``native_fs`` [Hz], ``duration_s``,
``onset`` and ``duration`` [s], positions [deg] and [mm].

Subjects: a subject's demographics are merged over its recordings: each field keeps the
first value stated and is filled from a later recording where it was unknown
(:func:`merge_subject_rows`).
"""

from __future__ import annotations

import json
from typing import Any

from emgcorpus.gestures import gesture_of
from emgcorpus.recording import (
    ChannelInfo,
    ElectrodePosition,
    Event,
    Recording,
    SourceFile,
    SubjectInfo,
)

#: ``channels`` columns that hold the fields of the channel's ElectrodePosition
#: (besides ``position_system``, its ``system``).
POSITION_FIELDS = ("angle_deg", "along_mm", "row", "col", "pitch_mm", "grid_name", "muscle")
#: ``channels`` columns copied as they are from the ChannelInfo field of the same name.
CHANNEL_FIELDS = (
    "signal_electrode",
    "reference",
    "group",
    "target_muscle",
    "placement_scheme",
    "placement_description",
    "interelectrode_distance",
    "low_cutoff",
    "high_cutoff",
)
#: ``subjects`` columns copied from the SubjectInfo field of the same name.
SUBJECT_FIELDS = ("age", "sex", "handedness", "height_cm", "weight_kg")


# --- recording -> rows --------------------------------------------------------------


def recording_row(
    rec: Recording,
    *,
    seq: int,
    unit_key: str,
    sample_dtype: str,
    source_files: list[str],
    source_sha256: list[str],
    samples_sha256: str,
    adapter: str,
    adapter_version: str,
) -> dict[str, Any]:
    """The ``recordings`` row of ``rec``: its identity and provenance.

    ``seq`` is its ingest order, ``sample_dtype`` the numpy dtype string of the stored
    samples (little-endian), ``source_files`` the files read (posix, relative to the
    adapter's source) with their ``source_sha256``, ``samples_sha256`` the digest of the
    stored payload.
    """
    return {
        "recording_id": rec.recording_id,
        "seq": seq,
        "dataset": rec.dataset,
        "subject": rec.subject,
        "session": rec.session,
        "trial": rec.trial,
        "device": rec.device,
        "native_fs": float(rec.fs),
        "n_samples": rec.n_samples,
        "duration_s": rec.duration_s,
        "n_channels": int(rec.samples.shape[1]),
        "n_emg_channels": sum(c.type == "EMG" for c in rec.channels),
        "sample_dtype": sample_dtype,
        "unit_key": unit_key,
        "source_files": source_files,
        "source_sha256": source_sha256,
        "samples_sha256": samples_sha256,
        "adapter": adapter,
        "adapter_version": adapter_version,
        "meta_json": json.dumps(rec.meta, sort_keys=True),
    }


def channel_rows(rec: Recording) -> list[dict[str, Any]]:
    """The ``channels`` rows of ``rec``, one per channel in column order."""
    rid = rec.recording_id
    rows = []
    for i, c in enumerate(rec.channels):
        p = c.position
        row: dict[str, Any] = {
            "recording_id": rid,
            "dataset": rec.dataset,
            "channel_index": i,
            "name": c.name,
            "type": c.type,
            "units": c.units,
            "gain": float(c.gain),
            "offset": float(c.offset),
            "position_system": p.system,
            "status": c.status,
        }
        row.update({k: getattr(p, k) for k in POSITION_FIELDS})
        row.update({k: getattr(c, k) for k in CHANNEL_FIELDS})
        rows.append(row)
    return rows


def event_rows(rec: Recording) -> list[dict[str, Any]]:
    """The ``events`` rows of ``rec``, in its event order; ``gesture`` is the label's
    canonical name (:func:`emgcorpus.gestures.gesture_of`, None when it has none)."""
    rid = rec.recording_id
    return [
        {
            "recording_id": rid,
            "dataset": rec.dataset,
            "onset": float(e.onset),
            "duration": float(e.duration),
            "label": e.label,
            "repetition": e.repetition,
            "kind": e.kind,
            "gesture": gesture_of(rec.dataset, e.label, e.kind),
        }
        for e in rec.events
    ]


def subject_row(rec: Recording) -> dict[str, Any]:
    """The subjects row one recording states (None where it says nothing)."""
    s = rec.subject_info
    row: dict[str, Any] = {"dataset": rec.dataset, "subject": rec.subject}
    for name in SUBJECT_FIELDS:
        row[name] = getattr(s, name) if s else None
    row["extra_json"] = json.dumps(s.extra if s else {}, sort_keys=True)
    return row


def merge_subject_rows(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Demographics of one subject from several recordings: each field keeps the first
    value stated and takes a later recording's value where it was unknown; ``extra``
    keys likewise (first value of a key wins)."""
    merged = dict(old)
    for name in SUBJECT_FIELDS:
        if merged.get(name) is None and new.get(name) is not None:
            merged[name] = new[name]
    extra = {**json.loads(new.get("extra_json") or "{}"), **json.loads(old["extra_json"] or "{}")}
    merged["extra_json"] = json.dumps(extra, sort_keys=True)
    return merged


# --- rows -> recording objects ------------------------------------------------------


def channel_from_row(row: dict[str, Any]) -> ChannelInfo:
    """The ChannelInfo (with its ElectrodePosition) of one ``channels`` row."""
    pos = ElectrodePosition.from_dict(
        {"system": row["position_system"] or "n/a", **{k: row[k] for k in POSITION_FIELDS}}
    )
    return ChannelInfo(
        name=row["name"],
        type=row["type"],
        units=row["units"],
        gain=float(row["gain"]),
        offset=float(row["offset"]),
        position=pos,
        status=row["status"],
        **{k: row[k] for k in CHANNEL_FIELDS},
    )


def event_from_row(row: dict[str, Any]) -> Event:
    """The Event of one ``events`` row."""
    return Event(
        onset=row["onset"],
        duration=row["duration"],
        label=row["label"],
        repetition=row["repetition"],
        kind=row["kind"],
    )


def sources_from_row(row: dict[str, Any]) -> list[SourceFile]:
    """The source files (path, sha256) a ``recordings`` row records."""
    return [
        SourceFile(path=p, sha256=s)
        for p, s in zip(row["source_files"] or [], row["source_sha256"] or [])
    ]


def subject_info_from_row(row: dict[str, Any]) -> SubjectInfo:
    """The SubjectInfo of one ``subjects`` row."""
    return SubjectInfo(
        subject=row["subject"],
        **{k: row[k] for k in SUBJECT_FIELDS},
        extra=json.loads(row["extra_json"] or "{}"),
    )
