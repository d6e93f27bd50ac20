"""``to_mne_raw``: a lake recording as an MNE Raw in volts, with the lake's channel names,
rate, events and what the lake knows about the subject."""

from __future__ import annotations

import json
from pathlib import Path

import mne
import numpy as np
import pytest

from adapters.registry import make_adapter
from emgcorpus.errors import LakeError
from emgcorpus.ingest import ingest
from emgcorpus.lake import Lake
from emgcorpus.mne_raw import mne_subject_info, to_mne_raw
from emgcorpus.recording import SubjectInfo
from tests.conftest import shared_data

SIM = {"subjects": "1", "gestures": "2", "repetitions": "1", "contraction_s": "1", "rest_s": "1"}


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    path = tmp_path_factory.mktemp("mne") / "lake"
    ingest(path, make_adapter("sim", "builtin", devices="bipolar4,myo8", **SIM), progress=False)
    return Lake.open(path)


def _rid(lake: Lake, device: str) -> str:
    rows = lake.recordings()
    return str(rows.filter(rows["device"] == device)["recording_id"][0])


def test_samples_in_volts_with_names_rate_types_and_annotations(lake: Lake) -> None:
    rid = _rid(lake, "sim-bipolar4")  # stored in mV
    raw = to_mne_raw(lake, rid)
    channels = lake.channel_infos(rid)
    assert isinstance(raw, mne.io.RawArray)
    assert raw.ch_names == [c.name for c in channels]
    assert set(raw.get_channel_types()) == {"emg"}
    assert raw.info["sfreq"] == float(lake.recording_row(rid)["native_fs"]) == 2000.0
    assert {c.units for c in channels} == {"mV"}
    np.testing.assert_allclose(raw.get_data().T, lake.read_samples(rid) * 1e-3, rtol=1e-6)
    events = lake.events(rid)
    assert list(raw.annotations.description) == events["label"].to_list()
    np.testing.assert_allclose(raw.annotations.onset, events["onset"].to_numpy())
    np.testing.assert_allclose(raw.annotations.duration, events["duration"].to_numpy())
    assert raw.info["lowpass"] == channels[0].high_cutoff
    assert raw.info["highpass"] == channels[0].low_cutoff
    identity = json.loads(raw.info["description"])
    assert identity["recording_id"] == rid and identity["device"] == "sim-bipolar4"


def test_counts_keep_their_value_and_are_named(tmp_path: Path) -> None:
    src = shared_data("ciil_myo", "ElectrodeShift", "subject0", "training")
    part = tmp_path / "ciil" / "ElectrodeShift" / "subject0" / "training"
    part.mkdir(parents=True)
    for name in ("metadata.json", "R_0_C_1.csv"):
        (part / name).write_bytes((src / name).read_bytes())
    ingest(tmp_path / "lake", make_adapter("ciil", str(tmp_path / "ciil")), progress=False)
    lake = Lake.open(tmp_path / "lake")
    (rid,) = lake.recordings()["recording_id"].to_list()
    raw = to_mne_raw(lake, rid)
    assert raw.info["sfreq"] == 200.0 and len(raw.ch_names) == 8
    np.testing.assert_array_equal(raw.get_data().T, lake.read_samples(rid))  # Myo counts
    assert "EMG1 (n/a)" in json.loads(raw.info["description"])["not_volts"]
    assert list(raw.annotations.description) == ["Hand_Open"]


def test_harmonized_rate_and_unknown_recording(lake: Lake) -> None:
    rid = _rid(lake, "sim-myo8")
    with pytest.raises(LakeError, match="harmonize --fs 100"):
        to_mne_raw(lake, rid, fs=100.0)
    with pytest.raises(LakeError, match="no recording 'nope'"):
        to_mne_raw(lake, "nope")


def test_subject_info_in_mne_codes() -> None:
    info = SubjectInfo("s1", age=30, sex="F", handedness="left", height_cm=172.0, weight_kg=60)
    assert mne_subject_info(info) == {
        "his_id": "s1",
        "sex": 2,
        "hand": 2,
        "height": 1.72,
        "weight": 60.0,
    }
    assert mne_subject_info(SubjectInfo("s2")) == {"his_id": "s2"}
    assert mne_subject_info(None) is None
