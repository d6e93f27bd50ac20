"""The LOSO evaluation report on disk: ``report.json``, ``report.html`` and the PNG plots
it shows (the report dict itself is built by training.evaluate.evaluate_loso).

Plots: per-subject window accuracy for every method in every regime, the pooled zero-shot
confusion matrix of every method, and the pretraining curve (masked-token loss by step).
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from training.audit import audit_html  # noqa: E402
from training.evaluate import REFERENCE, REGIMES  # noqa: E402

ACCURACY_PNG = "per_subject_accuracy.png"
CONFUSION_PNG = "confusion_zero_shot.png"
CURVE_PNG = "training_curve.png"


def _clean(obj: Any) -> Any:
    """NaN/inf -> None so the JSON is strict."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def plot_accuracy(report: dict[str, Any], path: Path) -> None:
    methods = list(report["methods"])
    regimes = [r for r in (*REGIMES, REFERENCE) if r in report["methods"][methods[0]]]
    subjects = report["windows"]["subjects"]
    fig, axes = plt.subplots(
        len(regimes),
        1,
        figsize=(max(6, 0.5 * len(subjects) * len(methods) + 2), 2.6 * len(regimes)),
    )
    axes = np.atleast_1d(axes)
    width = 0.8 / max(1, len(methods))
    x = np.arange(len(subjects))
    for ax, regime in zip(axes, regimes):
        for k, m in enumerate(methods):
            per = report["methods"][m][regime]["window_accuracy"]["per_subject"]
            vals = [per.get(s) if per.get(s) is not None else np.nan for s in subjects]
            ax.bar(x + k * width, vals, width, label=m)
        ax.set_title(regime.replace("_", " "))
        ax.set_ylim(0, 1)
        ax.set_ylabel("window accuracy")
        ax.set_xticks(x + width * (len(methods) - 1) / 2)
        ax.set_xticklabels(subjects, rotation=45, ha="right", fontsize=7)
    axes[0].legend(fontsize=7, ncol=len(methods))
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_confusions(report: dict[str, Any], path: Path) -> None:
    labels = report["windows"]["labels"]
    methods = list(report["methods"])
    fig, axes = plt.subplots(1, len(methods), figsize=(3.6 * len(methods), 3.4))
    axes = np.atleast_1d(axes)
    for ax, m in zip(axes, methods):
        cm = np.array(report["methods"][m]["zero_shot"]["confusion"], dtype=np.float64)
        rows = cm.sum(axis=1, keepdims=True)
        ax.imshow(cm / np.where(rows == 0, 1, rows), vmin=0, vmax=1, cmap="Blues")
        ax.set_title(f"{m} (zero-shot)", fontsize=9)
        ax.set_xticks(range(len(labels)))
        ax.set_yticks(range(len(labels)))
        ax.set_xticklabels(labels, rotation=90, fontsize=6)
        ax.set_yticklabels(labels, fontsize=6)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_curve(curve: list[dict[str, float]], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5, 3))
    if curve:
        ax.plot([p["step"] for p in curve], [p["loss"] for p in curve])
    ax.set_xlabel("step")
    ax.set_ylabel("masked-token loss")
    ax.set_title("pretraining curve")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _fmt(spread: dict[str, Any]) -> str:
    if spread.get("mean") is None:
        return "n/a"
    return (
        f"{spread['mean']:.3f} &plusmn; {spread['std']:.3f} "
        f"[{spread['min']:.3f}, {spread['max']:.3f}]"
    )


def render_html(report: dict[str, Any]) -> str:
    e = html.escape
    w = report["windows"]
    rows = []
    for m, res in report["methods"].items():
        for r in (*REGIMES, REFERENCE):
            if r not in res:
                continue
            share = res[r].get("share_of_within_subject")
            rows.append(
                f"<tr><td>{e(m)}</td><td>{e(r)}</td><td>{_fmt(res[r]['window_accuracy'])}</td>"
                f"<td>{_fmt(res[r]['trial_accuracy'])}</td>"
                f"<td>{_fmt(share) if share else ''}</td></tr>"
            )
    sees = "".join(f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in report["regimes"].items())
    audit = audit_html(report.get("audit"))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>LOSO report: {e(report["dataset"])}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px}}</style>
</head><body>
<h1>Leave-one-subject-out: {e(report["dataset"])}</h1>
<p>{w["n_subjects"]} subjects, {w["n_windows"]} windows of {report["config"]["spec"]["window_s"]} s
(hop {report["config"]["spec"]["hop_s"]} s) in {w["n_trials"]} trials, {len(w["labels"])} classes:
{e(", ".join(w["labels"]))}. Windows from {e(w["source"])}. The model sees {e(w["model_sees"])};
the baselines see {e(w["baselines_see"])}.</p>
<h2>What each regime may see of the held-out subject</h2><ul>{sees}</ul>
<h2>Accuracy (mean &plusmn; std over subjects [min, max])</h2>
<table><tr><th>method</th><th>regime</th><th>per window</th><th>per trial</th>
<th>few-shot / within-subject</th></tr>{"".join(rows)}</table>
{audit}
<h2>Per-subject window accuracy</h2><img src="{ACCURACY_PNG}" style="max-width:100%">
<h2>Confusion (zero-shot, pooled over folds)</h2><img src="{CONFUSION_PNG}" style="max-width:100%">
<h2>Pretraining</h2><p>Checkpoint {e(report["checkpoint"]["path"])}, vocabulary
{e(str(report["checkpoint"]["vocab_id"]))}, pretrained on
{report["checkpoint"]["pretrain_subjects"]} subjects of
{e(", ".join(report["checkpoint"]["pretrain_datasets"]))} (none of them evaluated here).</p>
<img src="{CURVE_PNG}">
</body></html>
"""


def write_eval_report(report: dict[str, Any], out_dir: str | Path) -> Path:
    """Write report.json, report.html and the PNGs into ``out_dir``; return the HTML path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clean = _clean(report)
    (out / "report.json").write_text(json.dumps(clean, indent=2, sort_keys=True))
    plot_accuracy(clean, out / ACCURACY_PNG)
    plot_confusions(clean, out / CONFUSION_PNG)
    plot_curve(clean.get("curve", []), out / CURVE_PNG)
    page = out / "report.html"
    page.write_text(render_html(clean))
    return page


def window_accuracy_means(report: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Method -> regime (REGIMES order) -> mean window accuracy, where the regime has one."""
    return {
        method: {
            regime: res[regime]["window_accuracy"]["mean"]
            for regime in REGIMES
            if regime in res and res[regime]["window_accuracy"]["mean"] is not None
        }
        for method, res in report["methods"].items()
    }


def accuracy_lines(report: dict[str, Any]) -> list[str]:
    """One line per method, e.g. ``model: zero_shot 0.304, few_shot 0.321``."""
    return [
        f"{method}: " + ", ".join(f"{regime} {acc:.3f}" for regime, acc in means.items())
        for method, means in window_accuracy_means(report).items()
    ]
