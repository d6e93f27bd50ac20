"""Statistics a LOSO report is read with: chance levels, paired tests, normalised confusions.

Everything here is computed from the report dict of training.evaluate.evaluate_loso alone
(per-subject accuracies and pooled confusion counts), so a report written earlier can be
re-read with it.

- Chance: ``1 / n_classes`` and the majority-class rate (the share of the most frequent
  true class among the test windows of a regime, from the pooled confusion's row sums):
  a classifier that always answers the majority class reaches the latter.
- Paired test: for each model method (``model``, ``model-finetune``) against each baseline
  (and ``model-finetune`` against ``model``), per regime, a two-sided Wilcoxon signed-rank
  test over the subjects both have an accuracy for (scipy.stats.wilcoxon, zero
  differences dropped, exact p-value for small n without ties). With fewer than
  :data:`MIN_SUBJECTS` subjects no p-value below 0.05 is possible (n = 5: the smallest
  two-sided exact p is 2/32 = 0.0625), so the test is not run and the entry says so.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.stats import wilcoxon

#: The methods that are "the model" (compared against every other method).
MODEL_METHODS = ("model", "model-finetune", "model-finetune-gradient")
#: Fewest paired subjects for which the signed-rank test is reported.
MIN_SUBJECTS = 6
#: Units of an accuracy.
ACCURACY_UNITS = ("window", "trial")


def _finite(x: Any) -> bool:
    return x is not None and isinstance(x, int | float) and math.isfinite(float(x))


def chance_levels(report: dict[str, Any]) -> dict[str, Any]:
    """``{"uniform": 1/K, "majority": {method: {regime: rate}}}`` for a LOSO report.

    ``majority``: share of the most frequent true class among that regime's test windows
    (None where the regime tested nothing).
    """
    n_classes = len(report["windows"]["labels"])
    majority: dict[str, dict[str, float | None]] = {}
    for method, res in report["methods"].items():
        majority[method] = {}
        for regime, r in res.items():
            rows = np.asarray(r.get("confusion") or [[]], dtype=np.float64).sum(axis=1)
            total = float(rows.sum())
            majority[method][regime] = float(rows.max() / total) if total > 0 else None
    return {"uniform": 1.0 / n_classes if n_classes else None, "majority": majority}


def majority_rate(report: dict[str, Any], regime: str) -> float | None:
    """The majority-class rate of ``regime`` (the first method that tested it)."""
    for per_regime in chance_levels(report)["majority"].values():
        rate = per_regime.get(regime)
        if rate is not None:
            return float(rate)
    return None


def paired_test(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Two-sided Wilcoxon signed-rank test of per-subject accuracies ``a`` vs ``b``.

    Returns n (subjects with both values), n_nonzero (differences that are not 0), the
    mean and median of a - b, the statistic and p-value (None when not run) and a note:
    ``too few subjects`` when n < MIN_SUBJECTS, ``all differences zero`` when a == b on
    every subject.
    """
    subjects = sorted(s for s in a if s in b and _finite(a[s]) and _finite(b[s]))
    d = np.array([float(a[s]) - float(b[s]) for s in subjects], dtype=np.float64)
    out: dict[str, Any] = {
        "n": len(subjects),
        "n_nonzero": int(np.count_nonzero(np.abs(d) > 1e-12)),
        "mean_difference": float(d.mean()) if d.size else None,
        "median_difference": float(np.median(d)) if d.size else None,
        "statistic": None,
        "p_value": None,
        "note": "",
    }
    if len(subjects) < MIN_SUBJECTS:
        out["note"] = (
            f"too few subjects (n={len(subjects)}; the signed-rank test needs >= "
            f"{MIN_SUBJECTS} for a two-sided p < 0.05)"
        )
        return out
    if out["n_nonzero"] == 0:
        out.update(p_value=1.0, note="all differences zero")
        return out
    d[np.abs(d) <= 1e-12] = 0.0
    res = wilcoxon(d, zero_method="wilcox", alternative="two-sided")
    out["statistic"] = float(res.statistic)
    out["p_value"] = float(res.pvalue)
    if out["n_nonzero"] < len(subjects):
        out["note"] = f"{len(subjects) - out['n_nonzero']} zero difference(s) dropped"
    return out


def paired_tests(report: dict[str, Any], unit: str = "window") -> list[dict[str, Any]]:
    """One entry per (model method, other method, regime) both have: ``model``,
    ``baseline``, ``regime``, ``unit`` and the fields of :func:`paired_test`."""
    if unit not in ACCURACY_UNITS:
        raise ValueError(f"unit must be one of {ACCURACY_UNITS}, got {unit!r}")
    methods = report["methods"]
    out = []
    models = [m for m in MODEL_METHODS if m in methods]
    for k, model in enumerate(models):
        # every baseline, and each earlier model method once (model-finetune vs model)
        for other in [m for m in methods if m not in MODEL_METHODS] + models[:k]:
            for regime, res in methods[model].items():
                if regime not in methods[other]:
                    continue
                a = res[f"{unit}_accuracy"]["per_subject"]
                b = methods[other][regime][f"{unit}_accuracy"]["per_subject"]
                if not any(_finite(v) for v in a.values()) or not any(
                    _finite(v) for v in b.values()
                ):
                    continue
                out.append(
                    {"model": model, "baseline": other, "regime": regime, "unit": unit}
                    | paired_test(a, b)
                )
    return out


def row_normalised(confusion: list[list[int]] | np.ndarray) -> np.ndarray:
    """Each row of a confusion matrix (true x predicted counts) divided by its sum (rows
    without windows stay 0)."""
    cm = np.asarray(confusion, dtype=np.float64)
    rows = cm.sum(axis=1, keepdims=True)
    return cm / np.where(rows == 0, 1.0, rows)


def report_statistics(report: dict[str, Any]) -> dict[str, Any]:
    """The ``statistics`` section written into report.json: chance levels, the paired
    tests on window and trial accuracy, and every regime's row-normalised confusion."""
    return {
        "chance": chance_levels(report),
        "paired_tests": paired_tests(report, "window") + paired_tests(report, "trial"),
        "min_subjects_for_test": MIN_SUBJECTS,
        "confusion_row_normalised": {
            method: {
                regime: row_normalised(r["confusion"]).round(6).tolist()
                for regime, r in res.items()
                if r.get("confusion") is not None
            }
            for method, res in report["methods"].items()
        },
    }


def format_p(test: dict[str, Any]) -> str:
    """``p = 0.031 (n = 8)`` or the test's note when it was not run."""
    if test["p_value"] is None:
        return test["note"]
    text = f"p = {test['p_value']:.3g} (n = {test['n']})"
    return f"{text}; {test['note']}" if test["note"] else text
