"""The LOSO evaluation report on disk: ``report.json``, ``report.html`` and the PNG plots
it shows (the report dict itself is built by training.evaluate.evaluate_loso).

Plots: per-subject window accuracy for every method in every regime with the chance lines
(1 / n_classes and the majority-class rate), the pooled confusion matrix of every method in
every regime (row-normalised, counts in the cells, the dataset's label names), and the
pretraining curve (masked-token loss by step). report.json gains a ``statistics`` section
(training.report_stats: chance levels, Wilcoxon signed-rank tests of the model against
each baseline over subjects, row-normalised confusions); report.html shows it as tables.
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
from training.report_stats import (  # noqa: E402
    format_p,
    majority_rate,
    report_statistics,
    row_normalised,
)

ACCURACY_PNG = "per_subject_accuracy.png"
CONFUSION_PNG = "confusion_zero_shot.png"
CURVE_PNG = "training_curve.png"
#: Confusion matrices with more classes than this get no numbers in their cells.
MAX_ANNOTATED_CLASSES = 20


def confusion_png(regime: str) -> str:
    """File name of the confusion plot of ``regime`` (``confusion_zero_shot.png``, ...)."""
    return f"confusion_{regime}.png"


def report_regimes(report: dict[str, Any]) -> list[str]:
    """The regimes (REGIMES order, then the reference) some method of ``report`` tested."""
    return [
        r
        for r in (*REGIMES, REFERENCE)
        if any(
            r in res and res[r]["window_accuracy"]["mean"] is not None
            for res in report["methods"].values()
        )
    ]


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
    """Per-subject window accuracy, one panel per regime, with the chance lines."""
    methods = list(report["methods"])
    regimes = report_regimes(report) or [REGIMES[0]]
    subjects = report["windows"]["subjects"]
    uniform = 1.0 / max(1, len(report["windows"]["labels"]))
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
            res = report["methods"][m].get(regime)
            per = res["window_accuracy"]["per_subject"] if res else {}
            vals = [per.get(s) if per.get(s) is not None else np.nan for s in subjects]
            ax.bar(x + k * width, vals, width, label=m)
        ax.axhline(
            uniform, color="k", ls="--", lw=1, label=f"chance 1/{len(report['windows']['labels'])}"
        )
        majority = majority_rate(report, regime)
        if majority is not None:
            ax.axhline(
                majority, color="0.4", ls=":", lw=1.2, label=f"majority class {majority:.2f}"
            )
        ax.set_title(regime.replace("_", " "))
        ax.set_ylim(0, 1)
        ax.set_ylabel("window accuracy")
        ax.set_xticks(x + width * (len(methods) - 1) / 2)
        ax.set_xticklabels(subjects, rotation=45, ha="right", fontsize=7)
    axes[0].legend(fontsize=7, ncol=len(methods) + 2)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_confusions(report: dict[str, Any], path: Path, regime: str = "zero_shot") -> None:
    """The pooled confusion matrix of every method in ``regime``: colour and first number
    the row-normalised share, second number the window count (cells are unnumbered above
    MAX_ANNOTATED_CLASSES classes); true classes down, predicted across."""
    labels = report["windows"]["labels"]
    k = len(labels)
    methods = [
        m
        for m, res in report["methods"].items()
        if regime in res and res[regime]["window_accuracy"]["mean"] is not None
    ]
    if not methods:
        fig, ax = plt.subplots(figsize=(4, 1.5))
        ax.axis("off")
        ax.text(0.5, 0.5, f"{regime}: no method tested", ha="center", va="center")
        fig.savefig(path, dpi=90)
        plt.close(fig)
        return
    side = max(3.4, 0.42 * k + 1.6)
    fig, axes = plt.subplots(1, len(methods), figsize=(side * len(methods), side + 0.6))
    axes = np.atleast_1d(axes)
    font = max(4.0, min(8.0, 60.0 / max(k, 1)))
    for ax, m in zip(axes, methods):
        counts = np.array(report["methods"][m][regime]["confusion"], dtype=np.int64)
        share = row_normalised(counts)
        ax.imshow(share, vmin=0, vmax=1, cmap="Blues")
        acc = report["methods"][m][regime]["window_accuracy"]["mean"]
        acc_text = "n/a" if acc is None else f"{acc:.3f}"
        ax.set_title(f"{m}: {regime.replace('_', ' ')} (acc {acc_text})", fontsize=9)
        ax.set_xticks(range(k))
        ax.set_yticks(range(k))
        ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=font)
        ax.set_yticklabels(labels, fontsize=font)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        if k <= MAX_ANNOTATED_CLASSES:
            for i in range(k):
                for j in range(k):
                    ax.text(
                        j,
                        i,
                        f"{share[i, j]:.2f}\n{counts[i, j]}",
                        ha="center",
                        va="center",
                        fontsize=font * 0.85,
                        color="white" if share[i, j] > 0.5 else "black",
                    )
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


def _signed(x: float | None) -> str:
    return "" if x is None else f"{x:+.3f}"


def paired_rows_html(stats: dict[str, Any]) -> str:
    """Table rows of the paired tests (model vs each baseline, per regime and unit)."""
    e = html.escape
    return "".join(
        f"<tr><td>{e(t['model'])} vs {e(t['baseline'])}</td><td>{e(t['regime'])}</td>"
        f"<td>{e(t['unit'])}</td><td>{t['n']}</td><td>{_signed(t['mean_difference'])}</td>"
        f"<td>{_signed(t['median_difference'])}</td><td>{e(format_p(t))}</td></tr>"
        for t in stats["paired_tests"]
    )


def confusion_table_html(labels: list[str], counts: list[list[int]]) -> str:
    """One confusion matrix as an HTML table: row-normalised share and (count) per cell."""
    e = html.escape
    share = row_normalised(counts)
    head = "".join(f"<th>{e(lab)}</th>" for lab in labels)
    body = []
    for i, lab in enumerate(labels):
        cells = "".join(
            f'<td style="background:rgba(31,95,168,{share[i, j]:.2f})">'
            f"{share[i, j]:.2f} ({counts[i][j]})</td>"
            for j in range(len(labels))
        )
        body.append(f"<tr><th>{e(lab)}</th>{cells}<td>{sum(counts[i])}</td></tr>")
    return (
        f"<table><tr><th>true \\ predicted</th>{head}<th>windows</th></tr>{''.join(body)}</table>"
    )


def render_html(report: dict[str, Any]) -> str:
    """The report page (tables, the audit, the plots written by write_eval_report)."""
    e = html.escape
    w = report["windows"]
    stats = report.get("statistics") or report_statistics(report)
    majority = stats["chance"]["majority"]
    uniform = stats["chance"]["uniform"]
    rows = []
    for m, res in report["methods"].items():
        for r in (*REGIMES, REFERENCE):
            if r not in res:
                continue
            share = res[r].get("share_of_within_subject")
            maj = majority.get(m, {}).get(r)
            rows.append(
                f"<tr><td>{e(m)}</td><td>{e(r)}</td><td>{_fmt(res[r]['window_accuracy'])}</td>"
                f"<td>{_fmt(res[r]['trial_accuracy'])}</td>"
                f"<td>{_fmt(share) if share else ''}</td>"
                f"<td>{'' if maj is None else f'{maj:.3f}'}</td></tr>"
            )
    sees = "".join(f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in report["regimes"].items())
    audit = audit_html(report.get("audit"))
    note = report.get("spatial_words", {}).get("note")
    words = f" Model features: {e(note)}." if note else ""
    regimes = report_regimes(report)
    confusions = "".join(
        f"<h3>{e(r.replace('_', ' '))}</h3>"
        f'<img src="{confusion_png(r)}" style="max-width:100%">'
        + "".join(
            f"<details><summary>{e(m)}: table</summary>"
            f"{confusion_table_html(w['labels'], res[r]['confusion'])}</details>"
            for m, res in report["methods"].items()
            if r in res and res[r]["window_accuracy"]["mean"] is not None
        )
        for r in regimes
    )
    chance = "n/a" if uniform is None else f"{uniform:.3f}"
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>LOSO report: {e(report["dataset"])}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px}}</style>
</head><body>
<h1>Leave-one-subject-out: {e(report["dataset"])}</h1>
<p>{w["n_subjects"]} subjects, {w["n_windows"]} windows of {report["config"]["spec"]["window_s"]} s
(hop {report["config"]["spec"]["hop_s"]} s) in {w["n_trials"]} trials, {len(w["labels"])} classes:
{e(", ".join(w["labels"]))}. Windows from {e(w["source"])}. The model sees {e(w["model_sees"])};
the baselines see {e(w["baselines_see"])}.{words}</p>
<h2>What each regime may see of the held-out subject</h2><ul>{sees}</ul>
<h2>Accuracy (mean &plusmn; std over subjects [min, max])</h2>
<p>Chance: 1/{len(w["labels"])} = {chance}; the majority-class rate is the accuracy of always
answering the most frequent class of the regime's test windows.</p>
<table><tr><th>method</th><th>regime</th><th>per window</th><th>per trial</th>
<th>few-shot / within-subject</th><th>majority class</th></tr>{"".join(rows)}</table>
<h2>Model vs baselines, paired over subjects</h2>
<p>Two-sided Wilcoxon signed-rank test of the per-subject accuracies (zero differences
dropped); difference = model &minus; baseline. Not run below {stats["min_subjects_for_test"]}
subjects (no p &lt; 0.05 is possible there).</p>
<table><tr><th>comparison</th><th>regime</th><th>accuracy</th><th>subjects</th>
<th>mean difference</th><th>median difference</th><th>p</th></tr>{paired_rows_html(stats)}</table>
{audit}
<h2>Per-subject window accuracy</h2><img src="{ACCURACY_PNG}" style="max-width:100%">
<h2>Confusion (pooled over folds; row-normalised share and window count)</h2>{confusions}
{pretraining_html(report)}
</body></html>
"""


