"""Hyser PR adapter on tiny WFDB records written with wfdb.wrsamp."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import wfdb

from adapters.hyser import HyserAdapter
from emgcorpus.errors import ConfigError, SourceError
from tests.adapters.contract_sources.hyser import clone_record, make_session, write_record


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One record written by wfdb.wrsamp (slow for 256 channels), cloned by the tests."""
    return write_record(tmp_path_factory.mktemp("hyser"), "template")


def test_records_read_as_counts_with_labels_and_grid_positions(
    tmp_path: Path, template: Path
) -> None:
    folder = make_session(tmp_path, subject=7, session=2, template=template)
    adapter = HyserAdapter(tmp_path)
    units = adapter.discover()
    assert [u.key.rsplit("/", 1)[1] for u in units] == [
        "dynamic_raw_sample1",
        "dynamic_raw_sample2",
        "dynamic_raw_sample3",
    ]
    recs = [adapter.read(u) for u in units]
    assert [(r.events[0].label, r.events[0].repetition) for r in recs] == [
        ("gesture_5", 1),
        ("gesture_12", 1),
        ("gesture_5", 2),
    ]
    rec = recs[0]
    assert (rec.subject, rec.session, rec.fs) == ("07", "2", 2048.0)
    assert rec.samples.dtype == np.int16 and rec.samples.shape == (64, 256)
    ref = wfdb.rdrecord(str(folder / "dynamic_raw_sample1"))
    assert np.allclose(rec.physical(), ref.p_signal, atol=1e-6)
    assert {c.position.grid_name for c in rec.channels} == {"ED", "EP", "FD", "FP"}
    assert rec.channels[0].position.row == 7 and rec.channels[0].position.col == 7
    assert rec.channels[200].target_muscle == "flexors"
    assert rec.channels[0].units == "mV"


def test_preprocess_option_selects_the_filtered_records(tmp_path: Path, template: Path) -> None:
    make_session(tmp_path, template=template)
    units = HyserAdapter(tmp_path, signal="preprocess").discover()
    assert [u.key.rsplit("/", 1)[1] for u in units] == ["dynamic_preprocess_sample1"]
    with pytest.raises(ConfigError):
        HyserAdapter(tmp_path, signal="filtered")


def test_faults_are_source_errors_naming_the_file(tmp_path: Path, template: Path) -> None:
    folder = make_session(tmp_path, template=template)
    adapter = HyserAdapter(tmp_path)
    unit = adapter.discover()[2]
    (folder / "label_dynamic.txt").write_text("5,12")
    with pytest.raises(SourceError, match="label_dynamic.txt.*2 labels.*sample 3"):
        adapter.read(unit)
    (folder / "label_dynamic.txt").write_text("five,twelve")
    with pytest.raises(SourceError, match="label_dynamic.txt"):
        adapter.read(unit)
    (folder / "label_dynamic.txt").write_text("5,12,5")
    (folder / "dynamic_raw_sample3.dat").write_bytes(b"\x01\x02\x03")
    with pytest.raises(SourceError, match="dynamic_raw_sample3"):
        adapter.read(unit)
    other = tmp_path / "elsewhere" / "sub1"
    clone_record(folder / "dynamic_raw_sample1.hea", other, "dynamic_raw_sample1")
    (other / "label_dynamic.txt").write_text("1")
    bad = next(u for u in HyserAdapter(tmp_path).discover() if "elsewhere" in u.key)
    with pytest.raises(SourceError, match="subject<NN>_session<k>"):
        HyserAdapter(tmp_path).read(bad)
