"""Export one dataset of a lake as a BIDS-EMG tree (:func:`export_bids`).

Format facts are those of the BIDS specification's electromyography chapter (BIDS 1.11,
``src/modality-specific-files/electromyography.md`` and the schema rules
``src/schema/rules/sidecars/emg.yaml`` / ``tabular_data/emg.yaml`` of
bids-standard/bids-specification): data in EDF(+) or BDF(+) (lower-case extension);
``_emg.json`` MUST hold ``EMGPlacementScheme``, ``EMGReference``, ``SamplingFrequency``
[Hz], ``PowerLineFrequency`` [Hz or n/a], ``SoftwareFilters`` and ``TaskName``;
``_channels.tsv`` starts ``name, type, units`` and adds ``signal_electrode``,
``reference``, ``group``, ``target_muscle``, ``placement_scheme``,
``placement_description``, ``interelectrode_distance`` [mm], ``low_cutoff`` /
``high_cutoff`` [Hz], ``status``; ``_electrodes.tsv`` starts ``name, x, y, z,
coordinate_system`` and needs a ``_coordsystem.json`` defining each named system.

Layout: ``OUT/dataset_description.json``, ``participants.tsv`` (+ ``.json``), ``README``,
and per recording ``sub-<subject>/ses-<session>/emg/
sub-<s>_ses-<s>_task-<task>_acq-<device>_run-<n>_emg.edf`` with its ``_emg.json``,
``_channels.tsv``, ``_events.tsv`` (+ ``.json``), and for recordings with ring or grid
electrode positions ``_electrodes.tsv`` + ``_coordsystem.json``. Labels are the lake's
values with every non-alphanumeric character removed (BIDS labels are alphanumeric);
``run`` numbers the trials of one subject, session and device in trial order, and the
session's ``_scans.tsv`` keeps each file's lake ``subject``, ``session``, ``trial`` and
``recording_id`` (so :mod:`adapters.bids` reads the same identity back).

File names come from MNE-BIDS (``mne_bids.BIDSPath``, datatype ``emg``). The data file
is written with MNE's EDF/BDF export (``edfio``; the call ``mne_bids.write_raw_bids``
makes for EMG) from :func:`emgcorpus.mne_raw.to_mne_raw`, with a per-channel physical
range: the quantisation step of channel k is ``(physical_max - physical_min) /
(digital_max - digital_min)`` of its header (16 bits for EDF, 24 for BDF). Voltage
channels are stored in uV; channels whose units are not a voltage (Myo counts, ``n/a``)
with an empty physical dimension and ``units`` ``n/a``. ``write_raw_bids`` itself is not
used: it refuses a recording without a volt-typed EMG channel (every Myo dataset) and
writes EEG channel counts into ``_emg.json``; the sidecars are written here from the
lake (MNE-BIDS does not know the EMG columns or the electrode layouts). The tree is
built in a temporary folder beside ``OUT`` and renamed into place at the end, so a failed
export leaves nothing half-written.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emgcorpus import __version__
from emgcorpus.errors import ConfigError, LakeError
from emgcorpus.lake import Lake
from emgcorpus.mne_raw import to_mne_raw, volts_per_unit
from emgcorpus.progress import progress_bar
from emgcorpus.recording import ChannelInfo
from emgcorpus.rows import CHANNEL_FIELDS

#: BIDS version whose EMG chapter this writer follows.
BIDS_VERSION = "1.11.0"
#: Data formats BIDS-EMG allows (file extensions; MNE's export formats of the same name).
FORMATS = ("edf", "bdf")
#: Units written for voltage channels (as in the EDF header MNE writes).
VOLT_UNITS = "uV"
#: ``coordsystem.json`` entries of the two electrode layouts the lake describes.
RING_SYSTEM = "ForearmRing"
RING_DESCRIPTION = (
    "Armband ring: x = angle around the forearm [deg] from the first electrode in the "
    "device's channel direction; y = distance along the forearm from the elbow crease [mm] "
    "(n/a where unknown)"
)
GRID_DESCRIPTION = (
    "Electrode grid, device-internal: x = column * pitch [mm], y = row * pitch [mm], "
    "origin at electrode (row 0, column 0)"
)
_NON_ALNUM = re.compile(r"[^A-Za-z0-9]")


def bids_label(value: str, what: str) -> str:
    """``value`` as a BIDS label (alphanumeric only); ConfigError when nothing is left."""
    label = _NON_ALNUM.sub("", value)
    if not label:
        raise ConfigError(f"{what} {value!r} has no letter or digit to make a BIDS label of")
    return label


def _tsv(path: Path, columns: list[str], rows: Iterable[dict[str, Any]]) -> None:
    """Write a BIDS TSV file: header, then one line per row, unknown values as ``n/a``."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(columns)
        for row in rows:
            w.writerow([_cell(row.get(c)) for c in columns])


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back as the same float
    return str(value)


