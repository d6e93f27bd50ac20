"""OTBiolab+ MATLAB exports (``otb``): HD-EMG grids from OT Bioelettronica amplifiers.

**Format.** OTBiolab+ (OT Bioelettronica's acquisition software) exports a recording as a
MATLAB v5 ``.mat`` with ``Data`` (1x1 cell holding an n_samples x n_columns float array),
``Description`` (n_columns x 1 cell of column labels), ``SamplingFrequency`` [Hz],
``Time`` (1x1 cell, n_samples x 1 [s]) and ``OTBFile``. A column label reads
``<muscle> - <input> (Channel a->b) - <grid code> (<electrode>)[<units>]``, e.g.
``Vastus Lateralis - AUX 3 (Channel 1->1) - GR08MM1305 (1)[uV]``; decomposition outputs
read ``... Decomposition of ...[a.u]`` / ``Source for decomposition of ...[a.u]``; the
auxiliary force input reads ``acquired data[ %(MVC)]``.

**Harmonization.** Every column is kept; its type comes from its label: voltage units
(uV, mV, V) without "Decomposition"/"Source for decomposition" -> ``EMG``; ``%(MVC)``
-> ``FORCE``; anything else (MU pulse trains, sources, other aux) -> ``MISC``. Units are
normalised (``[a.u]`` -> ``a.u.``, ``[ %(MVC)]`` -> ``%MVC``); samples stay float as
stored (``gain = 1``). The grid code ``GRppMMrrcc`` gives pitch ``pp`` mm and an
``rr x cc`` grid (``GR100ML1305``: 2.5 mm, per openhdemg's electrode table); EMG
channels get ``system="grid"`` positions with ``pitch_mm`` and ``grid_name``, and for
GR08MM1305 / GR04MM1305 also the (row, col) of their electrode number in the grid's own
frame as openhdemg documents it (``sort_rawemg``, orientation 180: column 0 = electrodes
-,1..12; column 1 = 25..13; column 2 = 26..38; column 3 = 51..39; column 4 = 52..64, row 0
at the top). How the grid lay on the muscle is not in the file. ``target_muscle`` is the
label's first part; ``high_cutoff`` = fs/2 (the amplifier band is not in the export).
``Time``, when present, must hold one stamp per sample and pass the contract's clock rule
(:func:`adapters._common.check_regular_clock`: monotonic, no repeated stamp, steps within
0.5-1.5 periods of ``SamplingFrequency``, implied rate within 1 %), else SourceError;
``meta["clock_*"]`` keeps its facts, ``meta["time_offset_s"]`` its first value.

**Identity.** subject/session/trial from option ``pattern`` (regex with named groups
searched in the file's relative path), else options ``subject`` / ``session`` (default
``"1"``), else the file stem; trial = file stem. No labels (OTB exports carry none);
option ``fs`` [Hz], if given, must equal the file's ``SamplingFrequency``.

**Held example** (``../shared/data/openhdemg_otb/MANIFEST.md``): openhdemg's sample file
(openhdemg 0.1.2, GPL-3.0), one isometric force-tracking recording, vastus lateralis,
GR08MM1305, 2048 Hz, 66560 x 75: columns 0-63 EMG [uV], 64-67 MU pulse trains, 68
decomposition summary, 69-72 MU sources, 73 source summary, 74 force [%MVC]. Citation
(openhdemg): Valli et al., "openhdemg - An open-source Python library for the analysis
of high-density surface electromyography", J Electromyogr Kinesiol 2024.
URL: https://github.com/GiacomoValliPhD/openhdemg , https://otbioelettronica.it
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import numpy as np

from adapters._common import (
    check_finite,
    check_regular_clock,
    compile_path_pattern,
    fields_from_path,
    glob_units,
    load_mat,
    mat_number,
    mat_variable,
    normalize_units,
    nyquist,
    option_positive_float,
    option_str,
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

_GRID_RX = re.compile(r"\b((?:GR|HD)(\d{2,3})(MM|ML)(\d{2})(\d{2}))\b")
_LABEL_RX = re.compile(r"^(?P<body>.*?)\s*\[(?P<units>[^\]]*)\]\s*$")
_ELECTRODE_RX = re.compile(r"\((\d+)\)\s*$")
_VOLT_UNITS = {"uV", "mV", "V"}
#: pitch [mm] of grids whose code does not spell it in mm (openhdemg electrode table)
_PITCH_EXCEPTIONS = {"GR100ML1305": 2.5}


def _gr1305_layout() -> dict[int, tuple[int, int]]:
    """Electrode number (1-based) -> (row, col) of a 13x5 OTB grid (openhdemg, 180 deg)."""
    out: dict[int, tuple[int, int]] = {}
    for row in range(13):
        if row > 0:
            out[row] = (row, 0)
        out[25 - row] = (row, 1)
        out[26 + row] = (row, 2)
        out[51 - row] = (row, 3)
        out[52 + row] = (row, 4)
    return out


GRID_LAYOUTS: dict[str, dict[int, tuple[int, int]]] = {
    "GR08MM1305": _gr1305_layout(),
    "GR04MM1305": _gr1305_layout(),
}


def grid_pitch_mm(code: str) -> float | None:
    """Inter-electrode distance [mm] of an OTB grid code (``GR08MM1305`` -> 8.0)."""
    if code in _PITCH_EXCEPTIONS:
        return _PITCH_EXCEPTIONS[code]
    m = _GRID_RX.search(code)
    if m is None or m.group(3) != "MM":
        return None
    return float(int(m.group(2)))


def otb_channel(label: str, fs: float) -> ChannelInfo:
    """ChannelInfo of one OTBiolab+ column from its ``Description`` label."""
    m = _LABEL_RX.match(label)
    body, raw_units = (m.group("body"), m.group("units")) if m else (label.strip(), "")
    units = normalize_units(raw_units.replace("%(MVC)", "%MVC").replace(" ", ""))
    lowered = body.lower()
    is_derived = "decomposition" in lowered
    if units in _VOLT_UNITS and not is_derived:
        ctype = "EMG"
    elif "MVC" in units:
        ctype = "FORCE"
    else:
        ctype = "MISC"
    grid = _GRID_RX.search(body)
    position = ElectrodePosition()
    pitch = None
    muscle = None
    group = None
    name = body
    if ctype == "EMG":
        muscle = body.split(" - ")[0].strip() or None
        if grid is not None:
            code = grid.group(1)
            pitch = grid_pitch_mm(code)
            group = code
            e = _ELECTRODE_RX.search(body)
            row = col = None
            if e is not None:
                name = f"{code}-{int(e.group(1))}"
                if code in GRID_LAYOUTS:
                    row, col = GRID_LAYOUTS[code].get(int(e.group(1)), (None, None))
            position = ElectrodePosition(
                system="grid", row=row, col=col, pitch_mm=pitch, grid_name=code
            )
    return ChannelInfo(
        name=name,
        type=ctype,
        units=units,
        position=position,
        group=group,
        target_muscle=muscle,
        placement_scheme="grid" if grid is not None and ctype == "EMG" else None,
        placement_description=label.strip(),
        interelectrode_distance=pitch,
        high_cutoff=nyquist(fs),
    )


def unique_names(channels: list[ChannelInfo]) -> list[ChannelInfo]:
    """Channels with repeated names suffixed ``#2``, ``#3``... so every name is unique."""
    seen: dict[str, int] = {}
    out = []
    for ch in channels:
        n = seen.get(ch.name, 0) + 1
        seen[ch.name] = n
        out.append(ch if n == 1 else dataclasses.replace(ch, name=f"{ch.name}#{n}"))
    return out


