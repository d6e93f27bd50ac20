"""EMG-EPN-612 adapter on tiny per-user JSON files in the original layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adapters.epn612 import Epn612Adapter
from emgcorpus.errors import SourceError
from tests.adapters.contract_sources.epn612 import epn_sample, make_source, write_user


def _read(root: Path, split: str = "trainingSamples"):  # type: ignore[no-untyped-def]
    adapter = Epn612Adapter(root)
    unit = next(u for u in adapter.discover() if u.key.endswith(split))
    return adapter.read(unit)


def test_training_split_concatenates_repetitions_with_events(tmp_path: Path) -> None:
    root, _ = make_source(tmp_path)
    units = Epn612Adapter(root).discover()
    assert [u.key for u in units] == [
        "trainingJSON/user1/user1.json#testingSamples",
        "trainingJSON/user1/user1.json#trainingSamples",
    ]
    rec = _read(root)
    assert (rec.subject, rec.trial, rec.fs) == ("trainingJSON/user1", "training", 200.0)
    assert rec.samples.shape == (135, 8) and rec.samples.dtype == np.int16
    assert [(e.label, e.kind, e.repetition) for e in rec.events] == [
        ("rest", "rest", 0),
        ("fist", "gesture", 0),
        ("fist", "gesture", 1),
    ]
    # fist 1 spans samples 11..30 of the repetition starting at sample 40
    assert rec.events[1].onset == pytest.approx((40 + 10) / 200)
    assert rec.events[1].duration == pytest.approx(20 / 200)
    assert rec.events[2].onset == pytest.approx((90 + 4) / 200)
    expected = np.asarray(epn_sample("noGesture", 40, None, 1)["emg"]["ch3"])
    np.testing.assert_array_equal(rec.samples[:40, 2], expected)
    assert rec.subject_info is not None and rec.subject_info.age == 24.0
    assert rec.subject_info.sex == "woman" and rec.subject_info.handedness == "right"


def test_withheld_testing_labels_give_no_events(tmp_path: Path) -> None:
    root, _ = make_source(tmp_path)
    rec = _read(root, "testingSamples")
    assert rec.events == [] and rec.samples.shape == (65, 8)
    assert "withheld" in rec.meta["labels"]


def test_truncated_json_names_the_file(tmp_path: Path) -> None:
    root, _ = make_source(tmp_path)
    path = root / "trainingJSON" / "user1" / "user1.json"
    path.write_text(path.read_text()[:500])
    with pytest.raises(SourceError, match=r"user1.json: not valid JSON"):
        _read(root)


def test_missing_channel_is_refused(tmp_path: Path) -> None:
    bad = epn_sample("fist", 30, (3, 9), 7)
    del bad["emg"]["ch5"]
    path = write_user(tmp_path / "trainingJSON" / "user2" / "user2.json", {"idx_1": bad}, {})
    with pytest.raises(SourceError, match=r"user2.json: idx_1: emg lacks ch5"):
        _read(tmp_path)
    assert path.exists()


def test_ground_truth_disagreeing_with_its_index_is_refused(tmp_path: Path) -> None:
    bad = epn_sample("open", 30, (3, 9), 8)
    bad["groundTruthIndex"] = [4, 9]
    write_user(tmp_path / "trainingJSON" / "user3" / "user3.json", {"idx_1": bad}, {})
    with pytest.raises(SourceError, match=r"user3.json: idx_1: groundTruth marks samples 3..9"):
        _read(tmp_path)


def test_ground_truth_longer_than_the_emg_is_refused(tmp_path: Path) -> None:
    bad = epn_sample("open", 30, (3, 9), 9)
    bad["groundTruth"] = bad["groundTruth"] + [0]
    write_user(tmp_path / "trainingJSON" / "user4" / "user4.json", {"idx_1": bad}, {})
    with pytest.raises(SourceError, match="groundTruth has 31 values for 30 EMG samples"):
        _read(tmp_path)


def test_unknown_gesture_name_is_refused(tmp_path: Path) -> None:
    bad = epn_sample("thumbsUp", 30, (3, 9), 10)
    write_user(tmp_path / "trainingJSON" / "user5" / "user5.json", {"idx_1": bad}, {})
    with pytest.raises(SourceError, match=r"user5.json: idx_1: gestureName 'thumbsUp'"):
        _read(tmp_path)