def _json(path: Path, doc: dict[str, Any]) -> None:
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def _uniform(values: Iterable[Any]) -> Any:
    """The one value every item has, else None (None items count as unknown)."""
    distinct = set(values)
    return distinct.pop() if len(distinct) == 1 else None


def _is_volt(c: ChannelInfo) -> bool:
    return volts_per_unit(c.units) is not None


# --- sidecars ------------------------------------------------------------------------
#: Column order of ``_channels.tsv``: BIDS-EMG's ``name, type, units`` first, then the
#: lake's BIDS-EMG channel fields (same names as the lake's ``channels`` columns).
CHANNEL_COLUMNS = ["name", "type", "units", "sampling_frequency", *CHANNEL_FIELDS, "status"]


def channel_rows(channels: list[ChannelInfo], fs: float) -> list[dict[str, Any]]:
    """``_channels.tsv`` rows: BIDS-EMG columns filled from the lake's channel fields
    (an electrode's name, group and muscle from its position where the fields are empty)."""
    rows = []
    for c in channels:
        p = c.position
        row: dict[str, Any] = {k: getattr(c, k) for k in CHANNEL_FIELDS}
        row.update(
            name=c.name,
            type=c.type,
            units=VOLT_UNITS if _is_volt(c) else c.units,
            sampling_frequency=fs,
            status=c.status,
        )
        if p.system in ("ring", "grid"):
            row["signal_electrode"] = c.signal_electrode or c.name
        row["group"] = c.group or p.grid_name
        if p.system == "muscle":
            row["target_muscle"] = c.target_muscle or p.muscle
        rows.append(row)
    return rows


ELECTRODE_COLUMNS = ["name", "x", "y", "z", "coordinate_system", "group"]


def electrode_layout(
    channels: list[ChannelInfo],
) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
    """``_electrodes.tsv`` rows and the ``_coordsystem.json`` document for the ring and
    grid channels, or None when no channel has such a position."""
    rows: list[dict[str, Any]] = []
    systems: dict[str, Any] = {}
    for c in channels:
        p = c.position
        name = c.signal_electrode or c.name
        if p.system == "ring" and p.angle_deg is not None:
            systems[RING_SYSTEM] = {
                "EMGCoordinateSystem": "Other",
                "EMGCoordinateUnits": "n/a",
                "EMGCoordinateSystemDescription": RING_DESCRIPTION,
            }
            rows.append(
                {"name": name, "x": p.angle_deg, "y": p.along_mm, "z": None,
                 "coordinate_system": RING_SYSTEM, "group": c.group}
            )  # fmt: skip
        elif p.system == "grid" and p.row is not None and p.col is not None:
            grid = bids_label(p.grid_name or "grid", "grid name")
            pitch = p.pitch_mm if p.pitch_mm is not None else 1.0
            systems[grid] = {
                "EMGCoordinateSystem": "Other",
                "EMGCoordinateUnits": "mm" if p.pitch_mm is not None else "n/a",
                "EMGCoordinateSystemDescription": GRID_DESCRIPTION
                + (f"; pitch {p.pitch_mm:g} mm" if p.pitch_mm is not None else "; pitch unknown"),
            }
            rows.append(
                {"name": name, "x": p.col * pitch, "y": p.row * pitch, "z": None,
                 "coordinate_system": grid, "group": c.group or p.grid_name}
            )  # fmt: skip
    if not rows:
        return None
    doc = next(iter(systems.values())) if len(systems) == 1 else systems
    return rows, doc


