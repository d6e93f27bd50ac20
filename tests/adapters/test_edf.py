"""EDF/BDF adapter on tiny files written byte by byte per the EDF/BDF specification."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adapters.edf import EdfAdapter
from emgcorpus.errors import ConfigError, SourceError
from tests.adapters.contract_sources.edf import write_edf


def test_edf_values_units_and_selection(tmp_path: Path) -> None:
    x = np.tile(np.array([[1, -2, 300]]), (1000, 1))
    # physical range equal to the digital range: 1 digital unit = 1 uV
    write_edf(
        tmp_path / "a.edf",
        x,
        ["EMG FDS", "EMG EDC", "Temp"],
        fs=500.0,
        phys_dim=["uV", "mV", "degC"],
        phys_range=(-32768, 32767),
    )
    rec = EdfAdapter(tmp_path).read(EdfAdapter(tmp_path).discover()[0])
    assert rec.fs == 500.0 and rec.n_samples == 1000
    assert [c.name for c in rec.channels] == ["FDS", "EDC"]  # typed EMG by their labels
    assert all(c.units == "uV" for c in rec.channels)
    assert np.allclose(rec.samples[0], [1.0, -2000.0])  # mV channel converted to uV
    picked = EdfAdapter(tmp_path, channels="Temp")
    rec = picked.read(picked.discover()[0])
    # MNE reports units it does not know (degC) as n/a and leaves the values unscaled
    assert rec.channels[0].units == "n/a" and np.allclose(rec.samples[:, 0], 300.0)


def test_bdf_24_bit(tmp_path: Path) -> None:
    x = np.array([[2**22, -(2**22)]] * 256)
    write_edf(
        tmp_path / "a.bdf",
        x,
        ["EMG A", "EMG B"],
        fs=256.0,
        bdf=True,
        phys_range=(-(2**23), 2**23 - 1),
    )
    rec = EdfAdapter(tmp_path).read(EdfAdapter(tmp_path).discover()[0])
    assert np.allclose(rec.samples[0], [2**22, -(2**22)])


def test_prefilter_sets_cutoffs(tmp_path: Path) -> None:
    x = np.zeros((500, 1), dtype=int)
    write_edf(tmp_path / "a.edf", x, ["EMG A"], fs=500.0, prefilter="HP:20Hz LP:200Hz")
    ch = EdfAdapter(tmp_path).read(EdfAdapter(tmp_path).discover()[0]).channels[0]
    assert (ch.low_cutoff, ch.high_cutoff) == (20.0, 200.0)


def test_faults(tmp_path: Path) -> None:
    x = np.zeros((500, 1), dtype=int)
    write_edf(tmp_path / "a.edf", x, ["Chin"], fs=500.0)
    a = EdfAdapter(tmp_path)
    with pytest.raises(SourceError, match="no channel is typed EMG"):
        a.read(a.discover()[0])
    with pytest.raises(SourceError, match="not in the file"):
        EdfAdapter(tmp_path, channels="Nope").read(a.discover()[0])
    with pytest.raises(SourceError, match="contradicts"):
        EdfAdapter(tmp_path, channels="Chin", fs="1000").read(a.discover()[0])
    with pytest.raises(ConfigError, match="fs"):
        EdfAdapter(tmp_path, fs="-1")
    (tmp_path / "b.edf").write_bytes(b"")
    (tmp_path / "c.edf").write_bytes(b"0       garbage")
    _, ub, uc = a.discover()
    with pytest.raises(SourceError, match="empty"):
        a.read(ub)
    with pytest.raises(SourceError, match="not a readable EDF"):
        a.read(uc)
