"""EMG-EPN-612 (``epn612``), read from its original per-user JSON files.

**Dataset.** 612 users (306 "training" users, 306 "testing" users) performing 5 hand
gestures plus no gesture with a Myo armband; made by M. Benalcázar et al., Escuela
Politécnica Nacional (Quito). Zenodo doi:10.5281/zenodo.4421500.

**Device.** Thalmic Labs Myo armband: 8 dry electrodes evenly spaced around the forearm,
8 channels, 200 Hz (``generalInfo.samplingFrequencyInHertz`` when present). Positions
are ``ring`` with ``angle_deg = 45 * k``. Values are the Myo's raw 8-bit counts
(``units = "n/a"``, no documented scale).

**Format.** One JSON file per user, ``<split>JSON/userN/userN.json`` (also accepted:
any ``*.json`` in a ``userN`` folder, e.g. ``userData.json``), holding ``userInfo``
(demographics), optional ``generalInfo``, and ``trainingSamples`` / ``testingSamples``:
mappings ``idx_1 .. idx_K`` of repetitions of about 5 s, each with ``emg``
(``{"ch1": [...], ..., "ch8": [...]}``), ``gestureName`` (``noGesture``, ``fist``,
``waveIn``, ``waveOut``, ``open``, ``pinch``), and for gestures ``groundTruth`` (0/1 per
sample) and ``groundTruthIndex`` ([first, last] sample of the gesture, 1-based,
inclusive). The labels of the testing users' ``testingSamples`` are withheld by the
authors: those repetitions are read without events.

**Mapping.** One recording per (user file, split): the split's repetitions concatenated
in ``idx`` order; ``trial`` is the split name. Each gesture repetition gives one event
over its ``groundTruthIndex`` span; a ``noGesture`` repetition gives one ``rest`` event
over the whole repetition. ``repetition`` counts per gesture from 0.

**Licence.** CC BY 4.0 (Zenodo record; unverified). **Citation.** Benalcázar M. et al.,
EMG-EPN-612 dataset, Zenodo (2020), doi:10.5281/zenodo.4421500.

Facts from the dataset's documentation as used by LibEMG's ``EMGEPN612`` loader
(200 Hz, 8 channels, Myo armband, 612 users) and public JSON readers (key names).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from adapters._common import as_integer_if_exact, check_nonempty
from adapters._myo import myo_channels
from emgcorpus.errors import SourceError
from emgcorpus.recording import (
    Adapter,
    Event,
    Recording,
    SourceFile,
    SourceUnit,
    SubjectInfo,
)

FS_HZ = 200.0
N_CHANNELS = 8
SPLITS = ("trainingSamples", "testingSamples")
GESTURES = ("noGesture", "fist", "waveIn", "waveOut", "open", "pinch")
_USER_DIR = re.compile(r"^user\d+$")


def _load_json(path: Path) -> dict[str, Any]:
    check_nonempty(path)
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SourceError(path, f"not valid JSON (truncated?): {exc}") from None
    if not isinstance(doc, dict):
        raise SourceError(path, "top level is not a JSON object")
    return doc


def _subject_info(user: str, info: Any) -> SubjectInfo:
    if not isinstance(info, dict):
        return SubjectInfo(subject=user)
    age = info.get("age")
    extra = {k: str(v) for k, v in info.items() if k not in ("age", "gender", "handedness", "name")}
    return SubjectInfo(
        subject=user,
        age=float(age) if isinstance(age, (int, float)) else None,
        sex=str(info["gender"]) if info.get("gender") is not None else None,
        handedness=str(info["handedness"]) if info.get("handedness") is not None else None,
        extra=extra,
    )


def _sample_emg(path: Path, idx: str, sample: Any) -> np.ndarray:
    emg = sample.get("emg") if isinstance(sample, dict) else None
    if not isinstance(emg, dict):
        raise SourceError(path, f"{idx}: no 'emg' object with ch1..ch{N_CHANNELS}")
    missing = [f"ch{k}" for k in range(1, N_CHANNELS + 1) if f"ch{k}" not in emg]
    if missing:
        raise SourceError(path, f"{idx}: emg lacks {', '.join(missing)}")
    cols = [np.asarray(emg[f"ch{k}"], dtype=np.float64) for k in range(1, N_CHANNELS + 1)]
    lengths = {c.size for c in cols}
    if len(lengths) != 1 or any(c.ndim != 1 for c in cols):
        raise SourceError(path, f"{idx}: channels have different lengths {sorted(lengths)}")
    return np.stack(cols, axis=1)


def _gesture_span(path: Path, idx: str, sample: dict[str, Any], n: int) -> tuple[int, int]:
    """0-based [start, stop) of the gesture from groundTruthIndex, checked against groundTruth."""
    gti = sample.get("groundTruthIndex")
    if not (isinstance(gti, list) and len(gti) == 2 and all(isinstance(v, int) for v in gti)):
        raise SourceError(path, f"{idx}: groundTruthIndex must be [first, last], got {gti!r}")
    first, last = gti
    if not 1 <= first <= last <= n:
        raise SourceError(
            path, f"{idx}: groundTruthIndex {gti} is outside the {n} samples of the repetition"
        )
    gt = sample.get("groundTruth")
    if gt is not None:
        truth = np.asarray(gt)
        if truth.size != n:
            raise SourceError(
                path, f"{idx}: groundTruth has {truth.size} values for {n} EMG samples"
            )
        on = np.flatnonzero(truth)
        if on.size and (on[0] != first - 1 or on[-1] != last - 1):
            raise SourceError(
                path,
                f"{idx}: groundTruth marks samples {on[0] + 1}..{on[-1] + 1}, "
                f"groundTruthIndex says {first}..{last}",
            )
    return first - 1, last


class Epn612Adapter(Adapter):
    """EMG-EPN-612: one recording per user file and split (training/testing samples)."""

    name = "epn612"
    version = "1"
    summary = "EMG-EPN-612 (Myo, 8 ch, 200 Hz, 612 users, 6 classes), original JSON files"

    def discover(self) -> list[SourceUnit]:
        src = self.source
        if src.is_file():
            files = [src]
        elif src.is_dir():
            files = [p for p in src.rglob("*.json") if _USER_DIR.match(p.parent.name)]
        else:
            raise SourceError(src, "source does not exist (expected a folder or a user JSON)")
        base = src.parent if src.is_file() else src
        units = [
            SourceUnit(key=f"{p.relative_to(base).as_posix()}#{split}", files=(p,))
            for p in files
            for split in SPLITS
        ]
        return sorted(units, key=lambda u: u.key)

    def read(self, unit: SourceUnit) -> Recording:
        path = unit.files[0]
        split = unit.key.rsplit("#", 1)[-1]
        if split not in SPLITS:
            raise SourceError(path, f"unit key {unit.key!r} does not name a split {SPLITS}")
        doc = _load_json(path)
        samples = doc.get(split)
        if not isinstance(samples, dict) or not samples:
            raise SourceError(path, f"no {split!r} object with idx_1..idx_K repetitions")
        general = doc.get("generalInfo")
        info: dict[str, Any] = general if isinstance(general, dict) else {}
        fs = float(info.get("samplingFrequencyInHertz", FS_HZ))
        user = path.parent.name if _USER_DIR.match(path.parent.name) else path.stem
        blocks: list[np.ndarray] = []
        events: list[Event] = []
        counts: dict[str, int] = {}
        offset = 0
        withheld = 0
        order = sorted(samples, key=lambda k: int(k.split("_")[-1]) if k[-1].isdigit() else 0)
        for idx in order:
            sample = samples[idx]
            emg = _sample_emg(path, idx, sample)
            n = emg.shape[0]
            name = sample.get("gestureName")
            if name is None:
                withheld += 1
            elif name not in GESTURES:
                raise SourceError(path, f"{idx}: gestureName {name!r} is not one of {GESTURES}")
            elif name == "noGesture":
                rep = counts.get(name, 0)
                counts[name] = rep + 1
                events.append(Event(offset / fs, n / fs, "rest", rep, kind="rest"))
            else:
                start, stop = _gesture_span(path, idx, sample, n)
                rep = counts.get(name, 0)
                counts[name] = rep + 1
                events.append(Event((offset + start) / fs, (stop - start) / fs, name, rep))
            blocks.append(emg)
            offset += n
        data = as_integer_if_exact(np.concatenate(blocks, axis=0), "int16")
        channels = myo_channels("ch", fs)
        meta = {"repetitions": str(len(order)), "split_dir": path.parent.parent.name}
        if withheld:
            meta["labels"] = f"withheld by the authors for {withheld} repetition(s)"
        subject = f"{path.parent.parent.name}/{user}"
        return Recording(
            dataset=self.dataset,
            subject=subject,
            session="0",
            trial=split.removesuffix("Samples"),
            device=str(info.get("deviceModel", "Thalmic Labs Myo armband")),
            fs=fs,
            channels=channels,
            samples=data,
            events=events,
            sources=[SourceFile(path=unit.key.rsplit("#", 1)[0])],
            subject_info=_subject_info(subject, doc.get("userInfo")),
            meta=meta,
        )