def pretraining_html(report: dict[str, Any]) -> str:
    """The report page's pretraining section (a note when there was no checkpoint)."""
    ckpt = report.get("checkpoint")
    if ckpt is None:
        return "<h2>Pretraining</h2><p>No checkpoint: baselines only.</p>"
    e = html.escape
    return f"""<h2>Pretraining</h2><p>Checkpoint {e(ckpt["path"])}, vocabulary
{e(str(ckpt["vocab_id"]))}, pretrained on {ckpt["pretrain_subjects"]} subjects of
{e(", ".join(ckpt["pretrain_datasets"]))} (none of them evaluated here).</p>
<img src="{CURVE_PNG}">"""


def write_eval_report(report: dict[str, Any], out_dir: str | Path) -> Path:
    """Write report.json, report.html and the PNGs into ``out_dir``; return the HTML path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clean = _clean(report)
    clean["statistics"] = _clean(report_statistics(clean))
    (out / "report.json").write_text(json.dumps(clean, indent=2, sort_keys=True))
    plot_accuracy(clean, out / ACCURACY_PNG)
    for regime in report_regimes(clean) or [REGIMES[0]]:
        plot_confusions(clean, out / confusion_png(regime), regime)
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
    """One line per method, e.g. ``model: zero_shot 0.304, few_shot 0.321`` (and the
    report's note on spatial words, if any)."""
    lines = [
        f"{method}: " + ", ".join(f"{regime} {acc:.3f}" for regime, acc in means.items())
        for method, means in window_accuracy_means(report).items()
    ]
    if "spatial_words" in report:
        lines.append(f"model features: {report['spatial_words']['note']}")
    return lines
