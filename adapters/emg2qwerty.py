"""emg2qwerty (``emg2qwerty``), read from its original per-session HDF5 files.

**Dataset.** sEMG from both wrists of 108 users touch typing prompted text on a QWERTY
keyboard, 1,135 sessions (Meta Reality Labs; Sivakumar et al., NeurIPS 2024 Datasets and
Benchmarks, arXiv:2410.20081). Licence CC BY-NC-SA 4.0.

**Device.** Meta's sEMG research wristband on each wrist: 16 electrode channels per band,
2 kHz, high-pass filtered by the release (cutoff not stated in the loader -> ``low_cutoff``
``None``). Channels ``L0..L15`` (left) then ``R0..R15`` (right); positions are ``ring``
with ``angle_deg = 22.5 * k`` within each band (group ``left``/``right``). The unit of
the stored values is not stated by the loader -> ``units = "n/a"``.

**Format.** One ``.hdf5`` file per session: group ``emg2qwerty`` with dataset
``timeseries``, a compound (structured) array with fields ``time`` (absolute unix time
[s]), ``emg_left`` (T x 16) and ``emg_right`` (T x 16). The group's attributes hold the
metadata: ``session_name``, ``user``, ``condition``, ``duration_mins``, and JSON strings
``keystrokes`` (list of ``{"key", "start", "end"}``, key press/release times [s]) and
``prompts`` (list of ``{"start", "end", "payload": {"text"}}``).

**Mapping.** One recording per file. Keystrokes become events of kind ``keystroke``
(label = key, onset = press time - first sample time, duration = release - press);
prompts become events of kind ``prompt`` (label = prompt text). Events are cut to the
recording (count in ``meta['events_clipped']``); an event more than 1 s outside it means
the labels do not belong to the file (SourceError). ``fs`` is 2000 Hz,
checked against the timestamps by the contract's clock rule
(:func:`adapters._common.check_regular_clock`): monotonic, no repeated stamp, every step
within 0.5-1.5 sample periods and (n - 1) / span within 1 % of 2000 Hz; a file that breaks
it is a SourceError naming the file (nothing is resampled); ``meta["clock_*"]`` keeps the
clock's facts.

Facts from the official loader ``emg2qwerty/data.py`` (``Emg2QwertySessionData``) and
README of github.com/facebookresearch/emg2qwerty.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from adapters._common import check_regular_clock, glob_units, nyquist, open_hdf5, ring_position
from emgcorpus.errors import SourceError
from emgcorpus.recording import (
    Adapter,
    ChannelInfo,
    Event,
    Recording,
    SourceFile,
    SourceUnit,
)

FS_HZ = 2000.0
N_BAND_CHANNELS = 16
GROUP = "emg2qwerty"
TIMESERIES = "timeseries"


def session_timeseries(
    path: Path, h5: Any, group_name: str, fields: Iterable[str]
) -> tuple[Any, np.ndarray]:
    """The session group and its ``timeseries`` records, with ``fields`` checked."""
    if group_name not in h5:
        raise SourceError(path, f"no HDF5 group {group_name!r}; top level has {list(h5)}")
    group = h5[group_name]
    if TIMESERIES not in group:
        raise SourceError(path, f"group {group_name!r} has no dataset {TIMESERIES!r}")
    ts = group[TIMESERIES]
    names = ts.dtype.names or ()
    missing = [f for f in fields if f not in names]
    if missing:
        raise SourceError(
            path, f"{group_name}/{TIMESERIES} lacks field(s) {missing}; it has {list(names)}"
        )
    try:
        return group, ts[()]
    except OSError as exc:
        raise SourceError(
            path, f"cannot read {group_name}/{TIMESERIES} (truncated?): {exc}"
        ) from None


def attr_text(value: Any) -> str:
    """An HDF5 attribute as text (bytes decoded, numpy scalars unwrapped)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        return attr_text(value.item())
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)


def json_attr(path: Path, attrs: Any, name: str) -> list[dict[str, Any]]:
    """A JSON list attribute (``keystrokes``/``prompts``); [] when absent."""
    if name not in attrs:
        return []
    try:
        value = json.loads(attr_text(attrs[name]))
    except json.JSONDecodeError as exc:
        raise SourceError(path, f"attribute {name!r} is not valid JSON: {exc}") from None
    if not isinstance(value, list):
        raise SourceError(path, f"attribute {name!r} is not a JSON list")
    return value


