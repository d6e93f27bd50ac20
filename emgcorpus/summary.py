"""What a lake holds, in numbers: the content of ``emgcorpus ls``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from emgcorpus.lake import Lake


def lake_summary(lake_path: str | Path) -> dict[str, Any]:
    """Per-dataset and total counts: subjects, recordings, hours of EMG, channel counts,
    native rates [Hz], harmonized rates [Hz], and the snapshot (table -> version)."""
    lake = Lake.open(lake_path)
    recs = lake.recordings()
    harmonized = lake.harmonized().join(
        recs.select("recording_id", "dataset"), on="recording_id", how="left"
    )
    datasets = []
    for name in sorted(recs["dataset"].unique().to_list()):
        d = recs.filter(pl.col("dataset") == name)
        h = harmonized.filter(pl.col("dataset") == name)
        datasets.append(
            {
                "dataset": name,
                "subjects": d["subject"].n_unique(),
                "recordings": d.height,
                "hours": float(d["duration_s"].sum()) / 3600.0,
                "channels": sorted(int(x) for x in d["n_channels"].unique().to_list()),
                "rates_hz": sorted(float(x) for x in d["native_fs"].unique().to_list()),
                "harmonized_hz": sorted(float(x) for x in h["fs"].unique().to_list()),
                "devices": sorted(str(x) for x in d["device"].unique().to_list()),
            }
        )
    return {
        "lake": str(lake.path),
        "datasets": datasets,
        "total": {
            "datasets": len(datasets),
            "subjects": recs.select("dataset", "subject").unique().height,
            "recordings": recs.height,
            "hours": float(recs["duration_s"].sum()) / 3600.0 if recs.height else 0.0,
        },
        "harmonized_hz": lake.harmonized_rates(),
        "snapshot": lake.snapshot(),
    }


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as a plain-text table."""

    def nums(xs: list[float] | list[int]) -> str:
        return ",".join(f"{x:g}" for x in xs) or "n/a"

    lines = [f"lake {summary['lake']}"]
    header = f"{'dataset':<20} {'subj':>5} {'recs':>6} {'hours':>8} {'channels':<12} "
    lines.append(header + f"{'rates Hz':<14} harmonized Hz")
    for d in summary["datasets"]:
        lines.append(
            f"{d['dataset']:<20} {d['subjects']:>5} {d['recordings']:>6} {d['hours']:>8.3f} "
            f"{nums(d['channels']):<12} {nums(d['rates_hz']):<14} {nums(d['harmonized_hz'])}"
        )
    t = summary["total"]
    lines.append(
        f"{'total':<20} {t['subjects']:>5} {t['recordings']:>6} {t['hours']:>8.3f}"
        f"   harmonized rates: {nums(summary['harmonized_hz'])}"
    )
    versions = " ".join(f"{k}@{v}" for k, v in sorted(summary["snapshot"].items()))
    lines.append(f"snapshot: {versions}")
    return "\n".join(lines)
