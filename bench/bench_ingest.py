"""Ingest benchmark: throughput and peak memory, against the floor of plain numpy+Parquet.

Prints figures (not a test). For each real set in ../shared/data whose adapter is
registered and importable, and for a simulated source (raw int16 files, generated
deterministically with numpy; ``--size-gb``, default 2), it runs in a fresh subprocess:

- ``ingest``: :func:`emgcorpus.ingest.ingest` into a new lake;
- ``floor``: the same samples read with numpy and written with ``pyarrow.parquet`` in
  4 MiB binary chunks at the lake's compression (zstd level 1) - the least any lake
  writer must do.

Both modes import the lake's libraries before their clock starts (see ``_warm_imports``),
and reports MB/s of source samples, hours of EMG per second, the ratio ingest/floor
(target >= 0.5) and the child's peak RSS (target < 1 GiB whatever the size). It then
measures reading recordings the way a vocabulary task does (metadata + samples, a fresh
``Lake.open`` every 10 reads) from lakes of N and 10 N recordings (``--read-recordings``)
in a fresh process each: time per recording and reader RSS should not grow with the
lake (``--figure PATH`` draws them).

    python bench/bench_ingest.py --size-gb 0.3 --figure read.png
    python bench/bench_ingest.py --sets cote-allard wfdb --no-sim --read-recordings 0 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from emgcorpus.recording import Adapter, ChannelInfo, Recording, SourceUnit  # noqa: E402

SHARED = (REPO / ".." / "shared" / "data").resolve()
#: adapter name -> folder below ../shared/data
REAL_SETS = {
    "cote-allard": "cote_allard_myo/PreTrainingDataset",
    "ciil": "ciil_myo",
    "flexemg": "flexemg_hd64",
    "grabmyo": "grabmyo_p1",
    "wfdb": "physionet_emgdb",
    "otb": "openhdemg_otb",
}
SIM_CHANNELS = 16
SIM_FS = 2000.0
SIM_FILE_MB = 64


class RawInt16Adapter(Adapter):
    """``*.bin`` files of int16 samples, ``SIM_CHANNELS`` interleaved, at ``SIM_FS`` Hz."""

    name = "bench-raw"

    def discover(self) -> list[SourceUnit]:
        return [SourceUnit(p.name, (p,)) for p in sorted(self.source.glob("*.bin"))]

    def read(self, unit: SourceUnit) -> Recording:
        x = np.fromfile(unit.files[0], dtype="<i2").reshape(-1, SIM_CHANNELS)
        return Recording(
            dataset="bench-sim",
            subject=unit.key.split("_")[0],
            session="1",
            trial=unit.key,
            device="sim",
            fs=SIM_FS,
            channels=[ChannelInfo(f"e{i}", units="uV", gain=0.5) for i in range(SIM_CHANNELS)],
            samples=x,
        )


def make_sim_source(folder: Path, size_gb: float) -> Path:
    """Deterministic int16 files of ~SIM_FILE_MB each, ``size_gb`` in total."""
    folder.mkdir(parents=True, exist_ok=True)
    n_files = max(1, round(size_gb * 1024 / SIM_FILE_MB))
    rows = SIM_FILE_MB * 1024 * 1024 // (2 * SIM_CHANNELS)
    for i in range(n_files):
        path = folder / f"s{i % 10:02d}_{i:05d}.bin"
        if path.exists() and path.stat().st_size == rows * SIM_CHANNELS * 2:
            continue
        rng = np.random.default_rng(i)
        (rng.standard_normal((rows, SIM_CHANNELS), np.float32) * 300).astype("<i2").tofile(path)
    return folder


def child(mode: str, adapter_name: str, source: str, lake: str) -> dict[str, Any]:
    """Run one measurement in this (fresh) process; return its figures."""
    from emgcorpus.ingest import ingest

    if adapter_name == "bench-raw":  # (the registry imports every adapter's readers)
        adapter: Adapter = RawInt16Adapter(source)
    else:
        from adapters.registry import make_adapter

        adapter = make_adapter(adapter_name, source)
    _warm_imports()
    start = time.perf_counter()
    if mode == "ingest":
        report = ingest(lake, adapter, progress=False)
        out = {
            "bytes": report.sample_bytes,
            "seconds_emg": report.duration_s,
            "recordings": len(report.added),
            "errors": len(report.errors),
        }
    else:
        out = floor(adapter, Path(lake))
    out["elapsed_s"] = time.perf_counter() - start
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _warm_imports() -> None:
    """Import, before the clock starts, the libraries the lake writer loads on first use
    (deltalake, pyarrow.dataset with pandas, polars; about 1 s): a fixed start-up cost, not
    per-recording work, which would otherwise dominate the small sets in both modes alike."""
    import deltalake  # noqa: F401
    import polars  # noqa: F401
    import pyarrow.dataset  # noqa: F401
    import pyarrow.parquet  # noqa: F401


def floor(adapter: Adapter, folder: Path) -> dict[str, Any]:
    """Read every unit's samples and write them to one Parquet file (4 MiB binary chunks)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from emgcorpus.chunk_codec import rows_per_chunk
    from emgcorpus.schema import COMPRESSION_LEVEL

    folder.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([("data", pa.binary())])
    total, seconds, n = 0, 0.0, 0
    with pq.ParquetWriter(
        folder / "floor.parquet", schema, compression="zstd", compression_level=COMPRESSION_LEVEL
    ) as writer:
        for unit in adapter.discover():
            try:
                rec = adapter.read(unit)
            except Exception:  # noqa: BLE001 - the floor skips what ingest would skip
                continue
            x = np.ascontiguousarray(rec.samples)
            step = rows_per_chunk(x.shape[1], x.dtype)
            blocks = [x[i : i + step].tobytes() for i in range(0, len(x), step)]
            writer.write_table(pa.table({"data": pa.array(blocks, pa.binary())}))
            total += x.nbytes
            seconds += rec.duration_s
            n += 1
    return {"bytes": total, "seconds_emg": seconds, "recordings": n, "errors": 0}


