"""A checkpoint whose weights file carries a pickled payload that runs code on load is
refused (weights-only loading), and the code never runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from emgcorpus.errors import SourceError
from tests.training.toy import periodic_shards
from training.checkpoint import load_checkpoint
from training.pretrain import PretrainConfig, pretrain

TINY: dict[str, Any] = {"d_model": 16, "n_layers": 1, "n_heads": 2, "d_ff": 32, "dropout": 0.0}


class Payload:
    """Unpickling this touches ``marker``: what a malicious checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[Path]]:
        return (Path.touch, (self.marker,))


def test_a_code_running_payload_is_refused_and_never_runs(tmp_path: Path) -> None:
    shards = periodic_shards(tmp_path / "shards", n_rows=8)
    res = pretrain(
        shards, tmp_path / "c", model_config=TINY, config=PretrainConfig(steps=1), progress=False
    )
    weights = res.checkpoint / "model.pt"
    state = torch.load(weights, weights_only=True)
    marker = tmp_path / "pwned"
    torch.save({**state, "extra": Payload(marker)}, weights)
    with pytest.raises(SourceError, match="weights-only"):
        load_checkpoint(res.checkpoint)
    assert not marker.exists()
    torch.load(weights, weights_only=False)  # the payload is live: full unpickling runs it
    assert marker.exists()
