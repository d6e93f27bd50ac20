"""The torch device a training or evaluation step runs on (not the EMG recording device).

Configs name it ``torch_device`` (``cpu``, ``cuda`` or ``auto``); the EMG device of a
recording (the lake's ``device`` column) is always called ``device``.
"""

from __future__ import annotations

import torch

from emgcorpus.errors import ConfigError

#: the values a ``torch_device`` option takes
TORCH_DEVICES = ("cpu", "cuda", "auto")


def resolve_torch_device(torch_device: str) -> torch.device:
    """``auto`` -> CUDA if available else CPU; ``cuda`` without a GPU is a ConfigError."""
    if torch_device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if torch_device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--torch-device cuda: no CUDA device is available (use cpu or auto)")
    if torch_device not in ("cpu", "cuda"):
        raise ConfigError(
            f"invalid value {torch_device!r} for --torch-device: expected cpu, cuda or auto"
        )
    return torch.device(torch_device)
