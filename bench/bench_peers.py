"""Peer benchmark: LibEMG loading the CIIL files against our ingest and our lake re-read.

In one run, on ../shared/data/ciil_myo/ElectrodeShift (the files LibEMG's
``CIIL_ElectrodeShift`` dataset reads):

- ``ingest``: :func:`emgcorpus.ingest.ingest` with the ``ciil`` adapter into a scratch lake;
- ``re-read``: a fresh ``Lake.open`` (metadata caches cleared) and every recording's
  samples read back with ``Lake.read_many`` (batches: each row group read once), what
  a second analysis of the same data costs; ``per-recording`` the same with one
  ``Lake.read_samples`` call per recording, beside it (they must return the same
  sample count);
- ``libemg``: ``CIIL_ElectrodeShift(dataset_folder=...).prepare_data(split=False)``
  (OfflineDataHandler parsing every CSV; it does so again on every run), in a
  subprocess of ``--libemg-python`` (LibEMG lives in its own venv, it is no dependency
  of this project) or of this interpreter when it can import libemg. Without it the
  line says "libemg not installed" and our figures are printed alone.

Each timing is the best of ``--repeats`` runs (LibEMG's loads in one subprocess), so
that a machine shared with other work compares like with like.

Target (issue 11): the re-read >= 10x faster than LibEMG's load. Seconds are wall
time; LibEMG's import time is reported apart from its load. Usage::

    python bench/bench_peers.py --libemg-python /work/venv-libemg/bin/python
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared" / "data").resolve()

LIBEMG_SNIPPET = """
import json, sys, time, contextlib, io
t0 = time.perf_counter()
from libemg.datasets import CIIL_ElectrodeShift
t1 = time.perf_counter()
loads = []
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        odh = CIIL_ElectrodeShift(dataset_folder=sys.argv[1]).prepare_data(split=False)
    loads.append(time.perf_counter() - t)
print(json.dumps({"import_s": t1 - t0, "load_s": min(loads), "loads_s": loads,
                  "files": len(odh.data), "samples": int(sum(d.shape[0] for d in odh.data))}))
"""


def _reread(lake_path: Path, batched: bool) -> tuple[float, int]:
    """Seconds to open the lake afresh and read every recording's samples, and the sample
    count: ``Lake.read_many`` (batched) or one ``Lake.read_samples`` per recording."""
    from emgcorpus.lake import Lake
    from emgcorpus.lake_cache import clear_caches

    clear_caches()
    t0 = time.perf_counter()
    lake = Lake.open(lake_path)
    ids = lake.recordings()["recording_id"].to_list()
    if batched:
        n = sum(int(x.shape[0]) for _, x in lake.read_many(ids))
    else:
        n = sum(int(lake.read_samples(rid).shape[0]) for rid in ids)
    return time.perf_counter() - t0, n


def ours(source: Path, work: Path, repeats: int) -> dict[str, Any]:
    """Ingest ``source`` with the ciil adapter, then re-read every recording's samples
    (batched and per recording, best of ``repeats`` each)."""
    from adapters.registry import make_adapter
    from emgcorpus.ingest import ingest

    lake_path = work / "lake"
    t0 = time.perf_counter()
    report = ingest(lake_path, make_adapter("ciil", str(source)), progress=False)
    ingest_s = time.perf_counter() - t0
    many = [_reread(lake_path, batched=True) for _ in range(repeats)]
    one = [_reread(lake_path, batched=False) for _ in range(repeats)]
    counts = {n for _, n in many + one}
    if len(counts) != 1:
        raise RuntimeError(f"re-reads disagree on the sample count: {sorted(counts)}")
    return {
        "ingest_s": ingest_s,
        "reread_s": min(t for t, _ in many),
        "reread_per_recording_s": min(t for t, _ in one),
        "recordings": len(report.added),
        "samples": counts.pop(),
    }


def libemg(python: str | None, folder: Path, repeats: int) -> dict[str, Any] | None:
    """LibEMG's load of ``folder``'s ElectrodeShift files (best of ``repeats``), or None
    if it is not installed."""
    exe = python or sys.executable
    probe = subprocess.run([exe, "-c", "import libemg"], capture_output=True)
    if probe.returncode != 0:
        return None
    out = subprocess.run(
        [exe, "-c", LIBEMG_SNIPPET, str(folder), str(repeats)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=SHARED / "ciil_myo", help="the ciil_myo folder")
    ap.add_argument(
        "--libemg-python", default=None, help="a Python that can import libemg (its venv)"
    )
    ap.add_argument("--repeats", type=int, default=3, help="timings are the best of this many")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        res: dict[str, Any] = {"ours": ours(args.data / "ElectrodeShift", Path(tmp), args.repeats)}
    peer = libemg(args.libemg_python, args.data, args.repeats)
    res["libemg"] = peer if peer is not None else "libemg not installed"
    if peer is not None:
        res["libemg_load_over_reread"] = peer["load_s"] / res["ours"]["reread_s"]
        res["libemg_load_over_reread_per_recording"] = (
            peer["load_s"] / res["ours"]["reread_per_recording_s"]
        )
        res["libemg_load_over_ingest"] = peer["load_s"] / res["ours"]["ingest_s"]
    if args.json:
        print(json.dumps(res, indent=2))
        return
    o = res["ours"]
    print(
        f"ours:   ingest {o['ingest_s']:.1f} s ({o['recordings']} recordings, "
        f"{o['samples']} samples), re-read from the lake {o['reread_s']:.2f} s "
        f"(read_many; per recording {o['reread_per_recording_s']:.2f} s)"
    )
    if peer is None:
        print("libemg: libemg not installed")
        return
    print(
        f"libemg: load {peer['load_s']:.2f} s ({peer['files']} files, {peer['samples']} "
        f"samples; import {peer['import_s']:.1f} s apart)"
    )
    print(
        f"libemg load / our re-read: {res['libemg_load_over_reread']:.1f}x (target >= 10x; "
        f"per recording {res['libemg_load_over_reread_per_recording']:.1f}x); "
        f"libemg load / our ingest: {res['libemg_load_over_ingest']:.2f}x"
    )


if __name__ == "__main__":
    main()
