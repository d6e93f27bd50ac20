"""Shared helpers for adapters: file keys, units, binary and MATLAB reading, time stamps,
options, labels.

The option-mapped ``mat`` and ``csv`` adapters share :mod:`adapters._mapped`.

Everything here is format-agnostic and raises the project's error types, so every adapter
reports bad input in the same words:

- :class:`emgcorpus.errors.SourceError` ``(path, problem)`` for a file that cannot be read
  as documented (empty, odd-sized, corrupt, inconsistent);
- :class:`emgcorpus.errors.ConfigError` for an invalid adapter option.

Options reach adapters either as strings (CLI ``--option key=value``) or as typed values
(Python, YAML mapping files); the ``option_*`` helpers accept both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emgcorpus.errors import ConfigError, SourceError
from emgcorpus.recording import ElectrodePosition, Event, SourceUnit

# ---------------------------------------------------------------------------- paths, units


def relative_key(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` as a POSIX string (the usual :class:`SourceUnit` key).

    When ``root`` is the file itself (a single-file source) the key is the file name.
    """
    path, root = Path(path), Path(root)
    if path == root:
        return path.name
    return path.relative_to(root).as_posix()


def sorted_units(units: Iterable[SourceUnit]) -> list[SourceUnit]:
    """Units sorted by key; ValueError if two units share a key (an adapter bug)."""
    out = sorted(units, key=lambda u: u.key)
    for a, b in zip(out, out[1:], strict=False):
        if a.key == b.key:
            raise ValueError(f"duplicate source unit key {a.key!r}")
    return out


def glob_units(
    source: Path,
    pattern: str,
    *,
    root: Path | None = None,
    expected: str = "a folder or a file",
    keep: Callable[[Path], bool] | None = None,
) -> list[SourceUnit]:
    """One single-file unit per file matching ``pattern`` below ``source``, sorted by key.

    ``source`` may be a single file: one unit, whatever its name. In a folder, only
    regular files that match ``pattern`` (``**/`` recurses) and pass ``keep`` become units.
    Keys are relative to ``root`` (default ``source``, or the file's folder for a file).
    SourceError ``source does not exist (expected <expected>)`` when it is neither.
    """
    source = Path(source)
    if source.is_file():
        base = root or source.parent
        return [SourceUnit(key=relative_key(source, base), files=(source,))]
    if not source.is_dir():
        raise SourceError(source, f"source does not exist (expected {expected})")
    base = root or source
    files = (p for p in source.glob(pattern) if p.is_file() and (keep is None or keep(p)))
    return sorted_units(SourceUnit(key=relative_key(p, base), files=(p,)) for p in files)


def part_folders(source: Path, parts: Iterable[str], expected: str) -> list[Path]:
    """The part folders of a release split into named parts (``parts``, e.g.
    ``PreTrainingDataset``, ``EvaluationDataset``) that ``source`` covers: ``source`` itself
    when it is one of them, else those of its subfolders that exist, in ``parts`` order.

    SourceError naming ``expected`` when ``source`` is not a folder or holds no part.
    """
    source, names = Path(source), list(parts)
    if not source.is_dir():
        raise SourceError(source, f"source is not a folder (expected {expected})")
    if source.name in names:
        return [source]
    roots = [source / name for name in names if (source / name).is_dir()]
    if not roots:
        raise SourceError(source, f"no {' or '.join(names)} folder found (expected {expected})")
    return roots


_UNIT_ALIASES = {
    "mv": "mV",
    "uv": "uV",
    "µv": "uV",
    "μv": "uV",  # Greek mu
    "microvolt": "uV",
    "microvolts": "uV",
    "millivolt": "mV",
    "millivolts": "mV",
    "v": "V",
    "volt": "V",
    "volts": "V",
    "nv": "nV",
    "a.u": "a.u.",
    "a.u.": "a.u.",
    "au": "a.u.",
    "": "n/a",
    "n/a": "n/a",
    "na": "n/a",
}


