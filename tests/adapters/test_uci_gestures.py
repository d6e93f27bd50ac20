"""UCI "EMG data for gestures" adapter on tiny files in the original text format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adapters.uci_gestures import UciGesturesAdapter
from emgcorpus.errors import SourceError
from tests.adapters.contract_sources.uci_gestures import HEADER, make_source, write_uci_file


def test_reads_subjects_series_rate_and_classes(tmp_path: Path) -> None:
    root, _ = make_source(tmp_path)
    adapter = UciGesturesAdapter(root)
    units = adapter.discover()
    assert [u.key for u in units] == [
        "01/1_raw_data_13-12_22.03.16.txt",
        "01/2_raw_data_13-13_22.03.16.txt",
        "02/1_raw_data_14-19_22.03.16.txt",
    ]
    rec = adapter.read(units[0])
    assert (rec.subject, rec.session, rec.fs) == ("01", "1", 1000.0)
    assert rec.samples.shape == (50, 8)
    assert [c.name for c in rec.channels] == [f"channel{k}" for k in range(1, 9)]
    assert [c.position.angle_deg for c in rec.channels] == [45.0 * k for k in range(8)]
    # 5 unmarked (0), 20 rest (1), 3 unmarked, 20 fist (2), 2 unmarked
    assert [(e.label, e.kind, round(e.onset, 6), round(e.duration, 6)) for e in rec.events] == [
        ("rest", "rest", 0.005, 0.020),
        ("fist", "gesture", 0.028, 0.020),
    ]


def test_rate_follows_the_time_column(tmp_path: Path) -> None:
    write_uci_file(tmp_path / "05" / "1_raw_data_x.txt", [1] * 10, step_ms=5)
    rec = UciGesturesAdapter(tmp_path).read(UciGesturesAdapter(tmp_path).discover()[0])
    assert rec.fs == pytest.approx(200.0)
    assert rec.channels[0].high_cutoff == pytest.approx(100.0)


def test_values_are_read_exactly(tmp_path: Path) -> None:
    path = tmp_path / "03" / "1_raw_data_a.txt"
    path.parent.mkdir()
    path.write_text(HEADER + "1\t" + "\t".join(["0.00001"] * 7 + ["-0.00002"]) + "\t3\n"
                    + "2\t" + "\t".join(["0.00003"] * 8) + "\t3\n")  # fmt: skip
    rec = UciGesturesAdapter(tmp_path).read(UciGesturesAdapter(tmp_path).discover()[0])
    np.testing.assert_array_equal(rec.samples[0], [1e-5] * 7 + [-2e-5])
    assert rec.events[0].label == "wrist flexion"


def test_truncated_line_names_the_file(tmp_path: Path) -> None:
    path = write_uci_file(tmp_path / "01" / "1_raw_data_x.txt", [1] * 5)
    path.write_text(path.read_text()[:-9])
    with pytest.raises(SourceError, match=r"1_raw_data_x.txt: line 6 has \d+ fields, expected 10"):
        UciGesturesAdapter(tmp_path).read(UciGesturesAdapter(tmp_path).discover()[0])


def test_missing_column_in_header(tmp_path: Path) -> None:
    path = write_uci_file(tmp_path / "01" / "1_raw_data_x.txt", [1] * 5)
    path.write_text(path.read_text().replace("\tclass", "", 1))
    with pytest.raises(SourceError, match=r"1_raw_data_x.txt: header is .* expected"):
        UciGesturesAdapter(tmp_path).read(UciGesturesAdapter(tmp_path).discover()[0])


def test_unknown_class_is_a_label_mismatch(tmp_path: Path) -> None:
    write_uci_file(tmp_path / "01" / "1_raw_data_x.txt", [1, 1, 9, 9])
    with pytest.raises(SourceError, match=r"1_raw_data_x.txt: class values \[9\] are not in 0..7"):
        UciGesturesAdapter(tmp_path).read(UciGesturesAdapter(tmp_path).discover()[0])


def test_time_going_backwards_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "01" / "1_raw_data_x.txt"
    path.parent.mkdir()
    row = "\t".join(["0.1"] * 8)
    path.write_text(HEADER + f"5\t{row}\t1\n6\t{row}\t1\n2\t{row}\t1\n")
    with pytest.raises(SourceError, match="time column decreases at data row 2"):
        UciGesturesAdapter(tmp_path).read(UciGesturesAdapter(tmp_path).discover()[0])
