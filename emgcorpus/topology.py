"""Channel topology as numbers: a fixed-length, device-independent position vector.

Models embed electrode positions instead of channel indices, so any layout (4, 8, 64
or 256 channels) maps into one space. The vector has ``POSITION_DIM`` entries:

====  =====================================================================
 idx  meaning
====  =====================================================================
 0    1 if the position is on an armband ring
 1    1 if it is on an electrode grid
 2    1 if it is a named muscle
 3    sin(angle) around the forearm (ring), 0 otherwise
 4    cos(angle) around the forearm (ring), 0 otherwise
 5    grid row * pitch [mm] / 100, or ring ``along_mm`` / 100
 6    grid column * pitch [mm] / 100
 7    stable hash of the muscle name in [0, 1), 0 otherwise
====  =====================================================================

Unknown positions (``n/a``) give the zero vector: the model then relies on the token.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from emgcorpus.recording import ElectrodePosition

POSITION_DIM = 8


def position_vector(pos: ElectrodePosition) -> np.ndarray:
    """Position of one electrode as a float32 vector of length POSITION_DIM."""
    v = np.zeros(POSITION_DIM, dtype=np.float32)
    if pos.system == "ring":
        v[0] = 1.0
        if pos.angle_deg is not None:
            a = math.radians(pos.angle_deg)
            v[3], v[4] = math.sin(a), math.cos(a)
        if pos.along_mm is not None:
            v[5] = pos.along_mm / 100.0
    elif pos.system == "grid":
        v[1] = 1.0
        pitch = pos.pitch_mm if pos.pitch_mm is not None else 1.0
        if pos.row is not None:
            v[5] = pos.row * pitch / 100.0
        if pos.col is not None:
            v[6] = pos.col * pitch / 100.0
    elif pos.system == "muscle":
        v[2] = 1.0
        if pos.muscle:
            h = hashlib.sha1(pos.muscle.strip().lower().encode()).digest()
            v[7] = int.from_bytes(h[:4], "big") / 2**32
    return v


def position_matrix(positions: list[ElectrodePosition]) -> np.ndarray:
    """Stack position vectors: shape (n_channels, POSITION_DIM), float32."""
    if not positions:
        return np.zeros((0, POSITION_DIM), dtype=np.float32)
    return np.stack([position_vector(p) for p in positions])
