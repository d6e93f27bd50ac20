"""BIDS-EMG out and in: ``export_bids`` writes a tree the BIDS 1.11 schema accepts, the
``bids`` adapter reads it back (sidecars decide types, units and rate), and a lake ->
BIDS -> lake round trip keeps samples (within EDF quantisation), channels, events, rates."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from bidsschematools import schema as bids_schema
from click.testing import CliRunner

from adapters.bids import BidsAdapter
from adapters.registry import make_adapter
from emgcorpus.bids_export import bids_label, bids_labels, export_bids
from emgcorpus.cli import cli
from emgcorpus.errors import ConfigError, LakeError, SourceError
from emgcorpus.ingest import ingest
from emgcorpus.lake import Lake
from emgcorpus.mne_raw import volts_per_unit
from tests.adapters.contract_sources.bids import make_source, write_bids_recording
from tests.conftest import shared_data

SIM = {
    "subjects": "1",
    "gestures": "2",
    "repetitions": "1",
    "contraction_s": "1",
    "rest_s": "1",
    "devices": "myo8,grid64,bipolar4",
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(lake holding the small simulated corpus, its BIDS export)."""
    tmp = tmp_path_factory.mktemp("bids")
    lake = tmp / "lake"
    ingest(lake, make_adapter("sim", "builtin", **SIM), progress=False)
    out = tmp / "bids"
    export_bids(lake, "sim", out, progress=False)
    return lake, out


def _tsv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    return rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]


def _edf_steps(path: Path) -> np.ndarray:
    """Quantisation step per signal of an EDF file [its physical unit]: (physical range) /
    (digital range), read from the header (EDF spec: 256 + 256 bytes per signal)."""
    head = path.read_bytes()
    ns = int(head[252:256])
    fields = [16, 80, 8, 8, 8, 8, 8]  # label, transducer, dimension, pmin, pmax, dmin, dmax
    pos, out = 256, []
    for width in fields:
        out.append([head[pos + k * width : pos + (k + 1) * width].decode() for k in range(ns)])
        pos += width * ns
    pmin, pmax, dmin, dmax = (np.array(v, dtype=float) for v in out[3:7])
    return (pmax - pmin) / (dmax - dmin)


def test_tree_has_every_required_file_and_field_of_the_bids_schema(
    exported: tuple[Path, Path],
) -> None:
    _, root = exported
    s = bids_schema.load_schema()
    assert s.bids_version.startswith("1.11")
    required = [
        k
        for k, v in s.rules.sidecars.emg.EMGRequired.fields.items()
        if (v if isinstance(v, str) else v.get("level")) == "required"
    ]
    assert {"EMGPlacementScheme", "EMGReference", "SamplingFrequency"} <= set(required)
    meta = s.objects.metadata
    desc = json.loads((root / "dataset_description.json").read_text())
    assert desc["BIDSVersion"] == "1.11.0" and desc["Name"]
    header, participants = _tsv(root / "participants.tsv")
    assert header[0] == "participant_id" and [p["participant_id"] for p in participants] == [
        "sub-01"
    ]
    channel_columns = {
        s.objects.columns[c].name for c in s.rules.tabular_data.emg.EMGChannels.columns
    }
    initial = [
        s.objects.columns[c].name for c in s.rules.tabular_data.emg.EMGChannels.initial_columns
    ]
    data_files = sorted(root.glob("sub-*/ses-*/emg/*_emg.edf"))
    assert len(data_files) == 3
    for edf in data_files:
        stem = str(edf)[: -len("_emg.edf")]
        sidecar = json.loads(Path(f"{stem}_emg.json").read_text())
        missing = [f for f in required + ["TaskName"] if f not in sidecar]
        assert not missing, f"{edf.name}: _emg.json lacks {missing}"
        for field in ("EMGPlacementScheme", "RecordingType"):
            assert sidecar[field] in meta[field].enum, (field, sidecar[field])
        assert sidecar["PowerLineFrequency"] == "n/a" or sidecar["PowerLineFrequency"] > 0
        header, rows = _tsv(Path(f"{stem}_channels.tsv"))
        assert header[:3] == initial and set(header) <= channel_columns
        assert all(r["type"] == "EMG" for r in rows)
        header, events = _tsv(Path(f"{stem}_events.tsv"))
        assert header[:2] == ["onset", "duration"] and events
    # grid and ring devices get electrodes + coordsystem (BIDS: one needs the other)
    electrodes = sorted(p.name for p in root.glob("sub-*/ses-*/emg/*_electrodes.tsv"))
    assert electrodes == [
        "sub-01_ses-1_acq-simgrid64_electrodes.tsv",
        "sub-01_ses-1_acq-simmyo8_electrodes.tsv",
    ]
    e_initial = [
        s.objects.columns[c].name for c in s.rules.tabular_data.emg.EMGElectrodes.initial_columns
    ]
    for name in electrodes:
        path = next(root.glob(f"sub-*/ses-*/emg/{name}"))
        header, rows = _tsv(path)
        assert header[:5] == e_initial
        coords = json.loads(
            Path(str(path).replace("_electrodes.tsv", "_coordsystem.json")).read_text()
        )
        assert coords["EMGCoordinateSystem"] in meta["EMGCoordinateSystem"].enum
        assert coords["EMGCoordinateUnits"] in meta["EMGCoordinateUnits"].enum