def emg_sidecar(
    task: str, fs: float, n_samples: int, channels: list[ChannelInfo], device: str, measured: bool
) -> dict[str, Any]:
    """``_emg.json``: the required fields (``TaskName``, ``SamplingFrequency`` [Hz],
    ``PowerLineFrequency``, ``SoftwareFilters``, ``RecordingType``, ``EMGReference``,
    ``EMGPlacementScheme``) and the recommended ones the lake knows."""
    emg = [c for c in channels if c.type == "EMG"]
    if measured:
        scheme, description = "Measured", "electrode positions in _electrodes.tsv"
    elif any(c.target_muscle or c.placement_scheme for c in channels):
        scheme, description = "ChannelSpecific", "per channel in _channels.tsv"
    else:
        scheme, description = "Other", "not stated by the source dataset"
    reference = _uniform(c.reference for c in emg)
    if reference is None and any(c.reference for c in emg):
        reference = "channel-specific: see the reference column of _channels.tsv"
    low = _uniform(c.low_cutoff for c in channels)
    high = _uniform(c.high_cutoff for c in channels)
    filters: dict[str, Any] = {}
    if low is not None:
        filters["HighpassFilter"] = {"CutoffFrequency": low}
    if high is not None:
        filters["LowpassFilter"] = {"CutoffFrequency": high}
    distance = _uniform(c.interelectrode_distance for c in emg)
    doc: dict[str, Any] = {
        "TaskName": task,
        "SamplingFrequency": fs,
        "PowerLineFrequency": "n/a",  # the lake does not record it
        "SoftwareFilters": "n/a",
        "HardwareFilters": filters or "n/a",
        "RecordingDuration": n_samples / fs,
        "RecordingType": "continuous",
        "ManufacturersModelName": device,
        "EMGPlacementScheme": scheme,
        "EMGPlacementSchemeDescription": description,
        "EMGReference": reference or "n/a",
        "EMGGround": "n/a",
        "EMGChannelCount": len(emg),
        "TriggerChannelCount": sum(c.type == "TRIG" for c in channels),
    }
    if distance is not None:
        doc["InterelectrodeDistance"] = distance
    return doc


EVENT_COLUMNS = ["onset", "duration", "trial_type", "sample", "repetition", "kind", "gesture"]
EVENTS_JSON = {
    "trial_type": {"Description": "The event's label as the source dataset wrote it."},
    "sample": {"Description": "Onset as a 0-based sample index at SamplingFrequency."},
    "repetition": {"Description": "Repetition number of the label (as the source counts it)."},
    "kind": {
        "Description": "Event stream: gesture (a class to classify), rest, or another stream "
        "(keystroke, prompt, calibration ...)."
    },
    "gesture": {
        "Description": "Canonical gesture name of the emgcorpus gesture vocabulary "
        "(emgcorpus/gestures.yaml); n/a when the label has none."
    },
}
SCANS_COLUMNS = ["filename", "acq_time", "subject", "session", "trial", "recording_id"]
SCANS_JSON = {
    "subject": {"Description": "The recording's subject in the emgcorpus lake."},
    "session": {"Description": "The recording's session in the emgcorpus lake."},
    "trial": {"Description": "The recording's trial name in the emgcorpus lake."},
    "recording_id": {"Description": "The recording's id in the emgcorpus lake."},
}
PARTICIPANT_COLUMNS = ["participant_id", "age", "sex", "handedness", "height", "weight"]
PARTICIPANTS_JSON = {
    "age": {"Description": "Age of the participant", "Units": "year"},
    "sex": {"Description": "Sex as the source dataset states it"},
    "handedness": {"Description": "Handedness as the source dataset states it"},
    "height": {"Description": "Height of the participant", "Units": "cm"},
    "weight": {"Description": "Weight of the participant", "Units": "kg"},
}


