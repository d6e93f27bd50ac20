"""Noise floors are pooled over the whole (dataset, subject, session, device), whatever
the partition size: a session the compiler cuts over several partitions, only one of
which holds its rest recording, still gets the rest floor, and tokens (shards) do not
depend on the partition size."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy import signal

from emgcorpus.ingest import ingest
from emgcorpus.lake import Lake
from emgcorpus.recording import Adapter, ChannelInfo, ElectrodePosition, Recording, SourceUnit
from vocab.compiler import VocabularyBuilder
from vocab.lake_partitions import (
    open_lake,
    recording_refs,
    segment_partition,
    session_partitions,
    split_sessions,
)
from vocab.nct import NCTTokenizer
from vocab.partition_tasks import whole_session_floors
from vocab.runner import DaskRunner
from vocab.tokenize import tokenize_lake
from vocab.tokenizer_base import KIND_ACTIVE, Segments

FS = 1000.0
N_CH = 3
#: one session of a rest recording and five recordings cut inside a held gesture (no rest
#: at all), and a second subject's session with its own rest
TRIALS = {"s1": ["rest", "g1", "g2", "g3", "g4", "g5"], "s2": ["rest", "g1"]}


def _samples(subject: str, trial: str) -> np.ndarray:
    rng = np.random.default_rng(zlib.crc32(f"{subject}/{trial}".encode()))
    n = int(3.0 * FS)
    x = 0.02 * rng.normal(size=(n, N_CH))
    if trial != "rest":
        sos = signal.butter(4, [30, 300], "bandpass", fs=FS, output="sos")
        emg = signal.sosfiltfilt(sos, rng.normal(size=(n, N_CH)), axis=0)
        level = 1.0 + 0.3 * np.sin(2 * np.pi * 0.5 * np.arange(n) / FS)[:, None]
        x += level * emg / emg.std(axis=0)
    return x.astype(np.float32)


class HeldSessionAdapter(Adapter):
    name = "held-session"
    reads_files = False

    def discover(self) -> list[SourceUnit]:
        return [SourceUnit(key=f"{s}/{t}", files=()) for s, ts in TRIALS.items() for t in ts]

    def read(self, unit: SourceUnit) -> Recording:
        subject, trial = unit.key.split("/")
        return Recording(
            dataset="held",
            subject=subject,
            session="1",
            trial=trial,
            device="ring3",
            fs=FS,
            channels=[
                ChannelInfo(
                    name=f"c{i}",
                    units="mV",
                    position=ElectrodePosition(system="ring", angle_deg=120.0 * i),
                )
                for i in range(N_CH)
            ],
            samples=_samples(subject, trial),
        )


@pytest.fixture(scope="module")
def held_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("held") / "lake"
    ingest(path, HeldSessionAdapter("builtin"), progress=False)
    return path


def _segments(lake_path: Path, size: int) -> tuple[dict[str, Segments], int]:
    """Every recording's segments with partitions of ``size`` recordings, and the number
    of partitions the first subject's session is cut into."""
    lake = open_lake(lake_path)
    snapshot = {str(k): int(v) for k, v in lake.snapshot().items()}
    refs, nfs = recording_refs(lake.recordings())
    cuts = session_partitions([r.session for r in refs], size)
    parts = [[refs[i] for i in p] for p in cuts]
    pfs = [[nfs[i] for i in p] for p in cuts]
    tok = NCTTokenizer()
    with DaskRunner("sync", None, False) as run:
        floors = whole_session_floors(run, str(lake_path), snapshot, parts, pfs, tok, None)
    assert set(floors) == split_sessions(parts)
    out: dict[str, Segments] = {}
    for p_refs, p_fs in zip(parts, pfs):
        for i, seg, _, _, _ in segment_partition(lake, p_refs, p_fs, tok, None, floors):
            out[p_refs[i].recording_id] = seg
    s1 = sum(any(r.session.split("\x1f")[1] == "s1" for r in p) for p in parts)
    return out, s1


def _trial(lake_path: Path) -> dict[str, str]:
    table = Lake.open(lake_path).recordings()
    return {str(r["recording_id"]): f"{r['subject']}/{r['trial']}" for r in table.to_dicts()}


def _active_fraction(s: Segments) -> float:
    a = s.kind == KIND_ACTIVE
    return float(s.duration_s[a].sum() / s.duration_s.sum())


def test_a_session_cut_over_partitions_gets_the_floor_of_its_rest(held_lake: Path) -> None:
    whole, n_whole = _segments(held_lake, 16)
    cut, n_cut = _segments(held_lake, 2)
    assert n_whole == 1 and n_cut == 3  # the 6 recordings of s1 in 3 partitions of 2
    trial = _trial(held_lake)
    for rid, seg in cut.items():
        # same segments, bit for bit, whatever the partition size
        ref = whole[rid]
        for col in ("channel", "onset_s", "duration_s", "kind"):
            assert np.array_equal(getattr(seg, col), getattr(ref, col)), (trial[rid], col)
        assert np.array_equal(seg.descriptor, ref.descriptor, equal_nan=True), trial[rid]
        # the held recordings (two of the three partitions hold no rest) are active
        # against the rest floor, the rest recordings are not
        frac = _active_fraction(seg)
        assert (frac > 0.9) if not trial[rid].endswith("rest") else (frac < 0.05), trial[rid]
    # without the whole-session pass, the partitions without rest take the held
    # gesture's own level for their floor (the defect this fixes)
    lake = open_lake(held_lake)
    refs, nfs = recording_refs(lake.recordings())
    cuts = session_partitions([r.session for r in refs], 2)
    tok = NCTTokenizer()
    alone = {}
    for p in cuts:
        p_refs, p_fs = [refs[i] for i in p], [nfs[i] for i in p]
        for i, seg, _, _, _ in segment_partition(lake, p_refs, p_fs, tok, None):
            alone[p_refs[i].recording_id] = _active_fraction(seg)
    assert min(alone.values()) < 0.5


def _shard_tokens(shard_dir: Path) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for f in sorted(shard_dir.glob("part-*.parquet")):
        for r in pq.read_table(f).to_pylist():
            rows[f"{r['recording_id']}/{r['sentence_index']}"] = {
                k: r[k] for k in ("token_ids", "token_channel", "token_onset_s", "token_pos")
            }
    return rows


def test_tokens_do_not_depend_on_the_partition_size(held_lake: Path, tmp_path: Path) -> None:
    vocab = VocabularyBuilder(
        held_lake, "nct", size=4, sample_size=100, scheduler="sync", partition_size=16
    ).build(progress=False)
    kw: dict[str, Any] = {"scheduler": "sync", "progress": False}
    tokens = {
        size: _shard_tokens(
            tokenize_lake(
                held_lake, vocab.id, out_dir=tmp_path / f"p{size}", partition_size=size, **kw
            )
        )
        for size in (1, 2, 3, 16)
    }
    assert tokens[16] and all(tokens[s] == tokens[16] for s in tokens)
    # the vocabulary's statistics see the same descriptors whatever the partition size
    small = VocabularyBuilder(
        held_lake, "nct", size=4, sample_size=100, scheduler="sync", partition_size=1
    ).build(progress=False, save=False)
    assert small.meta["corpus"]["active_segments"] == vocab.meta["corpus"]["active_segments"]
    assert np.allclose(small.meta["standardization"]["mean"], vocab.meta["standardization"]["mean"])