def band_channels(prefix: str, group: str, n: int, fs: float) -> list[ChannelInfo]:
    """``n`` wristband channels ``<prefix>0..`` in a ring, 360/n deg apart."""
    return [
        ChannelInfo(
            name=f"{prefix}{k}",
            type="EMG",
            units="n/a",
            position=ring_position(k, n),
            group=group,
            placement_scheme="wristband",
            placement_description=f"sEMG research wristband electrode {k}, {group} wrist",
            high_cutoff=nyquist(fs),
        )
        for k in range(n)
    ]


def _interval_events(path: Path, items: list[dict[str, Any]], t0: float, kind: str) -> list[Event]:
    events = []
    for i, item in enumerate(items):
        try:
            start, end = float(item["start"]), float(item["end"])
        except (KeyError, TypeError, ValueError):
            raise SourceError(path, f"{kind} {i} lacks numeric 'start'/'end': {item!r}") from None
        if end < start:
            raise SourceError(path, f"{kind} {i} ends ({end}) before it starts ({start})")
        if kind == "keystroke":
            label = item.get("key")
        else:
            payload = item.get("payload")
            label = payload.get("text") if isinstance(payload, dict) else None
        if label is None:
            continue
        events.append(Event(start - t0, end - start, str(label), kind=kind))
    return events


def clip_events(events: list[Event], end_s: float) -> tuple[list[Event], int]:
    """Events cut to the recording [0, end_s] [s], sorted by onset; dropped when nothing of
    them is left. Returns the events and how many were cut or dropped."""
    kept, clipped = [], 0
    for e in events:
        start, stop = max(e.onset, 0.0), min(e.onset + e.duration, end_s)
        if (start, stop) != (e.onset, e.onset + e.duration):
            clipped += 1
        if stop < start or start >= end_s:
            continue
        kept.append(Event(start, stop - start, e.label, e.repetition, e.kind))
    kept.sort(key=lambda e: (e.onset, e.kind))
    return kept, clipped


class Emg2QwertyAdapter(Adapter):
    """emg2qwerty: one recording per session ``.hdf5`` file (both wrists, 32 channels)."""

    name = "emg2qwerty"
    version = "1"
    reads_time_stamps = True
    summary = "emg2qwerty typing sEMG (2 x 16 ch wristbands, 2 kHz), original HDF5 sessions"

    def discover(self) -> list[SourceUnit]:
        return glob_units(self.source, "**/*.hdf5", expected="a folder of .hdf5 files")

    def read(self, unit: SourceUnit) -> Recording:
        path = unit.files[0]
        with open_hdf5(path) as h5:
            group, ts = session_timeseries(path, h5, GROUP, ("time", "emg_left", "emg_right"))
            attrs = {k: group.attrs[k] for k in group.attrs}
        time_s = np.asarray(ts["time"], dtype=np.float64)
        left, right = np.asarray(ts["emg_left"]), np.asarray(ts["emg_right"])
        for name, arr in (("emg_left", left), ("emg_right", right)):
            if arr.ndim != 2 or arr.shape[1] != N_BAND_CHANNELS:
                raise SourceError(
                    path, f"field {name} has shape {arr.shape}, expected (T, {N_BAND_CHANNELS})"
                )
        clock = check_regular_clock(path, time_s, FS_HZ, what="timeseries time")
        t0 = float(time_s[0])
        keystrokes = json_attr(path, attrs, "keystrokes")
        prompts = json_attr(path, attrs, "prompts")
        events = _interval_events(path, keystrokes, t0, "keystroke")
        events += _interval_events(path, prompts, t0, "prompt")
        end_s = time_s.size / FS_HZ
        outside = [e for e in events if e.onset < -1.0 or e.onset > end_s + 1.0]
        if outside:
            raise SourceError(
                path,
                f"{len(outside)} event(s) lie outside the recording (first at "
                f"{outside[0].onset:.3f} s of {end_s:.3f} s): labels do not match this file's "
                "timestamps",
            )
        events, clipped = clip_events(events, end_s)
        session = attr_text(attrs["session_name"]) if "session_name" in attrs else path.stem
        meta = {k: attr_text(v) for k, v in attrs.items() if k not in ("keystrokes", "prompts")}
        meta["start_unix_s"] = f"{t0:.6f}"
        meta["events_clipped"] = str(clipped)
        meta.update(clock.meta())
        return Recording(
            dataset=self.dataset,
            subject=attr_text(attrs["user"]) if "user" in attrs else "n/a",
            session=session,
            trial="0",
            device="Meta sEMG research wristband (left + right)",
            fs=FS_HZ,
            channels=band_channels("L", "left", N_BAND_CHANNELS, FS_HZ)
            + band_channels("R", "right", N_BAND_CHANNELS, FS_HZ),
            samples=np.concatenate([left, right], axis=1),
            events=events,
            sources=[SourceFile(path=unit.key)],
            meta=meta,
        )
