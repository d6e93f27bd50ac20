"""The gesture vocabulary: its labels are the adapters' own, ingest stores the canonical
name beside the raw label, old lakes read (null) and get the column on the next write,
one query groups a movement across datasets, and ``emgcorpus gestures`` lists it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner

from adapters import capgmyo, cote_allard, epn612, grabmyo, ninapro, putemg, uci_gestures
from adapters.registry import make_adapter
from adapters.sim_physiology import DEFAULT_GESTURES
from emgcorpus import schema
from emgcorpus.cli import cli
from emgcorpus.errors import ConfigError
from emgcorpus.gestures import (
    canonical_gestures,
    events_by_gesture,
    gesture_of,
    label_key,
    load_vocabulary,
    vocabulary,
)
from emgcorpus.ingest import ingest
from emgcorpus.lake import Lake
from tests.conftest import shared_data

#: Every label each adapter can write (its label table), rest written as "rest".
ADAPTER_LABELS: dict[str, set[str]] = {
    "sim": set(DEFAULT_GESTURES),
    # class names of the CIIL metadata.json files (adapters/ciil.py docstring)
    "ciil": {"Hand_Close", "Hand_Open", "Wrist_Extension", "Wrist_Flexion"},
    "cote-allard": set(cote_allard.GESTURES[1:]),
    "capgmyo": set(capgmyo.GESTURES_AB.values()) | set(capgmyo.GESTURES_C.values()),
    "ninapro": {name for names in ninapro.EXERCISES.values() for name in names},
    "putemg": set(putemg.GESTURES.values()) - {"idle"},
    "grabmyo": set(grabmyo.GESTURES.values()) - {"Rest"},
    "epn612": set(epn612.GESTURES) - {"noGesture"},
    "uci-gestures": set(uci_gestures.CLASSES.values()) - {"rest"},
    # labelnames of the flexemg .mat files (adapters/flexemg.py docstring)
    "flexemg": {"Fist", "Raise", "Lower", "Open"},
}


def test_every_mapped_label_is_one_its_adapter_writes() -> None:
    vocab = vocabulary()
    assert set(vocab.datasets) == set(ADAPTER_LABELS)
    for dataset, labels in vocab.datasets.items():
        unknown = set(labels) - ADAPTER_LABELS[dataset]
        assert not unknown, f"{dataset}: {sorted(unknown)} are not labels the adapter writes"
    assert canonical_gestures()[0] == "rest" and "hand_close" in canonical_gestures()


def test_the_same_movement_has_one_name_across_datasets() -> None:
    closes = {
        "cote-allard": "Hand Close",
        "ciil": "Hand_Close",
        "grabmyo": "Hand Close",
        "uci-gestures": "fist",
        "epn612": "fist",
        "ninapro-db2": "Fingers flexed together in fist",  # -db<x> uses the ninapro entry
        "capgmyo-dba": "fist",
        "putemg": "fist",
        "flexemg": "Fist",
        "sim": "hand_close",
    }
    assert {d: gesture_of(d, label) for d, label in closes.items()} == dict.fromkeys(
        closes, "hand_close"
    )
    assert gesture_of("ciil", "hand close") == "hand_close"  # separators and case ignored
    assert gesture_of("flexemg", "Raise") is None  # not described: unmapped
    assert gesture_of("my-own-set", "Hand Close") is None  # unknown dataset
    assert gesture_of("my-own-set", "rest", "rest") == "rest"  # the contract's rest class
    assert gesture_of("ninapro", "Small diameter grasp (power grip)") == "power_grip"
    assert label_key(" Wrist  radial-deviation ") == "wrist_radial_deviation"


def test_a_malformed_vocabulary_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "g.yaml"
    bad.write_text("canonical: {rest: r}\ndatasets: {x: {Fist: hand_close}}\n")
    with pytest.raises(ConfigError, match=r"g\.yaml: datasets\.x uses unknown gestures"):
        load_vocabulary(bad)
    bad.write_text("canonical: {fist: f}\ndatasets: {x: {Fist: fist, fist: fist}}\n")
    with pytest.raises(ConfigError, match="lists one label twice"):
        load_vocabulary(bad)


def test_ingest_stores_the_gesture_beside_the_label_on_real_ciil_files(tmp_path: Path) -> None:
    src = shared_data("ciil_myo", "ElectrodeShift", "subject0", "training")
    part = tmp_path / "ciil" / "ElectrodeShift" / "subject0" / "training"
    part.mkdir(parents=True)
    for name in ["metadata.json", *(f"R_0_C_{c}.csv" for c in range(5))]:
        shutil.copy(src / name, part / name)
    ingest(tmp_path / "lake", make_adapter("ciil", str(tmp_path / "ciil")), progress=False)
    events = Lake.open(tmp_path / "lake").events()
    pairs = sorted(zip(events["label"], events["gesture"]))
    assert pairs == [
        ("Hand_Close", "hand_close"),
        ("Hand_Open", "hand_open"),
        ("Wrist_Extension", "wrist_extension"),
        ("Wrist_Flexion", "wrist_flexion"),
        ("rest", "rest"),
    ]


SIM = {"subjects": "2", "gestures": "2", "repetitions": "1", "contraction_s": "1", "rest_s": "1"}


def test_a_lake_without_the_column_reads_null_and_gets_it_on_the_next_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_events = pa.schema([f for f in schema.EVENTS if f.name != "gesture"])
    lake = tmp_path / "lake"
    with monkeypatch.context() as m:  # a lake written before events.gesture existed
        m.setitem(schema.TABLES, "events", old_events)
        ingest(lake, make_adapter("sim", "builtin", devices="myo8", **SIM), progress=False)
    old = Lake.open(lake).events()
    assert old["gesture"].null_count() == old.height > 0
    ingest(lake, make_adapter("sim", "builtin", devices="bipolar4", **SIM), progress=False)
    view = Lake.open(lake)
    events = view.events().join(
        view.recordings().select("recording_id", "device"), on="recording_id"
    )
    by_device = {
        d: events.filter(events["device"] == d)["gesture"].null_count()
        for d in ("sim-myo8", "sim-bipolar4")
    }
    assert by_device == {"sim-myo8": old.height, "sim-bipolar4": 0}


def test_one_query_groups_a_movement_across_datasets(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    for name in ("sim", "sim2"):
        adapter = make_adapter("sim", "builtin", devices="myo8", dataset=name, **SIM)
        ingest(lake, adapter, progress=False)
    view = Lake.open(lake)
    table = events_by_gesture(view.events(), view.recordings())
    # "sim2" is not in the vocabulary: only its rest events have a gesture
    assert set(zip(table["gesture"], table["dataset"])) == {
        ("hand_close", "sim"),
        ("hand_open", "sim"),
        ("rest", "sim"),
        ("rest", "sim2"),
    }
    row = table.filter(table["gesture"] == "hand_close").row(0, named=True)
    assert row["n_events"] == 2 and row["n_subjects"] == 2 and row["labels"] == ["hand_close"]


def test_gestures_command_lists_the_mapping() -> None:
    result = CliRunner().invoke(cli, ["gestures", "--json", "--dataset", "ninapro-db2"], obj={})
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert list(doc["canonical"]) == canonical_gestures()
    assert {r["dataset"] for r in doc["mapping"]} == {"ninapro"}
    assert {"dataset": "ninapro", "label": "Wrist flexion", "gesture": "wrist_flexion"} in doc[
        "mapping"
    ]
    text = CliRunner().invoke(cli, ["gestures"], obj={})
    assert text.exit_code == 0 and "'Hand Close'" in text.output and "hand_close" in text.output
