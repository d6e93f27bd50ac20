"""flexemg adapter on the real Session1Train files, plus corrupt/truncated copies."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from adapters.flexemg import FlexEmgAdapter
from emgcorpus.errors import SourceError
from tests.conftest import shared_data


@pytest.fixture(scope="module")
def root() -> Path:
    return shared_data("flexemg_hd64")


def test_discover_three_subjects(root: Path) -> None:
    units = FlexEmgAdapter(root).discover()
    assert len(units) == 30
    assert {u.key.split("/")[1][:3] for u in units} == {"001", "002", "003"}


def test_unused_columns_dropped_and_units(root: Path) -> None:
    a = FlexEmgAdapter(root)
    unit = a.discover()[0]
    rec = a.read(unit)
    raw = scipy.io.loadmat(unit.files[0])["raw"]
    assert raw.shape[1] == 96
    assert rec.samples.shape == (raw.shape[0], 64)
    assert rec.samples.dtype == np.uint16 and np.array_equal(rec.samples, raw[:, :64])
    assert rec.fs == 1000.0
    assert all(c.units == "mV" and c.gain == 0.0030517578125 for c in rec.channels)
    assert "65-96" in rec.meta["dropped_columns"]


def test_grid_positions_follow_arraymap(root: Path) -> None:
    a = FlexEmgAdapter(root)
    rec = a.read(a.discover()[0])
    amap = scipy.io.loadmat(root / "arraymap.mat")["arraymap"]
    cells = {(c.position.row, c.position.col) for c in rec.channels}
    assert len(cells) == 64
    for ch in rec.channels:
        k = int(ch.name.removeprefix("EMG"))
        assert amap[ch.position.row, ch.position.col] == k


def test_labels_from_sequence(root: Path) -> None:
    a = FlexEmgAdapter(root)
    unit = next(u for u in a.discover() if u.key.endswith("001-001.mat"))
    rec = a.read(unit)
    p = scipy.io.loadmat(unit.files[0], squeeze_me=True)["p"]
    names = [str(x) for x in p["labelnames"].item()]
    seq = [int(x) for x in p["sequence"].item()]
    rest, gestures = rec.events[0], rec.events[1:]
    assert (rest.kind, rest.onset, rest.duration) == ("rest", 0.0, 5.0)
    assert [e.label for e in gestures] == [names[g - 1] for g in seq]
    assert [e.onset for e in gestures] == [5.0, 10.0, 15.0, 20.0]
    assert rec.events[-1].onset + rec.events[-1].duration < rec.duration_s  # tail unlabelled


def _copy(root: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "data" / "001-Session1Train"
    dst.mkdir(parents=True)
    shutil.copy(root / "data/001-Session1Train/001-002.mat", dst / "001-002.mat")
    shutil.copy(root / "arraymap.mat", tmp_path / "arraymap.mat")
    return dst / "001-002.mat"


def test_corrupt_mat(root: Path, tmp_path: Path) -> None:
    f = _copy(root, tmp_path)
    f.write_bytes(np.random.default_rng(0).bytes(4096))
    (unit,) = FlexEmgAdapter(tmp_path).discover()
    with pytest.raises(SourceError, match="not a readable MATLAB") as err:
        FlexEmgAdapter(tmp_path).read(unit)
    assert err.value.path == str(f)


def test_labels_longer_than_raw(root: Path, tmp_path: Path) -> None:
    f = _copy(root, tmp_path)
    m = scipy.io.loadmat(f)
    scipy.io.savemat(f, {"raw": m["raw"][:12000], "p": m["p"]})
    (unit,) = FlexEmgAdapter(tmp_path).discover()
    with pytest.raises(SourceError, match="labels need 25000 samples"):
        FlexEmgAdapter(tmp_path).read(unit)


def test_empty_and_mislabelled(root: Path, tmp_path: Path) -> None:
    f = _copy(root, tmp_path)
    f.write_bytes(b"")
    (unit,) = FlexEmgAdapter(tmp_path).discover()
    with pytest.raises(SourceError, match="empty"):
        FlexEmgAdapter(tmp_path).read(unit)
    wrong = f.with_name("002-002.mat")  # subject 002 inside subject 001's folder
    shutil.copy(root / "data/001-Session1Train/001-002.mat", wrong)
    unit = next(u for u in FlexEmgAdapter(tmp_path).discover() if u.key.endswith("002-002.mat"))
    with pytest.raises(SourceError, match="differs from folder subject"):
        FlexEmgAdapter(tmp_path).read(unit)
