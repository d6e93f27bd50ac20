"""Labelled EMG windows read from a lake, as a torch ``Dataset`` for users' own models.

:class:`LakeWindowDataset` cuts the windows of training.windows (the windows every LOSO
accuracy counts: same events, same labelling rules, same ``window_id``) from the lake's
recordings and yields ``(x, label)``: ``x`` a float32 tensor (n_channels, n_samples) in
physical units, ``label`` the index of the window's label in ``dataset.labels``.

It streams: the window list (from the events table) is built when the dataset is made,
and samples are read one recording at a time while iterating, so memory holds one
recording whatever the lake's size. With ``DataLoader(num_workers=k)`` each worker reads
its own share of the recordings; the workers must be started with
``multiprocessing_context="spawn"`` (or ``"forkserver"``): the Delta Lake reader's runtime
does not survive ``fork``, and a forked worker stops with a ConfigError saying so. Windows
are cut by training.baselines.cut_windows (the
feature baselines' cutter): ``round(window_ms / 1000 * fs)`` samples from
``round(start_s * fs)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from emgcorpus.errors import ConfigError
from emgcorpus.lake import Lake
from emgcorpus.lake_location import lake_location
from training.baselines import cut_windows
from training.windows import (
    Labelling,
    Window,
    WindowSpec,
    lake_recording_events,
    make_windows,
    window_labels,
)


class LakeWindowDataset(IterableDataset):  # type: ignore[type-arg]
    """Labelled windows of ``datasets`` in the lake at ``lake``, streamed per recording.

    ``window_ms`` / ``hop_ms``: window length and step [ms]. ``fs``: read the harmonized
    stream at this rate [Hz] (``emgcorpus harmonize --fs``; LakeError when missing), None:
    each recording's native rate (then recordings of different rates give windows of
    different sample counts). ``device``: only recordings of this EMG device (the lake's
    ``device`` column; ConfigError if a dataset has none). ``labelling`` /
    ``include_rest``: training.windows.WindowSpec.
    ``labels``: the class list (label index = position in it; windows of other labels are
    dropped); default: every label found, sorted. ``channels``: ``"emg"`` (EMG channels not
    marked bad, as the feature baselines read) or ``"all"``. ``shuffle``: recordings and the
    windows within each in a random order, a new one per pass (``seed`` + pass number).
    """

    def __init__(
        self,
        lake: str | Path,
        datasets: Sequence[str] | None = None,
        window_ms: float = 250.0,
        hop_ms: float = 50.0,
        fs: float | None = None,
        *,
        device: str | None = None,
        labelling: Labelling = "containment",
        include_rest: bool = False,
        labels: Sequence[str] | None = None,
        channels: str = "emg",
        shuffle: bool = False,
        seed: int = 0,
    ) -> None:
        if channels not in ("emg", "all"):
            raise ConfigError(f"channels must be 'emg' or 'all', got {channels!r}")
        self.lake_path = lake_location(lake)  # a folder, or an s3:// URL as it is
        self.spec = WindowSpec(
            window_s=window_ms / 1000.0,
            hop_s=hop_ms / 1000.0,
            labelling=labelling,
            include_rest=include_rest,
        )
        self.fs = None if fs is None else float(fs)
        self.channels = channels
        self.shuffle = shuffle
        self.seed = seed
        self._passes = 0
        lake_view = Lake.open(self.lake_path)
        names = (
            sorted({str(d) for d in lake_view.recordings()["dataset"].to_list()})
            if datasets is None
            else list(datasets)
        )
        recs = [r for name in names for r in lake_recording_events(self.lake_path, name, device)]
        windows = make_windows(recs, self.spec)
        self.labels: list[str] = list(labels) if labels is not None else window_labels(windows)
        known = set(self.labels)
        #: the windows this dataset yields (training.windows.Window), in iteration order
        #: when not shuffled
        self.windows: list[Window] = [w for w in windows if w.label in known]
        if not self.windows:
            raise ConfigError(
                f"{self.lake_path}: datasets {names} have no labelled windows of "
                f"{window_ms:g} ms with labels {self.labels}"
            )
        self._by_recording: dict[str, list[int]] = {}
        for i, w in enumerate(self.windows):
            self._by_recording.setdefault(w.recording_id, []).append(i)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickling (a spawned DataLoader worker): note that this copy was not forked."""
        self.__dict__.update(state)
        self._unpickled = True

    def __len__(self) -> int:
        return len(self.windows)

    @property
    def recording_ids(self) -> list[str]:
        """Recordings with at least one window, in iteration order when not shuffled."""
        return list(self._by_recording)

    def _channel_indices(self, lake: Lake, recording_id: str) -> list[int] | None:
        if self.channels == "all":
            return None
        chans = [
            k
            for k, c in enumerate(lake.channel_infos(recording_id))
            if c.type == "EMG" and c.status != "bad"
        ]
        if not chans:
            raise ConfigError(f"recording {recording_id} has no good EMG channel")
        return chans

    def recording_windows(self, lake: Lake, recording_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of one recording: float32 (n_windows, n_channels, n_samples) and int64
        label indices, in the order of ``self.windows``."""
        idx = self._by_recording[recording_id]
        rate = (
            self.fs if self.fs is not None else float(lake.recording_row(recording_id)["native_fs"])
        )
        samples = lake.read_samples(
            recording_id, fs=self.fs, channels=self._channel_indices(lake, recording_id)
        )
        cut = cut_windows(samples, rate, [self.windows[i] for i in idx])
        x = np.ascontiguousarray(np.swapaxes(cut, 1, 2), dtype=np.float32)
        y = np.array([self.labels.index(self.windows[i].label) for i in idx], np.int64)
        return x, y

    def __iter__(self) -> Iterator[tuple[torch.Tensor, int]]:
        info = get_worker_info()
        if info is not None and not getattr(self, "_unpickled", False):
            raise ConfigError(
                "LakeWindowDataset in a forked DataLoader worker: the Delta Lake reader does "
                "not survive fork; pass multiprocessing_context='spawn' (or 'forkserver') "
                "to the DataLoader"
            )
        rids = self.recording_ids
        rng = np.random.default_rng(self.seed + self._passes)
        self._passes += 1
        if self.shuffle:
            rids = [rids[i] for i in rng.permutation(len(rids))]
        if info is not None:
            rids = rids[info.id :: info.num_workers]
        lake = Lake.open(self.lake_path)
        for rid in rids:
            x, y = self.recording_windows(lake, rid)
            order = rng.permutation(len(y)) if self.shuffle else range(len(y))
            for k in order:
                yield torch.from_numpy(x[k]), int(y[k])

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Every window at once: float32 (n_windows, n_channels, n_samples) and int64
        labels, in ``self.windows`` order (for scikit-learn; needs equal channel counts and
        rates across recordings, ConfigError else)."""
        lake = Lake.open(self.lake_path)
        xs, ys = [], []
        for rid in self.recording_ids:
            x, y = self.recording_windows(lake, rid)
            xs.append(x)
            ys.append(y)
        shapes = sorted({x.shape[1:] for x in xs})
        if len(shapes) > 1:
            raise ConfigError(
                f"windows differ in (channels, samples): {shapes}; pass fs= (a harmonized "
                "rate) or datasets of one device"
            )
        return np.concatenate(xs), np.concatenate(ys)

    def describe(self) -> dict[str, Any]:
        """Windows, recordings, labels and the window definition (for logs)."""
        return {
            "windows": len(self.windows),
            "recordings": len(self._by_recording),
            "labels": self.labels,
            "spec": self.spec.to_dict(),
            "fs": self.fs,
        }
