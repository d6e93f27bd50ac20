"""Hyser pattern-recognition (PR) dataset (Jiang et al. 2021, PhysioNet ``hd-semg``),
adapter ``hyser``.

Release format (from the PhysioNet project page/readme as quoted by public loaders; no file
of the set is held here): WFDB records (``.hea`` + ``.dat``, format 16) in
``pr_dataset/subject<NN>_session<k>/``: ``dynamic_raw_sample<i>`` (about 1 s) and
``maintenance_raw_sample<i>`` (about 4 s), plus ``*_preprocess_*`` filtered copies, and label
files ``label_dynamic.txt`` / ``label_maintenance.txt``: comma-separated gesture ids (1-34),
the i-th id labelling ``sample<i>``. 256 channels at 2048 Hz from four 8 x 8 grids: ED
(extensor, distal), EP (extensor, proximal), FD (flexor, distal), FP (flexor, proximal),
channel names ``<grid>-<row>-<col>`` (1-based); when the header's names do not follow that
form, channels are placed in release order (ED, EP, FD, FP, 64 each, row and column counting
down from 8 to 1 within a grid).

One unit = one record; its event spans the record with label ``gesture_<id>`` and
``repetition`` = how many times that id occurred up to this sample in the label file.
Samples stay integer ADC counts (gain = 1 / adc_gain, offset = baseline from the header).
Option ``signal``: ``raw`` (default) or ``preprocess``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from adapters._common import check_nonempty, normalize_units
from adapters.wfdb_record import check_signal_files, read_header
from emgcorpus.errors import SourceError, check_option
from emgcorpus.recording import (
    Adapter,
    ChannelInfo,
    ElectrodePosition,
    Event,
    Recording,
    SourceFile,
    SourceUnit,
    SubjectInfo,
)

N_CHANNELS = 256
GRIDS = ("ED", "EP", "FD", "FP")
GRID_MUSCLES = {"ED": "extensors", "EP": "extensors", "FD": "flexors", "FP": "flexors"}
_FOLDER = re.compile(r"^subject(\d+)_session(\d+)$")
_RECORD = re.compile(r"^(dynamic|maintenance)_(raw|preprocess)_sample(\d+)$")
_CHANNEL = re.compile(r"^(ED|EP|FD|FP)-(\d)-(\d)$")


def channel_position(index: int, name: str) -> ElectrodePosition:
    """Grid position of a Hyser channel from its name, or from its release order."""
    m = _CHANNEL.match(name.strip())
    if m:
        grid, row, col = m.group(1), int(m.group(2)) - 1, int(m.group(3)) - 1
    else:
        grid = GRIDS[index // 64]
        within = index % 64
        row, col = 7 - within // 8, 7 - within % 8
    return ElectrodePosition(system="grid", row=row, col=col, grid_name=grid)


def read_labels(path: Path) -> list[int]:
    """Gesture ids of a ``label_*.txt`` file; SourceError naming it when malformed."""
    check_nonempty(path)
    text = path.read_text(errors="replace").strip()
    try:
        return [int(float(v)) for v in re.split(r"[,\s]+", text) if v]
    except ValueError:
        raise SourceError(path, "expected comma-separated gesture ids (integers)") from None


class HyserAdapter(Adapter):
    """Hyser PR records ``subject<NN>_session<k>/<task>_<signal>_sample<i>.hea``."""

    name = "hyser"
    version = "1"
    summary = "Hyser PR dataset: 256-ch HD-sEMG (4 x 8x8 grids, 2048 Hz), WFDB, 34 gestures"

    def __init__(self, source: str | Path, **options: Any) -> None:
        super().__init__(source, **options)
        self.signal = check_option(
            "option signal", str(options.get("signal", "raw")), ("raw", "preprocess")
        )

    def discover(self) -> list[SourceUnit]:
        src = self.source
        if not src.is_dir():
            raise SourceError(src, "source does not exist (expected the Hyser pr_dataset folder)")
        units = []
        for hea in sorted(src.rglob(f"*_{self.signal}_sample*.hea")):
            m = _RECORD.match(hea.stem)
            if not m:
                continue
            label_file = hea.parent / f"label_{m.group(1)}.txt"
            files = (hea, hea.with_suffix(".dat"), label_file)
            units.append(
                SourceUnit(key=hea.relative_to(src).with_suffix("").as_posix(), files=files)
            )
        return sorted(units, key=lambda u: u.key)

    def read(self, unit: SourceUnit) -> Recording:
        import wfdb

        hea, dat, label_file = unit.files
        folder = _FOLDER.match(hea.parent.name)
        rec_m = _RECORD.match(hea.stem)
        if not folder or not rec_m:
            raise SourceError(
                hea,
                "not a Hyser PR record: expected subject<NN>_session<k>/"
                "<dynamic|maintenance>_<raw|preprocess>_sample<i>.hea",
            )
        subject, session = int(folder.group(1)), int(folder.group(2))
        task, index = rec_m.group(1), int(rec_m.group(3))
        check_nonempty(dat)
        try:
            record = wfdb.rdrecord(str(hea.with_suffix("")), physical=False)
        except Exception as exc:
            check_signal_files(hea, read_header(hea))  # a .dat sized unlike its header: named
            raise SourceError(
                hea, f"not a readable WFDB record ({type(exc).__name__}: {exc})"
            ) from None
        counts = np.asarray(record.d_signal)
        if counts.ndim != 2 or counts.shape[1] != N_CHANNELS:
            raise SourceError(hea, f"record has {counts.shape} samples: expected (n, 256)")
        labels = read_labels(label_file)
        if index > len(labels):
            raise SourceError(
                label_file, f"has {len(labels)} labels but {hea.name} is sample {index}"
            )
        gesture = labels[index - 1]
        repetition = labels[:index].count(gesture)
        fs = float(record.fs)
        channels = [
            ChannelInfo(
                name=str(name),
                units=normalize_units(str(units)),
                gain=1.0 / float(adc_gain),
                offset=float(baseline),
                position=channel_position(i, str(name)),
                group=channel_position(i, str(name)).grid_name,
                target_muscle=GRID_MUSCLES[channel_position(i, str(name)).grid_name or "ED"],
                placement_scheme="four 8x8 grids: extensor distal/proximal, flexor distal/proximal",
                high_cutoff=fs / 2,
            )
            for i, (name, units, adc_gain, baseline) in enumerate(
                zip(record.sig_name, record.units, record.adc_gain, record.baseline, strict=True)
            )
        ]
        duration = counts.shape[0] / fs
        return Recording(
            dataset=self.dataset,
            subject=f"{subject:02d}",
            session=str(session),
            trial=f"{task}_{self.signal}_sample{index}",
            device="Hyser 256-channel HD-sEMG (4 x 8x8 grids)",
            fs=fs,
            channels=channels,
            samples=counts.astype(np.int16) if counts.dtype != np.int16 else counts,
            events=[Event(0.0, duration, f"gesture_{gesture}", repetition, "gesture")],
            sources=[SourceFile(str(p)) for p in unit.files],
            subject_info=SubjectInfo(subject=f"{subject:02d}"),
            meta={"task": task, "signal": self.signal, "label_file": label_file.name},
        )
