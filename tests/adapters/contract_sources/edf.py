"""EDF/BDF contract source: tiny files written byte by byte per the EDF/BDF specification
(``mne.export`` needs ``edfio``, which is not installed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _field(text: str | float | int, width: int) -> bytes:
    s = str(text)
    if len(s) > width:
        raise ValueError(f"{s!r} does not fit in {width} characters")
    return s.ljust(width).encode("ascii")


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def write_edf(
    path: Path,
    digital: np.ndarray,
    labels: Sequence[str],
    *,
    fs: float,
    phys_dim: Sequence[str] | None = None,
    phys_range: tuple[float, float] = (-3276.8, 3276.7),
    record_s: float = 1.0,
    prefilter: str = "",
    bdf: bool = False,
) -> Path:
    """Write ``digital`` (n_samples x n_signals ints) as an EDF (int16) or BDF (int24) file.

    Every signal has ``fs * record_s`` samples per record and physical range
    ``phys_range`` mapped onto the full digital range; n_samples must fill whole records.
    """
    digital = np.asarray(digital)
    n, ns = digital.shape
    per_rec = int(round(fs * record_s))
    if n % per_rec:
        raise ValueError("samples must fill whole data records")
    n_rec = n // per_rec
    dmin, dmax = (-(2**23), 2**23 - 1) if bdf else (-32768, 32767)
    dims = list(phys_dim or ["uV"] * ns)
    head = bytearray()
    head += b"\xffBIOSEMI" if bdf else _field("0", 8)
    head += _field("X M 01-JAN-2000 tester", 80)
    head += _field("Startdate 01-JAN-2020 X X X", 80)
    head += _field("01.01.20", 8) + _field("10.00.00", 8)
    head += _field(256 * (ns + 1), 8)
    head += _field("24BIT" if bdf else "", 44)
    head += _field(n_rec, 8) + _field(f"{record_s:g}", 8) + _field(ns, 4)
    for lab in labels:
        head += _field(lab, 16)
    head += b"".join(_field("AgAgCl electrode", 80) for _ in range(ns))
    head += b"".join(_field(d, 8) for d in dims)
    head += b"".join(_field(_num(phys_range[0]), 8) for _ in range(ns))
    head += b"".join(_field(_num(phys_range[1]), 8) for _ in range(ns))
    head += b"".join(_field(dmin, 8) for _ in range(ns))
    head += b"".join(_field(dmax, 8) for _ in range(ns))
    head += b"".join(_field(prefilter, 80) for _ in range(ns))
    head += b"".join(_field(per_rec, 8) for _ in range(ns))
    head += b"".join(_field("", 32) for _ in range(ns))
    body = bytearray()
    for r in range(n_rec):
        block = digital[r * per_rec : (r + 1) * per_rec]
        for k in range(ns):
            col = block[:, k].astype("<i4")
            if bdf:
                b = col.view(np.uint8).reshape(-1, 4)[:, :3]
                body += b.tobytes()
            else:
                body += col.astype("<i2").tobytes()
    path.write_bytes(bytes(head) + bytes(body))
    return path


def make_source(tmp_path: Path) -> tuple[Path, dict]:
    rng = np.random.default_rng(0)
    folder = tmp_path / "edf"
    folder.mkdir()
    for k in range(2):
        x = rng.integers(-2000, 2000, size=(2 * 500, 3))
        write_edf(folder / f"sub{k}.edf", x, ["EMG FDS", "EMG EDC", "EMG FCU"], fs=500.0)
    x = rng.integers(-20000, 20000, size=(2 * 256, 2))
    write_edf(folder / "sub2.bdf", x, ["EMG A", "EMG B"], fs=256.0, bdf=True)
    return folder, {}
