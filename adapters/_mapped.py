"""The shared part of the generic option-mapped adapters ``mat`` and ``csv``.

Both turn one file into one recording from a small mapping given as adapter options
(``fs``, ``units``, ``gain``/``offset``, ``channels``, ``labels``, ``pattern``...; see those
adapters' docstrings): :class:`MappedAdapter` parses the mapping, lists the files matched
by option ``glob`` and builds the recording; a subclass only reads its format's samples
and labels.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from adapters._common import (
    as_integer_if_exact,
    check_regular_clock,
    compile_path_pattern,
    events_from_labels,
    fields_from_path,
    glob_units,
    normalize_units,
    nyquist,
    option_bool,
    option_channel_type,
    option_float,
    option_list,
    option_mapping,
    option_positive_float,
    option_str,
)
from emgcorpus.errors import ConfigError, SourceError
from emgcorpus.recording import Adapter, ChannelInfo, Event, Recording, SourceFile, SourceUnit


@dataclass(frozen=True)
class MappingOptions:
    """The small mapping that drives the generic ``mat`` and ``csv`` adapters.

    Built from adapter options by :func:`parse_mapping_options`; see those adapters'
    docstrings for each key. ``fs`` [Hz] may be ``None`` only when ``fs_variable`` names
    a variable holding the rate in every file.
    """

    fs: float | None
    fs_variable: str | None
    glob: str
    units: str
    gain: float
    offset: float
    samples: str | None
    columns: list[str] | None
    labels: str | None
    label_names: dict[str, str] | None
    rest_labels: list[str]
    ignore_labels: list[str]
    channel_names: list[str] | None
    channel_type: str
    pattern: re.Pattern[str] | None
    subject: str | None
    session: str | None
    device: str
    transpose: bool
    #: the column/variable holding time stamps (checked against ``fs``), and its unit [s]
    time: str | None = None
    time_scale: float = 1.0


def parse_mapping_options(
    options: Mapping[str, Any], *, default_glob: str, fs_variable_allowed: bool
) -> MappingOptions:
    """Validate mapping options; ConfigError naming the option on the first problem."""
    fs = option_positive_float(options, "fs", "Hz")
    fs_variable = option_str(options, "fs_variable") if fs_variable_allowed else None
    if fs is None and not fs_variable:
        hint = " (or fs_variable=<variable holding the rate>)" if fs_variable_allowed else ""
        raise ConfigError(f"option 'fs' is required: the sampling rate in Hz{hint}")
    gain = option_float(options, "gain", 1.0)
    offset = option_float(options, "offset", 0.0)
    ctype = option_channel_type(options)
    if gain is None or not (np.isfinite(gain) and gain != 0):
        raise ConfigError(f"option 'gain' must be a finite non-zero number, got {gain!r}")
    return MappingOptions(
        fs=fs,
        fs_variable=fs_variable,
        glob=option_str(options, "glob", default_glob) or default_glob,
        units=normalize_units(option_str(options, "units")),
        gain=float(gain),
        offset=float(offset or 0.0),
        samples=option_str(options, "samples"),
        columns=option_list(options, "columns"),
        labels=option_str(options, "labels"),
        label_names=option_mapping(options, "label_names"),
        rest_labels=option_list(options, "rest_label") or [],
        ignore_labels=option_list(options, "ignore_label") or [],
        channel_names=option_list(options, "channels"),
        channel_type=ctype,
        pattern=compile_path_pattern(option_str(options, "pattern")),
        subject=option_str(options, "subject"),
        session=option_str(options, "session"),
        device=option_str(options, "device", "n/a") or "n/a",
        transpose=option_bool(options, "transpose", False),
        time=option_str(options, "time"),
        time_scale=_time_scale(option_str(options, "time_units", "s") or "s"),
    )


#: seconds per unit of option ``time_units``
TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}


def _time_scale(units: str) -> float:
    if units not in TIME_UNITS:
        raise ConfigError(f"option 'time_units' must be one of {sorted(TIME_UNITS)}, got {units!r}")
    return TIME_UNITS[units]


def check_mapped_clock(
    m: MappingOptions, stamps: np.ndarray, n_samples: int, fs: float, path: Path
) -> dict[str, str]:
    """Check the time stamps of option ``time`` (one per sample, in ``time_units``) against
    ``fs`` [Hz] by the contract's clock rule (:func:`adapters._common.check_regular_clock`);
    SourceError naming the file otherwise. Returns the clock's facts as meta entries."""
    t = np.asarray(stamps, dtype=np.float64).ravel() * m.time_scale
    if t.size != n_samples:
        raise SourceError(
            path, f"time stamps {m.time!r} have {t.size} values but there are {n_samples} samples"
        )
    stats = check_regular_clock(path, t, fs, what=f"time stamps {m.time!r}")
    return {**stats.meta(), "time_offset_s": f"{t[0]:.9g}"}


