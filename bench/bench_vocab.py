"""Benchmark: vocabulary build and tokenization throughput with 1 and 2 Dask workers.

For two corpus sizes (simulated lakes), with a fresh LocalCluster per run (its start-up is
not timed; the builder gets the cluster's address, the same code path as a remote
scheduler), prints:

- build and tokenize throughput in channel-samples per second and hours of EMG per second;
- speed-up of 2 workers over 1 (target >= 1.6x on 2 free cores);
- peak RSS per worker [MiB] during the build and during tokenization, separately (the
  peak is reset on every worker between stages; it should not grow with the corpus size);
- the floor: a 4th-order Butterworth band-pass (20-450 Hz, zero phase) plus a 50 ms
  moving-RMS envelope over the same samples in this process, and tokenization's share
  of that floor's single-core throughput per worker (target >= 0.5x), for tokenize
  reading the build's segment cache (the default, vocab.segment_cache) and without it
  (``no cache``: reading and segmenting every recording again); each stage also as CPU
  seconds (the workers' plus this process's: client and scheduler), and the floor share
  by CPU seconds, the figures that hold when neighbours load the cores.

bench/bench_scale.py measures the same stages per hour of EMG at growing corpus sizes.

With several ``--descriptors`` modes (spill, memory, recompute: how the compiler's later
passes get the descriptors) each is built on the same lake; their vocabulary ids must be
equal. Usage: ``python bench/bench_vocab.py [--subjects 4 8] [--workers 1 2] [--size 64]
[--partition-size N] [--descriptors spill memory]``. Run it on otherwise idle cores: on a
shared machine the 2-worker speed-up and the wall-clock floor ratio measure the neighbours
as much as the code (read the CPU-second figures there).
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from distributed import Client
from scipy import signal

from adapters.registry import make_adapter
from emgcorpus.ingest import ingest
from emgcorpus.lake import Lake
from vocab.compiler import DESCRIPTOR_MODES, VocabularyBuilder
from vocab.lake_partitions import DEFAULT_PARTITION_SIZE, tokenized_channels
from vocab.runner import local_cluster
from vocab.tokenize import tokenize_lake

SIM = {
    "gestures": 3,
    "repetitions": 2,
    "contraction_s": 2.0,
    "rest_s": 1.0,
    "devices": "ring16,bipolar4",
}


def make_lake(root: Path, subjects: int) -> Path:
    lake = root / f"lake-{subjects}"
    ingest(lake, make_adapter("sim", "builtin", subjects=subjects, **SIM), progress=False)
    return lake


def corpus_size(lake_path: Path) -> tuple[int, float]:
    """Channel-samples of the tokenized channels and recording time [s]."""
    lake = Lake.open(lake_path)
    samples, seconds = 0, 0.0
    for r in lake.recordings().iter_rows(named=True):
        n_ch = len(tokenized_channels(lake.channel_infos(r["recording_id"])))
        samples += int(r["n_samples"]) * n_ch
        seconds += float(r["n_samples"]) / float(r["native_fs"])
    return samples, seconds


def floor_throughput(lake_path: Path) -> tuple[float, float]:
    """Channel-samples per second of band-pass + moving RMS on one core (reads not timed):
    per wall-clock second and per CPU second of this thread (the figure that holds on a
    shared machine, where a neighbour's load stretches the wall clock)."""
    lake = Lake.open(lake_path)
    total, elapsed, cpu = 0, 0.0, 0.0
    for r in lake.recordings().iter_rows(named=True):
        rid, fs = r["recording_id"], float(r["native_fs"])
        keep = tokenized_channels(lake.channel_infos(rid))
        x = lake.read_samples(rid)[:, keep].astype(np.float64)
        t0, c0 = time.perf_counter(), time.thread_time()
        sos = signal.butter(4, [20.0, min(450.0, 0.45 * fs)], "bandpass", fs=fs, output="sos")
        y = signal.sosfiltfilt(sos, x, axis=0)
        n = max(1, int(0.05 * fs))
        c = np.cumsum(np.vstack([np.zeros((1, y.shape[1])), y**2]), axis=0)
        _ = np.sqrt((c[n:] - c[:-n]) / n)
        elapsed += time.perf_counter() - t0
        cpu += time.thread_time() - c0
        total += x.size
    return total / elapsed, total / max(cpu, 1e-9)


def cpu_seconds() -> float:
    """CPU seconds [s] this process has used (every thread; run on a worker by client.run)."""
    return time.process_time()


def _peak_rss_mib() -> float:
    """This process's peak RSS [MiB] since the last :func:`_reset_peak` (VmHWM)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _reset_peak() -> bool:
    """Reset this process's peak RSS to its current RSS (Linux); False when impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _warm_up() -> None:
    """Import what the tasks use (scipy.signal, the lake, the NCT, the shard writer, and
    pyarrow.dataset with pandas, which deltalake imports on a lake's first table read) in
    this process: a worker's first task would otherwise time a few seconds of imports."""
    import importlib

    for name in (
        "emgcorpus.lake",
        "emgcorpus.shards.writer",
        "vocab.compiler",
        "vocab.tokenize",
        "pyarrow.dataset",
        "pandas",
    ):
        importlib.import_module(name)
    importlib.import_module("vocab.tokenizers").get_tokenizer("nct")


def _rss_mib() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**20


@contextlib.contextmanager
def warm_cluster(workers: int) -> Iterator[tuple[str, Client]]:
    """The package's LocalCluster (vocab.runner.local_cluster) of ``workers`` processes,
    their imports done (:func:`_warm_up`: neither they nor the cluster's start are timed);
    its scheduler address and a client."""
    with local_cluster(workers) as cluster, Client(cluster) as client:
        client.run(_warm_up)
        yield cluster.scheduler_address, client


@dataclass
class Stage:
    """One timed stage on a cluster: wall [s], CPU [s] of the workers plus this process
    (client and LocalCluster scheduler), peak RSS per worker [MiB] during it."""

    result: Any
    wall_s: float
    cpu_s: float
    rss_mib: list[float]


def timed_stage(client: Client, work: Callable[[], Any]) -> Stage:
    """Run ``work()`` with the workers' peak RSS reset before; its :class:`Stage`."""
    client.run(_reset_peak)
    c0 = sum(client.run(cpu_seconds).values()) + cpu_seconds()
    t0 = time.perf_counter()
    result = work()
    wall = time.perf_counter() - t0
    cpu = sum(client.run(cpu_seconds).values()) + cpu_seconds() - c0
    return Stage(result, wall, cpu, list(client.run(_peak_rss_mib).values()))


def run_once(
    lake: Path, workers: int, size: int, out: Path, partition: int, descriptors: str = "spill"
) -> dict[str, Any]:
    """Build, tokenize (segment cache) and tokenize without the cache on a fresh cluster."""
    with warm_cluster(workers) as (address, client):
        rss0 = list(client.run(_rss_mib).values())
        builder = VocabularyBuilder(
            lake,
            "nct",
            size=size,
            scheduler=address,
            store=out / "store",
            iterations=10,
            partition_size=partition,
            descriptors=descriptors,
        )
        build = timed_stage(client, lambda: builder.build(progress=False))
        tok = {
            name: timed_stage(
                client,
                partial(
                    tokenize_lake,
                    lake,
                    build.result.id,
                    out_dir=out / f"shards-{workers}-{name}",
                    scheduler=address,
                    store=out / "store",
                    progress=False,
                    partition_size=partition,
                    segment_cache=name == "tokenize",
                ),
            )
            for name in ("tokenize", "fresh")
        }
    return {"id": build.result.id, "build": build, **tok, "rss0": rss0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, nargs="+", default=[4, 8])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--size", type=int, default=64, help="codebook size")
    ap.add_argument(
        "--partition-size", type=int, default=DEFAULT_PARTITION_SIZE, help="recordings per task"
    )
    ap.add_argument(
        "--descriptors",
        nargs="+",
        choices=DESCRIPTOR_MODES,
        default=["spill"],
        help="how the compiler's later passes get the descriptors (each mode is built)",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for subjects in args.subjects:
            lake = make_lake(root, subjects)
            samples, seconds = corpus_size(lake)
            floor = floor_throughput(lake)
            print(
                f"\ncorpus: {subjects} subjects, {seconds / 3600:.4f} h of EMG, "
                f"{samples / 1e6:.1f} M channel-samples"
            )
            print(
                f"  floor (band-pass + moving RMS, 1 core): {floor[0] / 1e6:.2f} M ch-samples/s "
                f"({floor[1] / 1e6:.2f} M per CPU s)"
            )
            for mode in args.descriptors:
                out = root / f"out-{subjects}-{mode}"
                report_mode(lake, args, out, mode, samples, seconds, floor)


def report_mode(
    lake: Path,
    args: argparse.Namespace,
    out: Path,
    mode: str,
    samples: int,
    seconds: float,
    floor: tuple[float, float],
) -> None:
    """Build and tokenize with every worker count in ``args.workers``; print the figures
    (tokenize's share of the floor per core by wall clock x workers and by CPU seconds)."""
    print(f"  descriptors={mode}")
    base: dict[str, float] = {}
    for w in args.workers:
        r = run_once(lake, w, args.size, out / str(w), args.partition_size, mode)
        for stage, label in (("build", "build"), ("tokenize", "tokenize"), ("fresh", "no cache")):
            st: Stage = r[stage]
            t = st.wall_s
            rate = samples / t
            speed = f", {base[stage] / t:.2f}x vs {args.workers[0]}w" if base else ""
            share = ""
            if stage != "build":
                share = (
                    f", {rate / floor[0] / w:.2f}x of floor per core "
                    f"({samples / st.cpu_s / floor[1]:.2f}x by CPU s)"
                )
            print(
                f"    {w} worker(s) {label:>8}: {t:6.2f} s ({st.cpu_s:6.2f} CPU s), "
                f"{rate / 1e6:6.2f} M ch-samples/s, "
                f"{seconds / 3600 / t:.4f} h EMG/s{speed}{share}"
            )
        if not base:
            base = {k: r[k].wall_s for k in ("build", "tokenize", "fresh")}
        build = ", ".join(f"{m:.0f}" for m in r["build"].rss_mib)
        tok = ", ".join(f"{m:.0f}" for m in r["tokenize"].rss_mib)
        rss0 = ", ".join(f"{m:.0f}" for m in r["rss0"])
        print(
            f"    {w} worker(s) peak RSS per worker [MiB]: build {build}; tokenize {tok} "
            f"(idle {rss0}; vocab {r['id']})"
        )


if __name__ == "__main__":
    main()
