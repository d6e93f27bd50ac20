"""Peer benchmark: LibEMG loading the CIIL files against our ingest and our lake re-read.

In one run, on ../shared/data/ciil_myo/ElectrodeShift (the files LibEMG's
``CIIL_ElectrodeShift`` dataset reads):

- ``ingest``: :func:`emgcorpus.ingest.ingest` with the ``ciil`` adapter into a scratch lake;
- ``re-read``: a fresh ``Lake.open`` and every recording's samples read back
  (``Lake.read_samples``), what a second analysis of the same data costs;
- ``libemg``: ``CIIL_ElectrodeShift(dataset_folder=...).prepare_data(split=False)``
  (OfflineDataHandler parsing every CSV; it does so again on every run), in a
  subprocess of ``--libemg-python`` (LibEMG lives in its own venv, it is no dependency
  of this project) or of this interpreter when it can import libemg. Without it the
  line says "libemg not installed" and our figures are printed alone.

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
with contextlib.redirect_stdout(io.StringIO()):
    odh = CIIL_ElectrodeShift(dataset_folder=sys.argv[1]).prepare_data(split=False)
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "files": len(odh.data),
                  "samples": int(sum(d.shape[0] for d in odh.data))}))
"""


def ours(source: Path, work: Path) -> dict[str, Any]:
    """Ingest ``source`` with the ciil adapter, then re-read every recording's samples."""
    from adapters.registry import make_adapter
    from emgcorpus.ingest import ingest
    from emgcorpus.lake import Lake

    lake_path = work / "lake"
    t0 = time.perf_counter()
    report = ingest(lake_path, make_adapter("ciil", str(source)), progress=False)
    t1 = time.perf_counter()
    lake = Lake.open(lake_path)
    n = 0
    for rid in lake.recordings()["recording_id"].to_list():
        n += int(lake.read_samples(rid).shape[0])
    t2 = time.perf_counter()
    return {
        "ingest_s": t1 - t0,
        "reread_s": t2 - t1,
        "recordings": len(report.added),
        "samples": n,
    }


def libemg(python: str | None, folder: Path) -> dict[str, Any] | None:
    """LibEMG's load of ``folder``'s ElectrodeShift files, or None if it is not installed."""
    exe = python or sys.executable
    probe = subprocess.run([exe, "-c", "import libemg"], capture_output=True)
    if probe.returncode != 0:
        return None
    out = subprocess.run(
        [exe, "-c", LIBEMG_SNIPPET, str(folder)], capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=SHARED / "ciil_myo", help="the ciil_myo folder")
    ap.add_argument(
        "--libemg-python", default=None, help="a Python that can import libemg (its venv)"
    )
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        res: dict[str, Any] = {"ours": ours(args.data / "ElectrodeShift", Path(tmp))}
    peer = libemg(args.libemg_python, args.data)
    res["libemg"] = peer if peer is not None else "libemg not installed"
    if peer is not None:
        res["libemg_load_over_reread"] = peer["load_s"] / res["ours"]["reread_s"]
        res["libemg_load_over_ingest"] = peer["load_s"] / res["ours"]["ingest_s"]
    if args.json:
        print(json.dumps(res, indent=2))
        return
    o = res["ours"]
    print(
        f"ours:   ingest {o['ingest_s']:.1f} s ({o['recordings']} recordings, "
        f"{o['samples']} samples), re-read from the lake {o['reread_s']:.2f} s"
    )
    if peer is None:
        print("libemg: libemg not installed")
        return
    print(
        f"libemg: load {peer['load_s']:.1f} s ({peer['files']} files, {peer['samples']} "
        f"samples; import {peer['import_s']:.1f} s apart)"
    )
    print(
        f"libemg load / our re-read: {res['libemg_load_over_reread']:.1f}x (target >= 10x); "
        f"libemg load / our ingest: {res['libemg_load_over_ingest']:.2f}x"
    )


if __name__ == "__main__":
    main()
