"""Harmonize and resample: rounding rule, no invented bandwidth, idempotence, frequency kept."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from deltalake import DeltaTable

from emgcorpus.errors import ConfigError, LakeError
from emgcorpus.harmonize import harmonize
from emgcorpus.ingest import ingest
from emgcorpus.lake import Lake
from emgcorpus.resample import output_length, resample_blocks, resample_info, resample_to
from emgcorpus.schema import TABLES
from tests.lake.fakes import SpecAdapter, build_recording, spec


@pytest.mark.parametrize("method", ["soxr", "scipy"])
@pytest.mark.parametrize(
    ("n_in", "fs_in", "fs_out"),
    [
        (1000, 200.0, 1000.0),
        (1001, 2048.0, 2000.0),
        (999, 2000.0, 1000.0),
        (7, 1000.0, 300.0),
        (1, 4000.0, 1000.0),
        (333, 1000.0, 1000.0),
    ],
)
def test_output_length_is_ceil(method: str, n_in: int, fs_in: float, fs_out: float) -> None:
    x = np.random.default_rng(0).standard_normal((n_in, 3))
    y, info = resample_to(x, fs_in, fs_out, method)
    assert y.shape == (math.ceil(n_in * fs_out / fs_in), 3) == (info.n_out, 3)
    assert y.dtype == np.float32
    assert output_length(n_in, info.up, info.down) == info.n_out


@pytest.mark.parametrize("method", ["soxr", "scipy"])
@pytest.mark.parametrize(("fs_in", "fs_out", "f0"), [(2048.0, 1000.0, 97.0), (200.0, 1000.0, 31.0)])
def test_a_sine_keeps_its_frequency(method: str, fs_in: float, fs_out: float, f0: float) -> None:
    t = np.arange(int(4 * fs_in)) / fs_in
    x = np.sin(2 * np.pi * f0 * t)[:, None]
    y, _ = resample_to(x, fs_in, fs_out, method)
    spectrum = np.abs(np.fft.rfft(y[:, 0] * np.hanning(len(y))))
    peak = np.fft.rfftfreq(len(y), 1 / fs_out)[np.argmax(spectrum)]
    assert abs(peak - f0) < 0.5
    t_out = np.arange(len(y)) / fs_out
    middle = slice(len(y) // 4, 3 * len(y) // 4)  # away from the edges
    np.testing.assert_allclose(y[middle, 0], np.sin(2 * np.pi * f0 * t_out[middle]), atol=0.02)


def test_resample_refuses_bad_parameters() -> None:
    with pytest.raises(ConfigError, match="method"):
        resample_to(np.zeros((4, 1)), 100, 200, method="linear")
    with pytest.raises(ConfigError, match="fs_out"):
        resample_to(np.zeros((4, 1)), 100, 0)


SPECS = {
    "myo": spec(n=2000, n_ch=8, fs=200.0, subject="a"),
    "hd": spec(n=4096, n_ch=16, fs=2048.0, subject="b", high_cutoff=500.0, dataset="hd"),
}


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    path = tmp_path / "lake"
    ingest(path, SpecAdapter(path, specs=SPECS), progress=False)
    return path


def test_harmonize_stores_derived_streams_and_caps_bandwidth(lake: Path) -> None:
    result = harmonize(lake, 1000.0, progress=False)
    assert len(result["added"]) == 2
    view = Lake.open(lake)
    assert view.harmonized_rates() == [1000.0]
    myo = build_recording("myo", SPECS["myo"])
    h = view.harmonized().filter(view.harmonized()["recording_id"] == myo.recording_id)
    assert h["high_cutoff"][0] <= 100.0  # upsampled 200 Hz: no new bandwidth
    assert h["n_samples"][0] == 10000 and h["method"][0] == "soxr"
    assert json.loads(h["params_json"][0])["up"] == 5
    y = view.read_samples(myo.recording_id, fs=1000.0)
    assert y.shape == (10000, 8) and y.dtype == np.float32
    expected, _ = resample_to(myo.physical(), 200.0, 1000.0)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    rec = view.read_recording(myo.recording_id, fs=1000.0)
    assert rec.fs == 1000.0 and all(c.high_cutoff == 100.0 for c in rec.channels)
    hd = build_recording("hd", SPECS["hd"])
    h_hd = view.harmonized().filter(view.harmonized()["recording_id"] == hd.recording_id)
    assert h_hd["high_cutoff"][0] == 500.0 and h_hd["n_samples"][0] == 2000


def test_harmonize_twice_changes_nothing(lake: Path) -> None:
    harmonize(lake, 1000.0, method="scipy", progress=False)
    versions = {t: DeltaTable(lake / t).version() for t in TABLES}
    snapshot = Lake.open(lake).snapshot()
    again = harmonize(lake, 1000.0, method="scipy", progress=False)
    assert again["added"] == [] and len(again["skipped"]) == 2
    assert {t: DeltaTable(lake / t).version() for t in TABLES} == versions
    assert Lake.open(lake).snapshot() == snapshot


def test_harmonize_one_dataset_and_missing_rate_error(lake: Path) -> None:
    harmonize(lake, 500.0, datasets=["hd"], progress=False)
    view = Lake.open(lake)
    myo = build_recording("myo", SPECS["myo"]).recording_id
    with pytest.raises(LakeError, match="emgcorpus harmonize --fs 500"):
        view.read_samples(myo, fs=500.0)
    assert view.harmonized()["dataset"].to_list() == ["hd"]


def _blocks(x: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    """``x`` cut into consecutive blocks of the given sizes (cycled), the last one shorter."""
    out, pos, i = [], 0, 0
    while pos < x.shape[0]:
        out.append(x[pos : pos + sizes[i % len(sizes)]])
        pos += sizes[i % len(sizes)]
        i += 1
    return out


@pytest.mark.parametrize("method", ["soxr", "scipy"])
@pytest.mark.parametrize(
    ("n_in", "fs_in", "fs_out"),
    [
        (20_011, 2000.0, 1000.0),
        (5003, 200.0, 1000.0),
        (9999, 2048.0, 2000.0),
        (301, 1000.0, 1000.0),
    ],
)
def test_streamed_resampling_equals_one_shot(
    method: str, n_in: int, fs_in: float, fs_out: float
) -> None:
    x = np.random.default_rng(n_in).standard_normal((n_in, 3)).astype(np.float32)
    one_shot, info = resample_to(x, fs_in, fs_out, method=method)
    streamed_info = resample_info(fs_in, fs_out, n_in, method)
    assert streamed_info == info
    blocks = list(resample_blocks(_blocks(x, [1, 4096, 37, 1000]), streamed_info, 3))
    y = np.concatenate(blocks)
    assert y.shape == (output_length(n_in, info.up, info.down), 3) == one_shot.shape
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, one_shot, rtol=1e-6, atol=1e-6)


def test_streamed_resampling_refuses_a_wrong_sample_count() -> None:
    info = resample_info(2000.0, 1000.0, 100, "soxr")
    with pytest.raises(ConfigError, match="expected 100"):
        list(resample_blocks([np.zeros((90, 2), np.float32)], info, 2))
    with pytest.raises(ConfigError, match="expected \\(n, 2\\)"):
        list(resample_blocks([np.zeros((100, 3), np.float32)], info, 2))


def test_harmonize_streams_a_recording_of_many_chunks(tmp_path: Path) -> None:
    """A recording of 5 stored chunks is harmonized chunk by chunk into several chunks,
    with the samples of a one-shot resampling of the whole recording."""
    path = tmp_path / "lake"
    specs = {"long": spec(n=3_000_000, n_ch=3, fs=2048.0, dtype="<i2", subject="z")}
    ingest(path, SpecAdapter(path, specs=specs), progress=False)
    harmonize(path, 1000.0, progress=False)
    lake = Lake.open(path)
    rid = build_recording("long", specs["long"]).recording_id
    assert lake.read_chunks(rid).num_rows == 5  # 18 MB of int16 in 4 MiB chunks
    stored = lake.read_chunks(rid, "fs1000")
    y = lake.read_samples(rid, fs=1000.0)
    expected, _ = resample_to(lake.read_samples(rid), 2048.0, 1000.0)
    assert stored.num_rows == 5 and y.shape == expected.shape == (1_464_844, 3)
    assert stored["start_sample"].to_pylist() == [i * 349_525 for i in range(5)]
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)
