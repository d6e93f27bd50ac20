"""The gesture vocabulary: one canonical name per movement, whatever the dataset called it.

Datasets label the same movement differently ("Hand Close", "Hand_Close", "fist",
"Fingers flexed together in fist"). ``emgcorpus/gestures.yaml`` holds a small list of
canonical names (:func:`canonical_gestures`) and, per dataset, which raw event labels
mean which canonical gesture (taken from each adapter's documented label table; a label
not listed maps to ``None``). Ingest stores the canonical name beside the raw label, in
the ``gesture`` column of the ``events`` table (:func:`gesture_of`), so one query groups
the same movement across datasets (:func:`events_by_gesture`).

Look-up rules: the dataset name is used as it is, else without a ``-db<x>`` suffix
(``ninapro-db2`` -> ``ninapro``); labels are compared normalised (:func:`label_key`:
lower case, runs of spaces/``_``/``-`` -> one ``_``); an event of kind ``rest`` labelled
``rest`` (the recording contract's rest class) is ``rest`` in every dataset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from emgcorpus.errors import ConfigError

#: The vocabulary file shipped with the package.
GESTURES_FILE = Path(__file__).with_name("gestures.yaml")
#: Canonical name of the rest class.
REST = "rest"

_SEPARATORS = re.compile(r"[\s_\-]+")
_DB_SUFFIX = re.compile(r"-db[0-9a-z]+$")


def label_key(label: str) -> str:
    """A label as the vocabulary compares it: lower case, ``_`` for separator runs."""
    return _SEPARATORS.sub("_", label.strip().lower())


@dataclass(frozen=True)
class GestureVocabulary:
    """Canonical gestures (name -> description) and per-dataset label -> canonical maps."""

    canonical: dict[str, str]
    #: dataset -> {raw label as written in the file: canonical name}
    datasets: dict[str, dict[str, str]]
    _keyed_maps: dict[str, dict[str, str]] = field(default_factory=dict, compare=False, repr=False)

    def dataset_key(self, dataset: str) -> str | None:
        """The vocabulary entry a dataset uses (itself, or without ``-db<x>``), or None."""
        if dataset in self.datasets:
            return dataset
        base = _DB_SUFFIX.sub("", dataset)
        return base if base in self.datasets else None

    def gesture_of(self, dataset: str, label: str, kind: str = "gesture") -> str | None:
        """Canonical gesture of one event of ``dataset``, or None when it has none."""
        if kind == "rest" and label == REST:
            return REST
        key = self.dataset_key(dataset)
        if key is None:
            return None
        return self._keyed(key).get(label_key(label))

    def _keyed(self, dataset: str) -> dict[str, str]:
        """{label_key(raw label): canonical} of one dataset (built once)."""
        if dataset not in self._keyed_maps:
            labels = self.datasets[dataset]
            self._keyed_maps[dataset] = {label_key(k): v for k, v in labels.items()}
        return self._keyed_maps[dataset]

    def rows(self) -> list[dict[str, str]]:
        """The mapping as rows {dataset, label, gesture}, sorted (rest rule not included)."""
        return [
            {"dataset": d, "label": raw, "gesture": name}
            for d in sorted(self.datasets)
            for raw, name in sorted(self.datasets[d].items())
        ]


def load_vocabulary(path: str | Path = GESTURES_FILE) -> GestureVocabulary:
    """Read and check a gesture vocabulary YAML file; ConfigError naming it when malformed
    (unknown canonical names, two raw labels of one dataset with the same key)."""
    path = Path(path)
    try:
        doc: Any = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the gesture vocabulary ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("canonical"), dict):
        raise ConfigError(f"{path}: expected a mapping with 'canonical' and 'datasets'")
    canonical = {str(k): str(v) for k, v in doc["canonical"].items()}
    datasets: dict[str, dict[str, str]] = {}
    for dataset, labels in (doc.get("datasets") or {}).items():
        if not isinstance(labels, dict):
            raise ConfigError(f"{path}: datasets.{dataset} must map raw labels to gestures")
        mapped = {str(k): str(v) for k, v in labels.items()}
        unknown = sorted(set(mapped.values()) - set(canonical))
        if unknown:
            raise ConfigError(f"{path}: datasets.{dataset} uses unknown gestures {unknown}")
        keys = [label_key(k) for k in mapped]
        if len(set(keys)) != len(keys):
            raise ConfigError(f"{path}: datasets.{dataset} lists one label twice: {keys}")
        datasets[str(dataset)] = mapped
    return GestureVocabulary(canonical, datasets)


@lru_cache(maxsize=1)
def vocabulary() -> GestureVocabulary:
    """The packaged vocabulary (:data:`GESTURES_FILE`), read once per process."""
    return load_vocabulary()


def canonical_gestures() -> list[str]:
    """The canonical gesture names, in the vocabulary's order."""
    return list(vocabulary().canonical)


def gesture_of(dataset: str, label: str, kind: str = "gesture") -> str | None:
    """Canonical gesture of an event (packaged vocabulary), None when it has none."""
    return vocabulary().gesture_of(dataset, label, kind)


def events_by_gesture(events: pl.DataFrame, recordings: pl.DataFrame) -> pl.DataFrame:
    """The same movement across datasets: one row per (gesture, dataset) with the number of
    events, the raw labels and the total duration [s].

    ``events`` and ``recordings`` are a lake's tables (``Lake.events()``,
    ``Lake.recordings()``); events without a canonical gesture are left out.
    """
    return (
        events.filter(pl.col("gesture").is_not_null())
        .join(recordings.select("recording_id", "subject"), on="recording_id", how="left")
        .group_by("gesture", "dataset")
        .agg(
            pl.len().alias("n_events"),
            pl.col("subject").n_unique().alias("n_subjects"),
            pl.col("label").unique().sort().alias("labels"),
            pl.col("duration").sum().alias("duration_s"),
        )
        .sort("gesture", "dataset")
    )
