"""SOURCE handling of ``emgcorpus ingest``: the simulated corpus needs no files, others do."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from emgcorpus.cli import cli
from emgcorpus.lake import Lake


def test_sim_ingests_from_the_word_builtin(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    res = CliRunner().invoke(
        cli,
        [
            "--lake",
            str(lake),
            "ingest",
            "sim",
            "builtin",
            "--option",
            "subjects=2",
            "--option",
            "devices=myo8",
            "--option",
            "gestures=2",
            "--option",
            "repetitions=1",
        ],
    )
    assert res.exit_code == 0, res.output
    assert sorted(Lake.open(lake).recordings()["subject"].to_list()) == ["01", "02"]


def test_missing_source_is_one_clear_line(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    res = CliRunner().invoke(
        cli, ["--lake", str(tmp_path / "lake"), "ingest", "ciil", str(missing)]
    )
    assert res.exit_code == 1
    assert f"{missing}: no such file or folder (adapter 'ciil')" in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "lake").exists()
