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


def test_irregular_clock_is_held_onto_a_regular_grid(tmp_path: Path) -> None:
    # a release-like clock: 1 ms steps, some of 2-4 ms; the held rows keep their stamped times
    times = np.array([1, 2, 3, 5, 6, 10, 11, 12, 14, 15])
    labels = [1, 1, 1, 1, 2, 2, 2, 2, 1, 1]
    values = np.arange(80, dtype=np.float64).reshape(10, 8) * 1e-5
    write_uci_file(tmp_path / "05" / "1_raw_data_x.txt", labels, time_ms=times, values=values)
    rec = UciGesturesAdapter(tmp_path).read(UciGesturesAdapter(tmp_path).discover()[0])
    assert rec.fs == 1000.0
    assert rec.n_samples == 15  # 1..15 ms, not 10 rows at 1 kHz
    rows = [0, 1, 2, 2, 3, 4, 4, 4, 4, 5, 6, 7, 7, 8, 9]  # row held at 1, 2, ..., 15 ms
    np.testing.assert_allclose(rec.samples, values[rows])
    # the fist starts at the row stamped 6 ms (5 ms after the first stamp), ends before 14 ms
    fist = next(e for e in rec.events if e.label == "fist")
    assert (fist.onset, fist.duration) == pytest.approx((0.005, 0.008))
    assert rec.meta["clock_transform"].startswith("zero-order hold")
    assert rec.meta["clock_n"] == "10" and rec.meta["clock_max_step_s"] == "0.004"
    assert (rec.meta["clock_rows_repeated"], rec.meta["clock_rows_dropped"]) == ("5", "0")


def test_band_is_the_myo_band_not_the_grid_nyquist(tmp_path: Path) -> None:
    # sample-and-hold data: a new value every 10 ms (100 distinct rows/s) -> 50 Hz of band
    n = 1000
    values = np.repeat(np.random.default_rng(0).normal(0, 1e-5, (n // 10, 8)).round(5), 10, 0)
    write_uci_file(tmp_path / "05" / "1_raw_data_x.txt", [1] * n, values=values)
    rec = UciGesturesAdapter(tmp_path).read(UciGesturesAdapter(tmp_path).discover()[0])
    assert float(rec.meta["distinct_rows_per_s"]) == pytest.approx(100.0, rel=0.01)
    assert [c.high_cutoff for c in rec.channels] == [pytest.approx(50.0, rel=0.01)] * 8
    # fresh values on every 1 ms row: still no more than the Myo's 100 Hz
    write_uci_file(tmp_path / "06" / "1_raw_data_y.txt", [1] * 50)
    rec = UciGesturesAdapter(tmp_path).read(UciGesturesAdapter(tmp_path).discover()[1])
    assert {c.high_cutoff for c in rec.channels} == {100.0}


def test_duplicated_stamp_keeps_the_last_row(tmp_path: Path) -> None:
    values = np.arange(32, dtype=np.float64).reshape(4, 8) * 1e-5
    write_uci_file(
        tmp_path / "01" / "1_raw_data_x.txt", [1] * 4, time_ms=[1, 2, 2, 3], values=values
    )
    rec = UciGesturesAdapter(tmp_path).read(UciGesturesAdapter(tmp_path).discover()[0])
    np.testing.assert_allclose(rec.samples, values[[0, 2, 3]])
    assert (rec.meta["clock_zero_steps"], rec.meta["clock_rows_dropped"]) == ("1", "1")


def test_gap_longer_than_max_gap_is_refused(tmp_path: Path) -> None:
    write_uci_file(tmp_path / "01" / "1_raw_data_x.txt", [1] * 4, time_ms=[1, 2, 40, 41])
    adapter = UciGesturesAdapter(tmp_path)
    with pytest.raises(SourceError, match=r"1_raw_data_x.txt: time column jumps 38 ms after "):
        adapter.read(adapter.discover()[0])
    adapter = UciGesturesAdapter(tmp_path, max_gap_ms="50")
    assert adapter.read(adapter.discover()[0]).n_samples == 41


def test_nan_value_names_the_file(tmp_path: Path) -> None:
    path = write_uci_file(tmp_path / "01" / "1_raw_data_x.txt", [1] * 5)
    lines = path.read_text().splitlines()
    lines[3] = lines[3].replace(lines[3].split("\t")[2], "nan", 1)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SourceError, match=r"1_raw_data_x.txt: non-finite value nan at sample 2"):
        UciGesturesAdapter(tmp_path).read(UciGesturesAdapter(tmp_path).discover()[0])


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
    with pytest.raises(
        SourceError, match=r"1_raw_data_x.txt: time column: stamp 2 .* is earlier than stamp 1"
    ):
        UciGesturesAdapter(tmp_path).read(UciGesturesAdapter(tmp_path).discover()[0])
