"""The Thalmic Labs Myo armband's channels, as the Myo datasets record them.

Several releases (Côté-Allard, LibEMG CIIL, EMG-EPN-612, UCI gestures) hold the same
device: 8 dry-electrode pods evenly spaced around the forearm, 200 Hz, raw 8-bit counts
whose unit the releases do not state. Only the channel names differ between them.
"""

from __future__ import annotations

from adapters._common import nyquist, ring_position
from emgcorpus.recording import ChannelInfo

#: pods on the Myo armband
MYO_N_CHANNELS = 8


def myo_channels(prefix: str, fs: float, high_cutoff: float | None = None) -> list[ChannelInfo]:
    """The 8 Myo channels ``<prefix>1..<prefix>8``: ring positions 45 deg apart (pod 1 at
    0 deg), units ``n/a``, ``high_cutoff`` [Hz] as given, default the Nyquist of ``fs``."""
    return [
        ChannelInfo(
            name=f"{prefix}{k + 1}",
            type="EMG",
            units="n/a",
            position=ring_position(k, MYO_N_CHANNELS),
            group="myo",
            placement_scheme="armband",
            placement_description="Myo armband pod around the forearm",
            high_cutoff=nyquist(fs) if high_cutoff is None else high_cutoff,
        )
        for k in range(MYO_N_CHANNELS)
    ]