def normalize_units(units: str | None) -> str:
    """Canonical spelling of a unit string: ``mv`` -> ``mV``, ``µV``/``uv`` -> ``uV``.

    ``None`` and empty strings become ``n/a``; unknown units are returned stripped but
    otherwise unchanged (``%MVC`` stays ``%MVC``).
    """
    if units is None:
        return "n/a"
    text = units.strip()
    return _UNIT_ALIASES.get(text.lower(), text)


def nyquist(fs: float) -> float:
    """Half the sampling rate [Hz]: the highest frequency a recording can hold."""
    return float(fs) / 2.0


def ring_position(index: int, n_electrodes: int) -> ElectrodePosition:
    """Position of electrode ``index`` (0-based) of an armband of ``n_electrodes`` evenly
    spaced around the forearm: ``angle_deg = 360 * index / n_electrodes`` [deg]."""
    return ElectrodePosition(system="ring", angle_deg=360.0 * index / n_electrodes)


# ---------------------------------------------------------------------------- file reading


def check_nonempty(path: Path) -> int:
    """Size of ``path`` in bytes; SourceError if it is missing or empty."""
    try:
        size = Path(path).stat().st_size
    except OSError as exc:
        raise SourceError(path, f"cannot open file: {exc.strerror or exc}") from None
    if size == 0:
        raise SourceError(path, "file is empty (0 bytes)")
    return size


def read_interleaved_binary(path: Path, dtype: np.dtype[Any] | str, n_channels: int) -> np.ndarray:
    """Read a headerless channel-interleaved binary file as ``(n_samples, n_channels)``.

    SourceError when the file is empty or its size is not a whole number of frames
    (``n_channels * itemsize`` bytes): a truncated or foreign file.
    """
    dt = np.dtype(dtype)
    size = check_nonempty(path)
    frame = dt.itemsize * n_channels
    if size % frame:
        raise SourceError(
            path,
            f"size {size} bytes is not a multiple of {frame} bytes "
            f"({n_channels} channels x {dt.itemsize}-byte {dt.name}): truncated or not this format",
        )
    return np.fromfile(path, dtype=dt).reshape(-1, n_channels)


def load_mat(path: Path, **kwargs: Any) -> dict[str, Any]:
    """Load a MATLAB v4/v5 ``.mat`` file with scipy; SourceError naming the file if it is
    empty, corrupt (v5 files are walked by :func:`adapters._mat5.check_mat5` first, since
    scipy segfaults on some corrupt headers), or MATLAB v7.3 (HDF5, which scipy cannot
    read)."""
    import scipy.io

    from adapters._mat5 import check_mat5

    check_nonempty(path)
    check_mat5(path)  # scipy's reader crashes the process on some corrupt element headers
    try:
        return dict(scipy.io.loadmat(path, **kwargs))
    except NotImplementedError as exc:  # v7.3 files
        raise SourceError(path, f"unsupported .mat version: {exc}") from None
    except Exception as exc:  # scipy raises ValueError, TypeError, OSError... on bad bytes
        raise SourceError(
            path, f"not a readable MATLAB .mat file ({type(exc).__name__}: {exc})"
        ) from None


@contextmanager
def open_hdf5(path: Path) -> Iterator[Any]:
    """``with open_hdf5(path) as h5``: the file opened read-only with h5py; SourceError naming
    the file if it is empty or not HDF5, and for any h5py error inside the block (a corrupt
    object header or dataset raises OSError, KeyError, RuntimeError or ValueError there)."""
    import h5py

    check_nonempty(path)
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise SourceError(path, f"not a readable HDF5 file (truncated?): {exc}") from None
    with h5:
        try:
            yield h5
        except (OSError, KeyError, RuntimeError, ValueError) as exc:
            raise SourceError(path, f"corrupt HDF5 content ({type(exc).__name__}: {exc})") from None


def mat_variable(mat: Mapping[str, Any], name: str, path: Path) -> Any:
    """Variable ``name`` of a loaded .mat dict; SourceError listing the variables present."""
    if name not in mat:
        present = ", ".join(sorted(k for k in mat if not k.startswith("__"))) or "none"
        raise SourceError(path, f"variable {name!r} not found; variables present: {present}")
    return mat[name]


