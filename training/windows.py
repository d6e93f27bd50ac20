"""Labelled analysis windows cut from a recording's events: the unit every accuracy counts.

A *window* is a fixed-length interval [start_s, end_s) of one recording with one class
label. Windows come from the recording's labelled events (BIDS ``events.tsv`` style:
onset [s], duration [s], label, repetition, kind), so the baselines (which read raw
samples from the lake) and the model (which reads token shards) classify exactly the same
list, identified by ``window_id``.

Two labelling rules:

- ``containment`` (default): windows slide inside each labelled event; a window belongs to
  exactly one event (one repetition of one gesture) and never touches another.
- ``majority``: windows slide over the whole recording on one grid; a window takes the
  label of the event it overlaps most, if that overlap is more than half the window, and is
  kept only if it lies inside that event's *territory* (the event extended to the midpoints
  of the gaps to its neighbours). Windows of different events therefore never share a
  sample, which keeps every split boundary clean.

The *trial* of a window (``trial_key``) is the event it belongs to: one repetition of one
gesture. Per-trial accuracy votes over a trial's windows. Every window also carries its
event's interval (``event_start_s``/``event_end_s``), so a longer model window can be
clipped to it and still never straddle a split boundary.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from emgcorpus.errors import ConfigError, check_option, check_positive
from emgcorpus.lake import Lake
from emgcorpus.recording import subject_key

Labelling = Literal["containment", "majority"]

#: Event kinds that are classes by default; ``rest`` joins them when ``include_rest``.
GESTURE_KIND = "gesture"
REST_KIND = "rest"


@dataclass(frozen=True)
class WindowSpec:
    """How windows are cut. Times in seconds.

    ``window_s``/``hop_s``: length and step (default 250 ms / 50 ms, the field's reference
    setting for TD+LDA). ``include_rest``: make ``rest`` events a class (only where the
    dataset labels rest). ``labelling``: ``containment`` or ``majority`` (module docstring).
    """

    window_s: float = 0.25
    hop_s: float = 0.05
    labelling: Labelling = "containment"
    include_rest: bool = False

    def __post_init__(self) -> None:
        check_positive("window_s", self.window_s, "s")
        check_positive("hop_s", self.hop_s, "s")
        check_option("labelling", self.labelling, ("containment", "majority"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "window_s": self.window_s,
            "hop_s": self.hop_s,
            "labelling": self.labelling,
            "include_rest": self.include_rest,
        }


@dataclass(frozen=True)
class Window:
    """One labelled window of one recording; times [s] from the recording's first sample."""

    window_id: str
    recording_id: str
    dataset: str
    subject: str
    session: str
    trial: str
    start_s: float
    end_s: float
    label: str
    repetition: int | None
    trial_key: str
    event_start_s: float
    event_end_s: float

    @property
    def subject_key(self) -> str:
        """``dataset:subject``, unique across datasets."""
        return subject_key(self.dataset, self.subject)


@dataclass
class RecordingEvents:
    """What windowing needs to know of one recording: identity, length [s], events."""

    recording_id: str
    dataset: str
    subject: str
    session: str
    trial: str
    duration_s: float
    #: dicts with onset [s], duration [s], label, repetition, kind
    events: list[dict[str, Any]] = field(default_factory=list)


