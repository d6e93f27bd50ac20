"""``train reproduce --sim-subjects N``: the simulated corpus beside the real pretraining sets.

The experiment plan puts the built-in simulated corpus into the pretrain lake only (the
target lake stays the target's release alone), and a run folder whose pretrain lake holds
it refuses a later run without it (it would silently pretrain on it).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from adapters.registry import make_adapter
from emgcorpus.cli import cli
from emgcorpus.errors import ConfigError
from emgcorpus.ingest import ingest
from emgcorpus.lake import Lake
from emgcorpus.runs.plans import QUICKSTART_SIM, SIM_DATASET, experiment_plan
from tests.conftest import shared_data

TINY_SIM = {**QUICKSTART_SIM, "subjects": 1, "gestures": 2, "repetitions": 1, "devices": "myo8"}


def _data_folder(tmp_path: Path) -> Path:
    """A data root holding the CIIL target folder and one real pretraining set (emgdb)."""
    data = tmp_path / "data"
    (data / "ciil_myo" / "ElectrodeShift").mkdir(parents=True)
    (data / "physionet_emgdb").symlink_to(shared_data("physionet_emgdb"))
    return data


def test_the_simulated_corpus_goes_into_the_pretrain_lake_only(tmp_path: Path) -> None:
    data, out = _data_folder(tmp_path), tmp_path / "out"
    plain = experiment_plan("ciil", data, out)
    assert [(i.lake.name, i.adapter) for i in plain.ingests] == [
        ("pretrain-lake", "wfdb"),
        ("target-lake", "ciil"),
    ]
    plan = experiment_plan("ciil", data, out, sim_options=TINY_SIM)
    assert [(i.lake.name, i.adapter, i.source) for i in plan.ingests] == [
        ("pretrain-lake", "wfdb", str(data / "physionet_emgdb")),
        ("pretrain-lake", "sim", "builtin"),
        ("target-lake", "ciil", str(data / "ciil_myo" / "ElectrodeShift")),
    ]
    assert plan.ingests[1].options == TINY_SIM
    for spec in plan.ingests[:2]:  # the pretrain lake's ingests, as the ingest stage runs them
        ingest(spec.lake, make_adapter(spec.adapter, spec.source, **spec.options), progress=False)
    lake = Lake.open(out / "pretrain-lake")
    assert set(lake.recordings()["dataset"].to_list()) == {"wfdb", SIM_DATASET}
    assert not (out / "target-lake").exists()

    # a later run into the same folder without the simulated corpus is refused
    with pytest.raises(ConfigError, match="holds the simulated corpus") as err:
        experiment_plan("ciil", data, out)
    assert str(out / "pretrain-lake") in str(err.value)
    assert experiment_plan("ciil", data, out, sim_options=TINY_SIM).ingests == plan.ingests


def test_reproduce_says_the_option_and_refuses_a_negative_count(tmp_path: Path) -> None:
    runner = CliRunner()
    help_text = runner.invoke(cli, ["train", "reproduce", "--help"]).output
    assert "--sim-subjects" in help_text and "simulated corpus" in help_text
    res = runner.invoke(
        cli, ["train", "reproduce", "ciil", "--data", str(tmp_path), "--sim-subjects", "-1"]
    )
    assert res.exit_code == 2 and "--sim-subjects" in res.output
