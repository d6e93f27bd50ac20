"""putEMG (``putemg``), read from its original HDF5 files with h5py only.

**Dataset.** 44 participants, 24-channel forearm sEMG during hand gestures, two sessions;
made by P. Kaczmarek, T. Mańkowski, J. Tomczyński (Poznań University of Technology).
Kaczmarek et al., "putEMG - a surface electromyography hand gesture recognition
dataset", Sensors 19(16):3548 (2019), doi:10.3390/s19163548. Licence: see
https://biolab.put.poznan.pl/putemg-dataset/ (CC BY-NC 4.0 as far as known; unverified).

**Device.** MEBAM multichannel amplifier, 12-bit ADC, 24 monopolar electrodes in 3 bands
of 8 around the forearm (45 deg apart), 5120 Hz. Channels ``EMG_1..EMG_24``; band
``b = (k - 1) // 8`` (group ``band1..band3``), ``angle_deg = 45 * ((k - 1) % 8)``. Which
band is nearest the elbow is not stated in the sources used here (``along_mm`` ``None``).
Values are ADC counts; physical value [uV] = counts * 5 V / 4096 / 200 (gain) * 1e6 =
counts * 6.103515625 uV, as public putEMG loaders convert them (``gain`` below).

**Format.** ``emg_gestures-<subject>-<trajectory>-<date>-<time>.hdf5`` (trajectory
``sequential``, ``repeats_short``, ``repeats_long``), written by ``pandas.DataFrame.to_hdf``
(PyTables). Columns: ``EMG_1..EMG_24``, ``TRAJ_1``, ``TRAJ_GT_NO_FILTER``, ``TRAJ_GT``,
``VIDEO_STAMP``, ``subject``, plus categoricals ``type``, ``trajectory`` and ``date_time``.
Both pandas layouts are read:

- *table* format: group ``/<key>`` (``data``) with compound dataset ``table`` whose fields
  ``values_block_N`` hold columns of one dtype; the column names of block N are the
  ``values_block_N_kind`` attribute (a pickled list of names, unpickled here with every
  class lookup refused). Without readable names a 29-wide block is taken in the order
  ``EMG_1..24, TRAJ_1, subject, TRAJ_GT_NO_FILTER, VIDEO_STAMP, TRAJ_GT`` (as inspected
  in a public h5py reader of the release).
- *fixed* format: ``/<key>/axis0`` (column names) and ``block<i>_items`` /
  ``block<i>_values``.

**Clock.** The DataFrame's index is the time [s] (the putemg_features README slices a
record by seconds, ``record[22.5:30.9]``): a float index (``table/index``, or ``axis1`` in
the fixed layout) is checked by the contract's clock rule
(:func:`adapters._common.check_regular_clock`: monotonic, no repeated stamp, steps within
0.5-1.5 periods, implied rate within 1 % of 5120 Hz), else SourceError naming the file;
``meta["clock_*"]`` keeps its facts. An integer index is a row number, not a clock (not
checked).

**Labels.** ``TRAJ_GT`` per sample (the filtered ground truth): -1 transition/unused (no
event), 0 idle (``rest``), 1 fist, 2 flexion, 3 extension, 6 pinch thumb-index,
7 pinch thumb-middle, 8 pinch thumb-ring, 9 pinch thumb-small (putemg_examples).

Facts from the putEMG paper and putemg-downloader / putemg_examples repositories.
"""

from __future__ import annotations

import io
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np

from adapters._common import (
    check_regular_clock,
    events_from_labels,
    glob_units,
    nyquist,
    open_hdf5,
)
from emgcorpus.errors import SourceError
from emgcorpus.recording import (
    Adapter,
    ChannelInfo,
    ElectrodePosition,
    Recording,
    SourceFile,
    SourceUnit,
)

