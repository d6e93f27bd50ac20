"""A finished run's results as tables: ``summary.json`` and the markdown of ``results.md``
(accuracies with the chance levels, and the paired tests of training.report_stats)."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

import torch

from training.report_stats import chance_levels, format_p, paired_tests, row_normalised


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
        f"- chance: 1/{len(report['windows']['labels'])} = "
        f"{1 / max(1, len(report['windows']['labels'])):.3f}; majority class: the accuracy of "
        "always answering the regime's most frequent test class",
        "",
        "| method | regime | window acc mean ± std | window min-max | trial acc mean ± std "
        "| trial min-max | majority class |",
        "|---|---|---|---|---|---|---|",
    ]
    majority = chance_levels(report)["majority"]

    def fmt(d: dict[str, Any]) -> tuple[str, str]:
        if d["mean"] is None:
            return "n/a", "n/a"
        return f"{d['mean']:.3f} ± {d['std']:.3f}", f"{d['min']:.3f}-{d['max']:.3f}"

    for method, res in summary_table(report).items():
        for regime, r in res.items():
            w, wr = fmt(r["window"])
            t, tr = fmt(r["trial"])
            maj = majority.get(method, {}).get(regime)
            m = "n/a" if maj is None else f"{maj:.3f}"
            lines.append(f"| {method} | {regime} | {w} | {wr} | {t} | {tr} | {m} |")
    return "\n".join(lines + paired_markdown(report) + confusion_markdown(report)) + "\n"


def confusion_markdown(report: dict[str, Any]) -> list[str]:
    """Every method's pooled confusion matrix in every regime it tested, as markdown
    tables (cells: row-normalised share and window count) inside one ``<details>`` block."""
    labels = report["windows"]["labels"]
    lines = [
        "",
        "<details><summary>Confusion matrices (true class down, predicted across; "
        "share of the row and window count)</summary>",
    ]
    for method, res in report["methods"].items():
        for regime, r in res.items():
            if r["window_accuracy"]["mean"] is None or r.get("confusion") is None:
                continue
            counts = r["confusion"]
            share = row_normalised(counts)
            lines += ["", f"**{method}, {regime}**", ""]
            lines.append("| true / predicted | " + " | ".join(labels) + " |")
            lines.append("|---" * (len(labels) + 1) + "|")
            for i, label in enumerate(labels):
                cells = " | ".join(
                    f"{share[i, j]:.2f} ({counts[i][j]})" for j in range(len(labels))
                )
                lines.append(f"| {label} | {cells} |")
    return lines + ["", "</details>"]


def paired_markdown(report: dict[str, Any]) -> list[str]:
    """The paired tests (Wilcoxon signed-rank over subjects, window accuracy) as markdown
    lines: a table, or nothing when the report has no model and baseline to compare."""
    tests = paired_tests(report, "window")
    if not tests:
        return []
    lines = [
        "",
        "Model vs baselines, window accuracy paired over subjects (two-sided Wilcoxon "
        "signed-rank; difference = model - baseline):",
        "",
        "| comparison | regime | subjects | mean difference | p |",
        "|---|---|---|---|---|",
    ]
    for t in tests:
        diff = "n/a" if t["mean_difference"] is None else f"{t['mean_difference']:+.3f}"
        lines.append(
            f"| {t['model']} vs {t['baseline']} | {t['regime']} | {t['n']} | {diff} "
            f"| {format_p(t)} |"
        )
    return lines
