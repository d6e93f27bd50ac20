"""Tiny in-test adapters: recordings built from a spec, deterministic samples.

``SpecAdapter`` builds each unit's Recording from ``options["specs"]`` (unit key ->
spec dict), with switches for every kind of bad input, a SIGKILL fault point and a pause
point (``pause_at``/``pause_dir``: waits for a file, for tests with two processes).
``NpyAdapter`` reads ``<subject>_<trial>.npy`` files (so checksums and the CLI have real
files to look at).
"""

from __future__ import annotations

import os
import signal
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from emgcorpus.errors import SourceError
from emgcorpus.recording import (
    Adapter,
    ChannelInfo,
    ElectrodePosition,
    Event,
    Recording,
    SourceUnit,
    SubjectInfo,
)


def make_samples(key: str, n: int, n_ch: int, dtype: str) -> np.ndarray:
    """Deterministic samples of a unit: ints span the dtype's small range, floats are noise."""
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    dt = np.dtype(dtype)
    if dt.kind in "iu":
        lo = 0 if dt.kind == "u" else -3000
        return rng.integers(lo, 3000, size=(n, n_ch)).astype(dt)
    return rng.standard_normal((n, n_ch)).astype(dt)


def spec(
    n: int = 400,
    n_ch: int = 4,
    fs: float = 200.0,
    dtype: str = "<i2",
    subject: str = "s1",
    dataset: str = "fake",
    **flags: Any,
) -> dict[str, Any]:
    return {
        "n": n,
        "n_ch": n_ch,
        "fs": fs,
        "dtype": dtype,
        "subject": subject,
        "dataset": dataset,
        **flags,
    }


def build_recording(key: str, s: dict[str, Any], where: str = "") -> Recording:
    """The Recording a spec describes (bad-input flags applied)."""
    if s.get("raise"):
        raise SourceError(where or key, "truncated file (test)")
    n = 0 if s.get("empty") else int(s["n"])
    x = make_samples(key, n, int(s["n_ch"]), s["dtype"])
    if s.get("nan"):
        x[n // 2, 0] = np.nan
    if s.get("inf"):
        x[1, -1] = np.inf
    n_ch_described = int(s["n_ch"]) + (1 if s.get("channel_mismatch") else 0)
    channels = [
        ChannelInfo(
            name=f"ch{i}",
            units="mV",
            gain=0.001 if x.dtype.kind in "iu" else 1.0,
            offset=2.0 if x.dtype.kind in "iu" else 0.0,
            position=ElectrodePosition(system="ring", angle_deg=360.0 * i / n_ch_described),
            reference="common",
            high_cutoff=s.get("high_cutoff"),
            interelectrode_distance=20.0,
        )
        for i in range(n_ch_described)
    ]
    duration = n / float(s["fs"]) if n and s["fs"] > 0 else 1.0
    events = [Event(onset=0.0, duration=duration / 2, label="fist", repetition=1)]
    if s.get("events_outside"):
        events.append(Event(onset=duration + 1.0, duration=0.5, label="late"))
    return Recording(
        dataset=s["dataset"],
        subject=s["subject"],
        session="1",
        trial=key,
        device="test-device",
        fs=float(s["fs"]),
        channels=channels,
        samples=x,
        events=events,
        subject_info=SubjectInfo(subject=s["subject"], age=30.0, sex="F", extra={"arm": "R"}),
        meta={"unit": key},
    )


class SpecAdapter(Adapter):
    """Units from ``options["specs"]``; ``options["kill_at"]`` SIGKILLs the process there."""

    name = "spec"
    summary = "test adapter built from specs"
    reads_files = False

    def discover(self) -> list[SourceUnit]:
        return [SourceUnit(key=k, files=()) for k in sorted(self.options["specs"])]

    def read(self, unit: SourceUnit) -> Recording:
        if self.options.get("kill_at") == unit.key:
            os.kill(os.getpid(), signal.SIGKILL)
        if self.options.get("pause_at") == unit.key:
            _pause(Path(self.options["pause_dir"]))
        return build_recording(unit.key, self.options["specs"][unit.key])


def _pause(folder: Path, timeout_s: float = 120.0) -> None:
    """Write ``folder/paused`` and wait until ``folder/go`` exists (two-process tests)."""
    (folder / "paused").write_text(str(os.getpid()))
    deadline = time.monotonic() + timeout_s
    while not (folder / "go").exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{folder / 'go'} never appeared")
        time.sleep(0.02)


class NpyAdapter(Adapter):
    """``<subject>_<trial>.npy`` files of int16 (n, n_ch) samples at ``options["fs"]`` Hz."""

    name = "npy"
    summary = "test adapter over .npy files"

    def discover(self) -> list[SourceUnit]:
        return [
            SourceUnit(key=p.relative_to(self.source).as_posix(), files=(p,))
            for p in sorted(self.source.rglob("*.npy"))
        ]

    def read(self, unit: SourceUnit) -> Recording:
        path = unit.files[0]
        try:
            x = np.load(path)
        except ValueError as exc:
            raise SourceError(path, f"not a .npy array ({exc})") from None
        subject, _, trial = path.stem.partition("_")
        fs = float(self.options.get("fs", 1000.0))
        return Recording(
            dataset=self.dataset,
            subject=subject,
            session="1",
            trial=trial,
            device="npy",
            fs=fs,
            channels=[ChannelInfo(name=f"c{i}", units="uV") for i in range(x.shape[1])],
            samples=x,
        )


def write_npy_source(root: Path, n_files: int = 3, n: int = 500, n_ch: int = 3) -> Path:
    """A folder of ``s<i>_t<i>.npy`` files for NpyAdapter."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n_files):
        np.save(root / f"s{i}_t{i}.npy", make_samples(f"npy{i}", n, n_ch, "<i2"))
    return root
