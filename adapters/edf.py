"""EDF / EDF+ / BDF recordings (``edf``), read through MNE-Python.

**Format.** European Data Format (Kemp et al. 1992; EDF+ 2003, https://www.edfplus.info):
a 256-byte ASCII header, 256 bytes per signal (label, transducer, physical dimension,
physical/digital min/max, prefiltering, samples per record), then data records of int16
samples (BDF, BioSemi's variant: 24-bit). Read with ``mne.io.read_raw_edf`` /
``mne.io.read_raw_bdf`` with ``preload=False``; only the selected channels' samples are
read (``get_data(picks=...)``).

**Channel selection.** Option ``channels`` (list, or comma-separated names) picks
channels by name, all typed EMG; otherwise the channels whose label MNE types as EMG
(``infer_types=True``: labels such as ``EMG Chin``, which MNE renames ``Chin``; the
``channels`` option uses those names) and the channels *labelled* EMG that MNE does not
type so because the label has no space after the type: exactly ``EMG`` (case-insensitive),
or ``EMG`` followed by a number or a ``_``/``-``/``.`` suffix (``EMG1``, ``EMG_L``,
``EMG-2``); MNE types those EEG. ``meta["channels_taken"]`` lists the channels taken and
``meta["channel_selection"]`` says by which rule each was. No EMG channel and no
``channels`` option is a SourceError listing the labels present.

**Units.** MNE scales voltage channels to volts; voltage channels are stored as float64
in **microvolts** (``uV``; MNE's volts x 1e6), other channels keep their physical value
and the unit MNE reports (MNE reports dimensions it does not know, e.g. ``degC``, as
``n/a``). ``gain = 1``. ``low_cutoff``/``high_cutoff`` come
from MNE's ``info["highpass"]``/``info["lowpass"]`` (parsed from the header's
prefiltering field; ``lowpass`` defaults to fs/2 and a 0 Hz high-pass becomes ``None``).
Signals sampled at different rates are a SourceError (MNE would resample them).

**Identity and events.** subject/session/trial from option ``pattern`` (regex with
named groups on the relative path), else options ``subject``/``session`` (default
``"1"``), else the file stem; trial = file stem. EDF+ annotations become events with
``kind`` from option ``annotation_kind`` (default ``"annotation"``; ``gesture`` to use
them as class labels). Option ``fs`` [Hz], if given, must equal the file's rate.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from adapters._common import (
    check_nonempty,
    compile_path_pattern,
    fields_from_path,
    glob_units,
    normalize_units,
    option_list,
    option_positive_float,
    option_str,
)
from emgcorpus.errors import SourceError
from emgcorpus.recording import Adapter, ChannelInfo, Event, Recording, SourceFile, SourceUnit

_EXTENSIONS = (".edf", ".bdf")
_VOLT_UNITS = {"uV", "mV", "V", "nV"}
#: labels that name an EMG channel although MNE types them EEG (no space after "EMG")
_EMG_LABEL = re.compile(r"^emg(\d+|[_\-.]\S*)?$", re.IGNORECASE)


def open_raw(path: Path, infer_types: bool = True) -> Any:
    """An MNE Raw over ``path`` (EDF or BDF, no samples loaded); SourceError if unreadable.

    ``infer_types`` lets MNE type channels from a ``<TYPE> <name>`` label (and drop the
    type from the name); False keeps every label as written."""
    import mne

    check_nonempty(path)
    reader = mne.io.read_raw_bdf if path.suffix.lower() == ".bdf" else mne.io.read_raw_edf
    try:
        return reader(path, preload=False, infer_types=infer_types, verbose="error")
    except Exception as exc:  # mne raises ValueError/RuntimeError/... on malformed headers
        problem = f"not a readable EDF/BDF file ({type(exc).__name__}: {exc})"
        raise SourceError(path, problem) from None


class EdfAdapter(Adapter):
    """EDF/EDF+/BDF files: one recording per file, EMG channels by type or by name."""

    name = "edf"
    version = "1"
    summary = "EDF/EDF+/BDF via MNE; EMG channels by type or option channels=..."

    def __init__(self, source: str | Path, **options: Any) -> None:
        super().__init__(source, **options)
        self._channels = option_list(options, "channels")
        self._pattern = compile_path_pattern(option_str(options, "pattern"))
        self._fs = option_positive_float(options, "fs", "Hz")
        self._annotation_kind = option_str(options, "annotation_kind", "annotation") or "annotation"

    def discover(self) -> list[SourceUnit]:
        return glob_units(
            self.source,
            "**/*",
            expected="an EDF/BDF file or folder",
            keep=lambda p: p.suffix.lower() in _EXTENSIONS,
        )

    def _selection(self, raw: Any, picks: list[str]) -> str:
        """How each picked channel was chosen, for ``meta["channel_selection"]``."""
        if self._channels is not None:
            return "option channels"
        types = dict(zip(raw.ch_names, raw.get_channel_types(), strict=True))
        parts = []
        for ch in picks:
            why = "typed EMG by MNE" if types[ch] == "emg" else "labelled EMG (MNE types it EEG)"
            parts.append(f"{ch}: {why}")
        return "; ".join(parts)

    def _picks(self, raw: Any, path: Path) -> list[str]:
        names = list(raw.ch_names)
        if self._channels is not None:
            missing = [c for c in self._channels if c not in names]
            if missing:
                raise SourceError(
                    path, f"channels {missing} not in the file; channels present: {names}"
                )
            return list(self._channels)
        types = raw.get_channel_types()
        picks = [n for n, t in zip(names, types, strict=True) if t == "emg" or _EMG_LABEL.match(n)]
        if not picks:
            raise SourceError(
                path,
                f"no channel is typed EMG (labels like 'EMG <name>'); channels present: "
                f"{names}; pass option channels=<name,name,...>",
            )
        return picks

    def read(self, unit: SourceUnit) -> Recording:
        path = unit.files[0]
        raw = open_raw(path)
        picks = self._picks(raw, path)
        fs = float(raw.info["sfreq"])
        if self._fs is not None and self._fs != fs:
            raise SourceError(path, f"option fs={self._fs:g} Hz contradicts the file's {fs:g} Hz")
        extras = getattr(raw, "_raw_extras", [{}])[0]
        n_samps = extras.get("n_samps")
        if n_samps is not None:
            idx = [raw.ch_names.index(c) for c in picks]
            rates = {int(n_samps[i]) for i in idx}
            if len(rates) > 1:
                raise SourceError(
                    path, f"selected channels have different samples per record {sorted(rates)}"
                )
        try:
            data = raw.get_data(picks=picks).T
        except Exception as exc:
            raise SourceError(path, f"cannot read samples ({type(exc).__name__}: {exc})") from None
        orig_units = getattr(raw, "_orig_units", {}) or {}
        lowpass = raw.info.get("lowpass")
        highpass = raw.info.get("highpass")
        channels = []
        samples = np.empty(data.shape, dtype=np.float64)
        for k, ch in enumerate(picks):
            unit_text = normalize_units(orig_units.get(ch))
            ch_type = raw.get_channel_types(picks=[ch])[0]
            is_volt = unit_text in _VOLT_UNITS or (unit_text == "n/a" and ch_type == "emg")
            if is_volt:
                samples[:, k] = data[:, k] * 1e6
                unit_text = "uV"
            else:
                samples[:, k] = data[:, k]
            channels.append(
                ChannelInfo(
                    name=ch,
                    type="EMG",
                    units=unit_text,
                    low_cutoff=float(highpass) if highpass else None,
                    high_cutoff=float(lowpass) if lowpass else fs / 2,
                )
            )
        if not np.all(np.isfinite(samples)):
            raise SourceError(path, "samples contain non-finite values")
        events = [
            Event(
                onset=float(a["onset"]),
                duration=float(a["duration"]),
                label=str(a["description"]),
                kind=self._annotation_kind,
            )
            for a in raw.annotations
        ]
        events.sort(key=lambda e: (e.onset, e.duration, e.label))
        fields = fields_from_path(self._pattern, unit.key, path)
        return Recording(
            dataset=self.dataset,
            subject=fields.get("subject") or option_str(self.options, "subject") or path.stem,
            session=fields.get("session") or option_str(self.options, "session", "1") or "1",
            trial=fields.get("trial") or path.stem,
            device=option_str(self.options, "device", "n/a") or "n/a",
            fs=fs,
            channels=channels,
            samples=samples,
            events=events,
            sources=[SourceFile(path=unit.key)],
            meta={
                "format": path.suffix.lower().lstrip("."),
                "channels_taken": ",".join(picks),
                "channel_selection": self._selection(raw, picks),
            },
        )
