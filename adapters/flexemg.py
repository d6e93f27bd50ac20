"""Moin et al. flexible 64-channel HD-sEMG gesture dataset (``flexemg``), original ``.mat``.

**Dataset.** 3 subjects (001-003) performing rest + 4 hand gestures with a flexible
screen-printed 16x4 electrode array; sessions ``Session1Train``, ``Session1Test``,
``Session2Test``, ``Session3Train``, ``Session3Test``; 10 trials per folder. Made by
A. Moin et al., UC Berkeley (ISCAS 2018).

**Device.** Custom flexible 16x4 electrode array (64 channels) with a wireless
neural-recording front end, 1000 Hz (hard-coded in the repository's ``genfilter.m``).
``high_cutoff`` 500 Hz (Nyquist; the hardware band is not documented); ``low_cutoff``
``None``. Electrode pitch is not documented (``pitch_mm = None``).

**Format.** MATLAB v5 ``.mat`` per trial, ``data/<SSS>-<Session>/<SSS>-<TTT>.mat``:
``raw`` (28000x96 uint16 ADC counts) and struct ``p`` with ``lsbmV`` (mV per LSB),
``labelnames``, ``numlabels``, ``sequence``, ``reps``, ``timegest``, ``timerest``.
Columns 1-64 of ``raw`` are the EMG channels (``getacc.m`` uses ``raw(:,1:64)``); columns
65-96 are unused (constant in 29 of 30 files) and are **dropped**. Channel ``k`` (1-based
column) sits at the (row, col) where ``arraymap.mat``'s 16x4 ``arraymap`` holds ``k``.
Units: mV with ``gain = p.lsbmV`` and ``offset = 0`` (no ADC offset is documented, so the
physical values keep the front end's DC level). ``arraymap.mat`` is looked up in the
source folder and its parents; without it positions are ``n/a``.

**Labels** (as ``genlabels.m`` defines them, reimplemented): rest for the first
``timerest`` samples, then gesture ``sequence[j]`` (1-based into ``labelnames``: Fist,
Raise, Lower, Open) for samples ``timerest + j*timegest .. timerest + (j+1)*timegest``,
``j = 0..3``. The tail after the last gesture (about 3 s) is marked unused in the original
code and gets no event. Gesture events carry ``repetition = trial - 1``.

**Licence.** GNU GPL v3 (README, ``LICENSE``). **Citation.** A. Moin et al., "An EMG
Gesture Recognition System with Flexible High-Density Sensors and Brain-Inspired
High-Dimensional Classifier", ISCAS 2018. **URL.** https://github.com/a-moin/flexemg

Format facts from the repository README and ``../shared/data/flexemg_hd64/MANIFEST.md``
(load snippet run there).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from adapters._common import as_integer_if_exact, load_mat, mat_numeric, mat_variable, relative_key
from emgcorpus.errors import SourceError
from emgcorpus.recording import (
    Adapter,
    ChannelInfo,
    ElectrodePosition,
    Event,
    Recording,
    SourceFile,
    SourceUnit,
)

FS_HZ = 1000.0
N_EMG = 64
GRID_SHAPE = (16, 4)
_FOLDER_RX = re.compile(r"^(\d{3})-(Session\d+\w*)$")
_FILE_RX = re.compile(r"^(\d{3})-(\d{3})\.mat$")


def grid_positions(arraymap: np.ndarray, path: Path) -> dict[int, tuple[int, int]]:
    """1-based channel -> (row, col) from a 16x4 ``arraymap``; SourceError if malformed."""
    a = np.asarray(arraymap)
    if a.shape != GRID_SHAPE:
        raise SourceError(path, f"arraymap has shape {a.shape}, expected {GRID_SHAPE}")
    out = {int(a[r, c]): (r, c) for r in range(a.shape[0]) for c in range(a.shape[1])}
    if sorted(out) != list(range(1, N_EMG + 1)):
        raise SourceError(path, f"arraymap does not hold each channel 1..{N_EMG} exactly once")
    return out


def _field(p: Any, name: str, path: Path) -> Any:
    try:
        return p[name].item() if hasattr(p[name], "item") else p[name]
    except (KeyError, ValueError, IndexError, TypeError):
        raise SourceError(
            path, f"struct p has no field {name!r} (p is {type(p).__name__})"
        ) from None


def _number(value: Any, name: str, path: Path) -> float:
    """Field ``p.<name>`` as one finite number; SourceError naming the file otherwise."""
    try:
        number = float(np.asarray(value, dtype=np.float64).reshape(()))
    except (TypeError, ValueError):
        raise SourceError(path, f"p.{name} is not one number: {value!r:.60}") from None
    if not np.isfinite(number):
        raise SourceError(path, f"p.{name} is {number}, not a finite number")
    return number


def _ints(value: Any, name: str, path: Path) -> list[int]:
    """The whole numbers of field ``p.<name>``; SourceError naming the file otherwise."""
    try:
        values = np.atleast_1d(np.asarray(value, dtype=np.float64)).ravel()
    except (TypeError, ValueError):
        raise SourceError(path, f"p.{name} is not numeric: {value!r:.60}") from None
    if not np.all(np.isfinite(values)) or not np.array_equal(values, np.round(values)):
        raise SourceError(path, f"p.{name} holds values that are not whole numbers")
    return [int(v) for v in values]


def gesture_events(p: Any, n_samples: int, trial: int, path: Path) -> list[Event]:
    """Rest then the 4 gestures of ``p.sequence`` (genlabels.m logic), in seconds."""
    names = [str(x) for x in np.atleast_1d(_field(p, "labelnames", path))]
    sequence = _ints(_field(p, "sequence", path), "sequence", path)
    rest_gest = [_ints(_field(p, f, path), f, path) for f in ("timerest", "timegest")]
    if any(len(v) != 1 or v[0] < 0 for v in rest_gest):
        raise SourceError(
            path, f"p.timerest / p.timegest are {rest_gest}: need one count >= 0 each"
        )
    timerest, timegest = rest_gest[0][0], rest_gest[1][0]
    end = timerest + len(sequence) * timegest
    if end > n_samples:
        raise SourceError(
            path,
            f"labels need {end} samples (timerest {timerest} + {len(sequence)} x timegest "
            f"{timegest}) but raw has {n_samples}",
        )
    bad = [g for g in sequence if not 1 <= g <= len(names)]
    if bad:
        raise SourceError(path, f"p.sequence {sequence} refers to labels outside 1..{len(names)}")
    events = [Event(0.0, timerest / FS_HZ, "rest", repetition=trial - 1, kind="rest")]
    for j, g in enumerate(sequence):
        onset = (timerest + j * timegest) / FS_HZ
        events.append(Event(onset, timegest / FS_HZ, names[g - 1], repetition=trial - 1))
    return events


class FlexEmgAdapter(Adapter):
    """flexemg 16x4 flexible HD-sEMG array: one recording per trial ``.mat`` file."""

    name = "flexemg"
    version = "1"
    summary = "Moin et al. 2018 flexible 64-ch HD-sEMG (1000 Hz, rest + 4 gestures), .mat"

    def _arraymap_path(self) -> Path | None:
        for folder in (self.source, *self.source.resolve().parents[:2]):
            candidate = folder / "arraymap.mat"
            if candidate.is_file():
                return candidate
        return None

    def discover(self) -> list[SourceUnit]:
        if not self.source.is_dir():
            raise SourceError(self.source, "source is not a folder (expected the flexemg root)")
        arraymap = self._arraymap_path()
        units = []
        for path in self.source.rglob("*.mat"):
            if _FILE_RX.match(path.name) and _FOLDER_RX.match(path.parent.name):
                files = (path, arraymap) if arraymap is not None else (path,)
                units.append(SourceUnit(key=relative_key(path, self.source), files=files))
        return sorted(units, key=lambda u: u.key)

    def read(self, unit: SourceUnit) -> Recording:
        path = unit.files[0]
        fm, dm = _FILE_RX.match(path.name), _FOLDER_RX.match(path.parent.name)
        if fm is None or dm is None:
            raise SourceError(path, "expected <SSS>-<Session...>/<SSS>-<TTT>.mat")
        if fm.group(1) != dm.group(1):
            raise SourceError(
                path, f"file subject {fm.group(1)} differs from folder subject {dm.group(1)}"
            )
        mat = load_mat(path, squeeze_me=True)
        raw = mat_numeric(mat, "raw", path)
        p = mat_variable(mat, "p", path)
        if raw.ndim != 2 or raw.shape[1] < N_EMG:
            raise SourceError(path, f"raw has shape {raw.shape}, expected (n, >= {N_EMG})")
        samples = as_integer_if_exact(np.ascontiguousarray(raw[:, :N_EMG]), "int32")
        lsb_mv = _number(_field(p, "lsbmV", path), "lsbmV", path)
        positions: dict[int, tuple[int, int]] = {}
        sources = [SourceFile(path=unit.key)]
        if len(unit.files) > 1:
            amap_path = unit.files[1]
            amap = mat_variable(load_mat(amap_path), "arraymap", amap_path)
            positions = grid_positions(amap, amap_path)
            sources.append(SourceFile(path=relative_key(amap_path, self.source)))
        channels = []
        for k in range(1, N_EMG + 1):
            pos = ElectrodePosition()
            if positions:
                r, c = positions[k]
                pos = ElectrodePosition(system="grid", row=r, col=c, grid_name="flexemg16x4")
            channels.append(
                ChannelInfo(
                    name=f"EMG{k}",
                    type="EMG",
                    units="mV",
                    gain=lsb_mv,
                    offset=0.0,
                    position=pos,
                    group="flexemg16x4",
                    placement_scheme="grid",
                    high_cutoff=FS_HZ / 2,
                )
            )
        trial = int(fm.group(2))
        return Recording(
            dataset=self.dataset,
            subject=fm.group(1),
            session=dm.group(2),
            trial=fm.group(2),
            device="flexible 16x4 screen-printed array + wireless neural recording front end",
            fs=FS_HZ,
            channels=channels,
            samples=samples,
            events=gesture_events(p, samples.shape[0], trial, path),
            sources=sources,
            meta={
                "dropped_columns": f"raw columns {N_EMG + 1}-{raw.shape[1]} (unused)",
                "adc_offset": "not documented; physical values keep the front end's DC level",
            },
        )