FS_HZ = 5120.0
N_CHANNELS = 24
BAND_SIZE = 8
#: uV per ADC count: 5 V reference / 12-bit / amplifier gain 200
UV_PER_COUNT = 5.0 / 4096.0 / 200.0 * 1e6
EMG_COLUMNS = tuple(f"EMG_{k}" for k in range(1, N_CHANNELS + 1))
#: column order of the 29-wide block when its names cannot be read
FALLBACK_BLOCK = (*EMG_COLUMNS, "TRAJ_1", "subject", "TRAJ_GT_NO_FILTER", "VIDEO_STAMP", "TRAJ_GT")
GESTURES = {
    0: "idle",
    1: "fist",
    2: "flexion",
    3: "extension",
    6: "pinch thumb-index",
    7: "pinch thumb-middle",
    8: "pinch thumb-ring",
    9: "pinch thumb-small",
}
#: key of the DataFrame's index (time [s] in the release) among the columns read
INDEX = "__index__"
_FILE_RX = re.compile(
    r"^(?P<type>emg_gestures)-(?P<subject>\d{2})-(?P<trajectory>[a-z_]+)-"
    r"(?P<date>\d{4}-\d{2}-\d{2})-(?P<time>\d{2}-\d{2}-\d{2}-\d{3})\.hdf5$"
)


class _NoGlobals(pickle.Unpickler):
    """Unpickler that refuses every class/function lookup (plain lists/strings only)."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _names_from_attr(value: Any) -> list[str] | None:
    """Column names from a PyTables ``*_kind`` attribute, or None if not a pickled list."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "SUO":
        return [v.decode() if isinstance(v, bytes) else str(v) for v in value.ravel()]
    raw = value.tobytes() if isinstance(value, (np.void, np.ndarray)) else value
    if isinstance(raw, str):
        raw = raw.encode("latin-1")
    if not isinstance(raw, bytes):
        return None
    try:
        names = _NoGlobals(io.BytesIO(raw), encoding="latin-1").load()
    except Exception:
        return None
    if isinstance(names, (list, tuple)) and all(isinstance(n, (str, bytes)) for n in names):
        return [n.decode() if isinstance(n, bytes) else n for n in names]
    return None


def _read_table_format(path: Path, group: Any) -> dict[str, np.ndarray]:
    table = group["table"]
    try:
        records = table[()]
    except OSError as exc:
        raise SourceError(path, f"cannot read {group.name}/table (truncated?): {exc}") from None
    columns: dict[str, np.ndarray] = {}
    if "index" in (records.dtype.names or ()):
        columns[INDEX] = np.asarray(records["index"])
    for field in records.dtype.names or ():
        if not field.startswith("values_block_"):
            continue
        block = np.asarray(records[field])
        block = block.reshape(block.shape[0], -1)
        names = _names_from_attr(table.attrs.get(f"{field}_kind"))
        if names is None and block.shape[1] == len(FALLBACK_BLOCK):
            names = list(FALLBACK_BLOCK)
        if names is None:
            continue
        if len(names) != block.shape[1]:
            raise SourceError(
                path, f"{field} has {block.shape[1]} columns but {len(names)} column names"
            )
        columns.update({n: block[:, i] for i, n in enumerate(names)})
    return columns


def _read_fixed_format(path: Path, group: Any) -> dict[str, np.ndarray]:
    columns: dict[str, np.ndarray] = {}
    if "axis1" in group:
        columns[INDEX] = np.asarray(group["axis1"][()])
    i = 0
    while f"block{i}_items" in group:
        names = [
            n.decode() if isinstance(n, bytes) else str(n) for n in group[f"block{i}_items"][()]
        ]
        values = np.asarray(group[f"block{i}_values"][()])
        values = values.reshape(values.shape[0], -1)
        if values.shape[1] != len(names):
            raise SourceError(
                path, f"block{i} has {values.shape[1]} columns for {len(names)} names"
            )
        columns.update({n: values[:, j] for j, n in enumerate(names)})
        i += 1
    return columns


def read_putemg_columns(path: Path) -> dict[str, np.ndarray]:
    """Every readable numeric column of a putEMG HDF5 file, by name (h5py only)."""
    with open_hdf5(path) as h5:
        for key in h5:
            group = h5[key]
            if not hasattr(group, "keys"):
                continue
            if "table" in group:
                return _read_table_format(path, group)
            if "axis0" in group:
                return _read_fixed_format(path, group)
        raise SourceError(
            path,
            f"no pandas table (group/table) or fixed frame (group/axis0); top level: {list(h5)}",
        )


