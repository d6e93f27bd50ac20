"""Benchmark: cost per hour of EMG from small to large simulated corpora (issue 11).

For every corpus size (hours of simulated EMG: 16-channel 1 kHz rings and 4-channel 2 kHz
bipolar amplifiers, several subjects and sessions) it prints, in one run:

- seconds per hour of EMG for ingest (the simulation that generates the samples is part
  of it), vocabulary build, tokenize reading the build's segment cache (the default) and
  tokenize without the cache (segmenting again), with 1 and 2 Dask workers, and the
  2-worker speed-up of each (target >= 1.6x);
- peak RSS per worker [MiB] in the build and in tokenize (should stay flat as the corpus
  grows);
- the floors measured beside them over the same samples in this process: the band-pass +
  moving-RMS filter floor (bench_vocab.floor_throughput; tokenize reading included, at
  >= 0.5x per core is the target) and one segmentation pass (every recording read and
  segmented once, in process: what ``vocab build`` + ``tokenize`` together may cost at
  most 1.3x of), and the same pass as the first work of a fresh worker (the start the
  build's worker has: a fresh process faults its first allocations in).

Default sizes 1, 3 and 10 h (about 1.5 min, 5 min and 15 min on 2 idle cores); ``--full``
runs the 1, 10 and 100 h of the issue (the 100 h size needs ~10 GB of disk, checked before
the first size starts, and a few hours). Usage: ``python bench/bench_scale.py [--hours 1 3
10 | --full] [--workers 1 2] [--size 64] [--root DIR]``. On a shared machine the ratios
measured within one run are the figures to read, the CPU-second ones above all.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_vocab import (  # noqa: E402  (bench/ is not a package)
    _rss_mib,
    corpus_size,
    cpu_seconds,
    floor_throughput,
    timed_stage,
    warm_cluster,
)

from adapters.registry import make_adapter  # noqa: E402
from emgcorpus.ingest import ingest  # noqa: E402
from vocab.compiler import VocabularyBuilder  # noqa: E402
from vocab.lake_partitions import (  # noqa: E402
    DEFAULT_PARTITION_SAMPLES,
    DEFAULT_PARTITION_SIZE,
    lake_snapshot,
    open_lake,
    plan_partitions,
    segment_partition,
)
from vocab.partition_tasks import whole_session_floors  # noqa: E402
from vocab.runner import DaskRunner  # noqa: E402
from vocab.segment_cache import cache_root  # noqa: E402
from vocab.tokenize import tokenize_lake  # noqa: E402
from vocab.tokenizers import get_tokenizer  # noqa: E402

#: The simulated corpus: every subject has 2 sessions on 2 devices, 183 s each.
SIM = {
    "gestures": 6,
    "repetitions": 5,
    "contraction_s": 3.0,
    "rest_s": 3.0,
    "sessions": 2,
    "devices": "ring16,bipolar4",
}
#: Hours of EMG per simulated subject (2 sessions x 2 devices x 183 s).
HOURS_PER_SUBJECT = 2 * 2 * (3.0 + 5 * 6 * 6.0) / 3600


#: Disk per hour of EMG [MiB] a size needs while it is measured: the lake (~61), its segment
#: cache (~6) and four shard folders (~4.3 each: cached and fresh, per worker count), with
#: a margin; every size's files are removed before the next size starts.
DISK_MIB_PER_HOUR = 100.0


def check_disk(root: Path, hours: list[float]) -> None:
    """SystemExit naming ``root`` when it has less free space than the largest size needs."""
    need = max(hours) * DISK_MIB_PER_HOUR * 2**20
    free = shutil.disk_usage(root).free
    if free < need:
        raise SystemExit(
            f"{root}: {free / 2**30:.1f} GiB free, the {max(hours):g} h corpus needs about "
            f"{need / 2**30:.1f} GiB (give another folder with --root)"
        )


def make_lake(root: Path, hours: float) -> tuple[Path, float]:
    """A simulated lake of about ``hours`` of EMG; returns it and the ingest time [s]."""
    subjects = max(1, math.ceil(hours / HOURS_PER_SUBJECT - 1e-9))
    lake = root / f"lake-{hours:g}h"
    t0 = time.perf_counter()
    ingest(lake, make_adapter("sim", "builtin", subjects=subjects, **SIM), progress=False)
    return lake, time.perf_counter() - t0


def segmentation_pass(lake_path: Path) -> tuple[float, float]:
    """Wall and CPU seconds [s] to read and segment every recording once in this process
    (the NCT with default parameters, native rates, the compiler's partitions and session
    floors)."""
    lake = open_lake(lake_path)
    snapshot = lake_snapshot(lake)
    plan = plan_partitions(
        lake.recordings(), DEFAULT_PARTITION_SIZE, None, DEFAULT_PARTITION_SAMPLES
    )
    parts = [[plan.refs[i] for i in p] for p in plan.partitions]
    nfs = [[plan.native_fs[i] for i in p] for p in plan.partitions]
    tokenizer = get_tokenizer("nct")
    t0, c0 = time.perf_counter(), cpu_seconds()
    with DaskRunner("sync", progress=False) as run:
        floors = whole_session_floors(run, str(lake_path), snapshot, parts, nfs, tokenizer, None)
    for refs, f in zip(parts, nfs):
        for _ in segment_partition(
            open_lake(lake_path, snapshot), refs, f, tokenizer, None, floors
        ):
            pass
    return time.perf_counter() - t0, cpu_seconds() - c0


def _add_to_path(folder: str) -> None:
    if folder not in sys.path:
        sys.path.insert(0, folder)


def fresh_worker_segmentation_pass(lake_path: Path) -> tuple[float, float]:
    """:func:`segmentation_pass` as the first work of a fresh LocalCluster worker (the
    package's cluster settings, imports done): the conditions the build's worker starts
    in, where the pass in this process runs after the floor pass has warmed its heap (a
    fresh process faults its first allocations in: tenths of a second per hour of EMG)."""
    with warm_cluster(1) as (_, client):
        # imported as a module (not run as a script) the function travels by name
        client.run(_add_to_path, str(Path(__file__).resolve().parent))
        result = client.submit(segmentation_pass, lake_path, pure=False).result()
        return float(result[0]), float(result[1])


#: The stages of run_workers, in order.
STAGES = ("build", "tokenize", "tokenize, no cache")


def run_workers(lake: Path, workers: int, size: int, out: Path) -> dict[str, Any]:
    """Build, tokenize from the cache and tokenize without it on a fresh LocalCluster of
    ``workers`` processes: a bench_vocab.Stage per stage, whether the shards are identical
    and the segment cache's size [MiB]."""
    shutil.rmtree(cache_root(lake), ignore_errors=True)  # every worker count builds it anew
    res: dict[str, Any] = {}
    with warm_cluster(workers) as (address, client):
        res["rss_idle"] = list(client.run(_rss_mib).values())
        store = out / "store"
        builder = VocabularyBuilder(
            lake, "nct", size=size, scheduler=address, store=store, iterations=10
        )
        res["build"] = timed_stage(client, lambda: builder.build(progress=False))
        vid = res["build"].result.id
        for name, folder, cached in zip(STAGES[1:], ("cached", "fresh"), (True, False)):
            res[name] = timed_stage(
                client,
                partial(
                    tokenize_lake,
                    lake,
                    vid,
                    out_dir=out / folder,
                    scheduler=address,
                    store=store,
                    progress=False,
                    segment_cache=cached,
                ),
            )
    same = sorted((out / "cached").glob("part-*")) and all(
        a.read_bytes() == b.read_bytes()
        for a, b in zip(
            sorted((out / "cached").glob("part-*")), sorted((out / "fresh").glob("part-*"))
        )
    )
    res["identical"] = bool(same)
    res["cache_mib"] = (
        sum(p.stat().st_size for p in cache_root(lake).rglob("*") if p.is_file()) / 2**20
    )
    return res


def report(hours: float, lake: Path, ingest_s: float, args: argparse.Namespace, out: Path) -> None:
    """Measure one corpus size and print its figures."""
    samples, seconds = corpus_size(lake)
    h = seconds / 3600
    floor, floor_cpu = floor_throughput(lake)
    seg_s, seg_cpu = segmentation_pass(lake)
    fresh_s, fresh_cpu = fresh_worker_segmentation_pass(lake)
    signal_mib = sum(p.stat().st_size for p in (lake / "signals").rglob("*.parquet")) / 2**20
    print(
        f"\ncorpus ~{hours:g} h: {h:.2f} h of EMG, {samples / 1e6:.0f} M channel-samples, "
        f"{signal_mib:.0f} MiB of samples"
    )
    print(f"  ingest (simulation included): {ingest_s / h:7.1f} s/h")
    print(
        f"  floor, 1 core: filter {floor / 1e6:.2f} M ch-samples/s = {samples / floor / h:.1f} s/h"
        f" ({samples / floor_cpu / h:.1f} CPU s/h); one segmentation pass {seg_s / h:.1f} s/h"
        f" ({seg_cpu / h:.1f} CPU s/h, {samples / seg_cpu / floor_cpu:.2f}x of the filter);"
        f" the same pass in a fresh worker {fresh_s / h:.1f} s/h ({fresh_cpu / h:.1f} CPU s/h)"
    )
    base: dict[str, float] = {}
    for w in args.workers:
        r = run_workers(lake, w, args.size, out / f"{w}w")
        for stage in STAGES:
            st = r[stage]
            line = f"  {w} worker(s) {stage:>18}: {st.wall_s / h:7.1f} s/h"
            line += f" ({st.cpu_s / h:7.1f} CPU s/h)"
            line += f", {samples / st.wall_s / floor / w:.2f}x of the filter floor per core"
            line += f" ({samples / st.cpu_s / floor_cpu:.2f}x by CPU s)"
            if base:
                line += f", {base[stage] / st.wall_s:.2f}x vs {args.workers[0]} worker(s)"
            rss = ", ".join(f"{m:.0f}" for m in st.rss_mib)
            print(f"{line}; peak RSS per worker {rss} MiB")
        both = (r["build"].wall_s + r["tokenize"].wall_s) * w
        both_cpu = r["build"].cpu_s + r["tokenize"].cpu_s
        print(
            f"  {w} worker(s) build + tokenize = {both / seg_s:.2f}x one segmentation pass "
            f"(worker-seconds; {both_cpu / seg_cpu:.2f}x by CPU s; target <= 1.3x), "
            f"{both / fresh_s:.2f}x the pass in a fresh worker ({both_cpu / fresh_cpu:.2f}x by "
            "CPU s: the same start as the build's); shards "
            f"identical with and without the cache: {r['identical']}; segment cache "
            f"{r['cache_mib']:.0f} MiB"
        )
        if not base:
            base = {k: float(r[k].wall_s) for k in STAGES}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, nargs="+", default=[1.0, 3.0, 10.0])
    ap.add_argument("--full", action="store_true", help="the issue's sizes: 1, 10 and 100 h")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--size", type=int, default=64, help="codebook size")
    ap.add_argument("--root", type=Path, default=None, help="folder for the lakes (default: tmp)")
    args = ap.parse_args()
    hours = [1.0, 10.0, 100.0] if args.full else args.hours
    with tempfile.TemporaryDirectory(dir=args.root) as tmp:
        root = Path(tmp)
        check_disk(root, hours)
        for hh in hours:
            lake, ingest_s = make_lake(root, hh)
            out = root / f"out-{hh:g}"
            report(hh, lake, ingest_s, args, out)
            shutil.rmtree(lake, ignore_errors=True)  # the next size gets the disk
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
