"""GRABMyo adapter on the real participant-1 records, plus header/data faults."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import wfdb

from adapters.grabmyo import GrabMyoAdapter
from emgcorpus.errors import SourceError
from tests.conftest import shared_data

RECORD = "session1_participant1_gesture11_trial1"


@pytest.fixture(scope="module")
def root() -> Path:
    return shared_data("grabmyo_p1")


def test_discover_gestures_and_trials(root: Path) -> None:
    units = GrabMyoAdapter(root).discover()
    assert len(units) == 29
    gestures = {u.key.split("_gesture")[1].split("_")[0] for u in units}
    assert gestures == {"1", "11", "12", "15", "16"}


def test_unused_channels_marked_not_emg(root: Path) -> None:
    a = GrabMyoAdapter(root)
    rec = a.read(next(u for u in a.discover() if u.key == RECORD))
    by_name = {c.name: c for c in rec.channels}
    assert [c.name for c in rec.channels if c.status == "bad"] == ["U1", "U2", "U3", "U4"]
    assert all(by_name[f"U{k}"].type == "MISC" for k in range(1, 5))
    emg = [c for c in rec.channels if c.type == "EMG"]
    assert len(emg) == 28
    assert (
        sum(c.group == "forearm" for c in emg) == 16 and sum(c.group == "wrist" for c in emg) == 12
    )


def test_lossless_digital_values_and_label(root: Path) -> None:
    a = GrabMyoAdapter(root)
    rec = a.read(next(u for u in a.discover() if u.key == RECORD))
    ref = wfdb.rdrecord(str(root / RECORD))
    assert rec.samples.dtype == np.int16 and rec.samples.shape == (10240, 32)
    assert np.allclose(rec.physical(), ref.p_signal, rtol=0, atol=1e-12)
    assert rec.fs == 2048.0 and rec.channels[0].units == "mV"
    (event,) = rec.events
    assert event.label == "Wrist Extension" and event.repetition == 0 and event.duration == 5.0
    assert (rec.subject, rec.session, rec.trial) == ("1", "1", "gesture11_trial1")


def test_header_data_mismatch(root: Path, tmp_path: Path) -> None:
    for ext in (".hea", ".dat"):
        shutil.copy(root / f"{RECORD}{ext}", tmp_path / f"{RECORD}{ext}")
    dat = tmp_path / f"{RECORD}.dat"
    dat.write_bytes(dat.read_bytes()[:100_000])
    (unit,) = GrabMyoAdapter(tmp_path).discover()
    with pytest.raises(SourceError, match="does not match header") as err:
        GrabMyoAdapter(tmp_path).read(unit)
    assert err.value.path == str(dat)


def test_mislabelled_record_name(root: Path, tmp_path: Path) -> None:
    for ext in (".hea", ".dat"):
        shutil.copy(
            root / f"{RECORD}{ext}", tmp_path / f"session1_participant1_gesture99_trial1{ext}"
        )
    (unit,) = GrabMyoAdapter(tmp_path).discover()
    with pytest.raises(SourceError, match="gesture 99"):
        GrabMyoAdapter(tmp_path).read(unit)