def putemg_channels() -> list[ChannelInfo]:
    """The 24 channels: 3 bands x 8 electrodes, ring positions, counts -> uV."""
    return [
        ChannelInfo(
            name=name,
            type="EMG",
            units="uV",
            gain=UV_PER_COUNT,
            position=ElectrodePosition(system="ring", angle_deg=45.0 * (k % BAND_SIZE)),
            group=f"band{k // BAND_SIZE + 1}",
            reference="monopolar",
            placement_scheme="armband",
            placement_description=f"band {k // BAND_SIZE + 1} of 3 around the forearm",
            high_cutoff=nyquist(FS_HZ),
        )
        for k, name in enumerate(EMG_COLUMNS)
    ]


class PutEmgAdapter(Adapter):
    """putEMG gestures: one recording per ``emg_gestures-*.hdf5`` file."""

    name = "putemg"
    version = "1"
    reads_time_stamps = True
    summary = "putEMG (24 ch in 3 bands, 5120 Hz, 8 gestures), original pandas HDF5 files"

    def discover(self) -> list[SourceUnit]:
        return glob_units(
            self.source,
            "**/emg_gestures-*.hdf5",
            expected="a folder of .hdf5 files",
            keep=lambda p: _FILE_RX.match(p.name) is not None,
        )

    def read(self, unit: SourceUnit) -> Recording:
        path = unit.files[0]
        m = _FILE_RX.match(path.name)
        if m is None:
            raise SourceError(
                path, "file name is not emg_gestures-<NN>-<trajectory>-<date>-<time>.hdf5"
            )
        columns = read_putemg_columns(path)
        missing = [c for c in (*EMG_COLUMNS, "TRAJ_GT") if c not in columns]
        if missing:
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise SourceError(path, f"missing column(s) {shown}")
        emg = np.stack([columns[c] for c in EMG_COLUMNS], axis=1)
        if np.issubdtype(emg.dtype, np.floating) and (
            not np.all(np.isfinite(emg)) or not np.array_equal(emg, np.round(emg))
        ):
            raise SourceError(path, "EMG columns are not whole ADC counts")
        emg = emg.astype(np.int16)
        meta = {"labels": "TRAJ_GT (filtered ground truth); -1 transitions dropped"}
        index = columns.get(INDEX)
        if index is not None and np.issubdtype(index.dtype, np.floating):
            if index.size != emg.shape[0]:
                raise SourceError(
                    path, f"index has {index.size} values but the EMG has {emg.shape[0]} rows"
                )
            meta.update(check_regular_clock(path, index, FS_HZ, what="index (time [s])").meta())
        labels = np.asarray(columns["TRAJ_GT"])
        if not np.array_equal(labels, np.round(labels)):
            raise SourceError(path, "TRAJ_GT holds non-integer values")
        labels = labels.astype(np.int64)
        unknown = sorted(set(np.unique(labels).tolist()) - set(GESTURES) - {-1})
        if unknown:
            raise SourceError(
                path, f"TRAJ_GT values {unknown} are not putEMG gesture codes {sorted(GESTURES)}"
            )
        if "subject" in columns:
            ids = np.unique(np.asarray(columns["subject"]))
            if ids.size != 1 or int(ids[0]) != int(m.group("subject")):
                raise SourceError(
                    path,
                    f"subject column holds {ids.tolist()}, file name says {m.group('subject')}",
                )
        return Recording(
            dataset=self.dataset,
            subject=m.group("subject"),
            session=m.group("date"),
            trial=f"{m.group('trajectory')}-{m.group('time')}",
            device="MEBAM 24-channel sEMG amplifier (putEMG)",
            fs=FS_HZ,
            channels=putemg_channels(),
            samples=emg,
            events=events_from_labels(labels, FS_HZ, names=GESTURES, rest=[0], ignore=[-1]),
            sources=[SourceFile(path=unit.key)],
            meta=meta,
        )
