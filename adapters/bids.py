"""BIDS-EMG trees (``bids``): EDF/BDF data files with their BIDS sidecars.

**Format** (BIDS 1.11, electromyography chapter; see :mod:`emgcorpus.bids_export` for
the sources): ``sub-<s>/[ses-<s>/]emg/sub-<s>[_ses-<s>]_task-<t>[_acq-<a>][_run-<n>]_emg.edf``
(or ``.bdf``) with ``_emg.json`` (``SamplingFrequency`` [Hz], ...), ``_channels.tsv``
(``name``, ``type``, ``units`` and the EMG columns), ``_events.tsv`` (``onset``,
``duration`` [s], ``trial_type``), optional ``_electrodes.tsv`` + ``_coordsystem.json``;
``participants.tsv`` at the root. A sidecar is the data file's own (same name stem) or,
by the inheritance principle, the nearest one in the same or a parent folder whose
entities are a subset of the data file's.

**The sidecars decide.** Channel types come from ``channels.tsv`` ``type`` (``EMG`` is
EMG whatever the label: ``EMG0..EMG31``, ``EMG``, ``Chin``; other BIDS types map to the
recording contract's types, unknown ones to ``OTHER``); every channel is kept, in the
data file's order, and ``channels.tsv`` must list exactly the data file's channels.
``units`` come from ``channels.tsv`` and are checked against the EDF/BDF header's
physical dimension: a voltage in one and not the other is a SourceError naming the
channels file. Voltage channels are stored in the sidecar's unit (MNE reads volts;
value / unit), others as the file's physical values. ``SamplingFrequency`` of
``_emg.json`` (and a ``sampling_frequency`` column) must equal the file's rate; a
``RecordingDuration`` [s] less than one second short of the file marks the padding of
its last data record, which is dropped.
Cut-offs, status, reference, target muscle, placement and inter-electrode distance come
from ``channels.tsv``; a channel with a ``target_muscle`` and no electrode position is
placed over that muscle (position system ``muscle``). Electrode positions come from
``_electrodes.tsv`` (matched by the channel's ``signal_electrode``, else its name) when
``_coordsystem.json`` is one of the two layouts :mod:`emgcorpus.bids_export` writes
(forearm ring: ``x`` angle [deg], ``y`` along [mm]; grid: ``x``/``y`` [mm], pitch = the
smallest spacing); otherwise ``n/a``.

**Identity and events.** subject, session and trial = the ``subject``, ``session`` and
``trial`` columns of the file's row in the session ``_scans.tsv`` when present (an
emgcorpus export keeps the lake's values there), else the ``sub`` label, the ``ses``
label (or ``"1"``) and the file's other entities (``task-x_acq-y_run-1``); device =
``ManufacturersModelName`` of ``_emg.json``, else the ``acq`` label, else ``n/a``;
dataset = option ``dataset`` (default ``bids``). Events: ``trial_type`` (or ``value``)
is the label; ``kind`` and ``repetition`` columns are used when present, else a label
``rest`` is of kind ``rest`` and the others ``gesture``. Demographics from
``participants.tsv`` (``age``, ``sex``, ``handedness``/``hand``, ``height`` [cm],
``weight`` [kg]).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from adapters._common import normalize_units, option_str, relative_key, sorted_units
from emgcorpus.bids_export import RING_DESCRIPTION
from emgcorpus.errors import SourceError
from emgcorpus.mne_raw import volts_per_unit
from emgcorpus.recording import (
    CHANNEL_TYPES,
    Adapter,
    ChannelInfo,
    ElectrodePosition,
    Event,
    Recording,
    SourceFile,
    SourceUnit,
    SubjectInfo,
)

_DATA_EXTENSIONS = (".edf", ".bdf")
_ENTITY = re.compile(r"^([a-zA-Z]+)-([a-zA-Z0-9]+)$")
#: BIDS channel types that are not in the recording contract's list, and what they become.
_TYPE_ALIASES = {"ACCEL": "ACC", "GYRO": "GYRO", "TRIG": "TRIG", "MISC": "MISC"}


def entities(path: Path) -> tuple[dict[str, str], str]:
    """(entity -> label, suffix) of a BIDS file name; SourceError when it is not one."""
    stem = path.name.split(".", 1)[0]
    parts = stem.split("_")
    found: dict[str, str] = {}
    for part in parts[:-1]:
        m = _ENTITY.match(part)
        if not m:
            raise SourceError(path, f"{part!r} is not a BIDS entity (key-label)")
        found[m.group(1)] = m.group(2)
    return found, parts[-1]


def read_tsv(path: Path) -> list[dict[str, str | None]]:
    """Rows of a BIDS TSV file (``n/a`` -> None); SourceError naming it when malformed."""
    try:
        with open(path, newline="") as f:
            reader = csv.reader(f, delimiter="\t")
            header = next(reader, None)
            if not header:
                raise SourceError(path, "empty TSV file (no header line)")
            rows = []
            for i, line in enumerate(reader, start=2):
                if not line:
                    continue
                if len(line) != len(header):
                    raise SourceError(
                        path, f"line {i} has {len(line)} fields, the header {len(header)}"
                    )
                rows.append({k: (None if v == "n/a" else v) for k, v in zip(header, line)})
            return rows
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SourceError(path, f"not a readable TSV file ({exc})") from None


def read_json(path: Path) -> dict[str, Any]:
    """A BIDS JSON sidecar; SourceError naming it when it is not a JSON object."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SourceError(path, f"not a readable JSON file ({exc})") from None
    if not isinstance(doc, dict):
        raise SourceError(path, "expected a JSON object")
    return doc


