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


def test_channel_labelled_exactly_emg_is_taken(tmp_path: Path) -> None:
    # MNE types "EMG" (no space after the type) as EEG; the adapter still takes it, and
    # "EMG1"/"emg_L", but not "EMGX" or "Temp", and says which channels it took and why
    x = np.tile(np.array([[5, 6, 7, 8, 9, 10]]), (500, 1))
    labels = ["EMG", "EMG1", "emg_L", "EMG Chin", "EMGX", "Temp"]
    write_edf(tmp_path / "a.edf", x, labels, fs=500.0, phys_range=(-32768, 32767))
    rec = EdfAdapter(tmp_path).read(EdfAdapter(tmp_path).discover()[0])
    assert [c.name for c in rec.channels] == ["EMG", "EMG1", "emg_L", "Chin"]
    assert all(c.type == "EMG" and c.units == "uV" for c in rec.channels)
    assert np.allclose(rec.samples[0], [5.0, 6.0, 7.0, 8.0])
    assert rec.meta["channels_taken"] == "EMG,EMG1,emg_L,Chin"
    assert rec.meta["channel_selection"].startswith("EMG: labelled EMG (MNE types it EEG)")
    assert "Chin: typed EMG by MNE" in rec.meta["channel_selection"]
    picked = EdfAdapter(tmp_path, channels="EMGX")
    assert picked.read(picked.discover()[0]).meta["channel_selection"] == "option channels"


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