def natural_key(text: str) -> tuple[Any, ...]:
    """Sort key that orders ``"2"`` before ``"10"`` (digits compare as numbers)."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in re.split(r"(\d+)", text)
        if part
    )


def _class_events(
    events: Sequence[dict[str, Any]], include_rest: bool
) -> list[tuple[int, dict[str, Any]]]:
    kinds = {GESTURE_KIND, REST_KIND} if include_rest else {GESTURE_KIND}
    out = []
    for i, ev in enumerate(events):
        if ev.get("kind", GESTURE_KIND) in kinds and ev.get("label") and ev["duration"] > 0:
            out.append((i, ev))
    out.sort(key=lambda item: (float(item[1]["onset"]), item[0]))
    return out


def _make(
    rec: RecordingEvents, idx: int, ev: dict[str, Any], start: float, length: float
) -> Window:
    rep = ev.get("repetition")
    onset = float(ev["onset"])
    return Window(
        window_id=f"{rec.recording_id}/{idx}@{round(start * 1e6)}",
        recording_id=rec.recording_id,
        dataset=rec.dataset,
        subject=rec.subject,
        session=rec.session,
        trial=rec.trial,
        start_s=start,
        end_s=start + length,
        label=str(ev["label"]),
        repetition=None if rep is None else int(rep),
        trial_key=f"{rec.recording_id}/{idx}",
        event_start_s=onset,
        event_end_s=onset + float(ev["duration"]),
    )


def recording_windows(rec: RecordingEvents, spec: WindowSpec) -> list[Window]:
    """Windows of one recording, in time order (module docstring for the rules)."""
    eps = 1e-9
    events = _class_events(rec.events, spec.include_rest)
    out: list[Window] = []
    if spec.labelling == "containment":
        for idx, ev in events:
            onset = float(ev["onset"])
            end = min(onset + float(ev["duration"]), rec.duration_s)
            k = 0
            while onset + k * spec.hop_s + spec.window_s <= end + eps:
                out.append(_make(rec, idx, ev, onset + k * spec.hop_s, spec.window_s))
                k += 1
        out.sort(key=lambda w: (w.start_s, w.trial_key))
        return out
    # majority: territories bounded by the midpoints of the gaps between events
    bounds = []
    for j, (_, ev) in enumerate(events):
        onset, end = float(ev["onset"]), float(ev["onset"]) + float(ev["duration"])
        prev_end = (
            float(events[j - 1][1]["onset"]) + float(events[j - 1][1]["duration"]) if j else 0.0
        )
        next_on = float(events[j + 1][1]["onset"]) if j + 1 < len(events) else rec.duration_s
        lo = (prev_end + onset) / 2 if j else 0.0
        hi = (end + next_on) / 2 if j + 1 < len(events) else rec.duration_s
        bounds.append((min(lo, onset), max(hi, min(end, rec.duration_s))))
    k = 0
    while k * spec.hop_s + spec.window_s <= rec.duration_s + eps:
        start = k * spec.hop_s
        stop = start + spec.window_s
        best, best_overlap = -1, 0.0
        for j, (_, ev) in enumerate(events):
            onset = float(ev["onset"])
            overlap = min(stop, onset + float(ev["duration"])) - max(start, onset)
            if overlap > best_overlap:
                best, best_overlap = j, overlap
        if best >= 0 and best_overlap > spec.window_s / 2:
            lo, hi = bounds[best]
            if start >= lo - eps and stop <= hi + eps:
                idx, ev = events[best]
                out.append(_make(rec, idx, ev, start, spec.window_s))
        k += 1
    return out


def make_windows(recordings: Iterable[RecordingEvents], spec: WindowSpec) -> list[Window]:
    """Windows of many recordings, sorted by subject then time order within the subject.

    Time order within a subject: session, then trial (natural order), then recording id,
    then start time. Raises ConfigError if two windows share an id.
    """
    recs = sorted(
        recordings,
        key=lambda r: (
            subject_key(r.dataset, r.subject),
            natural_key(r.session),
            natural_key(r.trial),
            r.recording_id,
        ),
    )
    out: list[Window] = []
    for rec in recs:
        out.extend(recording_windows(rec, spec))
    ids = {w.window_id for w in out}
    if len(ids) != len(out):
        raise ConfigError("window ids are not unique: two recordings share a recording_id")
    return out


def window_labels(windows: Sequence[Window]) -> list[str]:
    """Sorted class labels present in ``windows``."""
    return sorted({w.label for w in windows})


def lake_recording_events(
    lake_path: str | Path, dataset: str, device: str | None = None
) -> list[RecordingEvents]:
    """RecordingEvents of every recording of ``dataset`` in the lake (duration = n / fs).

    ``device``: keep only recordings of this EMG device (the lake's ``device`` column;
    ConfigError if none).
    """
    lake = Lake.open(lake_path)
    recs = lake.recordings(datasets=[dataset])
    if recs.height == 0:
        raise ConfigError(f"dataset {dataset!r} has no recordings in the lake at {lake_path}")
    if device is not None:
        devices = sorted({str(d) for d in recs["device"].to_list()})
        recs = recs.filter(recs["device"] == device)
        if recs.height == 0:
            raise ConfigError(
                f"dataset {dataset!r} has no recordings of device {device!r}; "
                f"its devices: {devices}"
            )
    events = lake.events()
    out = []
    for r in recs.iter_rows(named=True):
        ev = events.filter(events["recording_id"] == r["recording_id"]).to_dicts()
        out.append(
            RecordingEvents(
                recording_id=str(r["recording_id"]),
                dataset=str(r["dataset"]),
                subject=str(r["subject"]),
                session=str(r["session"]),
                trial=str(r["trial"]),
                duration_s=float(r["n_samples"]) / float(r["native_fs"]),
                events=ev,
            )
        )
    return out
