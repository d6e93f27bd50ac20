"""A real Dask scheduler with two worker processes, a LocalCluster and the synchronous
scheduler all compile the same vocabulary, byte for byte."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import Client

from vocab.artifact import CODEBOOK_FILE, VOCAB_FILE
from vocab.compiler import VocabularyBuilder
from vocab.segment_cache import MANIFEST, cache_root
from vocab.tokenize import tokenize_lake

REPO = Path(__file__).resolve().parents[2]
DASK = str(Path(sys.executable).with_name("dask"))


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(log, "wb") as fh:
        return subprocess.Popen([DASK, *args], stdout=fh, stderr=subprocess.STDOUT, env=env)


@pytest.fixture
def dask_scheduler(tmp_path: Path) -> Iterator[str]:
    """Address of a fresh ``dask scheduler`` on 127.0.0.1 with two ``dask worker`` s."""
    sched_file = tmp_path / "scheduler.json"
    procs = [
        _spawn(
            [
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(sched_file),
            ],
            tmp_path / "scheduler.log",
        )
    ]
    try:
        deadline = time.monotonic() + 30
        while not sched_file.exists():
            if time.monotonic() > deadline or procs[0].poll() is not None:
                raise RuntimeError(f"dask scheduler did not start: {sched_file}")
            time.sleep(0.1)
        for i in range(2):
            args = ["worker", "--scheduler-file", str(sched_file), "--nthreads", "1"]
            args += ["--nworkers", "1", "--no-dashboard", "--no-nanny"]
            procs.append(_spawn(args, tmp_path / f"worker{i}.log"))
        with Client(scheduler_file=str(sched_file), timeout=30) as client:
            client.wait_for_workers(2, timeout=30)
            address = client.scheduler.address
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def test_same_vocabulary_on_every_scheduler(
    sim_lake: Path, tmp_path: Path, dask_scheduler: str
) -> None:
    lake = sim_lake
    params: dict[str, Any] = {"size": 10, "sample_size": 400, "partition_size": 1, "iterations": 8}
    built = {}
    for name, scheduler, workers in (  # the first build writes the segment cache
        ("remote", dask_scheduler, None),
        ("local", None, 2),
        ("sync", "sync", None),
    ):
        builder = VocabularyBuilder(
            lake, "nct", scheduler=scheduler, n_workers=workers, store=tmp_path / name, **params
        )
        built[name] = builder.build(progress=False)
    ids = {name: v.id for name, v in built.items()}
    assert len(set(ids.values())) == 1, ids
    ref = built["sync"].path
    assert ref is not None
    for name in ("local", "remote"):
        path = built[name].path
        assert path is not None
        for f in (VOCAB_FILE, CODEBOOK_FILE):
            assert (path / f).read_bytes() == (ref / f).read_bytes(), (name, f)
    assert built["remote"].meta["corpus"]["partitions"] == 4
    # shards from the segment cache the remote workers wrote == segmenting in process
    (cache,) = cache_root(lake).glob(f"*/{MANIFEST}")
    shards = {}
    for name, scheduler, use in (("remote", dask_scheduler, True), ("sync", "sync", False)):
        out = tokenize_lake(
            lake,
            ids["sync"],
            out_dir=tmp_path / f"shards-{name}",
            store=tmp_path / "sync",
            scheduler=scheduler,
            progress=False,
            partition_size=1,
            segment_cache=use,
        )
        shards[name] = {f.name: f.read_bytes() for f in sorted(out.iterdir())}
    assert cache.is_file() and shards["remote"] == shards["sync"]


def _worker_settings() -> tuple[str | None, str | None, bool, str]:
    import dask

    return (
        os.environ.get("MALLOC_MMAP_THRESHOLD_"),
        os.environ.get("MALLOC_TRIM_THRESHOLD_"),
        bool(dask.config.get("distributed.worker.profile.enabled")),
        str(dask.config.get("distributed.admin.tick.interval")),
    )


def test_the_local_cluster_keeps_freed_memory_for_reuse() -> None:
    """Dask's nanny would set MALLOC_TRIM_THRESHOLD_=65536 in every worker (twice the CPU
    seconds on the NCT, bench/bench_scale.py), sample stacks every 10 ms and check its event
    loop every 20 ms; the package's LocalCluster does none of this: its workers get fixed
    glibc thresholds that keep freed memory for reuse from the first task on
    (vocab.runner.WORKER_MALLOC_ENV), and the client's environment stays as it was."""
    from vocab.runner import WORKER_MALLOC_ENV, DaskRunner

    before = {k: os.environ.get(k) for k in WORKER_MALLOC_ENV}
    with DaskRunner(None, n_workers=1, progress=False) as run:
        assert run.client is not None
        settings = list(run.client.run(_worker_settings).values())
    mmap = WORKER_MALLOC_ENV["MALLOC_MMAP_THRESHOLD_"]
    trim = WORKER_MALLOC_ENV["MALLOC_TRIM_THRESHOLD_"]
    assert settings == [(mmap, trim, False, "1s")]
    assert int(trim) > 65536 and int(mmap) >= 32 * 2**20  # above glibc's adaptive maximum
    assert {k: os.environ.get(k) for k in WORKER_MALLOC_ENV} == before
