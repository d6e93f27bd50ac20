"""OTBiolab+ adapter on openhdemg's real export, plus small written exports and faults."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from adapters.otb import GRID_LAYOUTS, OtbAdapter, grid_pitch_mm
from emgcorpus.errors import SourceError
from tests.conftest import shared_data


def write_otb(path: Path, data: np.ndarray, labels: list[str], fs: float = 2048.0) -> Path:
    """A .mat laid out as OTBiolab+ exports it (Data/Time cells, Description cell column)."""
    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = data.astype(np.float32)
    desc = np.empty((len(labels), 1), dtype=object)
    for k, label in enumerate(labels):
        desc[k, 0] = label
    scipy.io.savemat(path, {"Data": cell, "Description": desc, "SamplingFrequency": fs})
    return path


def test_real_export_types_and_grid() -> None:
    root = shared_data("openhdemg_otb")
    a = OtbAdapter(root)
    (unit,) = a.discover()
    rec = a.read(unit)
    assert rec.fs == 2048.0 and rec.samples.shape == (66560, 75)
    types = [c.type for c in rec.channels]
    assert types[:64] == ["EMG"] * 64 and types[74] == "FORCE"
    assert set(types[64:74]) == {"MISC"}
    emg = rec.channels[:64]
    assert all(c.units == "uV" and c.position.pitch_mm == 8.0 for c in emg)
    assert all(c.target_muscle == "Vastus Lateralis" for c in emg)
    cells = {(c.position.row, c.position.col) for c in emg}
    assert len(cells) == 64 and (0, 0) not in cells  # 13x5 grid, one corner empty
    assert rec.channels[74].units == "%MVC"
    assert rec.meta["time_offset_s"] == "7"


def test_gr1305_layout_is_a_bijection() -> None:
    layout = GRID_LAYOUTS["GR08MM1305"]
    assert sorted(layout) == list(range(1, 65))
    assert len(set(layout.values())) == 64
    assert layout[1] == (1, 0) and layout[25] == (0, 1) and layout[64] == (12, 4)
    assert grid_pitch_mm("GR04MM1305") == 4.0 and grid_pitch_mm("GR100ML1305") == 2.5


def test_written_export_and_fs_option(tmp_path: Path) -> None:
    labels = [f"Biceps - MULTIPLE IN 1 - GR10MM0808 ({k})[mV]" for k in range(1, 4)]
    labels.append("acquired data[ %(MVC)]")
    data = np.random.default_rng(0).normal(size=(100, 4))
    write_otb(tmp_path / "S1.mat", data, labels, fs=1000.0)
    rec = OtbAdapter(tmp_path).read(OtbAdapter(tmp_path).discover()[0])
    assert [c.name for c in rec.channels[:3]] == ["GR10MM0808-1", "GR10MM0808-2", "GR10MM0808-3"]
    assert rec.channels[0].units == "mV" and rec.channels[0].position.pitch_mm == 10.0
    assert rec.channels[0].position.row is None  # no documented layout for this grid
    assert np.allclose(rec.samples, data.astype(np.float32))
    with pytest.raises(SourceError, match="contradicts"):
        OtbAdapter(tmp_path, fs="2048").read(OtbAdapter(tmp_path).discover()[0])


def test_description_count_mismatch(tmp_path: Path) -> None:
    write_otb(tmp_path / "bad.mat", np.zeros((10, 3)), ["a[uV]", "b[uV]"])
    with pytest.raises(SourceError, match="3 columns but Description has 2"):
        OtbAdapter(tmp_path).read(OtbAdapter(tmp_path).discover()[0])


def test_corrupt_and_empty_mat(tmp_path: Path) -> None:
    (tmp_path / "a.mat").write_bytes(np.random.default_rng(1).bytes(2000))
    (tmp_path / "b.mat").write_bytes(b"")
    a = OtbAdapter(tmp_path)
    ua, ub = a.discover()
    with pytest.raises(SourceError, match="not a readable MATLAB"):
        a.read(ua)
    with pytest.raises(SourceError, match="empty"):
        a.read(ub)
