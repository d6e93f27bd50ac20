"""Contraction detection on the envelope grid: hysteresis, gap merging, minimum duration.

A contraction is a run of grid cells where a channel's envelope went above
``on_ratio x floor`` and had not yet dropped below ``off_ratio x floor``; runs separated
by less than ``min_gap_ms`` are merged, runs shorter than ``min_duration_ms`` dropped.
Each contraction has an onset, an offset and a peak (the cell of its largest envelope).
Long contractions are cut into fixed physical sub-steps (:func:`split_substeps`); the
cells between contractions are rest (:func:`rest_runs`).

All arrays are vectorised over channels: runs are (row, start_cell, end_cell) triples,
``end_cell`` exclusive, sorted by (row, start_cell).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emgcorpus.errors import ConfigError
from vocab.envelope import TimeGrid


@dataclass
class Runs:
    """Runs of grid cells: ``row`` (channel row), ``start``/``end`` cells (end exclusive)."""

    row: np.ndarray  # int64
    start: np.ndarray  # int64
    end: np.ndarray  # int64

    def __len__(self) -> int:
        return int(self.row.shape[0])


@dataclass
class Contractions(Runs):
    """Detected contractions: runs plus ``peak`` cell and ``peak_env`` (envelope units)."""

    peak: np.ndarray  # int64, cell index of the envelope maximum
    peak_env: np.ndarray  # float64

    def onset_s(self, grid: TimeGrid) -> np.ndarray:
        return grid.time_s(self.start)

    def offset_s(self, grid: TimeGrid) -> np.ndarray:
        return grid.time_s(self.end)

    def peak_s(self, grid: TimeGrid) -> np.ndarray:
        """Time [s] of each contraction's envelope peak (centre of the peak cell)."""
        return (grid.bounds[self.peak] + grid.bounds[self.peak + 1]) / 2.0 / grid.fs


@dataclass
class SubSteps(Runs):
    """Sub-steps of contractions: runs plus the index of their ``contraction`` and position."""

    contraction: np.ndarray  # int64 index into the Contractions
    is_first: np.ndarray  # bool
    is_last: np.ndarray  # bool


def hysteresis(env: np.ndarray, on_level: np.ndarray, off_level: np.ndarray) -> np.ndarray:
    """Activation mask (n_ch, n_cells): on above ``on_level``, off below ``off_level`` (per row).

    Cells in between keep the previous state; every row starts off.
    """
    on = env > on_level[:, None]
    off = env < off_level[:, None]
    n_ch, n = env.shape
    # index of the last decisive cell (on or off) at or before each cell, -1 if none
    decisive = on | off
    idx = np.where(decisive, np.arange(n)[None, :], -1)
    last = np.maximum.accumulate(idx, axis=1)
    state = np.take_along_axis(on, np.maximum(last, 0), axis=1)
    return state & (last >= 0)


def runs_of(mask: np.ndarray) -> Runs:
    """Runs of True in each row of a boolean (n_ch, n_cells) mask."""
    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    d = np.diff(padded, axis=1)
    r_on, c_on = np.nonzero(d == 1)
    _, c_off = np.nonzero(d == -1)
    return Runs(row=r_on.astype(np.int64), start=c_on.astype(np.int64), end=c_off.astype(np.int64))


def merge_gaps(runs: Runs, min_gap_cells: int) -> Runs:
    """Merge consecutive runs of one row separated by fewer than ``min_gap_cells`` cells."""
    if len(runs) < 2 or min_gap_cells <= 0:
        return runs
    same = runs.row[1:] == runs.row[:-1]
    close = same & (runs.start[1:] - runs.end[:-1] < min_gap_cells)
    keep_start = np.concatenate([[True], ~close])
    keep_end = np.concatenate([~close, [True]])
    return Runs(row=runs.row[keep_start], start=runs.start[keep_start], end=runs.end[keep_end])