def test_round_trip_keeps_samples_channels_events_and_rates(
    exported: tuple[Path, Path], tmp_path: Path
) -> None:
    lake_a, root = exported
    report = ingest(tmp_path / "b", make_adapter("bids", str(root), dataset="sim"), progress=False)
    assert not report.errors
    a, b = Lake.open(lake_a), Lake.open(tmp_path / "b")
    rows_a = a.recordings().sort("device")
    rows_b = b.recordings().sort("device")
    cols = ["subject", "session", "trial", "device", "native_fs", "n_samples", "n_channels"]
    assert rows_a.select(cols).equals(rows_b.select(cols))
    # same identity -> same recording ids; the edf each one was written to
    assert rows_a["recording_id"].to_list() == rows_b["recording_id"].to_list()
    event_cols = ["onset", "duration", "label", "kind", "repetition", "gesture"]
    for rid in rows_a["recording_id"]:
        ca, cb = a.channel_infos(rid), b.channel_infos(rid)
        assert [(c.name, c.type) for c in ca] == [(c.name, c.type) for c in cb]
        assert [c.position for c in ca] == [c.position for c in cb]
        assert [c.high_cutoff for c in ca] == [c.high_cutoff for c in cb]
        to_v_a = np.array([volts_per_unit(c.units) for c in ca])
        to_v_b = np.array([volts_per_unit(c.units) for c in cb])
        xa = a.read_samples(rid).astype(np.float64) * to_v_a
        xb = b.read_samples(rid).astype(np.float64) * to_v_b
        (edf,) = root.glob(f"sub-*/ses-*/emg/*acq-{_acq(a, rid)}_run-1_emg.edf")
        # half an EDF step [uV -> V] plus float32 rounding of the stored samples (the
        # EDF+ annotation signal comes after the data signals)
        step = _edf_steps(edf)[: xa.shape[1]] * 1e-6
        tol = step / 2 + np.abs(xa).max(axis=0) * 2e-7
        err = np.abs(xa - xb).max(axis=0)
        assert np.all(err <= tol), (rid, err / tol)
        assert np.all(step < 1e-3 * np.abs(xa).max(axis=0))  # 16 bits over each range
        assert a.events(rid).select(event_cols).equals(b.events(rid).select(event_cols))
        assert b.events(rid)["gesture"].null_count() == 0


def _acq(lake: Lake, rid: str) -> str:
    return str(lake.recording_row(rid)["device"]).replace("-", "")


