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

**Clock, rate and band.** The files carry a time column, not a rate, and it is not a
regular clock: steps are mostly 1 ms, but 2-4 % of them are 2-4 ms (a real 63,196-row file
spans 65.66 s: 962 rows/s), and the values are the Myo's 200 Hz samples held and repeated
(about 100 distinct rows per second). Storing the rows at ``1000 / median step`` would
make the recording 3-4 % short and let event onsets drift by seconds, so the adapter
*resamples from the time stamps*: zero-order hold onto a regular 1000 Hz grid (the time
column's own 1 ms resolution) starting at the first stamp, grid point ``k`` taking the last
row stamped at or before ``t0 + k`` ms (:func:`adapters._common.hold_on_grid`). Chosen over
storing the effective rate because the rows are not evenly spaced either way (an
effective rate still misplaces each row by the local jitter), while the hold puts every
row at its stamped time to within 1 ms and invents no value the source does not hold (it
repeats rows, as the source itself already does). The class column is held the same way,
so events are in the time column's seconds. Rows stamped alike keep the last one; a step
longer than option ``max_gap_ms`` (default 25 ms, five Myo periods) is missing data and
a SourceError naming the file, not something to bridge. ``meta["clock_transform"]`` names
the transform, ``meta["clock_*"]`` the source clock's facts (rows, span, steps, effective
rate, rows repeated/dropped). **Band**: the Myo samples at 200 Hz, so no channel holds more
than 100 Hz; ``high_cutoff`` is ``min(100, distinct rows per second / 2)`` [Hz], measured
per file (``meta["distinct_rows_per_s"]``), not the 500 Hz Nyquist of the grid.

**Units.** The channel values' unit is not documented (their magnitude, ~1e-5..1e-4,
suggests volts; not asserted) -> ``units = "n/a"``.

**Licence.** CC BY 4.0 (UCI). **Citation.** Lobov S. et al., "Latent factors limiting the
performance of sEMG-interfaces", Sensors 18(4):1122 (2018), doi:10.3390/s18041122;
dataset doi:10.24432/C5ZP5C. **URL.**
https://archive.ics.uci.edu/dataset/481/emg+data+for+gestures

Facts from the UCI dataset page and the release's README ("Description of raw_data_***
file": 10 columns, 1) time in ms, 2-9) eight EMG channels of the MYO Thalmic bracelet,
10) class, with the class list above; 36 subjects, two series, each gesture 3 s with 3 s
pauses), as reproduced in public repositories of the release; the clock figures from
real release files (issue 12). The README states no sampling rate.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from adapters._common import (
    check_finite,
    check_nonempty,
    clock_stats,
    events_from_labels,
    hold_on_grid,
    option_positive_float,
)
from adapters._myo import myo_channels
from emgcorpus.errors import SourceError
from emgcorpus.recording import Adapter, Recording, SourceFile, SourceUnit

N_CHANNELS = 8
#: the regular grid the rows are held onto [Hz]: the time column's 1 ms resolution
GRID_FS_HZ = 1000.0
#: the Myo armband's sampling rate [Hz]; no channel holds more than half of it
MYO_FS_HZ = 200.0
#: default longest step [ms] bridged by the hold (five Myo periods); longer is missing data
MAX_GAP_MS = 25.0
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
    return table[:, 0], check_finite(table[:, 1:-1], path), labels.astype(np.int64)


def distinct_rows_per_s(values: np.ndarray, span_s: float) -> float:
    """How many rows per second differ from the row before them (any channel) [1/s]."""
    changed = np.any(values[1:] != values[:-1], axis=1)
    return (1 + int(np.count_nonzero(changed))) / span_s


class UciGesturesAdapter(Adapter):
    """UCI "EMG data for gestures": one recording per ``<series>_raw_data_*.txt`` file."""

    name = "uci-gestures"
    version = "2"
    reads_time_stamps = True
    summary = "UCI EMG data for gestures (Myo, 8 ch, 36 subjects), original text files"

    def __init__(self, source: str | Path, **options: Any) -> None:
        super().__init__(source, **options)
        self.max_gap_ms = option_positive_float(options, "max_gap_ms", "ms") or MAX_GAP_MS

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
        stats = clock_stats(path, time_ms / 1000.0, what="time column")
        if stats.max_step_s * 1000.0 > self.max_gap_ms:
            k = int(np.argmax(np.diff(time_ms)))
            raise SourceError(
                path,
                f"time column jumps {time_ms[k + 1] - time_ms[k]:g} ms after data row {k + 1} "
                f"(longest step bridged: max_gap_ms={self.max_gap_ms:g}): missing data",
            )
        rows = hold_on_grid(time_ms / 1000.0, GRID_FS_HZ)
        used = np.zeros(time_ms.size, dtype=bool)
        used[rows] = True
        distinct = distinct_rows_per_s(values, stats.span_s)
        band = min(MYO_FS_HZ / 2.0, distinct / 2.0)
        meta = {
            "clock_transform": (
                f"zero-order hold of the rows onto a regular {GRID_FS_HZ:g} Hz grid from the "
                "time column [ms]: grid point k takes the last row stamped at or before "
                "t0 + k ms"
            ),
            **stats.meta(),
            "clock_rows_repeated": str(int(rows.size - np.unique(rows).size)),
            "clock_rows_dropped": str(int(time_ms.size - np.count_nonzero(used))),
            "first_time_ms": f"{time_ms[0]:g}",
            "distinct_rows_per_s": f"{distinct:.6g}",
            "band": f"high_cutoff = min(100 Hz Myo Nyquist, distinct rows per second / 2) = "
            f"{band:.6g} Hz",
        }
        return Recording(
            dataset=self.dataset,
            subject=path.parent.name,
            session=m.group(1),
            trial="0",
            device="Thalmic Labs Myo armband",
            fs=GRID_FS_HZ,
            channels=myo_channels("channel", GRID_FS_HZ, high_cutoff=band),
            samples=np.ascontiguousarray(values[rows]),
            events=events_from_labels(
                labels[rows], GRID_FS_HZ, names=CLASSES, rest=[1], ignore=[0]
            ),
            sources=[SourceFile(unit.key)],
            meta=meta,
        )
