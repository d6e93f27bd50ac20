"""Usage statistics of a vocabulary over the corpus it was compiled from.

Every vocabulary reports: its size, how often each code is used (counts, perplexity,
dead codes), how many codes more than one device uses, and how many tokens a second of
EMG becomes per dataset. The counts are gathered per partition (:class:`UsagePartial`)
and merged in partition order, like every other partial of the compiler.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class DatasetUsage:
    """Token counts and recorded time of one dataset."""

    code_tokens: int = 0
    rest_tokens: int = 0
    unknown_tokens: int = 0
    #: recording time [s] (one recording counts its duration once, whatever its channels)
    seconds: float = 0.0
    recordings: int = 0

    def merge(self, other: DatasetUsage) -> DatasetUsage:
        return DatasetUsage(
            self.code_tokens + other.code_tokens,
            self.rest_tokens + other.rest_tokens,
            self.unknown_tokens + other.unknown_tokens,
            self.seconds + other.seconds,
            self.recordings + other.recordings,
        )


@dataclass
class UsagePartial:
    """Code counts per device and token counts per dataset of one partition."""

    size: int
    by_device: dict[str, np.ndarray] = field(default_factory=dict)  # device -> int64 (size,)
    by_dataset: dict[str, DatasetUsage] = field(default_factory=dict)

    def add_codes(self, device: str, codes: np.ndarray) -> None:
        """Count code ids (0..size-1) used by ``device``."""
        counts = np.bincount(np.asarray(codes, dtype=np.int64), minlength=self.size)
        prev = self.by_device.get(device)
        self.by_device[device] = counts if prev is None else prev + counts

    def add_recording(
        self, dataset: str, seconds: float, code_tokens: int, rest_tokens: int, unknown: int
    ) -> None:
        usage = DatasetUsage(code_tokens, rest_tokens, unknown, seconds, 1)
        prev = self.by_dataset.get(dataset)
        self.by_dataset[dataset] = usage if prev is None else prev.merge(usage)

    def merge(self, other: UsagePartial) -> UsagePartial:
        out = UsagePartial(self.size, dict(self.by_device), dict(self.by_dataset))
        for dev, counts in other.by_device.items():
            prev = out.by_device.get(dev)
            out.by_device[dev] = counts.copy() if prev is None else prev + counts
        for ds, usage in other.by_dataset.items():
            prev_u = out.by_dataset.get(ds)
            out.by_dataset[ds] = usage if prev_u is None else prev_u.merge(usage)
        return out


def merge_usage(parts: Sequence[UsagePartial], size: int) -> UsagePartial:
    """Merge usage partials in the given (partition) order."""
    total = UsagePartial(size)
    for p in parts:
        total = total.merge(p)
    return total


def perplexity(counts: np.ndarray) -> float:
    """exp(entropy) of the code distribution; 0 when nothing was counted."""
    total = float(counts.sum())
    if total <= 0:
        return 0.0
    p = counts[counts > 0] / total
    return float(math.exp(-(p * np.log(p)).sum()))


def summarize_usage(usage: UsagePartial) -> dict[str, Any]:
    """The statistics block stored in vocab.json (plain JSON types, sorted dict keys)."""
    size = usage.size
    total = np.zeros(size, np.int64)
    for counts in usage.by_device.values():
        total += counts
    used_by = np.zeros(size, np.int64)
    for counts in usage.by_device.values():
        used_by += (counts > 0).astype(np.int64)
    dead = [int(i) for i in np.flatnonzero(total == 0)]
    per_device = {
        dev: {
            "tokens": int(counts.sum()),
            "codes_used": int((counts > 0).sum()),
            "perplexity": round(perplexity(counts), 6),
            "counts": [int(c) for c in counts],
        }
        for dev, counts in sorted(usage.by_device.items())
    }
    per_dataset = {}
    for ds, u in sorted(usage.by_dataset.items()):
        all_tokens = u.code_tokens + u.rest_tokens + u.unknown_tokens
        per_dataset[ds] = {
            "recordings": u.recordings,
            "seconds": round(u.seconds, 6),
            "code_tokens": u.code_tokens,
            "rest_tokens": u.rest_tokens,
            "unknown_tokens": u.unknown_tokens,
            "tokens_per_second": round(all_tokens / u.seconds, 6) if u.seconds > 0 else 0.0,
            "code_tokens_per_second": round(u.code_tokens / u.seconds, 6) if u.seconds > 0 else 0.0,
        }
    return {
        "size": size,
        "code_tokens": int(total.sum()),
        "counts": [int(c) for c in total],
        "perplexity": round(perplexity(total), 6),
        "dead_codes": len(dead),
        "dead_code_ids": dead,
        "codes_used": size - len(dead),
        "devices": len(usage.by_device),
        "codes_multi_device": int((used_by > 1).sum()),
        "per_device": per_device,
        "per_dataset": per_dataset,
    }
