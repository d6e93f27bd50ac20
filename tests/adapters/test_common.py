"""The shared adapter helpers in adapters/_common.py that several adapters call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from adapters._common import (
    check_regular_clock,
    clock_stats,
    dataset_with_database,
    glob_units,
    hold_on_grid,
    option_channel_type,
    part_folders,
)
from emgcorpus.errors import ConfigError, SourceError


def _touch(root: Path, *rels: str) -> None:
    for rel in rels:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def test_glob_units_recurses_keeps_files_only_and_sorts_by_key(tmp_path: Path) -> None:
    _touch(tmp_path, "a/x.mat", "a-b/x.mat", "top.mat", "a/notes.txt")
    (tmp_path / "folder.mat").mkdir()
    units = glob_units(tmp_path, "**/*.mat")
    # "a-b/x.mat" < "a/x.mat" as text ('-' sorts before '/'), unlike path-part order
    assert [u.key for u in units] == ["a-b/x.mat", "a/x.mat", "top.mat"]
    assert all(u.files == (tmp_path / u.key,) for u in units)


def test_glob_units_keep_filters_folder_matches_only(tmp_path: Path) -> None:
    _touch(tmp_path, "r.edf", "R.BDF", "s.txt")
    units = glob_units(tmp_path, "**/*", keep=lambda p: p.suffix.lower() in (".edf", ".bdf"))
    assert [u.key for u in units] == ["R.BDF", "r.edf"]
    # a single-file source is one unit whatever its name: the adapter checks it when read
    single = glob_units(tmp_path / "s.txt", "**/*", keep=lambda p: False)
    assert [(u.key, u.files) for u in single] == [("s.txt", (tmp_path / "s.txt",))]


def test_glob_units_names_what_it_expected(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"does not exist \(expected a CapgMyo folder\)"):
        glob_units(tmp_path / "missing", "**/*.mat", expected="a CapgMyo folder")


def test_option_channel_type_defaults_to_emg_and_lists_the_types() -> None:
    assert option_channel_type({}) == "EMG"
    assert option_channel_type({"channel_type": "ACC"}) == "ACC"
    with pytest.raises(ConfigError, match="channel_type: expected one of"):
        option_channel_type({"channel_type": "emg"})


def test_dataset_with_database_prefers_the_option_then_the_database() -> None:
    assert dataset_with_database({}, "ninapro", 3) == "ninapro-db3"
    assert dataset_with_database({}, "capgmyo", None) == "capgmyo"
    assert dataset_with_database({"dataset": "mine"}, "capgmyo", "a") == "mine"
    assert dataset_with_database({"dataset": ""}, "capgmyo", "b") == "capgmyo-dbb"


def test_part_folders_is_the_part_itself_or_the_parts_below_a_root(tmp_path: Path) -> None:
    parts = ("Train", "Eval")
    (tmp_path / "Eval").mkdir()
    (tmp_path / "Other").mkdir()
    assert part_folders(tmp_path, parts, "a root") == [tmp_path / "Eval"]
    assert part_folders(tmp_path / "Eval", parts, "a root") == [tmp_path / "Eval"]
    (tmp_path / "Train").mkdir()
    assert part_folders(tmp_path, parts, "a root") == [tmp_path / "Train", tmp_path / "Eval"]
    with pytest.raises(SourceError, match=r"no Train or Eval folder found \(expected a root\)"):
        part_folders(tmp_path / "Other", parts, "a root")
    (tmp_path / "file").write_text("x")
    with pytest.raises(SourceError, match="source is not a folder"):
        part_folders(tmp_path / "file", parts, "a root")


def test_regular_clock_passes_and_reports_its_facts() -> None:
    t = 5.0 + np.arange(1000) / 2000.0
    stats = check_regular_clock(Path("x.h5"), t, 2000.0)
    assert stats.n == 1000 and stats.effective_fs == pytest.approx(2000.0)
    assert stats.meta()["clock_n"] == "1000" and stats.zero_steps == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t * 2, r"x.h5: time stamps: median step 0.001 s does not match 2000 Hz"),
        (lambda t: np.insert(t, 10, t[10]), r"x.h5: time stamps: sample 11 repeats the stamp"),
        (lambda t: np.concatenate([t[:500], t[520:]]), r"x.h5: time stamps: gap of 0.0105 s"),
        (lambda t: np.insert(t, 11, t[10] + 1e-5), r"x.h5: time stamps: irregular clock, step"),
        (lambda t: t[::-1], r"x.h5: time stamps: stamp 1 .* is earlier than stamp 0"),
        (lambda t: t * 1.02, r"x.h5: time stamps: 1000 samples span .* effective rate of 1960"),
        (lambda t: t[:1], r"x.h5: time stamps: only 1 value"),
        (lambda t: np.where(np.arange(t.size) == 3, np.nan, t), r"x.h5: .* sample 3 is not finite"),
    ],
)
def test_clock_faults_are_named(change: Any, message: str) -> None:
    t = change(np.arange(1000) / 2000.0)
    with pytest.raises(SourceError, match=message):
        check_regular_clock(Path("x.h5"), t, 2000.0)


def test_hold_on_grid_takes_the_last_row_at_or_before_each_grid_point() -> None:
    t_ms = np.array([0, 1, 1, 2, 5, 6])
    assert hold_on_grid(t_ms / 1000.0, 1000.0).tolist() == [0, 2, 3, 3, 3, 4, 5]
    assert clock_stats(Path("x"), t_ms / 1000.0).zero_steps == 1
