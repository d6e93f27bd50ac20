"""SIGKILL at random points of ingest, harmonize, vocab build and tokenize.

After every kill: (a) the latest Delta version of every table, read by plain
``deltalake`` and by polars (``read_delta``, ``scan_delta``), holds no orphan and the
counts emgcorpus sees (a kill inside a commit group, the one window the protocol of
emgcorpus.lake_writer leaves, is recovered by the next ``Lake.open``, and checked again
after it); vocabularies and shard indexes are either absent or finished; (b) a rerun
completes; (c) no duplicates. Two trials per stage here, ten more in the slow test.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from adapters.registry import make_adapter
from emgcorpus.harmonize import harmonize
from emgcorpus.ingest import ingest
from emgcorpus.lake import Lake
from emgcorpus.lake_writer import read_snapshot
from emgcorpus.shards.index import INDEX_FILE, default_shard_dir, read_index
from emgcorpus.shards.verify import verify_shards
from emgcorpus.verify import verify_lake
from tests.lake.crash import (
    emgcorpus_counts,
    in_commit_group,
    latest_versions,
    orphan_problems,
    run_stage,
    unreferenced_signal_files,
)
from tests.lake.fakes import SpecAdapter, spec
from tests.vocab.conftest import SIM
from vocab.artifact import Vocabulary, default_store, list_vocabularies
from vocab.compiler import VocabularyBuilder
from vocab.tokenize import tokenize_lake

SPECS = {f"u{i:02d}": spec(n=300 + 10 * i, n_ch=3, subject=f"s{i % 3}") for i in range(8)}
INGEST: dict[str, Any] = {"specs": SPECS, "batch": 2}
HARMONIZE: dict[str, Any] = {"fs": 1000.0, "batch_bytes": 1}  # one recording per batch
VOCAB: dict[str, Any] = {"size": 8, "sample_size": 200, "partition_size": 2}
TOKENIZE: dict[str, Any] = {"partition_size": 2, "max_rows_per_shard": 2}


@dataclass
class Stage:
    """One stage under test: its base lake, the child's arguments and the checks."""

    name: str
    base: Path
    args: dict[str, Any]
    #: the rerun (in this process) after a kill
    rerun: Callable[[Path, int], None]
    #: checks of the stage's own artifacts right after a kill, and after the rerun
    after_kill: Callable[[Path], None]
    complete: Callable[[Path], None]
    #: prepares a trial's lake copy (trial number given)
    prepare: Callable[[Path, int], None] = lambda lake, i: None
    #: filled by calibration: the stage's duration [s] in a child
    elapsed: float = 0.0
    hits: dict[str, int] = field(default_factory=lambda: {"window": 0, "killed": 0})


def _ingest_args(i: int) -> dict[str, Any]:
    return {**INGEST, "mode": "skip" if i % 2 == 0 else "abort"}


def _ingest_complete(lake: Path) -> None:
    recs = Lake.open(lake).recordings()
    assert sorted(recs["trial"].to_list()) == ["seed", *sorted(SPECS)]
    assert recs["recording_id"].n_unique() == recs.height
    assert verify_lake(lake) == []


def _harmonize_complete(lake: Path) -> None:
    h = Lake.open(lake).harmonized()
    assert h.height == len(SPECS) + 1
    assert h.select("recording_id", "fs").n_unique() == h.height
    assert verify_lake(lake) == []


def _vocab_ids(lake: Path) -> list[str]:
    return [v["id"] for v in list_vocabularies(default_store(lake))]


