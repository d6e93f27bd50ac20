"""Generic mapped CSV adapter: mapping validation, labels, identity, faults."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adapters.csv_mapped import CsvAdapter
from emgcorpus.errors import ConfigError, SourceError
from tests.adapters.contract_sources.csv import CSV_OPTIONS, write_csv_files


def test_columns_labels_and_identity(tmp_path: Path) -> None:
    write_csv_files(tmp_path)
    a = CsvAdapter(tmp_path, **CSV_OPTIONS)
    units = a.discover()
    assert [u.key for u in units] == ["sub1/ses1/run.csv", "sub1/ses2/run.csv", "sub2/ses1/run.csv"]
    rec = a.read(units[1])
    assert (rec.subject, rec.session) == ("sub1", "ses2")
    assert rec.samples.dtype == np.int32 and rec.samples.shape == (500, 3)
    assert [c.name for c in rec.channels] == ["c1", "c2", "c3"]
    assert [(e.label, e.kind) for e in rec.events] == [
        ("rest", "rest"),
        ("fist", "gesture"),
        ("rest", "rest"),
        ("open", "gesture"),
        ("rest", "rest"),
    ]
    assert rec.events[1].onset == pytest.approx(0.2) and rec.events[-1].duration == pytest.approx(
        0.2
    )


def test_headerless_numeric_labels(tmp_path: Path) -> None:
    rows = [f"{k * 0.5},{-k * 0.25},{1 if 3 <= k < 6 else 0}" for k in range(10)]
    (tmp_path / "x.csv").write_text("\n".join(rows))
    a = CsvAdapter(tmp_path, fs="10", labels="2", label_names="1:fist", rest_label="0")
    rec = a.read(a.discover()[0])
    assert rec.samples.dtype == np.float64 and rec.samples[3, 0] == 1.5
    assert [(e.label, e.onset, e.duration) for e in rec.events] == [
        ("rest", 0.0, 0.3),
        ("fist", 0.3, 0.3),
        ("rest", 0.6, 0.4),
    ]


def test_mapping_validation(tmp_path: Path) -> None:
    write_csv_files(tmp_path)
    with pytest.raises(ConfigError, match="'fs' is required"):
        CsvAdapter(tmp_path)
    with pytest.raises(ConfigError, match="> 0"):
        CsvAdapter(tmp_path, fs="-5")
    a = CsvAdapter(tmp_path, fs="500", header="true", columns="c1,c9")
    with pytest.raises(ConfigError, match="no column 'c9'.*columns present: c1, c2, c3, label"):
        a.read(a.discover()[0])
    b = CsvAdapter(tmp_path, fs="500", header="true", labels="label", channels="x,y")
    with pytest.raises(ConfigError, match="2 names but the data has 3 channels"):
        b.read(b.discover()[0])


def test_nan_empty_and_missing_values(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("1,2\n3,nan\n")
    (tmp_path / "b.csv").write_text("")
    (tmp_path / "c.csv").write_text("1,2\n3,\n")
    a = CsvAdapter(tmp_path, fs="100")
    ua, ub, uc = a.discover()
    with pytest.raises(SourceError, match="non-finite value nan at sample 1, column 1") as err:
        a.read(ua)
    assert err.value.path.endswith("a.csv")
    with pytest.raises(SourceError, match="empty"):
        a.read(ub)
    with pytest.raises(SourceError, match="missing value in column"):
        a.read(uc)