def _cell_array(value: Any, path: Path, name: str) -> np.ndarray:
    a = value
    while isinstance(a, np.ndarray) and a.dtype == object and a.size == 1:
        a = a.flat[0]
    a = np.asarray(a)
    if a.ndim != 2 or not np.issubdtype(a.dtype, np.number):
        raise SourceError(path, f"{name} is not a 2-D numeric array (found shape {a.shape})")
    return a


def _labels(value: Any) -> list[str]:
    out = []
    for item in np.asarray(value, dtype=object).ravel():
        while isinstance(item, np.ndarray) and item.size >= 1 and item.dtype == object:
            item = item.flat[0]
        if isinstance(item, np.ndarray):
            item = item.flat[0] if item.size else ""
        out.append(str(item))
    return out


class OtbAdapter(Adapter):
    """OTBiolab+ ``.mat`` exports: one recording per file."""

    name = "otb"
    version = "1"
    reads_time_stamps = True
    summary = "OTBiolab+ .mat exports (HD-EMG grids + aux), EMG told apart by Description"

    def __init__(self, source: str | Path, **options: Any) -> None:
        super().__init__(source, **options)
        self._pattern = compile_path_pattern(option_str(options, "pattern"))
        self._fs = option_positive_float(options, "fs", "Hz")

    def discover(self) -> list[SourceUnit]:
        return glob_units(self.source, option_str(self.options, "glob", "**/*.mat") or "**/*.mat")

    def read(self, unit: SourceUnit) -> Recording:
        path = unit.files[0]
        mat = load_mat(path)
        data = _cell_array(mat_variable(mat, "Data", path), path, "Data")
        labels = _labels(mat_variable(mat, "Description", path))
        fs = mat_number(mat, "SamplingFrequency", path)
        if not fs > 0:
            raise SourceError(path, f"SamplingFrequency must be > 0 Hz, got {fs:g}")
        if self._fs is not None and self._fs != fs:
            raise SourceError(path, f"option fs={self._fs:g} Hz contradicts the file's {fs:g} Hz")
        if data.shape[1] != len(labels):
            raise SourceError(
                path, f"Data has {data.shape[1]} columns but Description has {len(labels)} labels"
            )
        check_finite(data, path)
        fields = fields_from_path(self._pattern, unit.key, path)
        subject = fields.get("subject") or option_str(self.options, "subject") or path.stem
        session = fields.get("session") or option_str(self.options, "session", "1") or "1"
        meta: dict[str, str] = {}
        if "Time" in mat:
            t = _cell_array(mat["Time"], path, "Time").ravel()
            if t.size != data.shape[0]:
                raise SourceError(
                    path, f"Time has {t.size} values but Data has {data.shape[0]} samples"
                )
            meta.update(check_regular_clock(path, t, fs, what="Time").meta())
            meta["time_offset_s"] = f"{float(t[0]):g}"
        if "OTBFile" in mat:
            meta["otb_file"] = " ".join(_labels(mat["OTBFile"]))
        return Recording(
            dataset=self.dataset,
            subject=subject,
            session=session,
            trial=fields.get("trial") or path.stem,
            device=option_str(self.options, "device", "OT Bioelettronica (OTBiolab+ export)")
            or "n/a",
            fs=fs,
            channels=unique_names([otb_channel(label, fs) for label in labels]),
            samples=np.ascontiguousarray(data),
            events=[],
            sources=[SourceFile(path=unit.key)],
            meta=meta,
        )
