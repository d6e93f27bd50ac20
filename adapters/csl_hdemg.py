"""CSL-HDEMG (Amma, Krings, Böer, Schultz, CHI 2015), adapter ``csl-hdemg``.

Release format (from the dataset's README as redistributed with public loaders; no file of
the set is held here): ``subject<k>/session<s>/gest<g>.mat`` (5 subjects x 5 sessions,
gestures 0-26, 0 = idle), each a MATLAB v5 file with a cell array ``gestures``, one cell per
repetition (10, or 30 for idle), each cell a 192 x L matrix (channels x samples, about 3 s at
2048 Hz). The 192 electrodes form an 8 x 24 grid (10 mm) on the forearm; electrodes 1-8 run
from the proximal to the distal end of the first column, 9-16 the second, and so on. Channel
``i`` is the bipolar difference of electrodes ``i`` and ``i + 1``; therefore every 8th channel
(8, 16, ..., 192) spans two columns and carries no meaningful signal: those channels are
kept with ``status="bad"``, as the README asks.

One unit = one gesture file; its repetitions are concatenated in order into one recording
with one event per repetition (``repetition`` 1-based; gesture 0 is ``rest``). Units are not
stated by the README: ``n/a``.
"""

from __future__ import annotations

import re

import numpy as np

from adapters._common import check_finite, glob_units, load_mat, mat_variable, numeric_array
from emgcorpus.errors import SourceError
from emgcorpus.recording import (
    Adapter,
    ChannelInfo,
    ElectrodePosition,
    Event,
    Recording,
    SourceFile,
    SourceUnit,
    SubjectInfo,
)

FS_HZ = 2048.0
N_CHANNELS = 192
ROWS = 8
PITCH_MM = 10.0
_PATH = re.compile(r"subject(\d+)/session(\d+)/gest(\d+)\.mat$")


def grid_channels() -> list[ChannelInfo]:
    """192 bipolar channels along the grid columns; every 8th is ``bad`` (spans columns)."""
    out = []
    for ch in range(N_CHANNELS):
        col, row = divmod(ch, ROWS)
        bad = row == ROWS - 1
        out.append(
            ChannelInfo(
                name=f"emg{ch + 1}",
                units="n/a",
                position=ElectrodePosition(
                    system="grid", row=row, col=col, pitch_mm=PITCH_MM, grid_name="csl"
                ),
                signal_electrode=f"e{ch + 1}",
                reference=f"e{ch + 2}" if ch + 1 < N_CHANNELS else None,
                group="grid",
                placement_scheme="8x24 electrode grid on the forearm, rows proximal to distal",
                placement_description="bipolar between neighbouring electrodes of a column"
                + ("; spans two columns, not meaningful (release README)" if bad else ""),
                interelectrode_distance=PITCH_MM,
                high_cutoff=FS_HZ / 2,
                status="bad" if bad else "good",
            )
        )
    return out


class CslHdemgAdapter(Adapter):
    """CSL-HDEMG gesture files ``subject<k>/session<s>/gest<g>.mat``."""

    name = "csl-hdemg"
    version = "1"
    summary = "CSL-HDEMG 192-channel grid (2048 Hz), 27 gestures, one .mat per gesture"

    def discover(self) -> list[SourceUnit]:
        return glob_units(self.source, "**/*.mat", expected="the CSL-HDEMG folder")

    def read(self, unit: SourceUnit) -> Recording:
        path = unit.files[0]
        m = _PATH.search(path.as_posix())
        if not m:
            raise SourceError(
                path, "not a CSL-HDEMG file: expected subject<k>/session<s>/gest<g>.mat"
            )
        subject, session, gesture = (int(g) for g in m.groups())
        cells = np.asarray(mat_variable(load_mat(path), "gestures", path), dtype=object).ravel()
        if cells.size == 0:
            raise SourceError(path, "cell array 'gestures' is empty")
        blocks, events, t = [], [], 0.0
        label, kind = ("rest", "rest") if gesture == 0 else (f"gesture_{gesture}", "gesture")
        for k, cell in enumerate(cells, start=1):
            trial = numeric_array(cell, f"repetition {k}", path)
            if trial.ndim != 2 or trial.shape[0] != N_CHANNELS or trial.shape[1] == 0:
                raise SourceError(
                    path, f"repetition {k} has shape {trial.shape}: expected (192, samples)"
                )
            samples = check_finite(np.ascontiguousarray(trial.T, dtype=np.float64), path)
            blocks.append(samples)
            duration = samples.shape[0] / FS_HZ
            events.append(Event(t, duration, label, k if kind == "gesture" else None, kind))
            t += duration
        return Recording(
            dataset=self.dataset,
            subject=str(subject),
            session=str(session),
            trial=f"gest{gesture}",
            device="CSL 192-electrode grid (8x24, 10 mm)",
            fs=FS_HZ,
            channels=grid_channels(),
            samples=np.vstack(blocks),
            events=events,
            sources=[SourceFile(str(path))],
            subject_info=SubjectInfo(subject=str(subject)),
            meta={
                "repetitions_concatenated": str(cells.size),
                "bad_channels": "every 8th channel (8, 16, ..., 192) spans two grid columns",
            },
        )
