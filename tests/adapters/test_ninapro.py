"""NinaPro adapter on tiny files written in the release format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adapters.ninapro import DATABASES, EXERCISES, NinaProAdapter
from emgcorpus.errors import ConfigError, SourceError
from tests.adapters.fixtures_ninapro import ninapro_variables, write_v5, write_v73


def _read_one(path: Path, **options: str):  # type: ignore[no-untyped-def]
    adapter = NinaProAdapter(path.parent, **options)
    units = [u for u in adapter.discover() if u.files[0] == path]
    return adapter.read(units[0])


def test_db2_file_reads_emg_aux_channels_and_labels(tmp_path: Path) -> None:
    v = ninapro_variables(aux={"acc": 36, "glove": 22, "force": 6})
    path = write_v5(tmp_path / "S3_E1_A1.mat", v)
    rec = _read_one(path, database="2")
    assert rec.fs == 2000.0 and rec.subject == "3" and rec.trial == "E1"
    assert rec.samples.shape == (600, 12 + 36 + 22 + 6)
    types = [c.type for c in rec.channels]
    assert types.count("EMG") == 12 and types.count("ACC") == 36
    assert types.count("GLOVE") == 22 and types.count("FORCE") == 6
    assert all(c.status == "good" for c in rec.channels)
    assert np.allclose(rec.samples[:, :12], v["emg"])
    ring = [c.position.angle_deg for c in rec.channels[:8]]
    assert ring == pytest.approx([0, 45, 90, 135, 180, 225, 270, 315])
    assert rec.channels[8].target_muscle == "flexor digitorum superficialis"
    gestures = [e for e in rec.events if e.kind == "gesture"]
    # DB2 exercise 1 is NinaPro exercise B: ids 1, 2 = its first two movements
    b1, b2 = "Thumb up", "Extension of index and middle, flexion of the others"
    assert [(e.label, e.repetition) for e in gestures] == [(b1, 1), (b1, 2), (b2, 1), (b2, 2)]
    assert json.loads(rec.meta["movement_ids"]) == {b1: 1, b2: 2}
    # restimulus is the default: events follow the relabelled (later) onsets
    first = int(np.flatnonzero(v["restimulus"].ravel())[0])
    assert gestures[0].onset == pytest.approx(first / 2000.0)
    assert {e.label for e in rec.events if e.kind == "rest"} == {"rest"}
    assert sum(e.duration for e in rec.events) == pytest.approx(rec.duration_s)


def test_stimulus_option_uses_the_cue(tmp_path: Path) -> None:
    v = ninapro_variables()
    path = write_v5(tmp_path / "S1_E1_A1.mat", v)
    rec = _read_one(path, database="2", labels="stimulus")
    first = int(np.flatnonzero(v["stimulus"].ravel())[0])
    assert next(e for e in rec.events if e.kind == "gesture").onset == first / 2000.0
    assert rec.meta["labels"] == "stimulus"


@pytest.mark.parametrize("codes", [(1, 2), (18, 19)])
def test_exercise_two_ids_become_global_whatever_the_file_numbering(
    tmp_path: Path, codes: tuple[int, int]
) -> None:
    path = write_v5(tmp_path / "S1_E2_A1.mat", ninapro_variables(codes=codes))
    rec = _read_one(path, database="2")
    labels = {e.label for e in rec.events if e.kind == "gesture"}
    assert labels == {"Large diameter grasp", "Small diameter grasp (power grip)"}
    assert json.loads(rec.meta["movement_ids"]) == {
        "Large diameter grasp": 18,
        "Small diameter grasp (power grip)": 19,
    }


def test_db1_is_marked_rms_rectified_and_inferred_from_name_and_channels(tmp_path: Path) -> None:
    path = write_v5(tmp_path / "S2_A1_E3.mat", ninapro_variables(n_emg=10, aux={"glove": 22}))
    rec = _read_one(path)
    assert rec.meta["database"] == "DB1" and rec.fs == 100.0
    assert "RMS-rectified" in rec.meta["preprocessing"]
    emg = [c for c in rec.channels if c.type == "EMG"]
    assert len(emg) == 10 and all("RMS-rectified" in (c.placement_description or "") for c in emg)
    # DB1 exercise 3 = exercise C, global ids 30, 31
    labels = {e.label for e in rec.events if e.kind == "gesture"}
    assert labels == {"Large diameter grasp", "Small diameter grasp (power grip)"}
    assert sorted(json.loads(rec.meta["movement_ids"]).values()) == [30, 31]
    assert rec.dataset == "ninapro"  # database inferred per file, not given as an option


def test_db6_day_time_naming_and_zero_padding_columns(tmp_path: Path) -> None:
    v = ninapro_variables(n_emg=16, codes=(3,))
    v["emg"][:, 8:10] = 0.0
    path = write_v5(tmp_path / "S4_D2_T1.mat", v)
    rec = _read_one(path)
    assert rec.meta["database"] == "DB6" and rec.session == "D2T1"
    assert {e.label for e in rec.events if e.kind == "gesture"} == {"movement_3"}  # not encoded
    status = [c.status for c in rec.channels if c.type == "EMG"]
    assert status.count("bad") == 2 and status[8] == status[9] == "bad"


def test_db5_two_myo_rings(tmp_path: Path) -> None:
    path = write_v5(tmp_path / "S1_E1_A1.mat", ninapro_variables(n_emg=16))
    rec = _read_one(path, database="5")
    assert rec.fs == 200.0
    angles = [c.position.angle_deg for c in rec.channels]
    assert angles[:2] == [0.0, 45.0] and angles[8:10] == [22.5, 67.5]


def test_matlab_v73_file_is_read_with_h5py(tmp_path: Path) -> None:
    v = ninapro_variables()
    path = write_v73(tmp_path / "S1_E1_A1.mat", v)
    rec = _read_one(path, database="7")
    assert rec.samples.shape == (600, 12)
    assert np.allclose(rec.samples, v["emg"])
    assert len([e for e in rec.events if e.kind == "gesture"]) == 4


def test_corrupt_file_is_a_source_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "S1_E1_A1.mat"
    path.write_bytes(b"MATLAB 5.0 MAT-file garbage" + bytes(range(256)) * 3)
    with pytest.raises(SourceError, match="S1_E1_A1.mat"):
        _read_one(path, database="2")


def test_missing_variable_is_a_source_error(tmp_path: Path) -> None:
    v = ninapro_variables()
    del v["restimulus"]
    path = write_v5(tmp_path / "S1_E1_A1.mat", v)
    with pytest.raises(SourceError, match="restimulus.*variables present"):
        _read_one(path, database="2")


def test_label_length_mismatch_is_a_source_error(tmp_path: Path) -> None:
    v = ninapro_variables()
    v["rerepetition"] = v["rerepetition"][:-5]
    path = write_v5(tmp_path / "S1_E1_A1.mat", v)
    with pytest.raises(SourceError, match="rerepetition.*600"):
        _read_one(path, database="2")


def test_wrong_file_name_is_a_source_error(tmp_path: Path) -> None:
    path = write_v5(tmp_path / "subject1_ex1.mat", ninapro_variables())
    with pytest.raises(SourceError, match="subject1_ex1.mat.*not a NinaPro file name"):
        _read_one(path, database="2")


def test_ambiguous_database_asks_for_the_option(tmp_path: Path) -> None:
    path = write_v5(tmp_path / "S1_E1_A1.mat", ninapro_variables(n_emg=12))
    with pytest.raises(SourceError, match="option database"):
        _read_one(path)


def test_bad_options_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        NinaProAdapter(tmp_path, database="9")
    with pytest.raises(ConfigError):
        NinaProAdapter(tmp_path, labels="glove")
    for fs in ("-1", "0", "fast", "inf"):
        with pytest.raises(ConfigError, match="'fs' must be"):
            NinaProAdapter(tmp_path, fs=fs)
    assert NinaProAdapter(tmp_path, fs="1000").fs_override == 1000.0


def test_movement_lists_match_each_database_exercise_sizes() -> None:
    for number, db in DATABASES.items():
        names = db.movement_names()
        if not db.exercises:
            assert names == {} and number in (6, 8)
            continue
        assert [len(EXERCISES[x]) for x in db.exercises] == list(db.exercise_sizes), number
        assert len(set(names.values())) == len(names) == sum(db.exercise_sizes)
    db1, db2 = DATABASES[1].movement_names(), DATABASES[2].movement_names()
    assert (db1[1], db1[13], db1[52]) == (
        "Index flexion",
        "Thumb up",
        "Cut something (grasp the knife with an index finger extension grasp)",
    )
    assert db2[17] == db1[29] == "Wrist extension with closed hand"
    assert db2[41] == "Flexion of the little finger"


def test_dataset_name_follows_the_database_option(tmp_path: Path) -> None:
    assert NinaProAdapter(tmp_path, database="3").dataset == "ninapro-db3"
    assert NinaProAdapter(tmp_path).dataset == "ninapro"
    assert NinaProAdapter(tmp_path, database=2, dataset="mine").dataset == "mine"
    path = write_v5(tmp_path / "S1_E1_A1.mat", ninapro_variables())
    assert _read_one(path, database="2").dataset == "ninapro-db2"


def test_db3_release_naming_is_exercise_then_acquisition(tmp_path: Path) -> None:
    path = write_v5(tmp_path / "DB3_s1" / "S1_E3_A1.mat", ninapro_variables(codes=(1,)))
    rec = _read_one(path, database="3")
    assert (rec.dataset, rec.meta["database"], rec.trial) == ("ninapro-db3", "DB3", "E3")
    # DB3 exercise 3 = exercise D (global ids 41..49)
    assert {e.label for e in rec.events if e.kind == "gesture"} == {"Flexion of the little finger"}
    with pytest.raises(SourceError, match="does not match DB3"):
        _read_one(write_v5(tmp_path / "S1_A1_E1.mat", ninapro_variables()), database="3")