def numeric_array(value: Any, what: str, path: Path) -> np.ndarray:
    """``value`` as an integer or real float array; SourceError naming the file and ``what``
    (e.g. ``variable 'emg'``) when it holds text, objects, booleans or complex numbers."""
    a = np.asarray(value)
    if a.dtype.kind not in "iuf":
        raise SourceError(path, f"{what} is not a real numeric array (dtype {a.dtype})")
    return a


def mat_numeric(mat: Mapping[str, Any], name: str, path: Path) -> np.ndarray:
    """Variable ``name`` of a loaded .mat dict as a real numeric array (:func:`numeric_array`)."""
    return numeric_array(mat_variable(mat, name, path), f"variable {name!r}", path)


def mat_number(mat: Mapping[str, Any], name: str, path: Path) -> float:
    """Variable ``name`` of a loaded .mat dict as one finite real number; SourceError naming
    the file when it is missing, not numeric, complex, or not exactly one value."""
    value = np.asarray(mat_variable(mat, name, path))
    if value.dtype.kind not in "iuf" or value.size != 1:
        raise SourceError(
            path,
            f"variable {name!r} must be one real number, got dtype {value.dtype} "
            f"shape {value.shape}",
        )
    number = float(value.ravel()[0])
    if not np.isfinite(number):
        raise SourceError(path, f"variable {name!r} is {number}, not a finite number")
    return number


def check_finite(samples: np.ndarray, path: Path) -> np.ndarray:
    """Return ``samples``; SourceError naming the first non-finite value's row and column."""
    if np.issubdtype(samples.dtype, np.floating):
        bad = ~np.isfinite(samples)
        if bad.any():
            row, col = (int(i) for i in np.argwhere(bad)[0])
            raise SourceError(
                path, f"non-finite value {float(samples[row, col])} at sample {row}, column {col}"
            )
    return samples


def as_integer_if_exact(samples: np.ndarray, dtype: np.dtype[Any] | str = "int32") -> np.ndarray:
    """Floats that are all whole numbers within ``dtype``'s range -> ``dtype``; else unchanged.

    Text and MATLAB files often store integer ADC counts as floats; keeping them as
    integers is lossless and smaller.
    """
    if not np.issubdtype(samples.dtype, np.floating) or samples.size == 0:
        return samples
    info = np.iinfo(np.dtype(dtype))
    if not np.all(np.isfinite(samples)) or not np.array_equal(samples, np.round(samples)):
        return samples
    if samples.min() < info.min or samples.max() > info.max:
        return samples
    return samples.astype(dtype)


# ---------------------------------------------------------------------------- options


def option_str(options: Mapping[str, Any], name: str, default: str | None = None) -> str | None:
    """Option ``name`` as a string (``default`` when absent)."""
    value = options.get(name, default)
    return None if value is None else str(value)


def option_required_str(options: Mapping[str, Any], name: str, what: str) -> str:
    """Option ``name`` as a non-empty string; ConfigError saying what it is for otherwise."""
    value = option_str(options, name)
    if value is None or not value.strip():
        raise ConfigError(f"option {name!r} is required: {what}")
    return value


def option_float(
    options: Mapping[str, Any], name: str, default: float | None = None
) -> float | None:
    """Option ``name`` as a float (``default`` when absent); ConfigError if not a number."""
    value = options.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"option {name!r} must be a number, got {value!r}") from None


def option_positive_float(options: Mapping[str, Any], name: str, unit: str = "") -> float | None:
    """Option ``name`` as a float > 0 (``None`` when absent); ConfigError otherwise."""
    value = option_float(options, name)
    if value is None:
        return None
    if not (value > 0 and np.isfinite(value)):
        suffix = f" {unit}" if unit else ""
        raise ConfigError(f"option {name!r} must be > 0{suffix}, got {options.get(name)!r}")
    return value


def option_int(options: Mapping[str, Any], name: str, default: int | None = None) -> int | None:
    """Option ``name`` as an int (``default`` when absent); ConfigError if not an integer."""
    value = options.get(name)
    if value is None or value == "":
        return default
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"option {name!r} must be an integer, got {value!r}") from None
    if not f.is_integer():
        raise ConfigError(f"option {name!r} must be an integer, got {value!r}")
    return int(f)


