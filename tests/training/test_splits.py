"""Windows from events and the LOSO / few-shot splits."""

from __future__ import annotations

import numpy as np
import pytest

from emgcorpus.errors import ConfigError
from training.splits import (
    check_no_overlap,
    few_shot_class_split,
    few_shot_split,
    loso_folds,
    time_half_split,
)
from training.windows import RecordingEvents, WindowSpec, make_windows


def _recs(
    subjects: tuple[str, ...] = ("1", "2", "10"), n_events: int = 10
) -> list[RecordingEvents]:
    recs = []
    for s in subjects:
        for trial in ("2", "1"):  # deliberately out of order
            evs = [
                {
                    "onset": 0.5 + 1.5 * k + (0.3 if k % 3 == 0 else 0.0),
                    "duration": 1.0,
                    "label": "ab"[k % 2],
                    "repetition": k // 2,
                    "kind": "gesture",
                }
                for k in range(n_events)
            ]
            evs.append(
                {"onset": 0.0, "duration": 0.4, "label": "rest", "repetition": None, "kind": "rest"}
            )
            recs.append(RecordingEvents(f"r{s}-{trial}", "d", s, "1", trial, 17.0, evs))
    return recs


def test_containment_windows_stay_inside_their_event() -> None:
    wins = make_windows(_recs(), WindowSpec())
    assert len(wins) == 3 * 2 * 10 * 16
    for w in wins:
        assert w.event_start_s - 1e-9 <= w.start_s and w.end_s <= w.event_end_s + 1e-9
    assert {w.label for w in wins} == {"a", "b"}
    with_rest = make_windows(_recs(), WindowSpec(include_rest=True))
    assert {w.label for w in with_rest} == {"a", "b", "rest"}


def test_majority_windows_never_share_samples_across_trials() -> None:
    wins = make_windows(_recs(("1",)), WindowSpec(labelling="majority"))
    assert len(wins) > 0
    by_rec: dict[str, list] = {}
    for w in wins:
        by_rec.setdefault(w.recording_id, []).append(w)
    for ws in by_rec.values():
        for a in ws:
            for b in ws:
                if a.trial_key != b.trial_key:
                    assert a.end_s <= b.start_s + 1e-9 or b.end_s <= a.start_s + 1e-9


def test_loso_folds_never_share_subjects() -> None:
    wins = make_windows(_recs(), WindowSpec())
    folds = loso_folds(wins)
    assert [f.test_subject for f in folds] == ["d:1", "d:10", "d:2"]
    for f in folds:
        assert {wins[i].subject_key for i in f.test_idx} == {f.test_subject}
        assert f.test_subject not in {wins[i].subject_key for i in f.train_idx}
        assert len(f.train_idx) + len(f.test_idx) == len(wins)
    with pytest.raises(ConfigError, match="at least 2 subjects"):
        loso_folds(make_windows(_recs(("1",)), WindowSpec()))


def test_few_shot_takes_the_first_windows_in_time_order_and_whole_repetitions() -> None:
    wins = make_windows(_recs(), WindowSpec())
    fold = loso_folds(wins)[0]
    adapt, test = few_shot_split(wins, fold.test_idx, 0.05)
    n = len(fold.test_idx)
    assert len(adapt) >= int(np.ceil(0.05 * n)) and len(adapt) + len(test) == n
    # time order: trial "1" comes before trial "2", and every adapt window precedes every test
    # window of the same recording
    assert {wins[i].trial for i in adapt} == {"1"}
    last_adapt = max(wins[i].start_s for i in adapt)
    assert all(
        wins[i].start_s > last_adapt
        for i in test
        if wins[i].recording_id == wins[adapt[0]].recording_id
    )
    # repetitions never split
    assert not {wins[i].trial_key for i in adapt} & {wins[i].trial_key for i in test}
    first, second = time_half_split(wins, fold.test_idx)
    assert not {wins[i].trial_key for i in first} & {wins[i].trial_key for i in second}
    with pytest.raises(ConfigError, match="fraction"):
        few_shot_split(wins, fold.test_idx, 1.5)


def test_per_class_few_shot_holds_every_class_and_never_splits_a_repetition() -> None:
    wins = make_windows(_recs(), WindowSpec(include_rest=True))
    fold = loso_folds(wins)[0]
    time_adapt, _ = few_shot_split(wins, fold.test_idx, 0.05)
    adapt, test = few_shot_class_split(wins, fold.test_idx, 0.05)
    labels = {wins[i].label for i in fold.test_idx}
    # the time-order cut misses classes here; the per-class one holds them all
    assert {wins[i].label for i in time_adapt} < labels
    assert {wins[i].label for i in adapt} == labels
    for label in labels:
        of_label = [i for i in fold.test_idx if wins[i].label == label]
        taken = [i for i in adapt if wins[i].label == label]
        assert len(taken) == int(np.ceil(0.05 * len(of_label)))
        # the first of that class in time order
        first = sorted(of_label, key=lambda i: (wins[i].trial, wins[i].start_s))[: len(taken)]
        assert sorted(taken) == sorted(first)
    # no repetition on both sides; the remainder of a touched repetition is in neither
    touched = {wins[i].trial_key for i in adapt}
    assert not touched & {wins[i].trial_key for i in test}
    assert len(adapt) + len(test) < len(fold.test_idx)
    assert set(test) == {i for i in fold.test_idx if wins[i].trial_key not in touched}
    with pytest.raises(ConfigError, match="fraction"):
        few_shot_class_split(wins, fold.test_idx, 0.0)


def test_overlap_guard_refuses_with_a_clear_error() -> None:
    check_no_overlap(["other:1"], ["d:1"])
    with pytest.raises(ConfigError, match=r"1 evaluation subject\(s\): d:1.*--exclude"):
        check_no_overlap(["d:1", "other:1"], ["d:1", "d:2"])