def find_sidecar(data: Path, root: Path, suffix: str, extension: str) -> Path | None:
    """The sidecar ``_<suffix><extension>`` of ``data``: its own, else the nearest one
    (same folder first, then parents up to ``root``) whose entities the data file has."""
    own, _ = entities(data)
    exact = data.with_name(data.name.split(".", 1)[0].rsplit("_", 1)[0] + f"_{suffix}{extension}")
    if exact.is_file():
        return exact
    folder = data.parent
    root = root.resolve()
    while True:
        best: tuple[int, Path] | None = None
        for cand in sorted(folder.glob(f"*_{suffix}{extension}")):
            try:
                ents, _ = entities(cand)
            except SourceError:
                continue
            inherits = all(own.get(k) == v for k, v in ents.items())
            if inherits and (best is None or len(ents) > best[0]):
                best = (len(ents), cand)
        if best is not None:
            return best[1]
        if folder.resolve() == root or folder.parent == folder:
            return None
        folder = folder.parent


def _float(value: str | None, what: str, path: Path) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise SourceError(path, f"{what} {value!r} is not a number") from None


def _channel_type(bids_type: str | None, path: Path, name: str) -> str:
    if not bids_type:
        raise SourceError(path, f"channel {name!r} has no type")
    t = bids_type.strip().upper()
    if t in CHANNEL_TYPES:
        return t
    return _TYPE_ALIASES.get(t, "OTHER")


def _positions(electrodes: Path | None, coordsystem: Path | None) -> dict[str, ElectrodePosition]:
    """Electrode name -> position, for the ring and grid layouts emgcorpus writes."""
    if electrodes is None or coordsystem is None:
        return {}
    doc = read_json(coordsystem)
    systems = {"": doc} if "EMGCoordinateSystem" in doc else doc
    rows = read_tsv(electrodes)
    out: dict[str, ElectrodePosition] = {}
    grids: dict[str, list[dict[str, str | None]]] = {}
    for r in rows:
        system_name = r.get("coordinate_system") or ""
        system = systems.get(system_name) or systems.get("") or next(iter(systems.values()), {})
        description = str(system.get("EMGCoordinateSystemDescription", ""))
        name = r.get("name")
        if not name:
            raise SourceError(electrodes, "an electrode row has no name")
        if description == RING_DESCRIPTION:
            out[name] = ElectrodePosition(
                system="ring",
                angle_deg=_float(r.get("x"), "x", electrodes),
                along_mm=_float(r.get("y"), "y", electrodes),
            )
        elif description.startswith("Electrode grid, device-internal"):
            grids.setdefault(system_name, []).append(r)
    for system_name, members in grids.items():
        xs = [_float(r.get("x"), "x", electrodes) or 0.0 for r in members]
        ys = [_float(r.get("y"), "y", electrodes) or 0.0 for r in members]
        steps = [d for v in (xs, ys) for d in np.diff(np.unique(v)).tolist() if d > 0]
        pitch = min(steps) if steps else 1.0
        for r, x, y in zip(members, xs, ys, strict=True):
            out[str(r["name"])] = ElectrodePosition(
                system="grid",
                row=int(round(y / pitch)),
                col=int(round(x / pitch)),
                pitch_mm=pitch,
                grid_name=r.get("group") or system_name or None,
            )
    return out


#: The per-file sidecars a unit lists beside its data file (when they exist).
_OWN_SIDECARS = ("channels.tsv", "emg.json", "events.tsv")


def _own_sidecars(data: Path) -> list[Path]:
    """The data file's own sidecars (same name stem) that exist: the unit's other files."""
    stem = data.name.split(".", 1)[0].rsplit("_", 1)[0]
    found = (data.with_name(f"{stem}_{s}") for s in _OWN_SIDECARS)
    return [p for p in found if p.is_file()]