# --- the export ------------------------------------------------------------------------
@dataclass
class BidsExport:
    """What :func:`export_bids` wrote: the tree's root and one entry per recording."""

    root: Path
    dataset: str
    files: list[dict[str, str]] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "dataset": self.dataset,
            "bids_version": BIDS_VERSION,
            "n_recordings": len(self.files),
            "subjects": self.subjects,
            "files": self.files,
        }


def bids_labels(values: list[str], what: str) -> dict[str, str]:
    """value -> BIDS label; ConfigError when two values give one label."""
    labels: dict[str, str] = {}
    seen: dict[str, str] = {}
    for v in values:
        label = bids_label(v, what)
        if label in seen and seen[label] != v:
            raise ConfigError(
                f"{what}s {seen[label]!r} and {v!r} both become the BIDS label {label!r}"
            )
        seen[label] = v
        labels[v] = label
    return labels


def export_bids(
    lake_path: str | Path,
    dataset: str,
    out: str | Path,
    *,
    task: str | None = None,
    data_format: str = "edf",
    progress: bool = True,
) -> BidsExport:
    """Write dataset ``dataset`` of the lake at ``lake_path`` as a BIDS-EMG tree at ``out``
    (module docstring). ``task`` is the BIDS task label (default: the dataset name);
    ``data_format`` ``edf`` or ``bdf``. LakeError when the lake does not hold the
    dataset, ConfigError when ``out`` exists and is not empty or labels collide.
    """
    import mne_bids

    if data_format not in FORMATS:
        raise ConfigError(f"format {data_format!r}: BIDS-EMG data is one of {sorted(FORMATS)}")
    lake = Lake.open(lake_path)
    recs = lake.recordings([dataset])
    if recs.height == 0:
        held = sorted(set(lake.recordings()["dataset"].to_list()))
        raise LakeError(f"{lake.path}: no dataset {dataset!r} (the lake holds {held})")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out}: exists and is not an empty folder; choose a new OUT")
    task_label = bids_label(task or dataset, "task")
    subjects = bids_labels(sorted(set(recs["subject"].to_list())), "subject")
    sessions = bids_labels(sorted(set(recs["session"].to_list())), "session")
    devices = bids_labels(sorted(set(recs["device"].to_list())), "device")
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    result = BidsExport(out, dataset, subjects=sorted(subjects.values()))
    try:
        scans: dict[Path, list[dict[str, Any]]] = {}
        runs: dict[tuple[str, str, str], int] = {}
        rows = recs.sort("subject", "session", "device", "trial").iter_rows(named=True)
        show = progress and sys.stderr.isatty()
        for row in progress_bar(show, list(rows), desc=f"export bids {dataset}"):
            key = (row["subject"], row["session"], row["device"])
            runs[key] = runs.get(key, 0) + 1
            bids_path = mne_bids.BIDSPath(
                subject=subjects[row["subject"]],
                session=sessions[row["session"]],
                task=task_label,
                acquisition=devices[row["device"]],
                run=runs[key],
                datatype="emg",
                suffix="emg",
                extension=f".{data_format}",
                root=tmp,
            )
            _write_recording(lake, row, bids_path, data_format, task_label)
            session_dir = bids_path.fpath.parent.parent
            rel = bids_path.fpath.relative_to(session_dir).as_posix()
            scans.setdefault(session_dir, []).append(
                {"filename": rel, "acq_time": None, "subject": row["subject"],
                 "session": row["session"], "trial": row["trial"],
                 "recording_id": row["recording_id"]}
            )  # fmt: skip
            path = bids_path.fpath.relative_to(tmp).as_posix()
            result.files.append({"recording_id": row["recording_id"], "path": path})
        for session_dir, entries in scans.items():
            scan = session_dir / f"{session_dir.parent.name}_{session_dir.name}_scans.tsv"
            _tsv(scan, SCANS_COLUMNS, entries)
            _json(scan.with_suffix(".json"), SCANS_JSON)
        _write_dataset_files(lake, dataset, tmp, subjects)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result


