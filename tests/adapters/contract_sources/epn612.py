"""EMG-EPN-612 contract source: tiny per-user JSON files in the original layout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def epn_sample(
    gesture: str | None, n: int, span: tuple[int, int] | None, seed: int
) -> dict[str, Any]:
    """One repetition: int8-range counts per channel; labels as in the release."""
    rng = np.random.default_rng(seed)
    emg = {f"ch{k}": rng.integers(-128, 128, n).tolist() for k in range(1, 9)}
    sample: dict[str, Any] = {"startTime": 0, "emg": emg}
    if gesture is not None:
        sample["gestureName"] = gesture
    if span is not None:
        first, last = span
        sample["groundTruth"] = [1 if first <= i + 1 <= last else 0 for i in range(n)]
        sample["groundTruthIndex"] = [first, last]
    return sample


def write_user(path: Path, training: dict[str, Any], testing: dict[str, Any]) -> Path:
    doc = {
        "userInfo": {"name": path.parent.name, "age": 24, "gender": "woman", "handedness": "right"},
        "generalInfo": {"deviceModel": "Myo Armband", "samplingFrequencyInHertz": 200},
        "trainingSamples": training,
        "testingSamples": testing,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def make_source(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "EMG-EPN612 Dataset"
    training = {
        "idx_1": epn_sample("noGesture", 40, None, 1),
        "idx_2": epn_sample("fist", 50, (11, 30), 2),
        "idx_3": epn_sample("fist", 45, (5, 25), 3),
    }
    testing = {"idx_1": epn_sample(None, 30, None, 4), "idx_2": epn_sample(None, 35, None, 5)}
    write_user(root / "trainingJSON" / "user1" / "user1.json", training, testing)
    return root, {}
