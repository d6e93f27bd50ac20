"""Writers of tiny NinaPro files in the release format (MATLAB v5 or v7.3, rows = samples)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io


def ninapro_variables(
    n_emg: int = 12,
    n: int = 600,
    codes: tuple[int, ...] = (1, 2),
    reps: int = 2,
    aux: dict[str, int] | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Variables of one exercise file: rest, then each code ``reps`` times, rest between."""
    rng = np.random.default_rng(seed)
    stim = np.zeros(n, dtype=np.uint8)
    rep = np.zeros(n, dtype=np.uint8)
    blocks = [(c, r) for c in codes for r in range(1, reps + 1)]
    step = n // (len(blocks) + 1)
    for k, (c, r) in enumerate(blocks):
        s = step // 2 + k * step + step // 2
        stim[s : s + step // 2] = c
        rep[s : s + step // 2] = r
    restim, rerep = np.roll(stim, 3), np.roll(rep, 3)  # relabelled: a little later
    emg = rng.normal(0.0, 1e-5, (n, n_emg)) * (1 + 4 * (stim[:, None] > 0))
    out = {
        "emg": emg,
        "stimulus": stim[:, None],
        "restimulus": restim[:, None],
        "repetition": rep[:, None],
        "rerepetition": rerep[:, None],
        "subject": np.array([[1]], dtype=np.uint8),
        "exercise": np.array([[1]], dtype=np.uint8),
    }
    for name, cols in (aux or {}).items():
        out[name] = rng.normal(size=(n, cols)).astype(np.float32)
    return out


def write_v5(path: Path, variables: dict[str, np.ndarray]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, variables)
    return path


def write_v73(path: Path, variables: dict[str, np.ndarray]) -> Path:
    """A MATLAB v7.3 file: HDF5 with MATLAB's 512-byte header, arrays stored transposed."""
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in variables.items():
            f.create_dataset(name, data=np.asarray(value).T)
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5"
    header += b" schema 1.00 ."
    block = header.ljust(116, b" ") + b"\0" * 8 + b"\x00\x02IM"
    with open(path, "r+b") as f:
        f.write(block)
    return path