def run_child(mode: str, adapter: str, source: Path, work: Path) -> dict[str, Any]:
    target = work / f"{mode}-{adapter}"
    shutil.rmtree(target, ignore_errors=True)
    cmd = [sys.executable, __file__, "--child", mode, adapter, str(source), str(target)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} {adapter} failed:\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    shutil.rmtree(target, ignore_errors=True)
    return result


def best_of(
    repeat: int, adapter: str, source: Path, work: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(ingest, floor) figures of the fastest of ``repeat`` children each, run in turns
    (ingest, floor, ingest, ...) so that both see the same load."""
    runs: dict[str, list[dict[str, Any]]] = {"ingest": [], "floor": []}
    for _ in range(max(1, repeat)):
        for mode, out in runs.items():
            out.append(run_child(mode, adapter, source, work))
    ing, flo = (min(r, key=lambda x: x["elapsed_s"]) for r in runs.values())
    return ing, flo


def report_line(name: str, ing: dict[str, Any], flo: dict[str, Any]) -> str:
    mb = ing["bytes"] / 1e6
    rate = mb / ing["elapsed_s"]
    floor_rate = flo["bytes"] / 1e6 / flo["elapsed_s"]
    hours_per_s = ing["seconds_emg"] / 3600 / ing["elapsed_s"]
    return (
        f"{name:<14} {ing['recordings']:>5} rec {mb:>8.1f} MB  ingest {rate:>7.1f} MB/s "
        f"({hours_per_s:6.3f} h EMG/s, {ing['elapsed_s']:6.1f} s)  floor {floor_rate:>7.1f} MB/s"
        f"  ratio {rate / floor_rate:4.2f}  peak RSS ingest {ing['peak_rss_mib']:6.0f} MiB"
        f" / floor {flo['peak_rss_mib']:6.0f} MiB"
    )


class TinyAdapter(Adapter):
    """``options["n"]`` small recordings (4000 x 8 int16 at 2000 Hz, 50 subjects)."""

    name = "bench-tiny"

    def discover(self) -> list[SourceUnit]:
        return [SourceUnit(f"r{i:06d}", ()) for i in range(int(self.options["n"]))]

    def read(self, unit: SourceUnit) -> Recording:
        i = int(unit.key[1:])
        x = np.random.default_rng(i).integers(-500, 500, (4000, 8), "<i2")
        return Recording(
            "bench-tiny",
            f"s{i % 50:03d}",
            "1",
            unit.key,
            "sim",
            2000.0,
            [ChannelInfo(f"c{k}", gain=0.5) for k in range(8)],
            x,
        )


def read_child(lake_path: str, n_reads: int) -> dict[str, Any]:
    """Read ``n_reads`` recordings spread over the lake the way a vocabulary task does
    (a fresh ``Lake.open`` every 10 recordings; channel_infos, events, physical samples);
    figures of this process only. ``first_open_s``: the first open and lookup (loads the
    metadata; once per process and snapshot), not in the per-recording times."""
    import psutil

    from emgcorpus.lake import Lake

    proc = psutil.Process()
    rss_start = proc.memory_info().rss
    t0 = time.perf_counter()
    lake = Lake.open(lake_path)
    ids = lake.recordings()["recording_id"].to_list()
    lake.channel_infos(ids[0])
    lake.events(ids[0])
    first_s = time.perf_counter() - t0  # metadata read once per process and snapshot
    picked = ids[:: max(1, len(ids) // n_reads)][:n_reads]
    meta_s = samples_s = 0.0
    files = set()
    for i, rid in enumerate(picked):
        if i % 10 == 0:
            lake = Lake.open(lake_path)
        t0 = time.perf_counter()
        infos = lake.channel_infos(rid)
        lake.events(rid)
        t1 = time.perf_counter()
        lake.read_samples(rid, channels=list(range(len(infos))))
        t2 = time.perf_counter()
        meta_s, samples_s = meta_s + t1 - t0, samples_s + t2 - t1
        files.update(lake.signal_files(rid))
    return {
        "recordings": len(ids),
        "reads": len(picked),
        "first_open_s": first_s,
        "meta_ms": meta_s / len(picked) * 1e3,
        "samples_ms": samples_s / len(picked) * 1e3,
        "rss_start_mib": rss_start / 2**20,
        "rss_end_mib": proc.memory_info().rss / 2**20,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "signal_files": len(lake.table("signals").file_uris()),
    }


def bench_read(work: Path, n_recordings: int, figure: Path | None = None) -> str:
    """Per-recording read cost and reader RSS in lakes of N and 10 N recordings."""
    from emgcorpus.ingest import ingest

    rows = []
    for n in (n_recordings, 10 * n_recordings):
        path = work / f"read-lake-{n}"
        shutil.rmtree(path, ignore_errors=True)
        t0 = time.perf_counter()
        ingest(path, TinyAdapter(path, n=n), progress=False, batch_recordings=max(1, n // 10))
        t_ingest = time.perf_counter() - t0
        cmd = [sys.executable, __file__, "--read-child", str(path), "200"]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        if proc.returncode != 0:
            raise RuntimeError(f"read child failed:\n{proc.stderr[-2000:]}")
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        r["ingest_s"] = t_ingest
        rows.append(r)
        shutil.rmtree(path, ignore_errors=True)
    lines = ["read one recording (4000 x 8 int16) as a vocabulary task does:"]
    for r in rows:
        lines.append(
            f"  lake of {r['recordings']:>6} recordings ({r['signal_files']:>3} signal files, "
            f"ingest {r['ingest_s']:5.1f} s): first open {r.get('first_open_s', 0):5.2f} s; "
            f"metadata {r['meta_ms']:6.2f} ms + samples "
            f"{r['samples_ms']:6.2f} ms per recording; reader RSS {r['rss_start_mib']:4.0f} -> "
            f"{r['rss_end_mib']:4.0f} MiB (peak {r['peak_rss_mib']:4.0f})"
        )
    if figure is not None:
        plot_read(rows, figure)
        lines.append(f"  figure: {figure}")
    return "\n".join(lines)


def plot_read(rows: list[dict[str, Any]], figure: Path) -> None:
    """Bar charts: time per recording read (metadata, samples) and reader RSS per lake size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['recordings']} recs" for r in rows]
    x = np.arange(len(rows))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3.2))
    meta = [r["meta_ms"] for r in rows]
    ax1.bar(x, meta, label="metadata")
    ax1.bar(x, [r["samples_ms"] for r in rows], bottom=meta, label="samples")
    ax1.set(xticks=x, xticklabels=labels, ylabel="ms per recording", title="read time")
    ax1.legend()
    ax2.bar(x, [r["peak_rss_mib"] for r in rows])
    ax2.set(xticks=x, xticklabels=labels, ylabel="MiB", title="reader peak RSS")
    fig.tight_layout()
    figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(figure, dpi=100)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-gb", type=float, default=2.0, help="simulated source size [GB]")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: tmp)")
    ap.add_argument("--no-real", action="store_true", help="skip the real sets")
    ap.add_argument(
        "--sets",
        nargs="+",
        choices=sorted(REAL_SETS),
        default=None,
        help="only these real sets (default: all); e.g. --sets cote-allard wfdb",
    )
    ap.add_argument("--no-sim", action="store_true", help="skip the simulated source")
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="children per mode and set; the fastest of each counts (a shared machine's "
        "noise only ever adds time)",
    )
    ap.add_argument(
        "--read-recordings",
        type=int,
        default=1000,
        help="recordings N of the read measurement: lakes of N and 10 N (0: skip)",
    )
    ap.add_argument("--figure", type=Path, default=None, help="PNG of the read measurement")
    ap.add_argument("--read-child", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument(
        "--child", nargs=4, metavar=("MODE", "ADAPTER", "SOURCE", "OUT"), help=argparse.SUPPRESS
    )
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    if args.read_child:
        print(json.dumps(read_child(args.read_child[0], int(args.read_child[1]))))
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="emg-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"scratch: {work}")
    if not args.no_real:
        from adapters.registry import ADAPTERS, get_adapter_class

        for name, folder in REAL_SETS.items():
            if args.sets is not None and name not in args.sets:
                continue
            source = SHARED / folder
            if name not in ADAPTERS or not source.exists():
                why = f"no data at {source}" if name in ADAPTERS else "not registered"
                print(f"{name:<14} skipped: {why}")
                continue
            try:
                get_adapter_class(name)
            except Exception as exc:  # noqa: BLE001 - report and go on
                print(f"{name:<14} skipped: adapter not importable ({type(exc).__name__}: {exc})")
                continue
            try:
                ing, flo = best_of(args.repeat, name, source, work)
            except RuntimeError as exc:
                print(f"{name:<14} failed: {str(exc).splitlines()[-1]}")
                continue
            print(
                report_line(name, ing, flo)
                + (f"  ({ing['errors']} units failed)" if ing["errors"] else "")
            )
    if not args.no_sim:
        sim = make_sim_source(work / "sim-source", args.size_gb)
        ing, flo = best_of(args.repeat, "bench-raw", sim, work)
        print(report_line(f"sim {args.size_gb:g} GB", ing, flo))
    if args.read_recordings:
        print(bench_read(work, args.read_recordings, args.figure))
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