def _write_recording(
    lake: Lake, row: dict[str, Any], bids_path: Any, fmt: str, task_label: str
) -> None:
    """One recording's data file (MNE's EDF/BDF export) and sidecars (from the lake)."""
    rid = row["recording_id"]
    channels = lake.channel_infos(rid)
    raw = to_mne_raw(lake, rid)
    # for the export only: volt channels as emg (written in uV), the others as misc
    # (written with an empty physical dimension); channels.tsv keeps the real types
    types = {c.name: "emg" if _is_volt(c) else "misc" for c in channels}
    raw.set_channel_types(types, on_unit_change="ignore", verbose="error")
    bids_path.fpath.parent.mkdir(parents=True, exist_ok=True)
    raw.export(bids_path.fpath, fmt=fmt, physical_range="channelwise", verbose="error")
    sidecar = bids_path.copy().update(suffix="emg", extension=".json").fpath
    layout = electrode_layout(channels)
    fs = float(row["native_fs"])
    doc = emg_sidecar(
        task_label, fs, int(row["n_samples"]), channels, row["device"], layout is not None
    )
    _json(sidecar, doc)
    stem = str(bids_path.fpath)[: -len(f"_emg.{bids_path.extension.lstrip('.')}")]
    _tsv(Path(f"{stem}_channels.tsv"), CHANNEL_COLUMNS, channel_rows(channels, fs))
    events = lake.events(rid)
    _tsv(
        Path(f"{stem}_events.tsv"),
        EVENT_COLUMNS,
        (
            {**e, "trial_type": e["label"], "sample": int(round(e["onset"] * fs))}
            for e in events.iter_rows(named=True)
        ),
    )
    _json(Path(f"{stem}_events.json"), EVENTS_JSON)
    if layout is not None:
        electrodes, coordsystem = layout
        # electrodes/coordsystem carry no task/run: they describe the session's device
        space = bids_path.copy().update(task=None, run=None, suffix="electrodes", extension=".tsv")
        _tsv(space.fpath, ELECTRODE_COLUMNS, electrodes)
        _json(space.copy().update(suffix="coordsystem", extension=".json").fpath, coordsystem)


def _write_dataset_files(lake: Lake, dataset: str, root: Path, subjects: dict[str, str]) -> None:
    """``dataset_description.json``, ``participants.tsv`` + ``.json``, ``README``."""
    _json(
        root / "dataset_description.json",
        {
            "Name": f"{dataset} (exported from an emgcorpus lake)",
            "BIDSVersion": BIDS_VERSION,
            "DatasetType": "raw",
            "GeneratedBy": [{"Name": "emgcorpus", "Version": __version__}],
        },
    )
    demo = lake.subjects().filter(lake.subjects()["dataset"] == dataset)
    by_subject = {r["subject"]: r for r in demo.iter_rows(named=True)}
    rows = []
    for subject, label in sorted(subjects.items(), key=lambda kv: kv[1]):
        d = by_subject.get(subject, {})
        rows.append(
            {
                "participant_id": f"sub-{label}",
                "age": d.get("age"),
                "sex": d.get("sex"),
                "handedness": d.get("handedness"),
                "height": d.get("height_cm"),
                "weight": d.get("weight_kg"),
            }
        )
    _tsv(root / "participants.tsv", PARTICIPANT_COLUMNS, rows)
    _json(root / "participants.json", PARTICIPANTS_JSON)
    (root / "README").write_text(
        f"{dataset}: exported from an emgcorpus lake (emgcorpus {__version__}) as BIDS-EMG "
        f"{BIDS_VERSION}. Event labels are the source dataset's; the gesture column of the "
        "events files holds their canonical names.\n"
    )
