"""Any MATLAB ``.mat`` dataset, driven by a small mapping (``mat``): no code per dataset.

Options (CLI ``--option key=value``; YAML mapping file keys become the same options):

- ``samples`` (required): variable holding the samples, ``n_samples x n_channels``
  (``transpose=true`` for ``n_channels x n_samples``; a vector is one channel);
- ``fs`` [Hz] (required unless ``fs_variable`` names a variable holding the rate; when
  both are given they must agree, else SourceError);
- ``units`` (default ``n/a``; ``mv`` -> ``mV``, ``µV`` -> ``uV``), ``gain``/``offset``
  (physical = (stored - offset) * gain, default 1 / 0), ``channels`` (names; their count
  must match the data), ``channel_type`` (default ``EMG``), ``device``;
- ``labels``: variable holding a per-sample label vector (its length must equal the
  sample count); runs of equal labels become events (:func:`adapters._common.events_from_labels`),
  with ``label_names`` (``1:fist,2:open`` or a mapping), ``rest_label`` (values that are
  rest, e.g. ``0``) and ``ignore_label`` (values that make no event, e.g. ``-1``);
- ``pattern``: regex with named groups ``subject``/``session``/``trial`` searched in the
  file's path relative to the source, e.g. ``S(?P<subject>\\d+)_(?P<session>\\d+)``;
  else ``subject``/``session`` constants; defaults subject = trial = file stem, session 1;
- ``glob``: which files (default ``**/*.mat``);
- ``time``: variable of time stamps (one per sample) in ``time_units`` (``s`` default,
  ``ms``, ``us``): checked against ``fs`` by the contract's clock rule
  (:func:`adapters._common.check_regular_clock`: monotonic, no repeated stamp, steps within
  0.5-1.5 periods, implied rate within 1 %); an irregular, gapped or duplicated clock is a
  SourceError naming the file, never stored as ``fs``.

Integer variables stay integers (lossless); float ones stay float. A variable that is
not in a file is a ConfigError listing the variables present (the mapping is wrong for the
dataset); a corrupt or empty file, non-finite samples or a label vector of the wrong length
are SourceErrors naming the file. MATLAB v7.3 (HDF5) files are not supported (scipy).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from adapters._common import check_finite, load_mat
from adapters._mapped import MappedAdapter, check_mapped_clock, label_events
from emgcorpus.errors import ConfigError, SourceError
from emgcorpus.recording import Recording, SourceUnit


def mat_variable_for_option(mat: dict[str, Any], name: str, option: str, path: Path) -> Any:
    """Variable ``name`` (named by option ``option``); ConfigError listing those present."""
    if name not in mat:
        present = ", ".join(sorted(k for k in mat if not k.startswith("__"))) or "none"
        raise ConfigError(
            f"option {option}={name!r}: no such variable in {path}; variables present: {present}"
        )
    return mat[name]


class MatAdapter(MappedAdapter):
    """Generic ``.mat`` files mapped by options: one recording per file."""

    name = "mat"
    version = "1"
    summary = "any MATLAB .mat dataset, mapped by options (samples, fs, units, labels, pattern)"
    default_glob = "**/*.mat"
    fs_variable_allowed = True

    def __init__(self, source: str | Path, **options: Any) -> None:
        super().__init__(source, **options)
        if not self.mapping.samples:
            raise ConfigError("option 'samples' is required: the variable holding the samples")

    def _fs(self, mat: dict[str, Any], path: Path) -> float:
        m = self.mapping
        if not m.fs_variable:
            if m.fs is None:  # parse_mapping_options guarantees one of them
                raise ConfigError("option 'fs' is required")
            return m.fs
        value = np.asarray(mat_variable_for_option(mat, m.fs_variable, "fs_variable", path))
        if value.size != 1 or not np.issubdtype(value.dtype, np.number):
            raise SourceError(path, f"{m.fs_variable} is not one number (shape {value.shape})")
        file_fs = float(value.flat[0])
        if not file_fs > 0:
            raise SourceError(path, f"{m.fs_variable} = {file_fs:g} Hz, expected > 0")
        if m.fs is not None and m.fs != file_fs:
            raise SourceError(
                path, f"option fs={m.fs:g} Hz contradicts {m.fs_variable} = {file_fs:g} Hz"
            )
        return file_fs

    def read(self, unit: SourceUnit) -> Recording:
        m = self.mapping
        path = unit.files[0]
        mat = load_mat(path)
        x = np.asarray(mat_variable_for_option(mat, m.samples or "", "samples", path))
        if x.dtype == object or not np.issubdtype(x.dtype, np.number):
            raise SourceError(path, f"{m.samples} is not a numeric array (dtype {x.dtype})")
        if x.ndim == 1 or (x.ndim == 2 and 1 in x.shape and not m.transpose):
            x = x.reshape(-1, 1)
        elif x.ndim == 2 and m.transpose:
            x = x.T
        elif x.ndim != 2:
            raise SourceError(path, f"{m.samples} has shape {x.shape}, expected 2-D")
        if x.shape[0] == 0:
            raise SourceError(path, f"{m.samples} holds no samples")
        if np.issubdtype(x.dtype, np.complexfloating):
            raise SourceError(path, f"{m.samples} is complex")
        samples = check_finite(np.ascontiguousarray(x), path)
        fs = self._fs(mat, path)
        meta = {}
        if m.time:
            stamps = np.asarray(mat_variable_for_option(mat, m.time, "time", path))
            if not np.issubdtype(stamps.dtype, np.number) or np.iscomplexobj(stamps):
                raise SourceError(path, f"{m.time} is not a real numeric array")
            meta = check_mapped_clock(m, stamps, samples.shape[0], fs, path)
        events = []
        if m.labels:
            labels = np.asarray(mat_variable_for_option(mat, m.labels, "labels", path))
            events = label_events(m, labels, samples.shape[0], fs, path)
        names = [f"{m.samples}{k + 1}" for k in range(samples.shape[1])]
        return self.mapped_recording(unit, samples, fs, events, names, meta)
