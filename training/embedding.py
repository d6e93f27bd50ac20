"""What the frozen model sees of each evaluation window, and the features it gives.

For every labelled window (training.windows) the model reads the tokens whose onset falls
in the window, or in a longer window with the same centre clipped to the window's own
repetition (``model_window_s``), capped at ``max_window_tokens`` tokens. The encoder's
output is pooled into one feature vector per window: CLS, mean of the token outputs and,
where the evaluated recordings have at most MAX_POOL_POSITIONS electrode positions, the
mean output of each position and each position's share of the tokens (the spatial
pattern); with ``pool_max`` also the max of the token outputs over the window and per
position (measured on Cote-Allard by the research notebook: not worth it for the LDA
probe, so off by default); with pooling ``channels-desc`` also the tokens' input
descriptors pooled per position relative to the window (:func:`descriptor_pooled`), a
residual path so that the probe never sees less than the tokens carry (training/RESULTS.md,
issue 10); pooling ``cls-mean-desc`` gives CLS and mean only of the encoder, and per position
the descriptors' levels (their mean, and whether the position has any) before that relative
pattern (row D1 of training/RESULTS.md: the per-position token outputs cost the LDA probe
more than they give, the absolute levels carry what the relative pattern drops).

The evaluation protocol (training.evaluate) fits probes on these features; few-shot
fine-tuning (training.finetune) pools the same way through :func:`encode_batch`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
import torch
from tqdm import tqdm

from emgcorpus.errors import ConfigError, check_option
from emgcorpus.shards.reader import RecordingTokens
from training.data import collate_tokens
from training.model import TokenEncoder
from training.torch_device import resolve_torch_device
from training.windows import Window

#: ``cls-mean``: CLS + mean of the token outputs; ``channels``: that plus per-position
#: pooling; ``channels-desc``: ``channels`` plus the input descriptors pooled per position
#: relative to the window (:func:`descriptor_pooled`: a residual path, so the probe sees
#: what the tokens carry); ``cls-mean-desc``: CLS + mean of the token outputs, then per
#: position the descriptors' levels and their relative pattern (``descriptor_pooled`` with
#: ``levels``), no per-position token outputs
POOLINGS = ("cls-mean", "channels", "channels-desc", "cls-mean-desc")
#: the poolings that pool the token outputs per electrode position
SLOT_OUTPUT_POOLINGS = ("channels", "channels-desc")
#: the poolings that append the descriptors pooled per position (:func:`descriptor_pooled`)
DESC_POOLINGS = ("channels-desc", "cls-mean-desc")
#: per-position pooling is left out for datasets with more electrode positions (dense grids)
MAX_POOL_POSITIONS = 16


def model_window_bounds(w: Window, model_window_s: float | None) -> tuple[float, float]:
    """[start, end) [s] of what the model sees for window ``w``.

    ``model_window_s`` None: the window itself; else that many seconds around its centre,
    clipped to the window's repetition (so it never straddles a split).
    """
    if model_window_s is None:
        return w.start_s, w.end_s
    c = 0.5 * (w.start_s + w.end_s)
    return max(c - model_window_s / 2, w.event_start_s), min(c + model_window_s / 2, w.event_end_s)


def position_slots(
    tokens: dict[str, RecordingTokens], windows: Sequence[Window] | None = None
) -> dict[bytes, int]:
    """Electrode position vector (as bytes) -> slot index, over the tokens of the recordings
    ``windows`` come from (None: every recording of ``tokens``).

    Empty when those recordings have more than MAX_POOL_POSITIONS distinct positions (dense
    grids): per-position pooling is then left out. Only the evaluated recordings count, so
    a dataset that also holds other devices (the simulated corpus: 4 to 64 channels) still
    pools the evaluated device's positions.
    """
    used = None if windows is None else {w.recording_id for w in windows}
    seen: set[bytes] = set()
    for rid, t in tokens.items():
        if used is not None and rid not in used:
            continue
        for row in np.unique(t.pos, axis=0):
            seen.add(np.asarray(row, np.float32).tobytes())
            if len(seen) > MAX_POOL_POSITIONS:
                return {}
    return {b: i for i, b in enumerate(sorted(seen))}


def item_slots(items: Sequence[dict[str, np.ndarray]], slots: dict[bytes, int]) -> list[np.ndarray]:
    """The position slot (-1: none) of every token of each token sequence of ``items``
    (:func:`window_items`) under ``slots`` (:func:`position_slots`)."""
    out = []
    for it in items:
        pos = np.ascontiguousarray(np.asarray(it["channel_pos"], np.float32))
        out.append(np.array([slots.get(r.tobytes(), -1) for r in pos], np.int64))
    return out


def pooling_slots(
    tokens: dict[str, RecordingTokens], pooling: str, windows: Sequence[Window] | None = None
) -> dict[bytes, int]:
    """The position slots ``pooling`` (one of POOLINGS) pools over, over the recordings of
    ``windows`` (:func:`position_slots`): none for ``cls-mean``."""
    check_option("pooling", pooling, POOLINGS)
    return position_slots(tokens, windows) if pooling != "cls-mean" else {}


def descriptor_pooled(
    desc: torch.Tensor, slot_idx: torch.Tensor, n_slots: int, levels: bool = False
) -> torch.Tensor:
    """The input descriptors pooled per electrode position, relative to the window: window-
    local (no statistics of other windows or subjects), so legitimate zero-shot.

    ``desc``: (B, L, D) standardised descriptors (NaN = absent; padding NaN); ``slot_idx``:
    (B, L) position slot per token (-1: padding or unknown position). Per slot and entry:
    the mean of the slot's present values minus the mean of that over the window's slots
    that have it (the spatial pattern relative to the window, e.g. relative log-intensity:
    independent of gain, skin and the person's strength; 0 where the slot has none). With
    ``levels`` first, per slot, those means themselves (0 where the slot has none) and a
    flag whether it has any present value: the standardised level of each descriptor
    entry, which the relative pattern drops (training/RESULTS.md, row D1). Returns
    (B, descriptor_pooled_width(D, n_slots, levels)).
    """
    one_hot = torch.nn.functional.one_hot(slot_idx.clamp(min=0), n_slots).to(desc.dtype)
    one_hot = one_hot * (slot_idx >= 0).unsqueeze(-1).to(desc.dtype)  # (B, L, S)
    present = torch.isfinite(desc)
    values = torch.where(present, desc, torch.zeros_like(desc))
    have = torch.einsum("bls,bld->bsd", one_hot, present.to(desc.dtype))  # (B, S, D)
    level = torch.einsum("bls,bld->bsd", one_hot, values) / have.clamp(min=1.0)
    active = (have > 0).to(desc.dtype)
    window = (level * active).sum(1, keepdim=True) / active.sum(1, keepdim=True).clamp(min=1.0)
    relative = ((level - window) * active).flatten(1)
    if not levels:
        return relative
    has_any = active.amax(dim=-1, keepdim=True)  # (B, S, 1)
    return torch.cat([torch.cat([level * active, has_any], dim=-1).flatten(1), relative], -1)


def descriptor_pooled_width(desc_dim: int, n_slots: int, levels: bool = False) -> int:
    """Columns of :func:`descriptor_pooled`."""
    return n_slots * (2 * desc_dim + 1 if levels else desc_dim)


def feature_width(
    d_model: int, n_slots: int, desc_dim: int, pooling: str, pool_max: bool = False
) -> int:
    """Columns of :func:`encode_batch`'s features for ``pooling`` (one of POOLINGS) over
    ``n_slots`` position slots, with ``desc_dim`` descriptor entries per token (0: none)."""
    width = pooled_width(d_model, n_slots if pooling in SLOT_OUTPUT_POOLINGS else 0, pool_max)
    if pooling in DESC_POOLINGS and n_slots and desc_dim:
        width += descriptor_pooled_width(desc_dim, n_slots, pooling == "cls-mean-desc")
    return width


def pooled_width(d_model: int, n_slots: int, pool_max: bool = False) -> int:
    """Columns of :func:`pooled_features`: 2 * d_model, plus d_model + 1 per slot; with
    ``pool_max`` one more d_model for the window and per slot."""
    per = 2 if pool_max else 1
    return (1 + per) * d_model + n_slots * (per * d_model + 1)


def window_items(
    tokens: dict[str, RecordingTokens],
    windows: Sequence[Window],
    *,
    model_window_s: float | None,
    max_window_tokens: int,
) -> list[dict[str, np.ndarray]]:
    """The token sequence the model sees for each window (model_window_bounds, capped)."""
    missing = sorted({w.recording_id for w in windows} - set(tokens))
    if missing:
        raise ConfigError(
            f"{len(missing)} evaluation recordings have no sentences in the token shards "
            f"(e.g. {missing[:3]}): tokenize the same lake snapshot"
        )
    items = []
    for w in windows:
        lo, hi = model_window_bounds(w, model_window_s)
        item = tokens[w.recording_id].between(lo, hi)
        items.append({k: v[:max_window_tokens] for k, v in item.items()})
    return items


def pooled_features(
    h: torch.Tensor,
    pad_mask: torch.Tensor,
    slot_idx: torch.Tensor | None,
    n_slots: int,
    pool_max: bool = False,
) -> torch.Tensor:
    """[CLS, mean] and, with slots, [mean output per position, token share per position];
    with ``pool_max`` also the max of the token outputs (after the mean) and per position
    (after the per-position means). Empty groups pool to 0.

    ``h``: (B, 1 + L, d) encoder output; ``slot_idx``: (B, L) position slot per token (-1
    for padding). Returns (B, pooled_width(d, n_slots or 0, pool_max)).
    """
    keep = (~pad_mask).unsqueeze(-1).to(h.dtype)
    tok = h[:, 1:]
    mean = (tok * keep).sum(1) / keep.sum(1).clamp(min=1.0)
    parts = [h[:, 0], mean]
    if pool_max:
        parts.append(_masked_max(tok, keep))
    if slot_idx is not None and n_slots:
        one_hot = torch.nn.functional.one_hot(slot_idx.clamp(min=0), n_slots).to(h.dtype)
        one_hot = one_hot * keep  # (B, L, S)
        counts = one_hot.sum(1)  # (B, S)
        per_slot = torch.einsum("bls,bld->bsd", one_hot, tok) / counts.clamp(min=1.0)[..., None]
        share = counts / keep.sum(1).clamp(min=1.0)
        parts.append(per_slot.flatten(1))
        if pool_max:
            parts += [_masked_max(tok, one_hot[..., s : s + 1]) for s in range(n_slots)]
        parts.append(share)
    return torch.cat(parts, dim=-1)


def _masked_max(tok: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """(B, d) max over the tokens where ``keep`` (B, L, 1) is 1; 0 where none is."""
    best = tok.masked_fill(keep <= 0, float("-inf")).max(dim=1).values
    return torch.where(torch.isfinite(best), best, torch.zeros_like(best))


def _slot_tensor(
    items: Sequence[dict[str, np.ndarray]], slots: dict[bytes, int], length: int
) -> torch.Tensor:
    out = torch.full((len(items), length), -1, dtype=torch.int64)
    for i, it in enumerate(items):
        pos = np.asarray(it["channel_pos"], np.float32)
        out[i, : len(pos)] = torch.tensor([slots.get(r.tobytes(), -1) for r in pos])
    return out


def encode_batch(
    encoder: TokenEncoder,
    items: Sequence[dict[str, np.ndarray]],
    slots: dict[bytes, int],
    torch_device: torch.device,
    pool_max: bool = False,
    pooling: str = "channels",
) -> torch.Tensor:
    """Pooled features (see pooled_features) of a list of token sequences, on ``torch_device``
    (their descriptors too when they carry them and the encoder embeds them), as ``pooling``
    (one of POOLINGS) asks: per-position token outputs where it is in SLOT_OUTPUT_POOLINGS;
    where it is in DESC_POOLINGS and there are slots, followed by the descriptors pooled per
    position (:func:`descriptor_pooled`; ConfigError when the items carry none). Returns
    (len(items), feature_width(...))."""
    batch = {k: v.to(torch_device) for k, v in collate_tokens(items).items()}
    h = encoder.encode(batch)
    slot_idx = (
        _slot_tensor(items, slots, batch["token_ids"].shape[1]).to(torch_device) if slots else None
    )
    per_slot = slot_idx if pooling in SLOT_OUTPUT_POOLINGS else None
    out = pooled_features(h, batch["pad_mask"], per_slot, len(slots), pool_max)
    if pooling not in DESC_POOLINGS or slot_idx is None:
        return out
    if "desc" not in batch:
        raise ConfigError(
            f"pooling {pooling} needs token descriptors (token_desc): these shards store "
            "none; use pooling channels or cls-mean"
        )
    pooled = descriptor_pooled(batch["desc"], slot_idx, len(slots), pooling == "cls-mean-desc")
    return torch.cat([out, pooled], dim=-1)


@torch.no_grad()
def embed_windows(
    encoder: TokenEncoder,
    tokens: dict[str, RecordingTokens],
    windows: Sequence[Window],
    *,
    model_window_s: float | None,
    max_window_tokens: int,
    pooling: str,
    batch_size: int,
    torch_device: str,
    pool_max: bool = False,
    progress: bool = True,
) -> np.ndarray:
    """Frozen-encoder features of each window: (n_windows, n_features), see pooled_features.

    ``pooling``: ``cls-mean`` gives 2 * d_model columns; ``channels`` adds the
    per-electrode-position pooling where the evaluated recordings have <= MAX_POOL_POSITIONS
    positions; ``channels-desc`` also the input descriptors pooled per position relative to
    the window (:func:`descriptor_pooled`, descriptor_dim columns per position);
    ``cls-mean-desc`` the CLS and mean columns, then per position the descriptors' levels
    and their relative pattern (feature_width gives the columns).
    ``batch_size``: windows encoded at once; ``torch_device``: cpu, cuda or auto;
    ``pool_max``: also max-pool (pooled_features).
    """
    slots = pooling_slots(tokens, pooling, windows)
    items = window_items(
        tokens, windows, model_window_s=model_window_s, max_window_tokens=max_window_tokens
    )
    device = resolve_torch_device(torch_device)
    encoder = encoder.to(device).eval()
    chunks = []
    starts = range(0, len(windows), batch_size)
    bar = tqdm(starts, desc="embed windows", disable=not progress or not sys.stderr.isatty())
    for a in bar:
        chunk = items[a : a + batch_size]
        feats = encode_batch(encoder, chunk, slots, device, pool_max, pooling)
        chunks.append(feats.float().cpu().numpy())
    desc_dim = np.asarray(items[0]["desc"]).shape[-1] if items and "desc" in items[0] else 0
    width = feature_width(encoder.cfg.d_model, len(slots), desc_dim, pooling, pool_max)
    return np.concatenate(chunks) if chunks else np.zeros((0, width), np.float32)
