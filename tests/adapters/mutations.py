"""Deterministic mutations of source files, for the fault tests of every adapter.

Each mutation rewrites one file in place and returns True, or returns False when it does
not apply to that file (a text mutation on a binary file...). Randomness comes only from
the ``rng`` handed in, so a seed gives the same bytes every run.

- every file: ``empty`` (0 bytes), ``truncated`` (the first 60 %), ``header-flips`` (8 bytes
  of the first 256 flipped), ``data-flips`` (16 bytes anywhere flipped), ``odd-tail``
  (3 bytes appended);
- text files: ``nan-text`` (a number becomes ``nan``), ``ragged`` (a line loses its last
  field), ``header-mismatch`` (the first number of the first line doubled: a count or
  size the rest of the file no longer matches);
- MATLAB ``.mat``: ``mat-shapes`` (every numeric variable loses a column, vectors half
  their values), ``mat-nan`` (every float variable gets a NaN), ``mat-types`` (one
  variable becomes a text, a scalar, an empty or a 3-D array);
- HDF5: ``h5-shapes`` (every dataset loses a column; 1-D ones half their rows; compound
  fields with a sub-array lose one element);
- JSON: ``json-shapes`` (every list of numbers is cut to half).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

_NUMBER = re.compile(rb"(?<![\w.])-?\d+(\.\d+)?(e-?\d+)?(?![\w.])")


def _text(data: bytes) -> bool:
    if not data or b"\x00" in data[:4096]:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _flip(path: Path, rng: np.random.Generator, n: int, limit: int | None) -> bool:
    data = bytearray(path.read_bytes())
    if not data:
        return False
    span = min(len(data), limit or len(data))
    for pos in rng.choice(span, size=min(n, span), replace=False):
        data[pos] ^= int(rng.integers(1, 256))
    path.write_bytes(bytes(data))
    return True


def empty(path: Path, rng: np.random.Generator) -> bool:
    path.write_bytes(b"")
    return True


def truncated(path: Path, rng: np.random.Generator) -> bool:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 6 // 10])
    return True


def header_flips(path: Path, rng: np.random.Generator) -> bool:
    return _flip(path, rng, 8, 256)


def data_flips(path: Path, rng: np.random.Generator) -> bool:
    return _flip(path, rng, 16, None)


def odd_tail(path: Path, rng: np.random.Generator) -> bool:
    path.write_bytes(path.read_bytes() + b"\x00\x01\x02")
    return True


def nan_text(path: Path, rng: np.random.Generator) -> bool:
    data = path.read_bytes()
    if not _text(data):
        return False
    body = data.find(b"\n") + 1  # a number of the data, not of a header line
    numbers = list(_NUMBER.finditer(data, body))
    if not numbers:
        return False
    m = numbers[int(rng.integers(len(numbers)))]
    path.write_bytes(data[: m.start()] + b"nan" + data[m.end() :])
    return True


def ragged(path: Path, rng: np.random.Generator) -> bool:
    data = path.read_bytes()
    if not _text(data):
        return False
    lines = data.split(b"\n")
    candidates = [k for k, line in enumerate(lines[1:], 1) if re.search(rb"[,\t ]", line)]
    if not candidates:
        return False
    k = candidates[len(candidates) // 2]
    lines[k] = re.split(rb"[,\t ](?=[^,\t ]*$)", lines[k].rstrip(b"\r"), maxsplit=1)[0]
    path.write_bytes(b"\n".join(lines))
    return True


def header_mismatch(path: Path, rng: np.random.Generator) -> bool:
    data = path.read_bytes()
    if not _text(data):
        return False
    end = data.find(b"\n") if b"\n" in data else len(data)
    m = re.search(rb"\d+", data[:end])
    if m is None:
        return False
    doubled = str(2 * int(m.group()) + 1).encode()
    path.write_bytes(data[: m.start()] + doubled + data[m.end() :])
    return True


def _mat_rewrite(path: Path, change: Callable[[np.ndarray], np.ndarray | None]) -> bool:
    import scipy.io

    if path.suffix.lower() != ".mat":
        return False
    try:
        mat = scipy.io.loadmat(path)
    except Exception:
        return False
    changed = False
    out: dict[str, Any] = {}
    for key, value in mat.items():
        if key.startswith("__"):
            continue
        new = change(value) if isinstance(value, np.ndarray) else None
        out[key] = value if new is None else new
        changed |= new is not None
    if changed:
        scipy.io.savemat(path, out)
    return changed


def _smaller(a: np.ndarray) -> np.ndarray | None:
    if a.dtype.kind not in "iuf" or a.size < 2:
        return None
    if a.ndim == 2 and min(a.shape) > 1:
        return a[:, :-1]
    return a.reshape(-1)[: a.size // 2].reshape(-1, 1)


def mat_shapes(path: Path, rng: np.random.Generator) -> bool:
    return _mat_rewrite(path, _smaller)


def _with_nan(a: np.ndarray) -> np.ndarray | None:
    if a.dtype.kind != "f" or a.size < 2:
        return None
    b = a.copy()
    b.flat[b.size // 2] = np.nan
    return b


def mat_nan(path: Path, rng: np.random.Generator) -> bool:
    return _mat_rewrite(path, _with_nan)


def mat_types(path: Path, rng: np.random.Generator) -> bool:
    """One variable (chosen by ``rng``) becomes a text, a scalar, an empty or a 3-D array."""
    import scipy.io

    if path.suffix.lower() != ".mat":
        return False
    try:
        mat = {k: v for k, v in scipy.io.loadmat(path).items() if not k.startswith("__")}
    except Exception:
        return False
    if not mat:
        return False
    key = sorted(mat)[int(rng.integers(len(mat)))]
    mat[key] = [np.array("text"), np.array(7.0), np.zeros((0, 0)), np.zeros((2, 2, 2))][
        int(rng.integers(4))
    ]
    scipy.io.savemat(path, mat)
    return True


def _h5_smaller(a: np.ndarray) -> np.ndarray:
    if a.dtype.names:  # compound records: sub-array fields lose one element
        fields = []
        for name in a.dtype.names:
            base, shape = a.dtype[name].base, a.dtype[name].shape
            if shape and shape[0] > 1:
                fields.append((name, base, (shape[0] - 1, *shape[1:])))
            else:
                fields.append((name, base, shape) if shape else (name, base))
        out = np.zeros(a.shape, dtype=np.dtype(fields))
        for name in a.dtype.names:
            out[name] = a[name][..., : out.dtype[name].shape[0]] if a.dtype[name].shape else a[name]
        return out
    if a.ndim >= 2 and a.shape[1] > 1:
        return a[:, :-1]
    if a.ndim == 1 and a.size > 1:
        return a[: a.size // 2]
    return a


def h5_shapes(path: Path, rng: np.random.Generator) -> bool:
    import h5py

    if path.suffix.lower() not in (".hdf5", ".h5"):
        return False
    try:
        h5 = h5py.File(path, "r+")
    except OSError:
        return False
    with h5:
        datasets: list[str] = []
        h5.visititems(
            lambda name, obj: datasets.append(name) if isinstance(obj, h5py.Dataset) else None
        )
        for name in datasets:
            ds = h5[name]
            if ds.shape == ():
                continue
            attrs = dict(ds.attrs)
            data = _h5_smaller(ds[()])
            del h5[name]
            new = h5.create_dataset(name, data=data)
            new.attrs.update(attrs)
    return bool(datasets)


def _cut_lists(value: Any) -> Any:
    if isinstance(value, list):
        if len(value) >= 4 and all(isinstance(v, (int, float)) for v in value):
            return value[: len(value) // 2]
        return [_cut_lists(v) for v in value]
    if isinstance(value, dict):
        return {k: _cut_lists(v) for k, v in value.items()}
    return value


def json_shapes(path: Path, rng: np.random.Generator) -> bool:
    if path.suffix.lower() != ".json":
        return False
    try:
        doc = json.loads(path.read_text())
    except ValueError:
        return False
    cut = _cut_lists(doc)
    if cut == doc:
        return False
    path.write_text(json.dumps(cut))
    return True


MUTATIONS: dict[str, Callable[[Path, np.random.Generator], bool]] = {
    "empty": empty,
    "truncated": truncated,
    "header-flips": header_flips,
    "data-flips": data_flips,
    "odd-tail": odd_tail,
    "nan-text": nan_text,
    "ragged": ragged,
    "header-mismatch": header_mismatch,
    "mat-shapes": mat_shapes,
    "mat-nan": mat_nan,
    "mat-types": mat_types,
    "h5-shapes": h5_shapes,
    "json-shapes": json_shapes,
}
