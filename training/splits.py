"""Evaluation splits: leave-one-subject-out folds, the few-shot cut, and the overlap guard.

Rules (DESIGN.md, "Evaluation protocol"):

- a fold holds one evaluation subject out; no subject is on both sides;
- the few-shot cut takes the held-out subject's first ``fraction`` of labelled windows in
  time order, extended to the end of the repetition (trial) it falls in, so the windows of
  one repetition stay on one side; since windows never leave their event, no window
  straddles the cut;
- the per-class few-shot cut (:func:`few_shot_class_split`) takes the first ``fraction`` of
  *each class's* windows in time order, and the rest of every repetition it touches is left
  out of the test, so again no repetition is on both sides;
- pretraining data must not contain any evaluation subject: :func:`check_no_overlap`
  refuses with a clear error.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from emgcorpus.errors import ConfigError
from training.windows import Window


@dataclass(frozen=True)
class Fold:
    """One LOSO fold: indices into the window list."""

    test_subject: str
    train_idx: np.ndarray
    test_idx: np.ndarray


def subjects_of(windows: Sequence[Window]) -> list[str]:
    """Sorted ``dataset:subject`` keys present in ``windows``."""
    return sorted({w.subject_key for w in windows})


def loso_folds(windows: Sequence[Window], min_subjects: int = 2) -> list[Fold]:
    """One fold per subject: train on every other subject, test on that one.

    Raises ConfigError when fewer than ``min_subjects`` subjects are present.
    """
    keys = np.array([w.subject_key for w in windows])
    subjects = sorted(set(keys.tolist()))
    if len(subjects) < min_subjects:
        raise ConfigError(
            f"LOSO needs at least {min_subjects} subjects with labelled windows, "
            f"found {len(subjects)}: {subjects}"
        )
    folds = []
    for s in subjects:
        test = np.flatnonzero(keys == s)
        train = np.flatnonzero(keys != s)
        folds.append(Fold(test_subject=s, train_idx=train, test_idx=test))
    return folds


def time_order(windows: Sequence[Window], idx: np.ndarray) -> np.ndarray:
    """``idx`` reordered by time within the subject (the order :func:`make_windows` sorts)."""
    from training.windows import natural_key

    return np.array(
        sorted(
            idx.tolist(),
            key=lambda i: (
                natural_key(windows[i].session),
                natural_key(windows[i].trial),
                windows[i].recording_id,
                windows[i].start_s,
                windows[i].window_id,
            ),
        ),
        dtype=np.int64,
    )


def _cut_order(windows: Sequence[Window], idx: np.ndarray, fraction: float) -> np.ndarray:
    """``idx`` in time order for a few-shot cut of ``fraction``; ConfigError if it is not in
    (0, 1)."""
    if not 0 < fraction < 1:
        raise ConfigError(f"few-shot fraction must be in (0, 1), got {fraction!r}")
    return time_order(windows, np.asarray(idx))


def few_shot_split(
    windows: Sequence[Window], idx: np.ndarray, fraction: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Split one subject's windows ``idx`` into (adapt, test) by time order.

    ``adapt`` is the first ``ceil(fraction * n)`` windows in time order, extended so that
    every repetition (trial) it touches is entirely in it; ``test`` is the rest. Raises
    ConfigError if ``fraction`` is not in (0, 1) or if nothing is left to test.
    """
    ordered = _cut_order(windows, idx, fraction)
    n = len(ordered)
    if n == 0:
        return ordered, ordered
    k = max(1, math.ceil(fraction * n))
    taken = {windows[i].trial_key for i in ordered[:k]}
    # every window of a trial that starts within the first k goes to adapt
    is_adapt = np.array([windows[i].trial_key in taken for i in ordered])
    adapt, test = ordered[is_adapt], ordered[~is_adapt]
    if len(test) == 0:
        raise ConfigError(
            f"few-shot fraction {fraction} leaves no test windows for subject "
            f"{windows[ordered[0]].subject_key} ({n} windows in {len(taken)} trials)"
        )
    return adapt, test


def few_shot_class_split(
    windows: Sequence[Window], idx: np.ndarray, fraction: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Split one subject's windows ``idx`` into (adapt, test), every class in ``adapt``.

    For each label, ``adapt`` takes its first ``ceil(fraction * n_label)`` windows in time
    order, so the adaptation set is ``fraction`` of the subject's windows and holds every
    class (what a new user gives when asked to show each gesture briefly). ``test`` is the
    windows of the repetitions (trials) ``adapt`` does not touch; the remainder of a touched
    repetition is in neither, so windows of one repetition never straddle the cut. The
    time-order cut (:func:`few_shot_split`) can hold only the first one or two classes of a
    session recorded gesture by gesture. Raises ConfigError as :func:`few_shot_split` does.
    """
    ordered = _cut_order(windows, idx, fraction)
    if len(ordered) == 0:
        return ordered, ordered
    labels = np.array([windows[i].label for i in ordered])
    is_adapt = np.zeros(len(ordered), bool)
    for label in np.unique(labels):
        where = np.flatnonzero(labels == label)
        is_adapt[where[: max(1, math.ceil(fraction * len(where)))]] = True
    touched = {windows[i].trial_key for i in ordered[is_adapt]}
    in_touched = np.array([windows[i].trial_key in touched for i in ordered])
    adapt, test = ordered[is_adapt], ordered[~in_touched]
    if len(test) == 0:
        raise ConfigError(
            f"per-class few-shot fraction {fraction} leaves no untouched repetition to test "
            f"for subject {windows[ordered[0]].subject_key} ({len(ordered)} windows)"
        )
    return adapt, test


def time_half_split(windows: Sequence[Window], idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Within-subject reference split: first half of the repetitions in time order vs the rest."""
    ordered = time_order(windows, np.asarray(idx))
    trials: list[str] = []
    for i in ordered:
        if not trials or trials[-1] != windows[i].trial_key:
            trials.append(windows[i].trial_key)
    first = set(trials[: max(1, len(trials) // 2)])
    mask = np.array([windows[i].trial_key in first for i in ordered])
    return ordered[mask], ordered[~mask]


def check_no_overlap(
    pretrain_subjects: Iterable[str],
    eval_subjects: Iterable[str],
    what: str = "checkpoint",
) -> None:
    """Refuse pretraining data that contains evaluation subjects.

    Both arguments are ``dataset:subject`` keys. Raises ConfigError naming the overlap and
    how to fix it (pretrain with ``--exclude-subjects`` or ``--exclude-datasets``).
    """
    overlap = sorted(set(pretrain_subjects) & set(eval_subjects))
    if overlap:
        shown = ", ".join(overlap[:10]) + (" ..." if len(overlap) > 10 else "")
        raise ConfigError(
            f"{what} was pretrained on {len(overlap)} evaluation subject(s): {shown}; "
            "zero-shot evaluation needs pretraining that excludes them (pretrain again with "
            "--exclude-datasets DATASET or --exclude-subjects dataset:subject)"
        )


def check_disjoint(folds: Sequence[Fold], windows: Sequence[Window]) -> None:
    """Check (not assume) that no fold shares a subject or a trial between its sides."""
    for f in folds:
        tr = {windows[i].subject_key for i in f.train_idx}
        te = {windows[i].subject_key for i in f.test_idx}
        if tr & te:
            raise ConfigError(f"fold {f.test_subject}: subjects on both sides: {sorted(tr & te)}")
