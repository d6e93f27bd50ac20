"""The adapter contract: what every dataset adapter yields, and how it streams it.

An adapter turns one public dataset family, in its original release format, into
harmonized :class:`Recording` objects. It works in two steps so that ingestion can
stream, check checksums and isolate bad files:

1. :meth:`Adapter.discover` lists the :class:`SourceUnit` s of a source folder (cheap:
   file names only, no sample data is read);
2. :meth:`Adapter.read` reads one unit into one :class:`Recording`.

Only one recording is in memory at a time. A unit that cannot be read raises
:class:`emgcorpus.errors.SourceError` naming the file; ingestion records the error and
goes on with the next unit. :func:`validate_recording` holds the rules every recording
must meet (ingest refuses a unit that breaks one; the adapter contract test runs the same
function on every registered adapter).

Conventions (units in brackets):

- ``Recording.samples`` has shape ``(n_samples, n_channels)``. Integer sources keep their
  integer ADC counts (lossless); physical value = ``(raw - offset) * gain`` in the
  channel's ``units``. Float sources use ``gain=1.0, offset=0.0``.
- ``fs`` is the native sampling rate [Hz]. Event ``onset`` and ``duration`` are [s] from
  the first sample.
- Unknown metadata is ``None`` (stored as ``n/a``), never invented.
"""

from __future__ import annotations

import hashlib
import math
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from emgcorpus.errors import SourceError

PositionSystem = Literal["ring", "grid", "muscle", "n/a"]

#: Channel types, BIDS-EMG vocabulary.
CHANNEL_TYPES = ("EMG", "MISC", "ACC", "GYRO", "FORCE", "TRIG", "GLOVE", "ANGLE", "OTHER")


@dataclass(frozen=True)
class ElectrodePosition:
    """Where an electrode sits, in one of a few device-independent coordinate systems.

    - ``ring``: armband ring; ``angle_deg`` [deg] around the forearm (0 = first electrode,
      increasing in the device's channel direction), ``along_mm`` [mm] from the elbow
      crease along the forearm where known.
    - ``grid``: electrode grid; ``row``, ``col`` (0-based), ``pitch_mm`` [mm] between
      neighbouring electrodes; ``grid_name`` tells grids of one recording apart.
    - ``muscle``: a named muscle (``muscle``), bipolar pair over it.
    - ``n/a``: the source does not say.
    """

    system: PositionSystem = "n/a"
    angle_deg: float | None = None
    along_mm: float | None = None
    row: int | None = None
    col: int | None = None
    pitch_mm: float | None = None
    grid_name: str | None = None
    muscle: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ElectrodePosition:
        values: dict[str, Any] = {k: d.get(k) for k in cls.__dataclass_fields__}
        values["system"] = values["system"] or "n/a"
        return cls(**values)


@dataclass(frozen=True)
class ChannelInfo:
    """One channel, with the BIDS-EMG ``channels.tsv`` fields.

    ``gain`` and ``offset`` convert stored values to physical ``units``:
    physical = (raw - offset) * gain. ``low_cutoff``/``high_cutoff`` [Hz] are the band the
    device actually recorded (hardware filters, or Nyquist when nothing else is known).
    ``interelectrode_distance`` is in [mm]. ``status`` is ``good`` or ``bad``
    (``bad`` = unused/disconnected; kept, but excluded from EMG analyses).
    """

    name: str
    type: str = "EMG"
    units: str = "n/a"
    gain: float = 1.0
    offset: float = 0.0
    position: ElectrodePosition = field(default_factory=ElectrodePosition)
    signal_electrode: str | None = None
    reference: str | None = None
    group: str | None = None
    target_muscle: str | None = None
    placement_scheme: str | None = None
    placement_description: str | None = None
    interelectrode_distance: float | None = None
    low_cutoff: float | None = None
    high_cutoff: float | None = None
    status: str = "good"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["position"] = self.position.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ChannelInfo:
        d = dict(d)
        d["position"] = ElectrodePosition.from_dict(d.get("position") or {})
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass(frozen=True)
class Event:
    """A labelled interval, BIDS ``events.tsv`` style. ``onset``/``duration`` in [s]."""

    onset: float
    duration: float
    label: str
    repetition: int | None = None
    #: ``gesture`` (class to classify), ``rest``, or any other stream name (``keystroke``...).
    kind: str = "gesture"


