"""Time stamps for the contract's clock rule: one regular clock and the faults every
adapter that reads time stamps must either regularise (a recorded transform) or refuse
(a SourceError naming the file).

A contract source of an adapter with ``reads_time_stamps`` defines
``make_clock_source(tmp_path, clock) -> (source, options, stamps_s)``: a source whose only
unit carries the clock ``clock`` (one of :data:`CLOCKS`), and the stamps it wrote [s].
"""

from __future__ import annotations

import numpy as np

#: regular; irregular steps (0.1-1.9 periods, no drift); one gap of 20 periods; one row
#: repeated with its stamp; two stamps swapped (the clock goes back)
CLOCKS = ("regular", "jittered", "gapped", "duplicated", "backwards")


def clock_stamps(clock: str, n: int, fs: float, *, t0: float = 0.0, seed: int = 0) -> np.ndarray:
    """``n`` (``n + 1`` for ``duplicated``) time stamps [s] at nominal ``fs`` [Hz]."""
    period = 1.0 / fs
    steps = np.full(n - 1, period)
    if clock == "jittered":
        steps = period * (1.0 + 0.9 * np.random.default_rng(seed).uniform(-1.0, 1.0, n - 1))
    elif clock == "gapped":
        steps[n // 2] = 20 * period
    t = t0 + np.concatenate(([0.0], np.cumsum(steps)))
    if clock == "duplicated":
        t = np.insert(t, n // 2, t[n // 2])
    elif clock == "backwards":
        t[n // 2], t[n // 2 + 1] = t[n // 2 + 1], t[n // 2]
    elif clock not in ("regular", "jittered", "gapped"):
        raise ValueError(f"unknown clock {clock!r}; one of {CLOCKS}")
    return t


def duplicate_rows(values: np.ndarray, clock: str, n: int) -> np.ndarray:
    """``values`` (n rows) with row ``n // 2`` repeated when ``clock`` is ``duplicated``."""
    if clock == "duplicated":
        return np.insert(values, n // 2, values[n // 2], axis=0)
    return values
