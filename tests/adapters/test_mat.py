"""Generic mapped .mat adapter: mapping validation, labels, identity, faults."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from adapters._common import load_mat
from adapters.mat_mapped import MatAdapter
from emgcorpus.errors import ConfigError, SourceError
from tests.adapters.contract_sources.mat import MAT_OPTIONS, write_mat_files


def test_samples_labels_and_identity(tmp_path: Path) -> None:
    write_mat_files(tmp_path)
    a = MatAdapter(tmp_path, **MAT_OPTIONS)
    units = a.discover()
    rec = a.read(units[1])
    assert (rec.subject, rec.session, rec.trial) == ("2", "2", "S2_2")
    assert rec.samples.dtype == np.int16 and rec.samples.shape == (600, 4)
    assert rec.fs == 1000.0 and rec.channels[0].units == "mV"
    labels = [e.label for e in rec.events]
    assert labels == ["rest", "fist", "rest", "open", "rest", "fist"]
    assert [e.repetition for e in rec.events if e.label == "fist"] == [0, 1]
    assert rec.events[1].onset == pytest.approx(0.1) and rec.events[1].duration == pytest.approx(
        0.1
    )


def test_mapping_validation(tmp_path: Path) -> None:
    write_mat_files(tmp_path, n_files=1)
    with pytest.raises(ConfigError, match="'fs' is required"):
        MatAdapter(tmp_path, samples="emg")
    with pytest.raises(ConfigError, match="> 0"):
        MatAdapter(tmp_path, samples="emg", fs="0")
    with pytest.raises(ConfigError, match="'samples' is required"):
        MatAdapter(tmp_path, fs="1000")
    a = MatAdapter(tmp_path, samples="EMG", fs="1000")
    with pytest.raises(ConfigError, match="variables present: emg, frequency, stimulus"):
        a.read(a.discover()[0])
    b = MatAdapter(tmp_path, samples="emg", fs="1000", channels="a,b")
    with pytest.raises(ConfigError, match="2 names but the data has 4 channels"):
        b.read(b.discover()[0])


def test_fs_contradicting_file_rate(tmp_path: Path) -> None:
    write_mat_files(tmp_path, n_files=1)
    a = MatAdapter(tmp_path, samples="emg", fs="2000", fs_variable="frequency")
    with pytest.raises(SourceError, match="contradicts frequency = 1000 Hz"):
        a.read(a.discover()[0])


def test_label_length_mismatch_and_corrupt_file(tmp_path: Path) -> None:
    scipy.io.savemat(tmp_path / "S1_1.mat", {"emg": np.zeros((50, 2)), "stimulus": np.zeros(49)})
    (tmp_path / "S2_1.mat").write_bytes(np.random.default_rng(0).bytes(1000))
    a = MatAdapter(tmp_path, samples="emg", fs="100", labels="stimulus")
    u1, u2 = a.discover()
    with pytest.raises(SourceError, match="49 values but there are 50 samples"):
        a.read(u1)
    with pytest.raises(SourceError, match="not a readable MATLAB"):
        a.read(u2)


def test_transpose_and_nan(tmp_path: Path) -> None:
    x = np.arange(20.0).reshape(2, 10)  # channels x samples
    scipy.io.savemat(tmp_path / "a.mat", {"emg": x})
    a = MatAdapter(tmp_path, samples="emg", fs="100", transpose="true")
    rec = a.read(a.discover()[0])
    assert rec.samples.shape == (10, 2) and np.array_equal(rec.samples, x.T)
    x[1, 3] = np.nan
    scipy.io.savemat(tmp_path / "a.mat", {"emg": x})
    with pytest.raises(SourceError, match="non-finite"):
        a.read(a.discover()[0])


def test_complex_flag_without_imaginary_part_is_refused_not_a_crash(tmp_path: Path) -> None:
    # scipy's v5 reader segfaults on this (found by tests/adapters/test_faults.py); the
    # structural check of adapters._mat5 refuses it first, naming the file
    path = tmp_path / "S1_1.mat"
    scipy.io.savemat(path, {"emg": np.arange(24, dtype=np.int16).reshape(6, 4)})
    data = bytearray(path.read_bytes())
    assert data[128] == 14 and data[136] == 6  # miMATRIX, then its array flags (uint32)
    data[145] |= 0x08  # the complex flag of the array flags
    path.write_bytes(bytes(data))
    with pytest.raises(SourceError, match=r"S1_1.mat: .*complex array with 1 data part"):
        load_mat(path)
    # a clean file passes the check
    scipy.io.savemat(path, {"emg": np.arange(24, dtype=np.int16).reshape(6, 4)})
    assert load_mat(path)["emg"].shape == (6, 4)
