"""The Python API for users' own models: LakeWindowDataset (torch) and EMGFeatures (sklearn)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator
from torch.utils.data import DataLoader

from adapters.registry import make_adapter
from emgcorpus.errors import ConfigError, LakeError
from emgcorpus.harmonize import harmonize
from emgcorpus.ingest import ingest
from emgcorpus.lake import Lake
from training.features import strong_features, td_features
from training.lake_windows import LakeWindowDataset
from training.sklearn_features import EMGFeatures, FeatureInputError
from training.windows import WindowSpec, lake_recording_events, make_windows

#: 2 subjects x 2 devices (200 Hz, 8 channels; 2 kHz, 4 channels), 2 gestures x 2 repetitions
SIM = {
    "subjects": 2,
    "gestures": 2,
    "repetitions": 2,
    "contraction_s": 1.0,
    "rest_s": 1.0,
    "devices": "myo8,bipolar4",
}


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lake_windows") / "lake"
    ingest(path, make_adapter("sim", "builtin", **SIM), progress=False)
    return path


def test_dataset_yields_the_evaluation_windows_from_the_lake(lake: Path) -> None:
    ds = LakeWindowDataset(lake, datasets=["sim"], window_ms=200, hop_ms=100)
    expected = make_windows(lake_recording_events(lake, "sim"), WindowSpec(0.2, 0.1))
    assert [w.window_id for w in ds.windows] == [w.window_id for w in expected]
    assert ds.labels == ["hand_close", "hand_open"] and len(ds) == len(expected)
    items = list(ds)
    assert len(items) == len(ds)
    view = Lake.open(lake)
    for (x, y), w in zip(items, ds.windows):
        fs = float(view.recording_row(w.recording_id)["native_fs"])
        assert x.dtype == torch.float32 and x.shape[1] == round(0.2 * fs)
        assert y == ds.labels.index(w.label)
    # the first window is exactly the lake's samples of its interval, channels first
    w0, (x0, _) = ds.windows[0], items[0]
    raw = view.read_samples(w0.recording_id)
    fs0 = float(view.recording_row(w0.recording_id)["native_fs"])
    start = round(w0.start_s * fs0)
    assert np.array_equal(x0.numpy(), raw[start : start + x0.shape[1]].T)
    # two devices: (channels, samples) differ, so arrays() refuses
    with pytest.raises(ConfigError, match="differ in"):
        ds.arrays()


def test_dataset_filters_shuffles_and_refuses_a_forked_worker(lake: Path) -> None:
    ds = LakeWindowDataset(
        lake, device="sim-myo8", labels=["hand_open"], shuffle=True, window_ms=250
    )
    assert {w.label for w in ds.windows} == {"hand_open"}
    first = [float(x.sum()) for x, _ in ds]
    second = [float(x.sum()) for x, _ in ds]
    assert sorted(first) == pytest.approx(sorted(second)) and first != second
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch[0].shape == (4, 8, 50) and batch[1].tolist() == [0, 0, 0, 0]
    with pytest.raises(Exception, match="multiprocessing_context='spawn'"):
        list(DataLoader(ds, batch_size=None, num_workers=1))
    with pytest.raises(ConfigError, match="no labelled windows"):
        LakeWindowDataset(lake, labels=["nope"])
    with pytest.raises(ConfigError, match="sim-none"):
        LakeWindowDataset(lake, device="sim-none")


def test_dataset_reads_a_harmonized_rate(lake: Path) -> None:
    with pytest.raises(LakeError, match="harmonize --fs 1000"):
        list(LakeWindowDataset(lake, fs=1000.0, device="sim-bipolar4"))
    harmonize(lake, 1000.0, method="scipy", progress=False)
    ds = LakeWindowDataset(lake, fs=1000.0, device="sim-bipolar4", window_ms=250, hop_ms=100)
    x, y = ds.arrays()
    assert x.shape == (len(ds), 4, 250) and y.shape == (len(ds),)
    w = ds.windows[-1]
    at_1k = Lake.open(lake).read_samples(w.recording_id, fs=1000.0)
    start = round(w.start_s * 1000)
    assert np.array_equal(x[-1], at_1k[start : start + 250].T)


def test_sklearn_pipeline_on_lake_windows(lake: Path) -> None:
    ds = LakeWindowDataset(lake, device="sim-myo8", window_ms=250, hop_ms=50)
    x, y = ds.arrays()
    assert x.shape == (len(ds), 8, 50) and x.dtype == np.float32
    td = EMGFeatures("td", channels_first=True)
    feats = td.fit_transform(x)
    assert np.array_equal(feats, td_features(np.swapaxes(x, 1, 2)))  # one implementation
    assert list(td.get_feature_names_out()[:2]) == ["mav_ch0", "mav_ch1"]
    strong = clone(EMGFeatures("strong", fs=200.0, channels_first=True))
    assert strong.get_params()["fs"] == 200.0
    assert np.allclose(strong.fit_transform(x), strong_features(np.swapaxes(x, 1, 2), 200.0))
    pipe = make_pipeline(clone(td), StandardScaler(), LinearDiscriminantAnalysis())
    pipe.set_params(emgfeatures__features="strong", emgfeatures__fs=200.0)
    pipe.fit(x, y)
    assert pipe.score(x, y) > 0.9
    again = pickle.loads(pickle.dumps(pipe))
    assert np.array_equal(again.predict(x), pipe.predict(x))
    with pytest.raises(ValueError, match="expecting 8 features"):
        td.transform(x[:, :4])  # 4 of the 8 channels
    with pytest.raises(FeatureInputError, match="fitted on"):
        td.transform(x[:, :, :20])
    with pytest.raises(FeatureInputError, match="features must be one of"):
        EMGFeatures("fft").fit(x)


def test_sklearn_estimator_checks_pass_but_for_too_short_windows() -> None:
    for features in ("td", "strong"):
        results = check_estimator(EMGFeatures(features), on_fail=None)
        failed = [r for r in results if r["status"] == "failed"]
        # the checks' own data are 2-5 "features" (samples of a one-channel window): the
        # only failures are windows too short for the feature set (one check words the same
        # error as "raised FeatureInputError unexpectedly")
        assert all(
            "windows need >=" in str(r["exception"])
            or r["check_name"] == "check_positive_only_tag_during_fit"
            for r in failed
        ), failed
        if features == "td":  # the strong set needs >= 6 samples: half the checks use fewer
            assert len(failed) <= 6 and len(results) >= 40


README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "### Your own model: torch windows and scikit-learn features"


def test_readme_snippet_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's snippet on a simulated Myo corpus stored as dataset ``ciil``."""
    monkeypatch.chdir(tmp_path)
    options = SIM | {"devices": "myo8", "dataset": "ciil"}
    ingest("emg-lake", make_adapter("sim", "builtin", **options), progress=False)
    text = README.read_text().split(SECTION, 1)[1].split("\n## ", 1)[0]
    snippet = text.split("```python\n", 1)[1].split("```", 1)[0]
    ns: dict[str, object] = {}
    exec(compile(snippet, str(README), "exec"), ns)
    xb, yb = ns["xb"], ns["yb"]
    assert isinstance(xb, torch.Tensor) and tuple(xb.shape) == (64, 8, 50)
    assert isinstance(yb, torch.Tensor) and yb.dtype == torch.int64
    assert ns["subjects"] == [w.subject_key for w in ns["windows"].windows]  # type: ignore[attr-defined]
    loso = ns["loso"]
    assert isinstance(loso, np.ndarray) and loso.shape == (2,)  # two subjects
    assert "{'hand_close': 0, 'hand_open': 1}" in capsys.readouterr().out
