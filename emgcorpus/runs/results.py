"""A finished run's results as tables: ``summary.json`` and the markdown of ``results.md``."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

import torch


def machine_description() -> str:
    """CPU model, core count, RAM and torch version, for the results table."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu}, {cores} cores, torch {torch.__version__}, {platform.system()}"


def summary_table(report: dict[str, Any]) -> dict[str, Any]:
    """Method x regime -> window/trial accuracy mean, std, min, max (from a LOSO report)."""
    out: dict[str, Any] = {}
    for method, res in report["methods"].items():
        out[method] = {}
        for regime, r in res.items():
            out[method][regime] = {
                unit: {k: r[f"{unit}_accuracy"][k] for k in ("mean", "std", "min", "max")}
                for unit in ("window", "trial")
            }
    return out


def results_markdown(report: dict[str, Any], command: str, machine: str) -> str:
    """A markdown section: the command, date, machine and the method x regime table.

    ``report``: a LOSO report; its ``run`` part (emgcorpus.runs.orchestrator) gives the
    target, the pretraining datasets and the stage times [s] where it has them.
    """
    run = report.get("run", {})
    tgt = run.get("plan", {}).get("target") or {}
    seconds = run.get("seconds", {})
    lines = [
        f"### {tgt.get('name', report['dataset'])}: LOSO over "
        f"{report['windows']['n_subjects']} subjects, {len(report['windows']['labels'])} "
        f"classes, {report['windows']['n_windows']} windows",
        "",
        f"- command: `{command}`",
        f"- date: {time.strftime('%Y-%m-%d')}; machine: {machine}; "
        f"wall time {sum(seconds.values()):.0f} s ({seconds})",
        f"- pretraining datasets (target excluded): {', '.join(run.get('pretrain_datasets', []))}",
        f"- model sees: {report['windows']['model_sees']}; baselines see: "
        f"{report['windows']['baselines_see']}",
        f"- reference TD+LDA measured once on these files: {tgt.get('reference_td_lda')}",
        "",
        "| method | regime | window acc mean ± std | window min-max | trial acc mean ± std "
        "| trial min-max |",
        "|---|---|---|---|---|---|",
    ]

    def fmt(d: dict[str, Any]) -> tuple[str, str]:
        if d["mean"] is None:
            return "n/a", "n/a"
        return f"{d['mean']:.3f} ± {d['std']:.3f}", f"{d['min']:.3f}-{d['max']:.3f}"

    for method, res in summary_table(report).items():
        for regime, r in res.items():
            w, wr = fmt(r["window"])
            t, tr = fmt(r["trial"])
            lines.append(f"| {method} | {regime} | {w} | {wr} | {t} | {tr} |")
    return "\n".join(lines) + "\n"
