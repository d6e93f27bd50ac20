"""The vocabulary report: an HTML page, readable PNG plots and the numbers in report.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib.image as mpimg
import numpy as np
import polars as pl
import pytest

from emgcorpus.errors import ConfigError
from emgcorpus.shards.special_tokens import FIRST_CODE_ID
from tests.training.toy import sentence_row, write_shards
from vocab.artifact import Vocabulary
from vocab.compiler import VocabularyBuilder
from vocab.tokenize import tokenize_lake
from vocab.vocab_report import (
    MAX_RECORDINGS_PER_DATASET,
    REST_LABEL,
    LabelledUsage,
    dataset_rows,
    default_report_dir,
    labelled_usage,
    moving_rms,
    physical_centroids,
    pick_recordings,
    write_vocab_report,
)

PNGS = ("usage.png", "devices.png", "examples.png", "datasets.png", "gestures.png")


@pytest.fixture(scope="module")
def built(sim_lake: Path) -> tuple[Vocabulary, Path]:
    """A 6-code vocabulary of the simulated lake and its report (no shards yet)."""
    vocab = VocabularyBuilder(
        sim_lake, "nct", size=6, sample_size=200, scheduler="sync", partition_size=2
    ).build(progress=False)
    return vocab, write_vocab_report(sim_lake, vocab.id[:7], n_examples=4)


def _doc(html: Path) -> dict[str, Any]:
    return json.loads((html.parent / "report.json").read_text())


def test_report_writes_html_and_plots(sim_lake: Path, built: tuple[Vocabulary, Path]) -> None:
    vocab, html = built
    assert html == default_report_dir(sim_lake, vocab.id) / "index.html"
    text = html.read_text()
    assert vocab.id in text
    for png in PNGS:
        assert f'src="{png}"' in text
        img = mpimg.imread(html.parent / png)
        assert img.shape[0] > 200 and img.shape[1] > 600
        assert img[..., :3].std() > 0.05  # not a blank canvas
    assert "most frequent codes" in text and "tokens/s" in text


def test_centroids_in_physical_units(built: tuple[Vocabulary, Path]) -> None:
    vocab, html = built
    cent = _doc(html)["centroids_physical"]
    assert cent["units"][0] == "ms" and cent["units"][9] == "Hz"
    assert cent["descriptors"][1] == "log_intensity" and cent["units"][1] == "x noise floor"
    raw = vocab.mean + vocab.std * vocab.codebook.astype(np.float64)  # undo standardising
    values = np.array(cent["values"], dtype=np.float64)
    assert values.shape == (6, 16)
    assert np.allclose(values[:, 0], 1000 * np.exp(raw[:, 0]))  # ln(s) -> ms
    assert np.allclose(values[:, 1], np.exp(raw[:, 1]))
    assert np.allclose(values[:, 9], raw[:, 9])  # Hz stays Hz
    assert np.allclose(values[:, 13], 10 ** raw[:, 13])  # log10 ratio -> ratio
    # segments of the simulated contractions: tens to hundreds of ms, above the floor,
    # mean frequency inside the 20-95 Hz common band
    assert (values[:, 0] > 5).all() and (values[:, 0] < 2000).all()
    assert (values[:, 1] > 1).all() and ((values[:, 9] > 20) & (values[:, 9] < 95)).all()
    assert ((values[:, 7] >= 0) & (values[:, 7] <= 1)).all()  # is_first: a share of segments
    # the 2 kHz device records 95-450 Hz: the optional band ratios are measurements
    assert np.isfinite(values[:, 14:]).all() and (values[:, 14:] > 0).all()
    text = html.read_text()
    assert "duration [ms]" in text and "mean frequency (20-95 Hz) [Hz]" in text
    # a corpus where no device recorded the optional bands keeps them unmeasured (None)
    meta = json.loads(json.dumps(vocab.meta))
    meta["standardization"]["mean"][14:] = [0.0, 0.0]
    meta["standardization"]["std"][14:] = [1.0, 1.0]
    book = vocab.codebook.copy()
    book[:, 14:] = 0.0
    unmeasured = physical_centroids(Vocabulary(meta, book))
    assert unmeasured is not None
    assert all(row[14] is None and row[15] is None for row in unmeasured["values"])


def test_codes_per_dataset_and_gesture_agree_with_the_shards(
    sim_lake: Path, built: tuple[Vocabulary, Path], tmp_path: Path
) -> None:
    vocab, html = built
    lake_doc = _doc(html)
    assert "tokenized from the lake" in lake_doc["labelled_tokens_from"]
    ds = lake_doc["per_dataset"]["sim"]
    assert ds["recordings"] == 4 and sum(ds["counts"]) == ds["code_tokens"] > 0
    by_label = lake_doc["code_by_label"]["sim"]
    assert set(by_label) <= {"hand_close", "hand_open", REST_LABEL}
    assert {"hand_close", "hand_open"} <= set(by_label)
    assert (np.sum(list(by_label.values()), axis=0) <= np.array(ds["counts"])).all()
    g = lake_doc["gestures"]["sim"]["hand_open"]
    assert g["tokens"] == sum(by_label["hand_open"])
    shares = [c["share"] for c in g["codes"]]
    assert shares == sorted(shares, reverse=True) and sum(shares) <= 1.0 + 1e-6
    top = g["codes"][0]
    base = ds["counts"][top["code"]] / ds["code_tokens"]
    assert top["lift"] == pytest.approx(top["share"] / base, rel=1e-3)
    assert "Which codes go with which gesture" in html.read_text()
    # the vocabulary's shards (default folder) give the same counts from the stored tokens
    tokenize_lake(sim_lake, vocab.id, scheduler="sync", progress=False)
    from_shards = labelled_usage(sim_lake, vocab, None, MAX_RECORDINGS_PER_DATASET)
    assert from_shards.source.startswith("token shards at")
    assert dataset_rows(from_shards) == lake_doc["per_dataset"]
    assert {lab: c.tolist() for lab, c in from_shards.by_label["sim"].items()} == lake_doc[
        "code_by_label"
    ]["sim"]
    # shards of another vocabulary are refused
    other = write_shards(tmp_path / "toy", [sentence_row("r", "toy", "a", 0, [5], [0.0])])
    with pytest.raises(ConfigError, match="tokenized with vocabulary toy-vocab"):
        labelled_usage(sim_lake, vocab, other, 1)


def test_labelled_usage_counts_tokens_by_the_event_holding_their_onset() -> None:
    usage = LabelledUsage(size=3)
    events = [
        {"onset": 0.0, "duration": 1.0, "label": "rest", "kind": "rest"},
        {"onset": 1.0, "duration": 1.0, "label": "fist", "kind": "gesture"},
    ]
    # token ids: code c is FIRST_CODE_ID + c; a special token (id 0) is not a code
    ids = np.array([FIRST_CODE_ID + 2, 0, FIRST_CODE_ID + 1, FIRST_CODE_ID + 1, FIRST_CODE_ID])
    usage.add("d", ids, np.array([0.5, 1.2, 1.0, 1.99, 2.0]), events)
    assert usage.by_dataset["d"].tolist() == [1, 2, 1]
    assert usage.by_label["d"]["fist"].tolist() == [0, 2, 0]  # 2.0 is past the event
    assert usage.by_label["d"][REST_LABEL].tolist() == [0, 0, 1]


def test_pick_recordings_covers_every_gesture_first() -> None:
    table = pl.DataFrame({"recording_id": ["a", "b", "c", "d"]})
    events = pl.DataFrame(
        {
            "recording_id": ["a", "b", "c", "d", "d"],
            "label": ["fist", "fist", "open", "rest", "pinch"],
            "kind": ["gesture", "gesture", "gesture", "rest", "gesture"],
        }
    )
    assert [r["recording_id"] for r in pick_recordings(table, events, 3)] == ["a", "c", "d"]
    assert [r["recording_id"] for r in pick_recordings(table, events, 4)] == ["a", "c", "d", "b"]
    assert [r["recording_id"] for r in pick_recordings(table, events, 1)] == ["a"]


def test_moving_rms_of_a_sine() -> None:
    fs = 1000.0
    t = np.arange(0, 2, 1 / fs)
    env = moving_rms(3.0 * np.sin(2 * np.pi * 50 * t), fs, window_s=0.1)
    assert np.allclose(env[200:-200], 3.0 / np.sqrt(2), rtol=1e-3)
