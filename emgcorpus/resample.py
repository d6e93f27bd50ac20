"""Polyphase resampling with one rounding rule and a record of what was done.

The rate ratio is the rational ``up/down = Fraction(fs_out / fs_in).limit_denominator``
(``MAX_DENOMINATOR``); exact for every rate pair in practice (2048 -> 2000 Hz is
125/128). Output sample count, for every method:

    n_out = ceil(n_in * up / down)

so sample ``k`` of the output sits at ``k / fs_out`` seconds, the same instant as the
input's time axis, and the output covers the whole input.

Methods: ``soxr`` (default; libsoxr "HQ", measured far less aliasing than the scipy
default window, see DESIGN.md) and ``scipy`` (``scipy.signal.resample_poly``, Kaiser
window beta 5). ``up == down`` returns a float copy unchanged (method ``identity``).

:func:`resample_blocks` does the same over a recording given as consecutive blocks,
holding one block at a time: ``soxr`` through ``soxr.ResampleStream`` (its filter state
carries across blocks; the output equals :func:`resample_to`'s, measured bit-identical),
``identity`` block by block; ``scipy`` has no streaming form here and gathers the blocks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from emgcorpus.errors import ConfigError, check_option, check_positive

METHODS = ("soxr", "scipy")
MAX_DENOMINATOR = 10_000
SOXR_QUALITY = "HQ"


@dataclass(frozen=True)
class ResampleInfo:
    """What a resampling did: method, ratio ``up/down``, rates [Hz], sample counts."""

    method: str
    fs_in: float
    fs_out: float
    up: int
    down: int
    n_in: int
    n_out: int
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rational_ratio(fs_in: float, fs_out: float) -> tuple[int, int]:
    """``(up, down)`` with ``up/down ~= fs_out/fs_in``; ConfigError if not representable."""
    frac = Fraction(fs_out / fs_in).limit_denominator(MAX_DENOMINATOR)
    if frac.numerator == 0 or abs(float(frac) - fs_out / fs_in) > 1e-9 * fs_out / fs_in:
        raise ConfigError(
            f"cannot resample {fs_in:g} Hz -> {fs_out:g} Hz with a rational ratio "
            f"of denominator <= {MAX_DENOMINATOR}"
        )
    return frac.numerator, frac.denominator


def output_length(n_in: int, up: int, down: int) -> int:
    """The rounding rule: ``ceil(n_in * up / down)`` output samples."""
    return -(-n_in * up // down)


def resample_to(
    x: np.ndarray, fs_in: float, fs_out: float, method: str = "soxr"
) -> tuple[np.ndarray, ResampleInfo]:
    """Resample ``x`` (n_samples, n_channels) from ``fs_in`` to ``fs_out`` [Hz].

    Returns float32 samples of ``output_length`` rows and a ResampleInfo.
    """
    check_option("method", method, METHODS)
    fs_in = check_positive("fs_in", fs_in, "Hz")
    fs_out = check_positive("fs_out", fs_out, "Hz")
    if x.ndim != 2:
        raise ConfigError(f"resample_to expects (n_samples, n_channels), got shape {x.shape}")
    up, down = rational_ratio(fs_in, fs_out)
    n_in = int(x.shape[0])
    n_out = output_length(n_in, up, down)
    if up == down:
        info = ResampleInfo("identity", fs_in, fs_out, 1, 1, n_in, n_in)
        return np.array(x, dtype=np.float32), info
    xf = np.ascontiguousarray(x, dtype=np.float32)
    if method == "soxr":
        import soxr

        # soxr rounds its output length; pad with zeros (what its flush does anyway) so
        # that it yields at least n_out samples, then cut to the rule.
        pad = math.ceil(down / up) + 2
        padded = np.concatenate([xf, np.zeros((pad, xf.shape[1]), np.float32)])
        y = soxr.resample(padded, fs_in, fs_out, quality=SOXR_QUALITY)[:n_out]
        params: dict[str, Any] = {"quality": SOXR_QUALITY, "library": f"soxr {soxr.__version__}"}
    else:
        from scipy.signal import resample_poly

        y = resample_poly(xf, up, down, axis=0, window=("kaiser", 5.0))
        params = {"window": ["kaiser", 5.0]}
    y = np.ascontiguousarray(y[:n_out], dtype=np.float32)
    if y.shape[0] != n_out:
        raise ConfigError(f"{method} returned {y.shape[0]} samples, expected {n_out}")
    return y, ResampleInfo(method, fs_in, fs_out, up, down, n_in, n_out, params)


def resample_info(fs_in: float, fs_out: float, n_in: int, method: str = "soxr") -> ResampleInfo:
    """What :func:`resample_to` / :func:`resample_blocks` record for ``n_in`` samples."""
    check_option("method", method, METHODS)
    fs_in = check_positive("fs_in", fs_in, "Hz")
    fs_out = check_positive("fs_out", fs_out, "Hz")
    up, down = rational_ratio(fs_in, fs_out)
    if up == down:
        return ResampleInfo("identity", fs_in, fs_out, 1, 1, n_in, n_in)
    if method == "soxr":
        import soxr

        params: dict[str, Any] = {"quality": SOXR_QUALITY, "library": f"soxr {soxr.__version__}"}
    else:
        params = {"window": ["kaiser", 5.0]}
    return ResampleInfo(
        method, fs_in, fs_out, up, down, n_in, output_length(n_in, up, down), params
    )


def resample_blocks(
    blocks: Iterable[np.ndarray], info: ResampleInfo, n_channels: int
) -> Iterator[np.ndarray]:
    """Resample a recording given as consecutive (n_i, n_channels) blocks, as ``info``
    (from :func:`resample_info`) says; yields float32 blocks, ``info.n_out`` rows in all.

    ConfigError if the blocks do not hold ``info.n_in`` rows of ``n_channels`` columns.
    """
    seen = [0]
    checked = _counted(blocks, n_channels, seen)
    if info.method == "scipy":
        parts = list(checked)
        _check_count(seen[0], info)
        y, _ = resample_to(np.concatenate(parts), info.fs_in, info.fs_out, method="scipy")
        yield y
        return
    if info.method == "identity":
        for block in checked:
            yield np.ascontiguousarray(block, dtype=np.float32)
        _check_count(seen[0], info)
        return
    import soxr

    stream = soxr.ResampleStream(
        info.fs_in, info.fs_out, n_channels, dtype="float32", quality=SOXR_QUALITY
    )
    left = info.n_out
    for block in checked:
        y = stream.resample_chunk(np.ascontiguousarray(block, dtype=np.float32))[:left]
        left -= y.shape[0]
        if y.shape[0]:
            yield y
    _check_count(seen[0], info)
    # zero padding at the end, as resample_to does, so the output covers the input
    pad = np.zeros((math.ceil(info.down / info.up) + 2, n_channels), np.float32)
    y = stream.resample_chunk(pad, last=True)[:left]
    left -= y.shape[0]
    if y.shape[0]:
        yield y
    if left:
        raise ConfigError(f"soxr returned {info.n_out - left} samples, expected {info.n_out}")


def _counted(
    blocks: Iterable[np.ndarray], n_channels: int, seen: list[int]
) -> Iterator[np.ndarray]:
    for block in blocks:
        if block.ndim != 2 or block.shape[1] != n_channels:
            raise ConfigError(
                f"resample_blocks: block of shape {block.shape}, expected (n, {n_channels})"
            )
        seen[0] += block.shape[0]
        yield block


def _check_count(n_in: int, info: ResampleInfo) -> None:
    if n_in != info.n_in:
        raise ConfigError(f"resample_blocks: got {n_in} input samples, expected {info.n_in}")