def option_bool(options: Mapping[str, Any], name: str, default: bool = False) -> bool:
    """Option ``name`` as a bool: true/false, yes/no, 1/0, on/off (any case)."""
    value = options.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"option {name!r} must be true or false, got {value!r}")


def option_list(options: Mapping[str, Any], name: str) -> list[str] | None:
    """Option ``name`` as a list of strings: a list/tuple, or one comma-separated string."""
    value = options.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",")]
    elif isinstance(value, Sequence):
        items = [str(v).strip() for v in value]
    else:
        items = [str(value).strip()]
    items = [v for v in items if v]
    if not items:
        raise ConfigError(f"option {name!r} lists no names, got {value!r}")
    return items


def option_mapping(options: Mapping[str, Any], name: str) -> dict[str, str] | None:
    """Option ``name`` as a dict of strings: a mapping, or ``"k1:v1,k2:v2"`` text."""
    value = options.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    out: dict[str, str] = {}
    for part in str(value).split(","):
        if not part.strip():
            continue
        if ":" not in part:
            raise ConfigError(f"option {name!r} must be 'key:value,key:value', got {value!r}")
        k, v = part.split(":", 1)
        out[k.strip()] = v.strip()
    return out


def option_channel_type(options: Mapping[str, Any], default: str = "EMG") -> str:
    """Option ``channel_type``: one of the BIDS channel types (``default`` when absent);
    ConfigError listing them otherwise."""
    from emgcorpus.recording import CHANNEL_TYPES

    ctype = option_str(options, "channel_type", default) or default
    if ctype not in CHANNEL_TYPES:
        raise ConfigError(
            f"invalid value {ctype!r} for channel_type: expected one of {CHANNEL_TYPES}"
        )
    return ctype


def dataset_with_database(
    options: Mapping[str, Any], adapter_name: str, database: object | None
) -> str:
    """Dataset name of a release made of numbered databases (NinaPro DB1-8, CapgMyo DB-a/b/c):
    option ``dataset`` when given, else ``<adapter_name>-db<database>`` when the database
    is known, else ``adapter_name``."""
    explicit = options.get("dataset")
    if explicit:
        return str(explicit)
    return f"{adapter_name}-db{database}" if database is not None else adapter_name


def compile_path_pattern(pattern: str | None, option: str = "pattern") -> re.Pattern[str] | None:
    """Compile a path regex with named groups (``subject``, ``session``, ``trial``...)."""
    if pattern is None:
        return None
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"option {option!r} is not a valid regular expression: {exc}") from None
    if not rx.groupindex:
        raise ConfigError(
            f"option {option!r} has no named groups; "
            "use e.g. 'S(?P<subject>\\d+)_(?P<session>\\d+)'"
        )
    return rx


def fields_from_path(rx: re.Pattern[str] | None, key: str, path: Path) -> dict[str, str]:
    """Named groups of ``rx`` searched in ``key`` (a relative path); SourceError if no match."""
    if rx is None:
        return {}
    m = rx.search(key)
    if m is None:
        raise SourceError(path, f"file path {key!r} does not match pattern {rx.pattern!r}")
    return {k: v for k, v in m.groupdict().items() if v is not None}


# ---------------------------------------------------------------------------- time stamps
# The adapter contract's rule for sources that carry time stamps: check them (monotonic,
# regular within a stated tolerance, consistent with the declared rate). An irregular
# clock, a gap or a duplicated row is either handled by a recorded transform (the
# recording's ``meta["clock_transform"]`` says what was done, ``meta["clock_*"]`` the
# source clock's facts) or a SourceError naming the file: never stored as a regular rate.

#: default tolerance on one step, as a fraction of the sample period: a step within
#: (1 +- STEP_TOLERANCE) periods is jitter; a longer one is a gap, a shorter one (or 0) a
#: duplicated or foreign row
STEP_TOLERANCE = 0.5
#: default tolerance on the rate the time stamps imply, (n - 1) / span, against the declared
#: rate (relative): 1 % is 36 s of drift over an hour, already more than any label allows
RATE_TOLERANCE = 0.01