class ContractionDetector:
    """Finds contractions in envelopes against per-channel noise floors.

    Parameters (unitless ratios to the floor, durations in ms): ``on_ratio`` > ``off_ratio``
    >= 1, ``min_duration_ms`` (shorter runs are dropped), ``min_gap_ms`` (shorter gaps are
    merged).
    """

    def __init__(
        self,
        on_ratio: float = 3.0,
        off_ratio: float = 2.0,
        min_duration_ms: float = 100.0,
        min_gap_ms: float = 100.0,
    ) -> None:
        if not (on_ratio > 0 and off_ratio > 0 and off_ratio <= on_ratio):
            raise ConfigError(
                f"need 0 < off_ratio <= on_ratio, got on_ratio={on_ratio}, off_ratio={off_ratio}"
            )
        if min_duration_ms < 0 or min_gap_ms < 0:
            raise ConfigError(
                f"min_duration_ms and min_gap_ms must be >= 0 ms, "
                f"got {min_duration_ms}, {min_gap_ms}"
            )
        self.on_ratio = float(on_ratio)
        self.off_ratio = float(off_ratio)
        self.min_duration_ms = float(min_duration_ms)
        self.min_gap_ms = float(min_gap_ms)

    def detect(self, env: np.ndarray, floor: np.ndarray, grid: TimeGrid) -> Contractions:
        """Contractions in ``env`` (n_ch, n_cells) given each row's ``floor`` (n_ch,)."""
        active = hysteresis(env, self.on_ratio * floor, self.off_ratio * floor)
        runs = merge_gaps(runs_of(active), int(round(self.min_gap_ms / 1000.0 / grid.step_s)))
        t_start = grid.bounds[runs.start] / grid.fs
        t_end = grid.bounds[runs.end] / grid.fs
        keep = (t_end - t_start) * 1000.0 >= self.min_duration_ms - 1e-9
        runs = Runs(row=runs.row[keep], start=runs.start[keep], end=runs.end[keep])
        if len(runs) == 0:
            return Contractions(
                row=runs.row, start=runs.start, end=runs.end,
                peak=np.zeros(0, np.int64), peak_env=np.zeros(0),
            )  # fmt: skip
        length = runs.end - runs.start
        seg_id = np.repeat(np.arange(len(runs)), length)
        cells = _ranges(runs.start, runs.end)
        vals = env[runs.row[seg_id], cells]
        seg_first = np.concatenate([[0], np.cumsum(length)[:-1]])
        peak_env = np.maximum.reduceat(vals, seg_first)
        # first cell reaching the peak value within each run
        hit = np.nonzero(vals >= peak_env[seg_id])[0]
        _, first_hit = np.unique(seg_id[hit], return_index=True)
        first = cells[hit[first_hit]]
        return Contractions(
            row=runs.row,
            start=runs.start,
            end=runs.end,
            peak=first,
            peak_env=peak_env.astype(np.float64),
        )


def _ranges(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(start[i], end[i])`` for every i, vectorised."""
    lengths = end - start
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    offs = np.repeat(start - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(total, dtype=np.int64) + offs


def split_substeps(runs: Runs, substep_cells: int) -> SubSteps:
    """Cut each run into ``max(1, round(len / substep_cells))`` pieces of ``substep_cells``
    cells; the last piece takes the remainder (between 0.5 and 1.5 sub-steps long)."""
    length = runs.end - runs.start
    n_pieces = np.maximum(1, np.round(length / substep_cells).astype(np.int64))
    parent = np.repeat(np.arange(len(runs), dtype=np.int64), n_pieces)
    k = _ranges(np.zeros(len(runs), np.int64), n_pieces)
    start = runs.start[parent] + k * substep_cells
    last = k == n_pieces[parent] - 1
    end = np.where(last, runs.end[parent], start + substep_cells)
    return SubSteps(
        row=runs.row[parent],
        start=start,
        end=end,
        contraction=parent,
        is_first=k == 0,
        is_last=last,
    )


def rest_runs(active: Runs, n_rows: int, n_cells: int) -> Runs:
    """The complement of ``active`` runs in every one of ``n_rows`` rows of ``n_cells`` cells."""
    mask = np.ones((n_rows, n_cells), dtype=bool)
    if len(active):
        cells = _ranges(active.start, active.end)
        rows = np.repeat(active.row, active.end - active.start)
        mask[rows, cells] = False
    return runs_of(mask)