@pytest.fixture(scope="module")
def stages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Stage]:
    root = tmp_path_factory.mktemp("crash")
    seed = root / "seed"
    ingest(seed, SpecAdapter(seed, specs={"seed": spec(subject="old")}), progress=False)
    full = root / "full"
    shutil.copytree(seed, full)
    ingest(full, SpecAdapter(full, specs=SPECS), progress=False, batch_recordings=2)
    sim = root / "sim"
    ingest(sim, make_adapter("sim", "builtin", **SIM), progress=False)
    with_vocab = root / "sim-vocab"
    shutil.copytree(sim, with_vocab)
    vocab = VocabularyBuilder(with_vocab, "nct", scheduler="sync", **VOCAB).build(progress=False)
    # the vocabulary records the lake's path: copies compare by their codebooks
    reference: dict[str, Any] = {"vocab": vocab.id, "codebook": vocab.codebook}
    ref_out = tokenize_lake(with_vocab, vocab.id, scheduler="sync", progress=False, **TOKENIZE)
    reference["shards"] = read_index(ref_out)["shards"]
    tok_args: dict[str, Any] = {**TOKENIZE, "vocab_id": vocab.id}

    def vocab_after_kill(lake: Path) -> None:
        ids = _vocab_ids(lake)
        assert len(ids) <= 1  # nothing, or the finished artifact
        for vid in ids:
            assert np.array_equal(
                Vocabulary.load(default_store(lake), vid).codebook, reference["codebook"]
            )

    def vocab_complete(lake: Path) -> None:
        (vid,) = _vocab_ids(lake)
        assert np.array_equal(
            Vocabulary.load(default_store(lake), vid).codebook, reference["codebook"]
        )

    def vocab_rerun(lake: Path, i: int) -> None:
        VocabularyBuilder(lake, "nct", scheduler="sync", **VOCAB).build(progress=False)

    def shards_after_kill(lake: Path) -> None:
        out = default_shard_dir(lake.resolve(), reference["vocab"])
        if (out / INDEX_FILE).exists():  # an index is only there for finished shards
            assert verify_shards(out) == []

    def shards_prepare(lake: Path, i: int) -> None:
        if i % 2:  # odd trials rewrite a finished tokenization with other file contents
            tokenize_lake(
                lake, reference["vocab"], scheduler="sync", progress=False,
                partition_size=2, max_rows_per_shard=1,
            )  # fmt: skip

    def shards_rerun(lake: Path, i: int) -> None:
        tokenize_lake(lake, scheduler="sync", progress=False, **tok_args)

    def shards_complete(lake: Path) -> None:
        out = default_shard_dir(lake.resolve(), reference["vocab"])
        assert verify_shards(out) == []
        assert read_index(out)["shards"] == reference["shards"]

    return {
        "ingest": Stage(
            "ingest",
            seed,
            INGEST,
            rerun=lambda lake, i: _rerun_ingest(lake),
            after_kill=lambda lake: None,
            complete=_ingest_complete,
        ),
        "harmonize": Stage(
            "harmonize",
            full,
            HARMONIZE,
            rerun=lambda lake, i: _rerun_harmonize(lake),
            after_kill=lambda lake: None,
            complete=_harmonize_complete,
        ),
        "vocab": Stage("vocab", sim, VOCAB, vocab_rerun, vocab_after_kill, vocab_complete),
        "tokenize": Stage(
            "tokenize",
            with_vocab,
            tok_args,
            shards_rerun,
            shards_after_kill,
            shards_complete,
            prepare=shards_prepare,
        ),
    }


def _rerun_ingest(lake: Path) -> None:
    ingest(lake, SpecAdapter(lake, specs=SPECS), progress=False, batch_recordings=2)


def _rerun_harmonize(lake: Path) -> None:
    harmonize(lake, HARMONIZE["fs"], progress=False, batch_bytes=HARMONIZE["batch_bytes"])


def _calibrate(stage: Stage, root: Path) -> None:
    """One unkilled child run: the stage's duration (kill points are uniform over it)."""
    if stage.elapsed:
        return
    lake = root / f"{stage.name}-calibration"
    shutil.copytree(stage.base, lake)
    stage.prepare(lake, 0)
    result = run_stage(stage.name, lake, _args(stage, 0))
    assert not result["killed"]
    stage.elapsed = float(result["elapsed"])
    stage.complete(lake)


def _args(stage: Stage, i: int) -> dict[str, Any]:
    return _ingest_args(i) if stage.name == "ingest" else stage.args