@dataclass(frozen=True)
class ClockStats:
    """Facts of a source's time stamps [s]: count, span, steps and the rate they imply."""

    n: int
    span_s: float
    median_step_s: float
    min_step_s: float
    max_step_s: float
    #: (n - 1) / span [Hz]
    effective_fs: float
    #: steps of 0 s (two rows stamped alike)
    zero_steps: int

    def meta(self) -> dict[str, str]:
        """The facts as ``Recording.meta`` entries (``clock_*`` keys, text)."""
        return {
            "clock_n": str(self.n),
            "clock_span_s": f"{self.span_s:.9g}",
            "clock_median_step_s": f"{self.median_step_s:.9g}",
            "clock_min_step_s": f"{self.min_step_s:.9g}",
            "clock_max_step_s": f"{self.max_step_s:.9g}",
            "clock_effective_fs_hz": f"{self.effective_fs:.9g}",
            "clock_zero_steps": str(self.zero_steps),
        }


def clock_stats(path: Path, t_s: np.ndarray, *, what: str = "time stamps") -> ClockStats:
    """Facts of the time stamps ``t_s`` [s] of ``path``; SourceError naming the file when
    there are fewer than 2, one is not finite, or they decrease (steps of 0 are counted,
    not refused: a caller that cannot handle them uses :func:`check_regular_clock`)."""
    t = np.asarray(t_s, dtype=np.float64).ravel()
    if t.size < 2:
        raise SourceError(path, f"{what}: only {t.size} value(s), need at least 2")
    bad = ~np.isfinite(t)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise SourceError(path, f"{what}: value {t[k]} at sample {k} is not finite")
    steps = np.diff(t)
    if np.any(steps < 0):
        k = int(np.flatnonzero(steps < 0)[0]) + 1
        raise SourceError(
            path,
            f"{what}: stamp {k} ({t[k]:.9g}) is earlier than stamp {k - 1} ({t[k - 1]:.9g}): "
            "the clock goes back",
        )
    span = float(t[-1] - t[0])
    if span <= 0:
        raise SourceError(
            path, f"{what}: all {t.size} stamps are {t[0]:.9g}: the clock does not advance"
        )
    return ClockStats(
        n=int(t.size),
        span_s=span,
        median_step_s=float(np.median(steps)),
        min_step_s=float(steps.min()),
        max_step_s=float(steps.max()),
        effective_fs=(t.size - 1) / span,
        zero_steps=int(np.count_nonzero(steps == 0)),
    )


def check_regular_clock(
    path: Path,
    t_s: np.ndarray,
    fs: float,
    *,
    step_tolerance: float = STEP_TOLERANCE,
    rate_tolerance: float = RATE_TOLERANCE,
    what: str = "time stamps",
) -> ClockStats:
    """Check that the time stamps ``t_s`` [s] of ``path`` are a regular clock at ``fs`` [Hz].

    SourceError naming the file and the first offending sample when they are not
    monotonic (:func:`clock_stats`), when their median step is not ``1 / fs`` within
    ``step_tolerance`` (the declared rate is wrong), when two rows share a stamp (a
    duplicated row), when a step leaves ``(1 +- step_tolerance) / fs`` (a gap, or an
    irregular clock), or when the rate they imply, ``(n - 1) / span``, differs from ``fs``
    by more than ``rate_tolerance`` (relative). Returns the clock's facts.
    """
    stats = clock_stats(path, t_s, what=what)
    t = np.asarray(t_s, dtype=np.float64).ravel()
    steps = np.diff(t)
    period = 1.0 / fs
    if abs(stats.median_step_s / period - 1.0) > step_tolerance:
        raise SourceError(
            path,
            f"{what}: median step {stats.median_step_s:.6g} s does not match {fs:g} Hz "
            f"(expected {period:.6g} s): the declared rate is not this clock's",
        )
    if stats.zero_steps:
        k = int(np.flatnonzero(steps == 0)[0]) + 1
        raise SourceError(
            path,
            f"{what}: sample {k} repeats the stamp {t[k]:.9g} of sample {k - 1} "
            f"({stats.zero_steps} such step(s)): duplicated rows",
        )
    long = steps > (1.0 + step_tolerance) * period
    if long.any():
        k = int(np.flatnonzero(long)[0])
        raise SourceError(
            path,
            f"{what}: gap of {steps[k]:.6g} s ({steps[k] / period:.3g} sample periods at "
            f"{fs:g} Hz) after sample {k} ({int(long.sum())} gap(s)); missing samples",
        )
    short = steps < (1.0 - step_tolerance) * period
    if short.any():
        k = int(np.flatnonzero(short)[0])
        raise SourceError(
            path,
            f"{what}: irregular clock, step of {steps[k]:.6g} s after sample {k} "
            f"({int(short.sum())} step(s) under {1.0 - step_tolerance:g} of the "
            f"{period:.6g} s period at {fs:g} Hz)",
        )
    if abs(stats.effective_fs / fs - 1.0) > rate_tolerance:
        raise SourceError(
            path,
            f"{what}: {stats.n} samples span {stats.span_s:.6g} s, an effective rate of "
            f"{stats.effective_fs:.6g} Hz, not the declared {fs:g} Hz "
            f"(tolerance {rate_tolerance:.3g})",
        )
    return stats