def test_sidecars_decide_channel_types_and_units(tmp_path: Path) -> None:
    root, options = make_source(tmp_path)
    adapter = BidsAdapter(root, **options)
    units = adapter.discover()
    assert [u.key for u in units] == [
        "sub-01/emg/sub-01_task-grip_run-1_emg.edf",
        "sub-01/emg/sub-01_task-grip_run-2_emg.edf",
        "sub-02/emg/sub-02_task-grip_run-1_emg.edf",
    ]
    assert [p.name.rsplit("_", 1)[1] for p in units[0].files] == [
        "emg.edf",
        "channels.tsv",
        "emg.json",
        "events.tsv",
    ]
    rec = adapter.read(units[0])
    # EMG0/EMG1 and a bare "EMG" label are EMG because channels.tsv says so
    assert [(c.name, c.type, c.units) for c in rec.channels] == [
        ("EMG0", "EMG", "uV"),
        ("EMG1", "EMG", "uV"),
        ("EMG", "EMG", "uV"),
        ("Temp", "MISC", "n/a"),
    ]
    assert rec.channels[0].position.system == "muscle"
    assert rec.fs == 500.0 and rec.samples.shape == (1000, 4)
    assert [(e.label, e.kind, e.onset) for e in rec.events] == [
        ("rest", "rest", 0.0),
        ("hand_close", "gesture", 0.5),
    ]
    assert rec.subject == "01" and rec.trial == "task-grip_run-1"
    assert rec.subject_info is not None and rec.subject_info.age == 30.0


def test_a_rate_or_unit_that_contradicts_the_data_file_names_the_sidecar(tmp_path: Path) -> None:
    root, _ = make_source(tmp_path)
    emg_json = root / "sub-01/emg/sub-01_task-grip_run-1_emg.json"
    doc = json.loads(emg_json.read_text())
    emg_json.write_text(json.dumps({**doc, "SamplingFrequency": 1000}))
    adapter = BidsAdapter(root)
    units = adapter.discover()
    with pytest.raises(SourceError, match=r"_emg\.json: SamplingFrequency 1000 Hz contradicts"):
        adapter.read(units[0])
    channels = root / "sub-01/emg/sub-01_task-grip_run-2_channels.tsv"
    channels.write_text(channels.read_text().replace("Temp\tMISC\tn/a", "Temp\tMISC\tmV"))
    with pytest.raises(SourceError, match=r"_channels\.tsv: channel 'Temp': units 'mV' contradict"):
        adapter.read(units[1])
    channels.write_text("name\ttype\tunits\nEMG0\tEMG\tuV\n")
    with pytest.raises(SourceError, match=r"_channels\.tsv: lists channels \['EMG0'\] but"):
        adapter.read(units[1])
    (root / "sub-02/emg/sub-02_task-grip_run-1_channels.tsv").unlink()
    with pytest.raises(SourceError, match="no _channels.tsv"):
        adapter.read(units[2])


def test_inherited_sidecars_are_found(tmp_path: Path) -> None:
    root = tmp_path / "bids"
    rng = np.random.default_rng(1)
    edf = write_bids_recording(root, "07", 1, rng.integers(-100, 100, size=(500, 4)))
    own = Path(str(edf).replace("_emg.edf", "_channels.tsv"))
    shutil.move(own, root / "task-grip_channels.tsv")  # dataset-level sidecar
    rec = BidsAdapter(root).read(BidsAdapter(root).discover()[0])
    assert [c.type for c in rec.channels] == ["EMG", "EMG", "EMG", "MISC"]


def test_export_refuses_unknown_dataset_and_a_non_empty_out(
    exported: tuple[Path, Path], tmp_path: Path
) -> None:
    lake, _ = exported
    with pytest.raises(LakeError, match=r"no dataset 'nope' \(the lake holds \['sim'\]\)"):
        export_bids(lake, "nope", tmp_path / "x", progress=False)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="exists and is not an empty folder"):
        export_bids(lake, "sim", busy, progress=False)
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]
    assert not list(tmp_path.glob(".*partial*"))


