"""Dataset adapters: one module per public dataset family (see adapters.registry)."""

from emgcorpus.recording import (
    Adapter,
    ChannelInfo,
    ElectrodePosition,
    Event,
    Recording,
    SourceFile,
    SourceUnit,
    SubjectInfo,
)

__all__ = [
    "Adapter",
    "ChannelInfo",
    "ElectrodePosition",
    "Event",
    "Recording",
    "SourceFile",
    "SourceUnit",
    "SubjectInfo",
]