def _trial(stage: Stage, root: Path, i: int) -> None:
    rng = random.Random(f"{stage.name}-{i}")
    # A child that finished before its kill point (the machine got faster than when the
    # stage was timed) is tried again on a fresh copy with half the delay, twice at most,
    # so that load changes do not turn kill trials into plain runs.
    for attempt in range(3):
        lake = root / f"{stage.name}-{i}-{attempt}"
        shutil.copytree(stage.base, lake)
        stage.prepare(lake, i)
        before = read_snapshot(lake)
        delay = rng.uniform(0.0, 0.9 * stage.elapsed) * 0.5**attempt
        result = run_stage(stage.name, lake, _args(stage, i), delay)
        if result["killed"] or attempt == 2:
            break
        shutil.rmtree(lake)
    stage.hits["killed"] += result["killed"]
    # (a) read as tools other than emgcorpus read it, before any emgcorpus command
    if in_commit_group(lake):
        stage.hits["window"] += 1  # the one window the protocol leaves (lake_writer)
    else:
        assert latest_versions(lake) == read_snapshot(lake), f"kill at {delay:.3f} s"
        assert orphan_problems(lake) == [], f"kill at {delay:.3f} s"
    emgcorpus_counts(lake)  # any emgcorpus command: Lake.open recovers
    assert not in_commit_group(lake)
    assert latest_versions(lake) == read_snapshot(lake)
    assert orphan_problems(lake) == []
    assert unreferenced_signal_files(lake) == []
    if stage.name in ("vocab", "tokenize"):
        assert read_snapshot(lake) == before  # readers never write the tables
    stage.after_kill(lake)
    # (b) a rerun completes, (c) without duplicates
    stage.rerun(lake, i)
    stage.complete(lake)
    assert orphan_problems(lake) == []
    shutil.rmtree(lake)


def _run_trials(stage: Stage, root: Path, trials: range) -> None:
    _calibrate(stage, root)
    killed = stage.hits["killed"]
    for i in trials:
        _trial(stage, root, i)
    print(f"{stage.name}: {stage.elapsed:.2f} s stage, hits {json.dumps(stage.hits)}")
    # most trials must really be killed mid-stage (or the test tests little)
    assert stage.hits["killed"] - killed >= max(1, len(trials) // 2)


@pytest.mark.parametrize("name", ["ingest", "harmonize", "vocab", "tokenize"])
def test_sigkill_at_random_points(name: str, stages: dict[str, Stage], tmp_path: Path) -> None:
    _run_trials(stages[name], tmp_path, range(2))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ingest", "harmonize", "vocab", "tokenize"])
def test_sigkill_at_random_points_many(name: str, stages: dict[str, Stage], tmp_path: Path) -> None:
    _run_trials(stages[name], tmp_path, range(2, 12))


_SHARD_KILL = """
import json, os, signal, sys
import emgcorpus.shards.writer as writer
from vocab.tokenize import tokenize_lake
write = writer.write_if_changed
def killing(path, *args, **kwargs):
    write(path, *args, **kwargs)
    if path.name.startswith("part-"):  # right after the first shard file changed
        os.kill(os.getpid(), signal.SIGKILL)
writer.write_if_changed = killing
tokenize_lake(sys.argv[1], scheduler="sync", progress=False, **json.loads(sys.argv[2]))
"""


def test_a_tokenize_killed_after_changing_a_shard_leaves_no_index(
    stages: dict[str, Stage], tmp_path: Path
) -> None:
    import subprocess
    import sys

    from emgcorpus.errors import LakeError
    from tests.conftest import REPO

    stage = stages["tokenize"]
    lake = tmp_path / "lake"
    shutil.copytree(stage.base, lake)
    stage.prepare(lake, 1)  # a finished tokenization with other file contents
    out = default_shard_dir(lake.resolve(), stage.args["vocab_id"])
    assert verify_shards(out) == []
    proc = subprocess.run(
        [sys.executable, "-c", _SHARD_KILL, str(lake), json.dumps(stage.args)],
        cwd=REPO,
        capture_output=True,
        timeout=300,
    )
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert not (out / INDEX_FILE).exists()  # the old index does not describe the files
    with pytest.raises(LakeError, match="no shard index"):
        read_index(out)
    assert any("no shard index" in p for p in verify_shards(out))
    stage.rerun(lake, 1)
    stage.complete(lake)