def test_export_command_writes_the_tree_and_reports_it(
    exported: tuple[Path, Path], tmp_path: Path
) -> None:
    lake, _ = exported
    out = tmp_path / "out"
    args = ["--lake", str(lake), "export", "bids", "sim", str(out), "--format", "bdf", "--json"]
    result = CliRunner().invoke(cli, args, obj={})
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["n_recordings"] == 3 and doc["bids_version"] == "1.11.0"
    assert all((out / f["path"]).is_file() and f["path"].endswith("_emg.bdf") for f in doc["files"])
    back = BidsAdapter(out, dataset="sim")
    recs = [back.read(u) for u in back.discover()]
    view = Lake.open(lake)
    assert sorted(r.recording_id for r in recs) == sorted(view.recordings()["recording_id"])
    for r in recs:  # 24-bit BDF: well below the 16-bit EDF step
        x = view.read_samples(r.recording_id).astype(np.float64)
        scale = [volts_per_unit(c.units) for c in view.channel_infos(r.recording_id)]
        err = np.abs(x * scale - r.samples * 1e-6).max(axis=0)
        assert np.all(err <= np.abs(x * scale).max(axis=0) * 1e-6)
    again = CliRunner().invoke(cli, args, obj={})
    assert again.exit_code == 1 and "exists and is not an empty folder" in again.output


def test_real_myo_counts_round_trip_through_a_padded_edf(tmp_path: Path) -> None:
    """CIIL files (Myo counts, units n/a, 3.07 s: not whole EDF data records)."""
    src = shared_data("ciil_myo", "ElectrodeShift", "subject0", "training")
    part = tmp_path / "ciil" / "ElectrodeShift" / "subject0" / "training"
    part.mkdir(parents=True)
    for name in ("metadata.json", "R_0_C_0.csv", "R_0_C_3.csv"):
        shutil.copy(src / name, part / name)
    ingest(tmp_path / "a", make_adapter("ciil", str(tmp_path / "ciil")), progress=False)
    export_bids(tmp_path / "a", "ciil", tmp_path / "bids", progress=False)
    bids = make_adapter("bids", str(tmp_path / "bids"), dataset="ciil")
    ingest(tmp_path / "b", bids, progress=False)
    a, b = Lake.open(tmp_path / "a"), Lake.open(tmp_path / "b")
    assert a.recordings()["recording_id"].to_list() == b.recordings()["recording_id"].to_list()
    for rid in a.recordings()["recording_id"]:
        assert [c.units for c in b.channel_infos(rid)] == ["n/a"] * 8
        xa, xb = a.read_samples(rid).astype(np.float64), b.read_samples(rid).astype(np.float64)
        assert xa.shape == xb.shape and xa.shape[0] % 200  # padded to 4 s in the EDF
        files = _scans_files(tmp_path / "bids")
        (edf,) = [tmp_path / "bids" / f for f, r in files.items() if r == rid]
        step = _edf_steps(edf)[:8]
        assert np.all(np.abs(xa - xb).max(axis=0) <= step / 2 + 1e-6)
        assert a.events(rid)["gesture"].to_list() == b.events(rid)["gesture"].to_list()


def _scans_files(root: Path) -> dict[str, str]:
    """BIDS file (relative to ``root``) -> lake recording id, from the scans files."""
    out = {}
    for scans in root.glob("sub-*/ses-*/*_scans.tsv"):
        for row in _tsv(scans)[1]:
            rel = (scans.parent / row["filename"]).relative_to(root).as_posix()
            out[rel] = row["recording_id"]
    return out


def test_labels_are_alphanumeric_and_collisions_are_refused() -> None:
    assert bids_label("ElectrodeShift/subject0", "subject") == "ElectrodeShiftsubject0"
    assert bids_labels(["s-1", "s2"], "subject") == {"s-1": "s1", "s2": "s2"}
    with pytest.raises(ConfigError, match="subjects 'a/b' and 'ab' both become the BIDS label"):
        bids_labels(["a/b", "ab"], "subject")
    with pytest.raises(ConfigError, match="has no letter or digit"):
        bids_label("--", "session")
