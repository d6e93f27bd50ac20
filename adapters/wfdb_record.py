"""Any PhysioNet WFDB record (``wfdb``), e.g. the PhysioNet *Examples of Electromyograms*.

**Format.** A WFDB record is a text header ``<name>.hea`` (record line: name, number of
signals, sampling rate [Hz], samples per signal; one line per signal: file, format,
``gain(baseline)/units``, ADC resolution, ADC zero, initial value, checksum, block size,
description; ``#`` comment lines) plus binary signal file(s) ``<name>.dat``. Read with
the ``wfdb`` package (``rdrecord(physical=False)``), spec:
https://www.physionet.org/physiotools/wag/header-5.htm and signal-5.htm.

**Harmonization.** Digital values are kept losslessly as integers (int16 when they fit,
int32 otherwise) with ``gain = 1 / adc_gain`` and ``offset = baseline``, so
``physical = (digital - baseline) / adc_gain`` in the header's units. Unit spellings are
normalised (``mv`` -> ``mV``: PhysioNet's ``emg_myopathy.hea`` writes ``mv``). An ADC
gain of 0 (uncalibrated, per the spec) gives ``units = "n/a"``, ``gain = 1``. Channel
type is ``EMG`` (option ``channel_type``); positions ``n/a``; ``high_cutoff`` = fs/2.
Before reading, the size of each signal file is checked against the header
(samples x signals x bytes per sample for fixed-size formats): a mismatch is a
SourceError, not a silently zero-padded signal. Multi-segment records are not supported.

**Identity and labels.** subject = record name, or option ``subject`` (a fixed id), or
the ``subject`` group of option ``pattern`` (regex with named groups ``subject``,
``session``, ``trial`` searched in the record's relative path). session = ``pattern``'s
group or option ``session`` (default ``"1"``); trial = record name. Option ``label`` adds
one gesture event over the whole record; otherwise there are no events. Header comments
are kept in ``meta["comments"]``; PhysioNet-style ``<age>: 44 <sex>: M`` fields fill the
subject info and ``<diagnoses>:`` becomes ``meta["diagnosis"]`` (emgdb: healthy,
myopathy, neuropathy).

**emgdb facts** (``../shared/data/physionet_emgdb/MANIFEST.md``): 3 needle-EMG records
(25 mm concentric needle, tibialis anterior), 1 channel, 4000 Hz, format 16,
10000/mV. Licence: PhysioNet open-access licence (verify on PhysioNet).
Citation: Goldberger et al., PhysioBank, PhysioToolkit, and PhysioNet, Circulation
101(23) 2000. URL: https://physionet.org/content/emgdb/
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from adapters._common import (
    compile_path_pattern,
    fields_from_path,
    normalize_units,
    nyquist,
    option_channel_type,
    option_str,
    relative_key,
)
from emgcorpus.errors import SourceError
from emgcorpus.recording import (
    Adapter,
    ChannelInfo,
    Event,
    Recording,
    SourceFile,
    SourceUnit,
    SubjectInfo,
)

#: bytes per sample of the fixed-size WFDB formats (spec "signal-5")
FORMAT_BYTES: dict[str, float] = {
    "8": 1,
    "80": 1,
    "16": 2,
    "61": 2,
    "160": 2,
    "212": 1.5,
    "24": 3,
    "32": 4,
}
_COMMENT_FIELD_RX = re.compile(r"<([^>]+)>:?\s*([^<]*)")


@dataclass
class WfdbData:
    """A WFDB record read as digital integers, with per-channel calibration."""

    record_name: str
    fs: float
    samples: np.ndarray
    names: list[str]
    units: list[str]
    gains: list[float]
    offsets: list[float]
    comments: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def read_header(hea: Path) -> Any:
    """The WFDB header of ``hea``; SourceError naming it when missing, empty or unreadable."""
    import wfdb

    if not hea.is_file() or hea.stat().st_size == 0:
        raise SourceError(hea, "header file is missing or empty")
    try:
        return wfdb.rdheader(str(hea.with_suffix("")))
    except Exception as exc:  # wfdb raises bare ValueError/Exception on bad headers
        raise SourceError(
            hea, f"not a readable WFDB header ({type(exc).__name__}: {exc})"
        ) from None


def check_signal_files(hea: Path, header: Any) -> list[Path]:
    """Signal files named by ``header``; SourceError if missing or sized unlike the header."""
    if getattr(header, "seg_name", None):
        raise SourceError(hea, "multi-segment WFDB records are not supported")
    files: list[Path] = []
    per_file: dict[str, list[str]] = {}
    for fname, fmt in zip(header.file_name, header.fmt, strict=True):
        per_file.setdefault(fname, []).append(str(fmt))
    offsets = dict(zip(header.file_name, header.byte_offset or [None] * header.n_sig, strict=True))
    for fname, fmts in per_file.items():
        path = hea.parent / fname
        if not path.is_file():
            raise SourceError(path, f"signal file named in {hea.name} is missing")
        size = path.stat().st_size
        if size == 0:
            raise SourceError(path, "signal file is empty (0 bytes)")
        files.append(path)
        if header.sig_len is None or any(f not in FORMAT_BYTES for f in fmts):
            continue
        expected = header.sig_len * sum(FORMAT_BYTES[f] for f in fmts)
        expected += offsets.get(fname) or 0
        if int(np.ceil(expected)) != size:
            raise SourceError(
                path,
                f"size {size} bytes does not match header {hea.name}: {header.sig_len} samples "
                f"x {len(fmts)} signals (format {'/'.join(sorted(set(fmts)))}) = "
                f"{int(np.ceil(expected))} bytes",
            )
    return files


def read_wfdb(hea: Path) -> WfdbData:
    """Read the record of header ``hea`` as digital integers; SourceError on any mismatch."""
    import wfdb

    if not hea.is_file() or hea.stat().st_size == 0:
        raise SourceError(hea, "header file is missing or empty")
    # The header is parsed once, by rdrecord; the record carries the header's fields, so the
    # signal files are checked against it after the read. When the read fails, the header
    # is parsed on its own to say what is wrong with it or with its files.
    try:
        rec = wfdb.rdrecord(str(hea.with_suffix("")), physical=False, return_res=64)
    except Exception as exc:
        check_signal_files(hea, read_header(hea))
        raise SourceError(hea, f"cannot read WFDB samples ({type(exc).__name__}: {exc})") from None
    files = check_signal_files(hea, rec)
    d = np.asarray(rec.d_signal)
    if d.ndim != 2 or d.shape[1] != rec.n_sig:
        raise SourceError(hea, f"samples have shape {d.shape}, header says {rec.n_sig} signals")
    info16 = np.iinfo(np.int16)
    small = d.size == 0 or (d.min() >= info16.min and d.max() <= info16.max)
    samples = d.astype(np.int16 if small else np.int32)
    units, gains, offsets = [], [], []
    for k in range(rec.n_sig):
        adc_gain = float(rec.adc_gain[k]) if rec.adc_gain is not None else 0.0
        if adc_gain == 0.0:
            units.append("n/a")
            gains.append(1.0)
            offsets.append(0.0)
        else:
            units.append(normalize_units(rec.units[k] if rec.units else None))
            gains.append(1.0 / adc_gain)
            offsets.append(float(rec.baseline[k]))
    return WfdbData(
        record_name=str(rec.record_name),
        fs=float(rec.fs),
        samples=samples,
        names=[str(n) for n in rec.sig_name],
        units=units,
        gains=gains,
        offsets=offsets,
        comments=header_comments(hea),
        files=files,
    )


def header_comments(hea: Path) -> list[str]:
    """Comment lines of a WFDB header without the ``#`` and one following space; further
    leading spaces are kept (they mark continuation lines, which ``wfdb`` strips)."""
    out = []
    for line in hea.read_text(encoding="latin-1").splitlines():
        if line.startswith("#"):
            text = line[1:]
            out.append(text[1:] if text.startswith(" ") else text)
    return out


def parse_comment_fields(comments: list[str]) -> dict[str, str]:
    """``<age>: 44 <sex>: M`` style fields of WFDB header comments (continuation lines,
    which start with a space, extend the previous field)."""
    out: dict[str, str] = {}
    last: str | None = None
    for line in comments:
        matches = list(_COMMENT_FIELD_RX.finditer(line))
        if matches:
            for m in matches:
                last = m.group(1).strip().lower()
                out[last] = m.group(2).strip()
        elif line.startswith(" ") and last is not None:
            out[last] = f"{out[last]} {line.strip()}".strip()
        else:
            last = None
    return out


class WfdbAdapter(Adapter):
    """Generic WFDB records: one recording per ``.hea`` header below the source."""

    name = "wfdb"
    version = "1"
    summary = "any PhysioNet WFDB record (.hea + .dat), digital values kept lossless"

    def __init__(self, source: str | Path, **options: Any) -> None:
        super().__init__(source, **options)
        self._pattern = compile_path_pattern(option_str(options, "pattern"))
        self._channel_type = option_channel_type(options)

    def discover(self) -> list[SourceUnit]:
        src = self.source
        if not src.is_dir() and src.with_suffix(".hea").is_file():  # one record
            hea = src.with_suffix(".hea")
            return [SourceUnit(key=hea.with_suffix("").name, files=(hea,))]
        if not src.is_dir():
            raise SourceError(src, "source does not exist (expected a folder of .hea/.dat)")
        units = []
        for hea in src.rglob("*.hea"):
            key = relative_key(hea.with_suffix(""), src)
            dat = hea.with_suffix(".dat")
            files = (hea, dat) if dat.is_file() else (hea,)
            units.append(SourceUnit(key=key, files=files))
        return sorted(units, key=lambda u: u.key)

    def read(self, unit: SourceUnit) -> Recording:
        hea = unit.files[0]
        data = read_wfdb(hea)
        fields = fields_from_path(self._pattern, unit.key, hea)
        subject = fields.get("subject") or option_str(self.options, "subject") or data.record_name
        session = fields.get("session") or option_str(self.options, "session", "1") or "1"
        trial = fields.get("trial") or data.record_name
        channels = [
            ChannelInfo(
                name=n,
                type=self._channel_type,
                units=u,
                gain=g,
                offset=o,
                high_cutoff=nyquist(data.fs),
            )
            for n, u, g, o in zip(data.names, data.units, data.gains, data.offsets, strict=True)
        ]
        events = []
        label = option_str(self.options, "label")
        if label:
            events.append(Event(0.0, data.samples.shape[0] / data.fs, label, kind="gesture"))
        cf = parse_comment_fields(data.comments)
        meta = {"comments": "\n".join(c.strip() for c in data.comments)} if data.comments else {}
        if "diagnoses" in cf:
            meta["diagnosis"] = cf["diagnoses"]
        info = None
        if "age" in cf or "sex" in cf:
            try:
                age = float(cf["age"]) if cf.get("age") else None
            except ValueError:
                age = None
            info = SubjectInfo(subject=subject, age=age, sex=cf.get("sex") or None)
        return Recording(
            dataset=self.dataset,
            subject=subject,
            session=session,
            trial=trial,
            device=option_str(self.options, "device", "n/a") or "n/a",
            fs=data.fs,
            channels=channels,
            samples=data.samples,
            events=events,
            sources=[SourceFile(relative_key(f, self._root())) for f in (hea, *data.files)],
            subject_info=info,
            meta=meta,
        )

    def _root(self) -> Path:
        return self.source if self.source.is_dir() else self.source.parent
