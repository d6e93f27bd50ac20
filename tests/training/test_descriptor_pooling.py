"""The model features' descriptor path (pooling ``channels-desc``) and position slots that
count only the evaluated recordings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from emgcorpus.errors import ConfigError
from emgcorpus.shards.reader import RecordingTokens
from emgcorpus.shards.special_tokens import FIRST_CODE_ID
from emgcorpus.topology import POSITION_DIM
from tests.training.toy import pretrained_gesture_toy
from training.embedding import (
    descriptor_pooled,
    descriptor_pooled_width,
    embed_windows,
    pooled_width,
    position_slots,
)
from training.windows import Window

TINY: dict[str, Any] = {"d_model": 16, "n_layers": 1, "n_heads": 2, "d_ff": 32, "dropout": 0.0}
NAN = float("nan")


def test_descriptor_pooled_relative_pattern_and_levels() -> None:
    # 4 tokens of one window, 2 descriptor entries, 3 positions (slot 2 has no token)
    desc = torch.tensor([[[1.0, NAN], [3.0, 2.0], [5.0, 4.0], [NAN, NAN]]])
    slot = torch.tensor([[0, 0, 1, -1]])  # the last token is padding
    rel = descriptor_pooled(desc, slot, 3)
    assert rel.shape == (1, descriptor_pooled_width(2, 3)) == (1, 3 * 2)
    # per slot and entry: mean present value minus the window's mean over slots that have it
    np.testing.assert_allclose(rel[0].reshape(3, 2), [[2.0 - 3.5, 2.0 - 3.0], [1.5, 1.0], [0, 0]])
    # a gain change (the same shift of every log value) leaves the relative pattern alone
    np.testing.assert_allclose(descriptor_pooled(desc + 0.7, slot, 3), rel, atol=1e-6)
    both = descriptor_pooled(desc, slot, 3, levels=True)
    assert both.shape == (1, descriptor_pooled_width(2, 3, levels=True)) == (1, 3 * 3 + 3 * 2)
    lv = both[0, :9].reshape(3, 3)  # per slot: mean present value per entry (none: 0), flag
    np.testing.assert_allclose(lv[0], [2.0, 2.0, 1.0])  # slot 0: entry 1 only from token 1
    np.testing.assert_allclose(lv[1], [5.0, 4.0, 1.0])
    np.testing.assert_allclose(lv[2], [0.0, 0.0, 0.0])  # no token: no level, flag 0
    np.testing.assert_allclose(both[:, 9:], rel)
    # the levels move with a gain change, the relative pattern does not
    shifted = descriptor_pooled(desc + 0.7, slot, 3, levels=True)
    np.testing.assert_allclose(shifted[0, :9].reshape(3, 3)[:2, :2], lv[:2, :2] + 0.7, atol=1e-6)
    np.testing.assert_allclose(shifted[:, 9:], rel, atol=1e-6)


def _tokens(n_positions: int, rid: str) -> RecordingTokens:
    pos = np.zeros((n_positions, POSITION_DIM), np.float32)
    pos[:, 0] = 1.0
    pos[:, 3] = np.sin(np.arange(n_positions))
    return RecordingTokens(
        ids=np.full(n_positions, 12, np.int64),
        pos=pos,
        onset_s=np.linspace(0.0, 1.0, n_positions),
        duration_s=np.full(n_positions, 0.1, np.float32),
    )


def _window(rid: str) -> Window:
    return Window(f"{rid}-0", rid, "d", "s1", "1", "1", 0.0, 0.25, "g", 1, "t", 0.0, 1.0)


def test_position_slots_count_only_the_evaluated_recordings() -> None:
    # one dataset holding an 8-electrode armband and a 64-electrode grid (the simulated corpus)
    tokens = {"band": _tokens(8, "band"), "grid": _tokens(64, "grid")}
    assert position_slots(tokens) == {}  # over everything: too many positions to pool
    assert len(position_slots(tokens, [_window("band")])) == 8
    assert position_slots(tokens, [_window("band"), _window("grid")]) == {}


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return pretrained_gesture_toy(tmp_path_factory.mktemp("descpool"), TINY)


#: embed_windows options of the toy tests
OPTS: dict[str, Any] = {
    "model_window_s": 1.0,
    "max_window_tokens": 64,
    "batch_size": 5,
    "torch_device": "cpu",
    "progress": False,
}


def _toy_model(toy: tuple[Path, Path]) -> tuple[dict[str, RecordingTokens], list[Window], Any]:
    """The toy's evaluation tokens, its first 12 windows and its pretrained model."""
    from emgcorpus.shards.reader import ShardSet
    from training.checkpoint import load_checkpoint
    from training.data import load_dataset_tokens
    from training.windows import WindowSpec, make_windows

    shards, ckpt = toy
    tokens, recs = load_dataset_tokens(ShardSet.open(shards), "toy")
    model, _ = load_checkpoint(ckpt)
    return tokens, make_windows(recs, WindowSpec())[:12], model