def mapped_channels(
    m: MappingOptions, n_channels: int, fs: float, default_names: list[str]
) -> list[ChannelInfo]:
    """Channels of a mapped source: names from option ``channels`` (count must match)."""
    names = m.channel_names or default_names
    if len(names) != n_channels:
        raise ConfigError(
            f"option 'channels' lists {len(names)} names but the data has {n_channels} channels"
        )
    return [
        ChannelInfo(
            name=n,
            type=m.channel_type,
            units=m.units,
            gain=m.gain,
            offset=m.offset,
            high_cutoff=nyquist(fs),
        )
        for n in names
    ]


def mapped_identity(m: MappingOptions, key: str, path: Path) -> tuple[str, str, str]:
    """(subject, session, trial) of a mapped file: pattern groups, then constant options,
    then defaults (subject = file stem, session = ``"1"``, trial = file stem)."""
    fields = fields_from_path(m.pattern, key, path)
    subject = fields.get("subject") or m.subject or path.stem
    session = fields.get("session") or m.session or "1"
    trial = fields.get("trial") or path.stem
    return subject, session, trial


def label_events(
    m: MappingOptions, labels: np.ndarray, n_samples: int, fs: float, path: Path
) -> list[Event]:
    """Events from a per-sample label vector; SourceError if its length is not n_samples."""
    labels = np.asarray(labels).ravel()
    if labels.size != n_samples:
        raise SourceError(
            path,
            f"label vector {m.labels!r} has {labels.size} values but there are {n_samples} samples",
        )
    if np.issubdtype(labels.dtype, np.floating):
        labels = as_integer_if_exact(labels.reshape(-1, 1), "int64").ravel()
    return events_from_labels(
        labels, fs, names=m.label_names, rest=m.rest_labels, ignore=m.ignore_labels
    )


class MappedAdapter(Adapter):
    """Base of the option-mapped adapters: one recording per file matched by option
    ``glob`` (default :attr:`default_glob`), identity and channels from the mapping."""

    #: files listed when option ``glob`` is absent
    default_glob: ClassVar[str]
    #: whether option ``fs_variable`` (a variable holding the rate [Hz]) may replace ``fs``
    fs_variable_allowed: ClassVar[bool] = False
    #: option ``time`` names a column/variable of time stamps, checked against ``fs``
    reads_time_stamps = True

    def __init__(self, source: str | Path, **options: Any) -> None:
        super().__init__(source, **options)
        self.mapping: MappingOptions = parse_mapping_options(
            options, default_glob=self.default_glob, fs_variable_allowed=self.fs_variable_allowed
        )

    def discover(self) -> list[SourceUnit]:
        return glob_units(self.source, self.mapping.glob)

    def mapped_recording(
        self,
        unit: SourceUnit,
        samples: np.ndarray,
        fs: float,
        events: list[Event],
        default_names: list[str],
        meta: dict[str, str] | None = None,
    ) -> Recording:
        """The recording of ``unit``: identity from the path and options, channels named
        by option ``channels`` or ``default_names``, ``fs`` [Hz]."""
        m = self.mapping
        subject, session, trial = mapped_identity(m, unit.key, unit.files[0])
        return Recording(
            dataset=self.dataset,
            subject=subject,
            session=session,
            trial=trial,
            device=m.device,
            fs=fs,
            channels=mapped_channels(m, samples.shape[1], fs, default_names),
            samples=samples,
            events=events,
            sources=[SourceFile(path=unit.key)],
            meta=dict(meta or {}),
        )
