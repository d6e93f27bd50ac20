"""Checkpoints that load safely: a bare state_dict plus a JSON sidecar that says what it is.

``<dir>/model.pt`` holds only tensors (``torch.save(model.state_dict())``) and is loaded
with ``torch.load(weights_only=True)``, so opening a checkpoint never runs pickled code.
``<dir>/model.json`` holds the model config, the vocabulary id, the corpus snapshot, the
pretraining subjects and datasets (what evaluation must not overlap), the training config
and the training curve.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from emgcorpus.errors import SourceError
from training.model import MaskedTokenModel, ModelConfig

WEIGHTS = "model.pt"
SIDECAR = "model.json"
FORMAT = "emgcorpus-checkpoint/1"


@dataclass
class CheckpointMeta:
    """What a checkpoint was trained on and how."""

    model: ModelConfig
    vocab_id: str | None = None
    snapshot: Any = None
    pretrain_subjects: list[str] = field(default_factory=list)
    pretrain_datasets: list[str] = field(default_factory=list)
    excluded_subjects: list[str] = field(default_factory=list)
    excluded_datasets: list[str] = field(default_factory=list)
    train: dict[str, Any] = field(default_factory=dict)
    curve: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "model": self.model.to_dict(),
            "vocab_id": self.vocab_id,
            "snapshot": self.snapshot,
            "pretrain_subjects": list(self.pretrain_subjects),
            "pretrain_datasets": list(self.pretrain_datasets),
            "excluded_subjects": list(self.excluded_subjects),
            "excluded_datasets": list(self.excluded_datasets),
            "train": self.train,
            "curve": self.curve,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CheckpointMeta:
        return cls(
            model=ModelConfig.from_dict(d["model"]),
            vocab_id=d.get("vocab_id"),
            snapshot=d.get("snapshot"),
            pretrain_subjects=list(d.get("pretrain_subjects", [])),
            pretrain_datasets=list(d.get("pretrain_datasets", [])),
            excluded_subjects=list(d.get("excluded_subjects", [])),
            excluded_datasets=list(d.get("excluded_datasets", [])),
            train=dict(d.get("train", {})),
            curve=list(d.get("curve", [])),
        )


def save_checkpoint(out_dir: str | Path, model: MaskedTokenModel, meta: CheckpointMeta) -> Path:
    """Write ``model.pt`` (state_dict) and ``model.json`` (meta) into ``out_dir``; return it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    tmp = out / (WEIGHTS + ".tmp")
    torch.save(state, tmp)
    tmp.replace(out / WEIGHTS)
    (out / SIDECAR).write_text(json.dumps(meta.to_dict(), indent=2, sort_keys=True, default=str))
    return out


def read_meta(path: str | Path) -> CheckpointMeta:
    """The sidecar of a checkpoint folder (or of the folder holding ``model.pt``)."""
    root = _root(path)
    sidecar = root / SIDECAR
    if not sidecar.exists():
        raise SourceError(
            sidecar, "checkpoint sidecar missing (expected model.json beside model.pt)"
        )
    try:
        d = json.loads(sidecar.read_text())
    except json.JSONDecodeError as exc:
        raise SourceError(sidecar, f"not valid JSON: {exc}") from None
    if d.get("format") != FORMAT:
        raise SourceError(sidecar, f"expected format {FORMAT!r}, found {d.get('format')!r}")
    return CheckpointMeta.from_dict(d)


def load_checkpoint(
    path: str | Path, torch_device: str | torch.device = "cpu"
) -> tuple[MaskedTokenModel, CheckpointMeta]:
    """Rebuild the model from its sidecar and load its weights with ``weights_only=True``."""
    root = _root(path)
    meta = read_meta(root)
    weights = root / WEIGHTS
    if not weights.exists():
        raise SourceError(weights, "checkpoint weights missing")
    try:
        state = torch.load(weights, map_location=torch_device, weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or unsafe files
        raise SourceError(weights, f"cannot load as a weights-only state_dict: {exc}") from None
    model = MaskedTokenModel(meta.model)
    model.load_state_dict(state)
    return model.to(torch_device), meta


def _root(path: str | Path) -> Path:
    p = Path(path)
    return p.parent if p.is_file() else p