def test_channels_desc_pooling_appends_the_descriptor_path(toy: tuple[Path, Path]) -> None:
    tokens, windows, model = _toy_model(toy)
    plain = embed_windows(model.encoder, tokens, windows, pooling="channels", **OPTS)
    d = TINY["d_model"]
    assert plain.shape == (12, pooled_width(d, 4))
    for t in tokens.values():  # the toy stores no descriptors: give every token one
        level = t.pos[:, 3:4] + 2.0 * t.pos[:, 4:5]  # differs by electrode position
        t.desc = np.concatenate([level, -level, np.full_like(level, NAN)], 1).astype(np.float32)
    both = embed_windows(model.encoder, tokens, windows, pooling="channels-desc", **OPTS)
    assert both.shape == (12, pooled_width(d, 4) + descriptor_pooled_width(3, 4))
    np.testing.assert_allclose(both[:, : plain.shape[1]], plain, atol=1e-5)
    tail = both[:, plain.shape[1] :]
    assert np.isfinite(tail).all() and np.abs(tail).sum() > 0
    for t in tokens.values():  # a gain change: every log value shifted alike
        t.desc = t.desc + 1.5
    shifted = embed_windows(model.encoder, tokens, windows, pooling="channels-desc", **OPTS)
    np.testing.assert_allclose(shifted[:, plain.shape[1] :], tail, atol=1e-5)
    for t in tokens.values():
        t.desc = None
    with pytest.raises(ConfigError, match="descriptors"):
        embed_windows(model.encoder, tokens, windows, pooling="channels-desc", **OPTS)


def test_cls_mean_desc_pooling_is_cls_mean_then_levels_and_pattern(
    toy: tuple[Path, Path],
) -> None:
    from training.audit import audit_features
    from training.embedding import feature_width, window_items

    tokens, windows, model = _toy_model(toy)
    d = TINY["d_model"]
    for t in tokens.values():  # descriptors on the code tokens only, as the shards store them
        t.ids = np.where(t.ids >= 10, t.ids + 2, t.ids)  # the toy's gesture ids 10, 11: codes
        level = t.pos[:, 3:4] + 2.0 * t.pos[:, 4:5]
        desc = np.concatenate([level, -level, np.full_like(level, NAN)], 1).astype(np.float32)
        desc[t.ids < FIRST_CODE_ID] = NAN
        t.desc = desc
    cls_mean = embed_windows(model.encoder, tokens, windows, pooling="cls-mean", **OPTS)
    feats = embed_windows(model.encoder, tokens, windows, pooling="cls-mean-desc", **OPTS)
    assert feats.shape == (12, feature_width(d, 4, 3, "cls-mean-desc")) == (12, 2 * d + 4 * 7)
    np.testing.assert_allclose(feats[:, : 2 * d], cls_mean, atol=1e-5)  # no per-slot outputs
    rel = embed_windows(model.encoder, tokens, windows, pooling="channels-desc", **OPTS)
    np.testing.assert_allclose(feats[:, 2 * d + 4 * 4 :], rel[:, -4 * 3 :], atol=1e-5)
    # the levels are the audit's pooled descriptors (mean descriptor + flag per position)
    items = window_items(tokens, windows, model_window_s=1.0, max_window_tokens=64)
    audit, _ = audit_features(items, position_slots(tokens, windows), 0)
    levels = feats[:, 2 * d : 2 * d + 16]
    assert np.abs(levels).sum() > 0
    np.testing.assert_allclose(levels, audit["pooled-descriptors"], rtol=1e-5, atol=1e-5)
    for t in tokens.values():
        t.desc = None
    with pytest.raises(ConfigError, match="cls-mean-desc needs token descriptors"):
        embed_windows(model.encoder, tokens, windows, pooling="cls-mean-desc", **OPTS)


def test_presets_give_the_probe_the_descriptor_path() -> None:
    from emgcorpus.runs.config import quickstart_preset, reproduce_preset
    from emgcorpus.runs.plans import TARGETS

    # one probe feature set for every preset (training/RESULTS.md rows D1 and D5)
    assert quickstart_preset().eval.pooling == "cls-mean-desc"
    assert {reproduce_preset(t).eval.pooling for t in TARGETS.values()} == {"cls-mean-desc"}


def test_every_preset_takes_the_real_data_nct_parameters() -> None:
    from emgcorpus.runs.config import quickstart_preset, reproduce_preset
    from emgcorpus.runs.plans import TARGETS
    from vocab.tokenizers import get_tokenizer

    # rows D2, D3 and D5 of training/RESULTS.md: on 2 / off 1.5 x the floor and the
    # recording's floor as the intensity reference, in the quick start and the real sets
    presets = [quickstart_preset(), *(reproduce_preset(t) for t in TARGETS.values())]
    for preset in presets:
        params = dict(preset.vocab.tokenizer_params)
        assert params == {"on_ratio": 2, "off_ratio": 1.5, "intensity_reference": "device"}
        tok = get_tokenizer("nct", **params)
        default = get_tokenizer("nct")
        assert tok.params["on_ratio"] == 2 != default.params["on_ratio"]