def hold_on_grid(t_s: np.ndarray, fs: float) -> np.ndarray:
    """Row indices that put irregularly stamped rows onto a regular grid at ``fs`` [Hz] by
    zero-order hold: grid point ``k`` (time ``t[0] + k / fs``, ``k = 0 .. floor(span * fs)``)
    takes the last row stamped at or before it. Rows sharing a stamp keep the last one;
    a longer step repeats the row before it. ``t_s`` must be monotonic (:func:`clock_stats`).
    """
    t = np.asarray(t_s, dtype=np.float64).ravel()
    n_grid = int(np.floor((t[-1] - t[0]) * fs + 1e-6)) + 1
    grid = t[0] + np.arange(n_grid, dtype=np.float64) / fs
    # a millionth of a period of slack: stamps on the grid (integer ms) survive rounding
    return np.searchsorted(t, grid + 1e-6 / fs, side="right") - 1


# ---------------------------------------------------------------------------- labels


def events_from_labels(
    labels: np.ndarray,
    fs: float,
    *,
    names: Mapping[Any, str] | None = None,
    rest: Iterable[Any] = (),
    ignore: Iterable[Any] = (),
) -> list[Event]:
    """Run-length encode a per-sample label vector into events [s], in time order.

    Values are compared by their text, so ``{1: "fist"}`` and ``{"1": "fist"}`` both work.
    ``names`` maps label values to names (default ``str(value)``); values in ``rest`` become
    ``kind="rest"`` events labelled ``rest``; values in ``ignore`` (e.g. -1 "unused") make
    no event. Repetition is counted per label: the k-th run of a label has ``repetition=k``.
    """
    labels = np.asarray(labels).ravel()
    if labels.size == 0:
        return []
    rest_set, ignore_set = {str(v) for v in rest}, {str(v) for v in ignore}
    name_of = {str(k): v for k, v in (names or {}).items()}
    change = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [labels.size]))
    counts: dict[Any, int] = {}
    events: list[Event] = []
    for s, e in zip(starts, ends, strict=True):
        value = labels[s].item()
        text = str(value)
        if text in ignore_set:
            continue
        rep = counts.get(value, 0)
        counts[value] = rep + 1
        if text in rest_set:
            label, kind = "rest", "rest"
        else:
            label, kind = name_of.get(text, text), "gesture"
        events.append(
            Event(
                onset=float(s / fs),
                duration=float((e - s) / fs),
                label=label,
                repetition=rep,
                kind=kind,
            )
        )
    return events


def whole_recording_event(
    duration_s: float, label: str, repetition: int | None, *, rest: bool
) -> Event:
    """The one event of a recording that holds a single gesture or rest, from 0 to
    ``duration_s`` [s]: labelled ``rest`` of kind ``rest`` when ``rest``, else ``label`` of
    kind ``gesture``."""
    return Event(
        onset=0.0,
        duration=duration_s,
        label="rest" if rest else label,
        repetition=repetition,
        kind="rest" if rest else "gesture",
    )
