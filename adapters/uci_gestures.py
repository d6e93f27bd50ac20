"""UCI "EMG data for gestures" (``uci-gestures``), read from its original text files.

**Dataset.** 36 subjects, each recorded twice (two "series"), performing static hand
gestures with a Myo armband on the forearm; made by S. Lobov, N. Krilova, I. Kastalskiy,
V. Kazantsev, V. Makarov (Lobachevsky University). UCI Machine Learning Repository id 481.

**Device.** Thalmic Labs Myo armband: 8 dry electrodes evenly spaced around the forearm,
8 channels. Positions are ``ring`` with ``angle_deg = 45 * k``.

**Format.** Per subject folder ``NN/`` two tab-separated text files such as
``01/1_raw_data_13-12_22.03.16.txt`` (series number, then the recording date). First line
is the header ``time channel1 .. channel8 class``; each further line is one sample:
time [ms], 8 channel values, class. Classes (UCI description): 0 unmarked data, 1 hand
at rest, 2 hand clenched in a fist, 3 wrist flexion, 4 wrist extension, 5 radial
deviation, 6 ulnar deviation, 7 extended palm (not performed by all subjects).
Class 0 makes no event; class 1 is the rest class.

**Rate and units.** The files carry a time column, not a rate: ``fs`` [Hz] is
``1000 / median(diff(time))`` (the time column is in ms; the UCI page describes the
sampling only through it). The channel values' unit is not documented (their magnitude,
~1e-5..1e-4, suggests volts; not asserted) -> ``units = "n/a"``. ``high_cutoff`` is the
Nyquist frequency of the derived rate; the Myo armband itself samples at 200 Hz, so the
meaningful band may be narrower (not documented for these files).

**Licence.** CC BY 4.0 (UCI). **Citation.** Lobov S. et al., "Latent factors limiting the
performance of sEMG-interfaces", Sensors 18(4):1122 (2018), doi:10.3390/s18041122;
dataset doi:10.24432/C5ZP5C. **URL.**
https://archive.ics.uci.edu/dataset/481/emg+data+for+gestures

Facts from the UCI dataset description (file layout, header, class list).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from adapters._common import check_nonempty, events_from_labels
from adapters._myo import myo_channels
from emgcorpus.errors import SourceError
from emgcorpus.recording import Adapter, Recording, SourceFile, SourceUnit

N_CHANNELS = 8
HEADER = ("time", *(f"channel{k}" for k in range(1, N_CHANNELS + 1)), "class")
CLASSES = {
    1: "rest",
    2: "fist",
    3: "wrist flexion",
    4: "wrist extension",
    5: "radial deviation",
    6: "ulnar deviation",
    7: "extended palm",
}
_FILE_RX = re.compile(r"^(\d+)_raw_data_.*\.txt$")


def read_uci_file(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse one file: time [ms] (n,), channel values (n, 8) float64, class (n,) int."""
    check_nonempty(path)
    with open(path, encoding="utf-8", errors="replace") as fh:
        header = tuple(fh.readline().split())
        if header != HEADER:
            raise SourceError(
                path, f"header is {' '.join(header)!r}, expected {' '.join(HEADER)!r}"
            )
        rows = []
        for lineno, line in enumerate(fh, start=2):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != len(HEADER):
                raise SourceError(
                    path,
                    f"line {lineno} has {len(parts)} fields, expected {len(HEADER)} "
                    "(truncated or not this format)",
                )
            try:
                rows.append([float(p) for p in parts])
            except ValueError:
                raise SourceError(path, f"line {lineno} has a non-numeric field") from None
    if len(rows) < 2:
        raise SourceError(path, f"only {len(rows)} data line(s); need at least 2")
    table = np.asarray(rows, dtype=np.float64)
    labels = table[:, -1]
    if not np.array_equal(labels, np.round(labels)):
        raise SourceError(path, "class column holds non-integer values")
    return table[:, 0], table[:, 1:-1], labels.astype(np.int64)


def rate_from_time_ms(time_ms: np.ndarray, path: Path) -> float:
    """Sampling rate [Hz] from a time column [ms]: 1000 / median step; SourceError if the
    column does not increase."""
    steps = np.diff(time_ms)
    if np.any(steps < 0):
        row = int(np.flatnonzero(steps < 0)[0]) + 1
        raise SourceError(path, f"time column decreases at data row {row}")
    median = float(np.median(steps))
    if median <= 0:
        raise SourceError(path, "time column does not advance (median step is 0 ms)")
    return 1000.0 / median


class UciGesturesAdapter(Adapter):
    """UCI "EMG data for gestures": one recording per ``<series>_raw_data_*.txt`` file."""

    name = "uci-gestures"
    version = "1"
    summary = "UCI EMG data for gestures (Myo, 8 ch, 36 subjects), original text files"

    def discover(self) -> list[SourceUnit]:
        src = self.source
        if not src.is_dir():
            raise SourceError(src, "source is not a folder (expected the folder of NN/ subjects)")
        units = [
            SourceUnit(key=p.relative_to(src).as_posix(), files=(p,))
            for p in src.rglob("*_raw_data_*.txt")
            if _FILE_RX.match(p.name) and p.parent.name.isdigit()
        ]
        return sorted(units, key=lambda u: u.key)

    def read(self, unit: SourceUnit) -> Recording:
        path = unit.files[0]
        m = _FILE_RX.match(path.name)
        if m is None or not path.parent.name.isdigit():
            raise SourceError(path, "expected <NN>/<series>_raw_data_<date>.txt")
        time_ms, values, labels = read_uci_file(path)
        unknown = sorted(set(np.unique(labels).tolist()) - set(CLASSES) - {0})
        if unknown:
            raise SourceError(path, f"class values {unknown} are not in 0..7 (UCI class list)")
        fs = rate_from_time_ms(time_ms, path)
        channels = myo_channels("channel", fs)
        return Recording(
            dataset=self.dataset,
            subject=path.parent.name,
            session=m.group(1),
            trial="0",
            device="Thalmic Labs Myo armband",
            fs=fs,
            channels=channels,
            samples=values,
            events=events_from_labels(labels, fs, names=CLASSES, rest=[1], ignore=[0]),
            sources=[SourceFile(unit.key)],
            meta={
                "fs_source": "1000 / median step of the time column [ms]",
                "first_time_ms": f"{time_ms[0]:g}",
            },
        )
