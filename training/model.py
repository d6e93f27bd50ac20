"""A small transformer over token sequences that works for any electrode layout.

Each token's input vector is the sum of

- a token embedding (its code id in the vocabulary);
- a channel-position embedding: a Linear map of the POSITION_DIM position vector of its
  channel (emgcorpus.topology), so 4, 8, 64 or 256 channels share one space and no channel
  index is ever embedded;
- a time embedding: sinusoids of its onset [s] from the start of the sentence or window
  (periods from ``min_period_s`` to ``max_period_s``), projected to ``d_model``;
- optionally a log-duration embedding: Linear of log(duration [s] + 1 ms);
- optionally (``desc_dim`` > 0) a descriptor embedding: Linear of the token's standardised
  continuous descriptor (the shards' ``token_desc``, clipped to +-DESC_CLIP, absent entries
  0) and of its presence mask, so the model knows what a code means (its intensity, shape,
  spectrum) without rediscovering it from ids. Pretraining hides the descriptor of every
  token it asks the model to predict (training.pretrain).

A learned summary vector (CLS) is prepended; the encoder is a pre-norm
``nn.TransformerEncoder``. The masked-token head predicts token ids.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from emgcorpus.errors import ConfigError
from emgcorpus.topology import POSITION_DIM

#: ``ModelConfig.vocab_size`` before the shards are known: :func:`training.pretrain.pretrain`
#: fills in the shards' vocabulary size
VOCAB_FROM_SHARDS = 0
#: ``ModelConfig.desc_dim`` meaning "as many descriptor entries as the shards store" (0 for
#: shards without descriptors): :func:`training.pretrain.pretrain` fills it in
DESC_FROM_SHARDS = -1
#: standardised descriptor entries are clipped to +-DESC_CLIP before the projection
DESC_CLIP = 6.0


@dataclass
class ModelConfig:
    """Sizes of the model. The defaults train on a CPU.

    ``vocab_size``: token ids the model embeds (VOCAB_FROM_SHARDS: set by pretraining from
    the shards). ``d_ff``: width of the feed-forward layers (None: ``4 * d_model``, see
    :attr:`ff_width`). ``desc_dim``: entries of each token's standardised descriptor the
    model embeds beside its id (0: ids only; DESC_FROM_SHARDS: the shards' descriptor_dim,
    set by pretraining).
    """

    vocab_size: int = VOCAB_FROM_SHARDS
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int | None = None
    dropout: float = 0.1
    use_duration: bool = True
    n_time_freqs: int = 16
    min_period_s: float = 0.01
    max_period_s: float = 100.0
    desc_dim: int = 0

    def __post_init__(self) -> None:
        if self.desc_dim < DESC_FROM_SHARDS:
            raise ConfigError(
                f"desc_dim must be >= 0 (or {DESC_FROM_SHARDS}: the shards'), got {self.desc_dim}"
            )
        if self.vocab_size != VOCAB_FROM_SHARDS and self.vocab_size < 5:
            raise ConfigError(f"vocab_size must be >= 5 (special tokens), got {self.vocab_size}")
        if self.d_model % self.n_heads:
            raise ConfigError(
                f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})"
            )

    @property
    def ff_width(self) -> int:
        """Feed-forward width: ``d_ff``, or ``4 * d_model`` when it is not set."""
        return 4 * self.d_model if self.d_ff is None else self.d_ff

    def to_dict(self) -> dict[str, Any]:
        """The fields, with ``d_ff`` resolved (what a checkpoint records)."""
        return {**asdict(self), "d_ff": self.ff_width}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def descriptor_input(desc: torch.Tensor) -> torch.Tensor:
    """(B, L, D) standardised descriptors (NaN = absent) -> (B, L, 2D): the values clipped
    to +-DESC_CLIP (absent: 0), then the presence mask."""
    present = torch.isfinite(desc)
    values = torch.where(present, desc, torch.zeros_like(desc)).clamp(-DESC_CLIP, DESC_CLIP)
    return torch.cat([values, present.to(desc.dtype)], dim=-1)


class SinusoidalTime(nn.Module):
    """sin/cos of 2*pi*t/period for log-spaced periods [s], projected to ``d_model``."""

    def __init__(self, d_model: int, n_freqs: int, min_period_s: float, max_period_s: float):
        super().__init__()
        periods = torch.logspace(math.log10(min_period_s), math.log10(max_period_s), n_freqs)
        self.omega: torch.Tensor
        self.register_buffer("omega", 2 * math.pi / periods, persistent=False)
        self.proj = nn.Linear(2 * n_freqs, d_model)

    def forward(self, t_s: torch.Tensor) -> torch.Tensor:
        phase = t_s.unsqueeze(-1) * self.omega
        return self.proj(torch.cat([torch.sin(phase), torch.cos(phase)], dim=-1))


class TokenEncoder(nn.Module):
    """Token sequences -> contextual vectors (B, 1 + L, d_model); index 0 is the CLS summary."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.vocab_size == VOCAB_FROM_SHARDS:
            raise ConfigError("ModelConfig.vocab_size is not set (the shards' size is filled in)")
        if cfg.desc_dim == DESC_FROM_SHARDS:
            raise ConfigError("ModelConfig.desc_dim is not set (the shards' is filled in)")
        self.cfg = cfg
        d = cfg.d_model
        self.token = nn.Embedding(cfg.vocab_size, d)
        self.position = nn.Linear(POSITION_DIM, d)
        self.time = SinusoidalTime(d, cfg.n_time_freqs, cfg.min_period_s, cfg.max_period_s)
        self.duration = nn.Linear(1, d) if cfg.use_duration else None
        self.desc = nn.Linear(2 * cfg.desc_dim, d) if cfg.desc_dim > 0 else None
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        nn.init.normal_(self.cls, std=0.02)
        layer = nn.TransformerEncoderLayer(
            d, cfg.n_heads, cfg.ff_width, cfg.dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, cfg.n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)

    def forward(
        self,
        token_ids: torch.Tensor,
        channel_pos: torch.Tensor,
        onset_s: torch.Tensor,
        duration_s: torch.Tensor,
        pad_mask: torch.Tensor,
        desc: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``desc``: (B, L, desc_dim) standardised descriptors (NaN = absent), required by
        a model with ``desc_dim`` > 0 and ignored by one without."""
        x = self.token(token_ids) + self.position(channel_pos) + self.time(onset_s)
        if self.duration is not None:
            x = x + self.duration(torch.log(duration_s.clamp(min=0) + 1e-3).unsqueeze(-1))
        if self.desc is not None:
            if desc is None:
                raise ConfigError(
                    f"the model embeds {self.cfg.desc_dim} descriptor entries per token but the "
                    "shards store none (token_desc): re-tokenize with this version, or use a "
                    "model pretrained with desc_dim 0"
                )
            if desc.shape[-1] != self.cfg.desc_dim:
                raise ConfigError(
                    f"the shards store {desc.shape[-1]} descriptor entries per token, the "
                    f"model embeds {self.cfg.desc_dim}"
                )
            x = x + self.desc(descriptor_input(desc))
        b = x.shape[0]
        x = torch.cat([self.cls.expand(b, -1, -1), x], dim=1)
        mask = torch.cat([torch.zeros(b, 1, dtype=torch.bool, device=x.device), pad_mask], dim=1)
        return self.norm(self.encoder(x, src_key_padding_mask=mask))

    def encode(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """:meth:`forward` of a collated batch (training.data.collate_tokens):
        (B, 1 + L, d_model)."""
        return self.forward(
            batch["token_ids"],
            batch["channel_pos"],
            batch["onset_s"],
            batch["duration_s"],
            batch["pad_mask"],
            batch.get("desc"),
        )


class MaskedTokenModel(nn.Module):
    """Encoder + a head that predicts each token's id (masked-token pretraining)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = TokenEncoder(cfg)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits over the vocabulary for every token position: (B, L, vocab_size)."""
        return self.head(self.encoder.encode(batch)[:, 1:])


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