def _kept_samples(n_file: int, fs: float, emg_json: dict[str, Any]) -> int:
    """Samples of the recording: EDF/BDF hold whole data records, so a writer pads the
    last one (MNE's export repeats the edge value up to a whole second); a
    ``RecordingDuration`` [s] shorter than the file by less than one second marks the
    padding, which is dropped. Otherwise every sample of the file."""
    duration = emg_json.get("RecordingDuration")
    if not isinstance(duration, (int, float)) or isinstance(duration, bool):
        return n_file
    n = int(round(float(duration) * fs))
    return n if 0 < n <= n_file and n_file - n < fs else n_file


class BidsAdapter(Adapter):
    """BIDS-EMG trees: one recording per ``*_emg.edf`` / ``*_emg.bdf`` file (the unit's
    files: the data file, then its own channels/emg/events sidecars)."""

    name = "bids"
    version = "1"
    summary = "BIDS-EMG trees (EDF/BDF + sidecars); channel types, units and rate from sidecars"

    def discover(self) -> list[SourceUnit]:
        if self.source.is_file():
            raise SourceError(self.source, "expected the root folder of a BIDS dataset")
        if not self.source.is_dir():
            raise SourceError(self.source, "source does not exist (expected a BIDS folder)")
        files = [
            p
            for p in self.source.glob("**/emg/*_emg.*")
            if p.is_file() and p.suffix in _DATA_EXTENSIONS and not p.name.startswith(".")
        ]
        return sorted_units(
            SourceUnit(key=relative_key(p, self.source), files=(p, *_own_sidecars(p)))
            for p in files
        )

    def read(self, unit: SourceUnit) -> Recording:
        from adapters.edf import open_raw

        path = unit.files[0]
        ents, _ = entities(path)
        if "sub" not in ents:
            raise SourceError(path, "file name has no sub-<label> entity")
        channels_tsv = find_sidecar(path, self.source, "channels", ".tsv")
        if channels_tsv is None:
            raise SourceError(path, "no _channels.tsv for this file (it decides channel types)")
        sidecar = find_sidecar(path, self.source, "emg", ".json")
        emg_json = read_json(sidecar) if sidecar is not None else {}
        raw = open_raw(path, infer_types=False)
        fs = float(raw.info["sfreq"])
        stated = emg_json.get("SamplingFrequency")
        if stated is not None and not np.isclose(float(stated), fs, rtol=0, atol=1e-6):
            raise SourceError(
                sidecar or path,
                f"SamplingFrequency {stated} Hz contradicts {path.name}'s {fs:g} Hz",
            )
        rows = read_tsv(channels_tsv)
        names = [r.get("name") for r in rows]
        if names != list(raw.ch_names):
            raise SourceError(
                channels_tsv,
                f"lists channels {names} but {path.name} holds {list(raw.ch_names)} (same "
                "names in the same order expected)",
            )
        channels, scale = self._channels(rows, raw, fs, channels_tsv, path)
        try:
            data = raw.get_data().T
        except Exception as exc:
            raise SourceError(path, f"cannot read samples ({type(exc).__name__}: {exc})") from None
        samples = data[: _kept_samples(data.shape[0], fs, emg_json)] * scale[np.newaxis, :]
        if not np.all(np.isfinite(samples)):
            raise SourceError(path, "samples contain non-finite values")
        subject, session, trial = self._identity(path, ents)
        return Recording(
            dataset=self.dataset,
            subject=subject,
            session=session,
            trial=trial,
            device=self._device(emg_json, ents),
            fs=fs,
            channels=channels,
            samples=samples,
            events=self._events(path),
            sources=[SourceFile(path=unit.key)],
            subject_info=self._subject_info(ents["sub"], subject),
            meta={"format": path.suffix.lstrip("."), "bids_file": unit.key},
        )

    def _channels(
        self, rows: list[dict[str, str | None]], raw: Any, fs: float, tsv: Path, data: Path
    ) -> tuple[list[ChannelInfo], np.ndarray]:
        """ChannelInfo per channels.tsv row, and the factor from MNE's values to its units."""
        electrodes = find_sidecar(data, self.source, "electrodes", ".tsv")
        coordsystem = find_sidecar(data, self.source, "coordsystem", ".json")
        positions = _positions(electrodes, coordsystem)
        orig_units = getattr(raw, "_orig_units", {}) or {}
        out, scale = [], np.ones(len(rows))
        for k, r in enumerate(rows):
            name = str(r["name"])
            units = normalize_units(r.get("units"))
            file_units = normalize_units(orig_units.get(name))
            sidecar_volts = volts_per_unit(units)
            file_volts = volts_per_unit(file_units)
            if (sidecar_volts is None) != (file_volts is None):
                raise SourceError(
                    tsv,
                    f"channel {name!r}: units {units!r} contradict the physical dimension "
                    f"{file_units!r} of {data.name}",
                )
            if sidecar_volts is not None:
                scale[k] = 1.0 / sidecar_volts
            ch_fs = _float(r.get("sampling_frequency"), "sampling_frequency", tsv)
            if ch_fs is not None and not np.isclose(ch_fs, fs, rtol=0, atol=1e-6):
                raise SourceError(
                    tsv, f"channel {name!r}: sampling_frequency {ch_fs:g} Hz, {data.name} {fs:g} Hz"
                )
            high = _float(r.get("high_cutoff"), "high_cutoff", tsv)
            electrode = r.get("signal_electrode") or name
            muscle = r.get("target_muscle")
            position = positions.get(electrode) or (
                ElectrodePosition(system="muscle", muscle=muscle) if muscle else ElectrodePosition()
            )
            out.append(
                ChannelInfo(
                    name=name,
                    type=_channel_type(r.get("type"), tsv, name),
                    units=units,
                    position=position,
                    signal_electrode=r.get("signal_electrode"),
                    reference=r.get("reference"),
                    group=r.get("group"),
                    target_muscle=r.get("target_muscle"),
                    placement_scheme=r.get("placement_scheme"),
                    placement_description=r.get("placement_description"),
                    interelectrode_distance=_float(
                        r.get("interelectrode_distance"), "interelectrode_distance", tsv
                    ),
                    low_cutoff=_float(r.get("low_cutoff"), "low_cutoff", tsv),
                    high_cutoff=high if high is not None else fs / 2,
                    status="bad" if (r.get("status") or "good").lower() == "bad" else "good",
                )
            )
        return out, scale

    def _identity(self, path: Path, ents: dict[str, str]) -> tuple[str, str, str]:
        """(subject, session, trial): the ``subject``/``session``/``trial`` columns of the
        scans.tsv row of the file where present (an emgcorpus export keeps the lake's
        values there), else the ``sub``/``ses`` labels and the other entities."""
        rest = [f"{k}-{v}" for k, v in ents.items() if k not in ("sub", "ses")]
        found = {"subject": ents["sub"], "session": ents.get("ses", "1")}
        found["trial"] = "_".join(rest) or path.stem
        scans = find_sidecar(path, self.source, "scans", ".tsv")
        if scans is not None:
            rel = path.relative_to(scans.parent).as_posix()
            for r in read_tsv(scans):
                if r.get("filename") == rel:
                    found.update({k: str(r[k]) for k in found if r.get(k)})
        return found["subject"], found["session"], found["trial"]

    @staticmethod
    def _device(emg_json: dict[str, Any], ents: dict[str, str]) -> str:
        model = emg_json.get("ManufacturersModelName")
        if isinstance(model, str) and model and model != "n/a":
            return model
        return ents.get("acq", "n/a")

    def _events(self, path: Path) -> list[Event]:
        tsv = find_sidecar(path, self.source, "events", ".tsv")
        if tsv is None:
            return []
        events = []
        for r in read_tsv(tsv):
            onset = _float(r.get("onset"), "onset", tsv)
            if onset is None:
                raise SourceError(tsv, "an event has no onset")
            duration = _float(r.get("duration"), "duration", tsv) or 0.0
            label = r.get("trial_type") or r.get("value") or "event"
            kind = r.get("kind") or ("rest" if label.lower() == "rest" else "gesture")
            rep = _float(r.get("repetition"), "repetition", tsv)
            events.append(Event(onset, duration, label, None if rep is None else int(rep), kind))
        events.sort(key=lambda e: (e.onset, e.duration, e.label))
        return events

    def _subject_info(self, label: str, subject: str) -> SubjectInfo | None:
        """Demographics of ``sub-<label>`` from participants.tsv, for ``subject``."""
        tsv = self.source / "participants.tsv"
        if not tsv.is_file():
            return None
        for r in read_tsv(tsv):
            if r.get("participant_id") == f"sub-{label}":
                return SubjectInfo(
                    subject=subject,
                    age=_float(r.get("age"), "age", tsv),
                    sex=r.get("sex"),
                    handedness=r.get("handedness") or r.get("hand"),
                    height_cm=_float(r.get("height"), "height", tsv),
                    weight_kg=_float(r.get("weight"), "weight", tsv),
                )
        return None

    @property
    def dataset(self) -> str:
        """Option ``dataset``, default ``bids``."""
        return option_str(self.options, "dataset", "bids") or "bids"
