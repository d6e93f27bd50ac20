"""Any CSV/text dataset, driven by a small mapping (``csv``): no code per dataset.

Options (CLI ``--option key=value``; YAML mapping file keys become the same options):

- ``fs`` [Hz] (required, > 0);
- ``columns``: sample columns, by header name (``header=true``) or 0-based index;
  default every column except the ``labels`` column;
- ``labels``: the column holding a per-sample label (name or index); runs of equal labels
  become events, with ``label_names`` (``1:fist,2:open`` or a mapping), ``rest_label`` and
  ``ignore_label`` (values that are rest / make no event);
- ``header`` (default false: the first row is data), ``delimiter`` (default ``,``);
- ``units`` (default ``n/a``; ``mv`` -> ``mV``, ``µV`` -> ``uV``), ``gain``/``offset``
  (physical = (stored - offset) * gain), ``channels`` (names; count must match the sample
  columns), ``channel_type`` (default ``EMG``), ``device``;
- ``pattern``: regex with named groups ``subject``/``session``/``trial`` searched in the
  file's path relative to the source, e.g. ``S(?P<subject>\\d+)_(?P<session>\\d+)``; else
  ``subject``/``session`` constants; defaults subject = trial = file stem, session 1;
- ``glob``: which files (default ``**/*.csv``);
- ``time``: a column of time stamps (name or index; not a sample column), in
  ``time_units`` (``s`` default, ``ms``, ``us``): checked against ``fs`` by the contract's
  clock rule (:func:`adapters._common.check_regular_clock`: monotonic, no repeated stamp,
  steps within 0.5-1.5 periods, implied rate within 1 %); an irregular, gapped or
  duplicated clock is a SourceError naming the file, never stored as ``fs``.

Sample columns holding only whole numbers are stored as int32 (text integer ADC counts
stay lossless); otherwise float64. An unknown column or a ``channels`` count that does
not match is a ConfigError; an empty file, a non-numeric or missing value, NaN/inf, or
a ragged row is a SourceError naming the file (and row/column where known).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np

from adapters._common import (
    as_integer_if_exact,
    check_finite,
    check_nonempty,
    option_bool,
    option_str,
)
from adapters._mapped import MappedAdapter, check_mapped_clock, label_events
from emgcorpus.errors import ConfigError, SourceError
from emgcorpus.recording import Recording, SourceUnit


def read_table(path: Path, *, header: bool, delimiter: str) -> tuple[list[str], list[np.ndarray]]:
    """Column names and columns (as text arrays) of a delimited text file."""
    import polars as pl

    check_nonempty(path)
    try:
        df = pl.read_csv(
            path,
            has_header=header,
            separator=delimiter,
            infer_schema=False,
            truncate_ragged_lines=False,
        )
    except Exception as exc:  # polars raises ComputeError/NoDataError/... on malformed text
        raise SourceError(path, f"not a readable CSV ({type(exc).__name__}: {exc})") from None
    if df.height == 0:
        raise SourceError(path, "CSV has no data rows")
    return list(df.columns), [df[c].to_numpy() for c in df.columns]


def _column_index(spec: str, names: list[str], header: bool, option: str, path: Path) -> int:
    if header and spec in names:
        return names.index(spec)
    if spec.lstrip("-").isdigit():
        k = int(spec)
        if 0 <= k < len(names):
            return k
        raise ConfigError(
            f"option {option}: column {k} out of range in {path} ({len(names)} columns)"
        )
    present = ", ".join(names) if header else f"0..{len(names) - 1}"
    raise ConfigError(f"option {option}: no column {spec!r} in {path}; columns present: {present}")


def _numeric(col: np.ndarray, name: str, path: Path) -> np.ndarray:
    out = np.empty(col.shape[0], dtype=np.float64)
    for i, v in enumerate(col):
        text = "" if v is None else str(v).strip()
        try:
            out[i] = float(text)
        except ValueError:
            what = "missing value" if not text else f"non-numeric value {text!r}"
            raise SourceError(path, f"{what} in column {name!r}, row {i}") from None
    return out


class CsvAdapter(MappedAdapter):
    """Generic delimited text files mapped by options: one recording per file."""

    name = "csv"
    version = "1"
    summary = "any CSV/text dataset, mapped by options (columns, fs, units, labels, pattern)"
    default_glob = "**/*.csv"

    def __init__(self, source: str | Path, **options: Any) -> None:
        super().__init__(source, **options)
        self._header = option_bool(options, "header", False)
        self._delimiter = option_str(options, "delimiter", ",") or ","
        if len(self._delimiter) != 1:
            raise ConfigError(f"option 'delimiter' must be one character, got {self._delimiter!r}")

    def read(self, unit: SourceUnit) -> Recording:
        m = self.mapping
        path = unit.files[0]
        names, cols = read_table(path, header=self._header, delimiter=self._delimiter)
        label_idx = (
            _column_index(m.labels, names, self._header, "labels", path) if m.labels else None
        )
        time_idx = _column_index(m.time, names, self._header, "time", path) if m.time else None
        if m.columns:
            idx = [_column_index(c, names, self._header, "columns", path) for c in m.columns]
        else:
            idx = [k for k in range(len(names)) if k not in (label_idx, time_idx)]
        if not idx:
            raise ConfigError(f"no sample columns left in {path} (option columns)")
        x = np.column_stack([_numeric(cols[k], names[k], path) for k in idx])
        samples = as_integer_if_exact(check_finite(x, path), "int32")
        fs = float(m.fs or 0.0)
        meta = {}
        if time_idx is not None:
            stamps = _numeric(cols[time_idx], names[time_idx], path)
            meta = check_mapped_clock(m, stamps, samples.shape[0], fs, path)
        events = []
        if label_idx is not None:
            raw_labels = np.array(["" if v is None else str(v).strip() for v in cols[label_idx]])
            if np.any(raw_labels == ""):
                row = int(np.flatnonzero(raw_labels == "")[0])
                raise SourceError(path, f"missing label in column {names[label_idx]!r}, row {row}")
            labels: np.ndarray = raw_labels
            with contextlib.suppress(ValueError):  # text labels stay text
                labels = as_integer_if_exact(raw_labels.astype(np.float64), "int64")
            events = label_events(m, labels, samples.shape[0], fs, path)
        default_names = (
            [names[k] for k in idx] if self._header else [f"ch{k + 1}" for k in range(len(idx))]
        )
        return self.mapped_recording(unit, samples, fs, events, default_names, meta)