@dataclass(frozen=True)
class SubjectInfo:
    """Demographics where the source gives them; ``None`` otherwise."""

    subject: str
    age: float | None = None
    sex: str | None = None
    handedness: str | None = None
    height_cm: float | None = None
    weight_kg: float | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceFile:
    """A file a recording was read from; ``sha256`` is filled by ingestion."""

    path: str
    sha256: str | None = None


@dataclass(frozen=True)
class SourceUnit:
    """One readable unit of a dataset (usually one file, sometimes a header+data pair).

    ``key`` is stable and unique within the dataset (a relative path is typical).
    """

    key: str
    files: tuple[Path, ...]


def subject_key(dataset: str, subject: str) -> str:
    """The key that identifies a subject across datasets: ``dataset:subject``."""
    return f"{dataset}:{subject}"


def make_recording_id(dataset: str, subject: str, session: str, trial: str) -> str:
    """Stable id of a recording: 16 hex digits of sha1 over its identifying fields."""
    text = "\x1f".join((dataset, subject, session, trial))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


@dataclass
class Recording:
    """One harmonized recording: samples, channels, events, identity and provenance."""

    dataset: str
    subject: str
    session: str
    trial: str
    device: str
    fs: float
    channels: list[ChannelInfo]
    samples: np.ndarray
    events: list[Event] = field(default_factory=list)
    sources: list[SourceFile] = field(default_factory=list)
    subject_info: SubjectInfo | None = None
    #: Free-form facts worth keeping, e.g. ``{"preprocessing": "device RMS-rectified"}``.
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def recording_id(self) -> str:
        return make_recording_id(self.dataset, self.subject, self.session, self.trial)

    @property
    def n_samples(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs

    def physical(self) -> np.ndarray:
        """Samples in physical units as float64, shape (n_samples, n_channels)."""
        gain = np.array([c.gain for c in self.channels], dtype=np.float64)
        offset = np.array([c.offset for c in self.channels], dtype=np.float64)
        return (self.samples.astype(np.float64) - offset) * gain


#: Slack on the Nyquist frequency [Hz] allowed to a channel's ``high_cutoff`` (rounding).
NYQUIST_SLACK_HZ = 1e-9


def validate_recording(rec: Recording, where: str | Path, dataset: str | None = None) -> None:
    """Raise SourceError naming ``where`` if ``rec`` breaks the recording contract.

    The rules: non-empty ``str`` identity fields (and ``rec.dataset == dataset`` when
    given: the adapter's dataset name); a finite sampling rate > 0 [Hz]; samples a
    non-empty 2-D integer or float array with one column per channel and no NaN/Inf;
    unique channel names, each channel with a non-empty ``units``, a type of
    :data:`CHANNEL_TYPES`, status ``good``/``bad``, a finite non-zero ``gain``, a finite
    ``offset`` and a ``high_cutoff`` in (0, fs/2] [Hz] where known; events sorted by
    onset, each with a non-empty label, a ``str`` kind and a finite onset >= 0 [s] and
    duration >= 0 [s] ending within the recording (one sample period of slack).
    """
    if dataset is not None and rec.dataset != dataset:
        raise SourceError(where, f"dataset {rec.dataset!r} differs from the adapter's {dataset!r}")
    for name in ("dataset", "subject", "session", "trial", "device"):
        value = getattr(rec, name)
        if not (isinstance(value, str) and value):
            raise SourceError(where, f"{name} must be a non-empty string, got {value!r}")
    if not (isinstance(rec.fs, (int, float)) and math.isfinite(rec.fs) and rec.fs > 0):
        raise SourceError(where, f"sampling rate must be a finite number > 0 Hz, got {rec.fs!r}")
    x = rec.samples
    if not isinstance(x, np.ndarray) or x.ndim != 2:
        shape = getattr(x, "shape", type(x).__name__)
        raise SourceError(
            where, f"samples must be a 2-D array (n_samples, n_channels), got {shape}"
        )
    if x.dtype.kind not in "iuf":
        raise SourceError(where, f"samples must be integer or float, got dtype {x.dtype}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise SourceError(where, f"empty recording: samples have shape {x.shape}")
    if len(rec.channels) != x.shape[1]:
        raise SourceError(
            where, f"{len(rec.channels)} channels described but samples have {x.shape[1]} columns"
        )
    if x.dtype.kind == "f" and not math.isfinite(float(np.add.reduce(x, axis=None, dtype="f8"))):
        bad = ~np.isfinite(x)
        if bad.any():
            row, col = (int(i[0]) for i in np.nonzero(bad))
            raise SourceError(
                where,
                f"{int(bad.sum())} NaN/Inf samples (first at sample {row}, "
                f"channel {rec.channels[col].name!r})",
            )
    _validate_channels(rec, where)
    _validate_events(rec, where)


def _validate_channels(rec: Recording, where: str | Path) -> None:
    """The channel rules of :func:`validate_recording`."""
    names = [c.name for c in rec.channels]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise SourceError(where, f"channel names must be unique, repeated: {dup}")
    nyquist = rec.fs / 2
    for c in rec.channels:
        if not (isinstance(c.units, str) and c.units):
            raise SourceError(where, f"channel {c.name!r}: units must be a non-empty string")
        if c.type not in CHANNEL_TYPES:
            raise SourceError(where, f"channel {c.name!r}: type {c.type!r} not in {CHANNEL_TYPES}")
        if c.status not in ("good", "bad"):
            raise SourceError(where, f"channel {c.name!r}: status {c.status!r} is not good/bad")
        if not (math.isfinite(c.gain) and math.isfinite(c.offset)):
            raise SourceError(where, f"channel {c.name!r}: gain/offset must be finite")
        if c.gain == 0:
            raise SourceError(where, f"channel {c.name!r}: gain must not be 0")
        if c.high_cutoff is not None and not 0 < c.high_cutoff <= nyquist + NYQUIST_SLACK_HZ:
            raise SourceError(
                where,
                f"channel {c.name!r}: high_cutoff {c.high_cutoff!r} Hz outside "
                f"(0, {nyquist:g}] (Nyquist)",
            )


def _validate_events(rec: Recording, where: str | Path) -> None:
    """The event rules of :func:`validate_recording`."""
    duration = rec.samples.shape[0] / rec.fs
    tolerance = 1.0 / rec.fs
    previous = -math.inf
    for e in rec.events:
        if not (isinstance(e.label, str) and e.label and isinstance(e.kind, str)):
            raise SourceError(
                where, f"event {e!r}: label must be a non-empty string, kind a string"
            )
        if not (math.isfinite(e.onset) and math.isfinite(e.duration)) or e.duration < 0:
            raise SourceError(where, f"event {e.label!r}: onset/duration must be finite, >= 0")
        if e.onset < 0 or e.onset + e.duration > duration + tolerance:
            raise SourceError(
                where,
                f"event {e.label!r} at {e.onset:g}-{e.onset + e.duration:g} s lies outside "
                f"the recording (0-{duration:g} s)",
            )
        if e.onset < previous:
            raise SourceError(
                where, f"event {e.label!r} at {e.onset:g} s: events must be sorted by onset"
            )
        previous = e.onset


class Adapter(ABC):
    """Base class of every dataset adapter. Subclasses set ``name``, ``version``, ``dataset``.

    ``options`` are adapter-specific keyword options (e.g. NinaPro's ``database``); they
    come from the CLI as ``--option key=value`` or from Python.
    """

    #: registry name, e.g. ``cote-allard``
    name: ClassVar[str]
    #: adapter version; bump when its output for the same files changes
    version: ClassVar[str] = "1"
    #: one-line description shown by ``emgcorpus adapters``
    summary: ClassVar[str] = ""
    #: False for adapters that read no files (the simulated corpus): SOURCE need not exist
    reads_files: ClassVar[bool] = True
    #: True for adapters whose source carries time stamps: they check them (monotonic,
    #: regular within a stated tolerance, consistent with ``fs``) and either record the
    #: transform that regularised them (``meta["clock_transform"]``) or raise SourceError;
    #: the adapter contract test feeds them jittered, gapped and duplicated clocks
    reads_time_stamps: ClassVar[bool] = False

    def __init__(self, source: str | Path, **options: Any) -> None:
        self.source = Path(source)
        self.options = options

    def check_source(self) -> None:
        """Raise SourceError when SOURCE does not exist (for adapters that read files)."""
        if self.reads_files and not self.source.exists():
            raise SourceError(self.source, f"no such file or folder (adapter {self.name!r})")

    @property
    def dataset(self) -> str:
        """Dataset name written into every recording (defaults to the adapter name)."""
        return str(self.options.get("dataset", self.name))

    @abstractmethod
    def discover(self) -> list[SourceUnit]:
        """List the readable units below ``self.source``, sorted by key. Reads no samples."""

    @abstractmethod
    def read(self, unit: SourceUnit) -> Recording:
        """Read one unit. Raise SourceError (naming the file) when it is malformed."""

    def iter_recordings(self) -> Iterator[Recording]:
        """Stream every recording, one at a time (errors propagate)."""
        for unit in self.discover():
            yield self.read(unit)
