"""Physiology of the simulated corpus: virtual forearm muscles, gestures, subjects, signals.

Model (all vectorised numpy; amplitudes in uV, times in s, frequencies in Hz):

- A few virtual forearm muscles, each a source at a skin site ``(angle_deg, along_mm)``
  (see :mod:`adapters.sim_devices`) and a depth [mm].
- A gesture is an activation pattern over the muscles (0..1 of maximal effort).
- Each muscle's signal is Gaussian noise shaped by a MUAP power spectrum
  ``P(f) = f_h^4 f^2 / ((f^2 + f_l^2)(f^2 + f_h^2)^2)`` (Shwedyk et al. 1977, peak near
  80-120 Hz), amplitude-modulated by the activation envelope (raised-cosine ramps up and
  down, slow force fluctuation), then band-limited by the device (20-450 Hz).
- An electrode sees each muscle weighted by distance ``d`` (arc, along, depth):
  ``w = (1 + (d / spread)^2)^-1.5``.
- A subject differs by muscle anatomy (site, depth), overall gain (skin, fat), activation
  pattern per gesture and MUAP spectrum; a session differs by donning.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft

from adapters.sim_devices import BAND_LOW_HZ, FOREARM_RADIUS_MM, VirtualDevice


@dataclass(frozen=True)
class Muscle:
    """A virtual muscle: belly site on the skin and depth below it [mm]."""

    name: str
    angle_deg: float
    along_mm: float
    depth_mm: float


MUSCLES: tuple[Muscle, ...] = (
    Muscle("extensor_digitorum", 0.0, 80.0, 8.0),
    Muscle("extensor_carpi_ulnaris", 60.0, 90.0, 8.0),
    Muscle("flexor_carpi_ulnaris", 120.0, 80.0, 8.0),
    Muscle("flexor_digitorum_superficialis", 170.0, 100.0, 14.0),
    Muscle("flexor_carpi_radialis", 210.0, 70.0, 8.0),
    Muscle("pronator_teres", 240.0, 40.0, 12.0),
    Muscle("brachioradialis", 275.0, 60.0, 6.0),
    Muscle("extensor_carpi_radialis", 315.0, 70.0, 8.0),
    Muscle("supinator", 330.0, 40.0, 18.0),
)
MUSCLE_INDEX = {m.name: i for i, m in enumerate(MUSCLES)}

#: Named gestures with their activation pattern (muscle name -> fraction of maximal effort).
GESTURE_PATTERNS: dict[str, dict[str, float]] = {
    "hand_close": {
        "flexor_digitorum_superficialis": 0.8,
        "flexor_carpi_radialis": 0.35,
        "flexor_carpi_ulnaris": 0.35,
        "extensor_digitorum": 0.25,
        "extensor_carpi_radialis": 0.3,
        "brachioradialis": 0.15,
    },
    "hand_open": {
        "extensor_digitorum": 0.8,
        "extensor_carpi_ulnaris": 0.4,
        "extensor_carpi_radialis": 0.35,
        "flexor_digitorum_superficialis": 0.12,
    },
    "wrist_flexion": {
        "flexor_carpi_radialis": 0.8,
        "flexor_carpi_ulnaris": 0.75,
        "flexor_digitorum_superficialis": 0.4,
    },
    "wrist_extension": {
        "extensor_carpi_radialis": 0.8,
        "extensor_carpi_ulnaris": 0.7,
        "extensor_digitorum": 0.45,
    },
    "pronation": {
        "pronator_teres": 0.8,
        "flexor_carpi_radialis": 0.3,
        "brachioradialis": 0.3,
    },
    "supination": {
        "supinator": 0.85,
        "brachioradialis": 0.4,
        "extensor_digitorum": 0.2,
    },
    "radial_deviation": {
        "extensor_carpi_radialis": 0.65,
        "flexor_carpi_radialis": 0.6,
        "brachioradialis": 0.3,
    },
    "ulnar_deviation": {
        "extensor_carpi_ulnaris": 0.7,
        "flexor_carpi_ulnaris": 0.7,
    },
    "index_point": {
        "extensor_digitorum": 0.45,
        "flexor_digitorum_superficialis": 0.35,
        "extensor_carpi_ulnaris": 0.15,
    },
    "pinch": {
        "flexor_digitorum_superficialis": 0.5,
        "flexor_carpi_radialis": 0.2,
        "extensor_carpi_radialis": 0.2,
    },
}
DEFAULT_GESTURES = tuple(GESTURE_PATTERNS)

#: Activation of every muscle at rest (tonic, fraction of maximal effort).
REST_ACTIVATION = 0.01
#: Variance of int8 values shifted by +0.5 (uniform on -127.5..127.5 in steps of 1).
_INT8_VARIANCE = (256.0**2 - 1.0) / 12.0
#: RMS [uV] of a fully active muscle seen by an electrode right above it at zero depth.
MAX_SOURCE_UV = 1000.0


def gesture_pattern(name: str, rng: np.random.Generator) -> np.ndarray:
    """Activation per muscle (len(MUSCLES),) of a gesture. Unknown names get a random but
    reproducible pattern (2-3 muscles strongly active, the rest weakly)."""
    pattern = np.zeros(len(MUSCLES))
    if name in GESTURE_PATTERNS:
        for muscle, level in GESTURE_PATTERNS[name].items():
            pattern[MUSCLE_INDEX[muscle]] = level
        return pattern
    name_rng = np.random.default_rng(_stable_int(name))
    pattern[:] = name_rng.uniform(0.0, 0.15, len(MUSCLES))
    main = name_rng.choice(len(MUSCLES), size=int(name_rng.integers(2, 4)), replace=False)
    pattern[main] = name_rng.uniform(0.5, 0.85, main.size)
    del rng  # the pattern depends on the name only, not on the recording
    return pattern


@dataclass(frozen=True)
class SubjectTraits:
    """What makes one virtual subject differ from another.

    ``sites``: (n_muscles, 2) belly sites ``(angle_deg, along_mm)``; ``depths_mm``:
    (n_muscles,); ``gain``: overall amplitude factor (skin, fat); ``activation``:
    (n_gestures, n_muscles) personal activation patterns; ``f_low``/``f_high``: MUAP
    spectrum corners [Hz]; ``powerline_hz``: mains frequency of the subject's lab.
    """

    sites: np.ndarray
    depths_mm: np.ndarray
    gain: float
    activation: np.ndarray
    f_low: float
    f_high: float
    powerline_hz: float


def make_subject(
    rng: np.random.Generator, gestures: tuple[str, ...], powerline_hz: float | None
) -> SubjectTraits:
    """Draw one subject's traits. ``powerline_hz`` None draws 50 or 60 Hz."""
    n = len(MUSCLES)
    base = np.array([[m.angle_deg, m.along_mm] for m in MUSCLES])
    sites = base + np.stack([rng.normal(0.0, 10.0, n), rng.normal(0.0, 10.0, n)], axis=1)
    fat = rng.lognormal(0.0, 0.15)
    depths = np.array([m.depth_mm for m in MUSCLES]) * fat * rng.lognormal(0.0, 0.1, n)
    patterns = np.stack([gesture_pattern(g, rng) for g in gestures])
    personal = patterns * rng.lognormal(0.0, 0.4, patterns.shape)
    personal += rng.uniform(0.0, 0.12, patterns.shape)  # individual co-contraction
    mains = powerline_hz if powerline_hz is not None else float(rng.choice([50.0, 60.0]))
    return SubjectTraits(
        sites=sites,
        depths_mm=depths,
        gain=float(rng.lognormal(0.0, 0.3)),
        activation=np.clip(personal, 0.0, 1.0),
        f_low=float(60.0 * rng.lognormal(0.0, 0.1)),
        f_high=float(120.0 * rng.lognormal(0.0, 0.1)),
        powerline_hz=mains,
    )


def mixing_weights(
    electrode_sites: np.ndarray, traits: SubjectTraits, spread_mm: float
) -> np.ndarray:
    """How strongly each electrode sees each muscle: (n_channels, n_muscles), in (0, 1]."""
    dang = (electrode_sites[:, None, 0] - traits.sites[None, :, 0] + 180.0) % 360.0 - 180.0
    arc = np.radians(dang) * FOREARM_RADIUS_MM
    along = electrode_sites[:, None, 1] - traits.sites[None, :, 1]
    dist2 = arc**2 + along**2 + traits.depths_mm[None, :] ** 2
    return np.asarray((1.0 + dist2 / spread_mm**2) ** -1.5)


def band_response(freqs: np.ndarray, device: VirtualDevice) -> np.ndarray:
    """Magnitude of the device's hardware band-pass: 2nd-order high-pass at 20 Hz times
    4th-order low-pass at min(450 Hz, fs/2) (Butterworth magnitudes)."""
    f = np.maximum(freqs, 1e-9)
    hp = 1.0 / np.sqrt(1.0 + (BAND_LOW_HZ / f) ** 4)
    lp = 1.0 / np.sqrt(1.0 + (f / device.high_cutoff) ** 8)
    return np.asarray(hp * lp)


def muap_spectrum(freqs: np.ndarray, f_low: float, f_high: float) -> np.ndarray:
    """MUAP power spectrum shape (unnormalised) at ``freqs`` [Hz]."""
    f2 = freqs**2
    return np.asarray(f_high**4 * f2 / ((f2 + f_low**2) * (f2 + f_high**2) ** 2))


def shaped_noise(rng: np.random.Generator, n: int, k: int, amplitude: np.ndarray) -> np.ndarray:
    """``k`` independent unit-RMS Gaussian noises of ``n`` samples (float32, (n, k)) whose
    amplitude spectrum is ``amplitude`` (length n // 2 + 1), made in the frequency domain.

    The real and imaginary parts of every frequency bin are i.i.d. symmetric uniform
    (random bytes, about 10x cheaper than Gaussian draws); the inverse FFT sums thousands
    of bins per sample, so the samples are Gaussian all the same (central limit theorem).
    """
    nf = n // 2 + 1
    amp = amplitude / math.sqrt(float(np.mean(amplitude**2)) + 1e-30)
    raw = np.frombuffer(rng.bytes(2 * nf * k), dtype=np.int8).reshape(nf, k, 2)
    spec = np.empty((nf, k), dtype=np.complex64)
    spec.real = raw[..., 0]
    spec.imag = raw[..., 1]
    spec += np.complex64(0.5 + 0.5j)  # int8 is -128..127: shift to a zero-mean symmetric set
    spec *= (amp / math.sqrt(2.0 * _INT8_VARIANCE)).astype(np.float32)[:, None]
    x = sfft.irfft(spec, n=n, axis=0, norm="ortho", overwrite_x=True)
    return np.asarray(x, dtype=np.float32)


def slow_fluctuation(
    rng: np.random.Generator, n: int, fs: float, k: int, depth: float
) -> np.ndarray:
    """Slow multiplicative force fluctuation ``1 + depth * z(t)`` (float32, (n, k)), z about
    unit RMS with content below about 2 Hz (knots every 0.25 s, linear interpolation)."""
    step_s = 0.25
    n_knots = int(math.ceil(n / fs / step_s)) + 2
    knots = rng.standard_normal((n_knots, k))
    knots = (knots + np.roll(knots, 1, axis=0)) / math.sqrt(2.0)
    t = np.arange(n) / fs / step_s
    idx = np.minimum(t.astype(np.int64), n_knots - 2)
    frac = (t - idx)[:, None]
    z = knots[idx] * (1.0 - frac) + knots[idx + 1] * frac
    return np.asarray(1.0 + depth * z, dtype=np.float32)


def ramp_envelope(
    n: int, fs: float, onsets_s: np.ndarray, durations_s: np.ndarray, levels: np.ndarray
) -> np.ndarray:
    """Activation envelope (float32, (n, n_muscles)): for each contraction ``i`` a plateau
    at ``levels[i]`` (n_muscles,) from ``onsets_s[i]`` lasting ``durations_s[i]``, with
    raised-cosine ramps of min(0.4 s, duration / 4) up and down; rest elsewhere."""
    env = np.full((n, levels.shape[1]), REST_ACTIVATION, dtype=np.float32)
    for onset, duration, level in zip(onsets_s, durations_s, levels, strict=True):
        start = max(int(round(onset * fs)), 0)
        stop = min(int(round((onset + duration) * fs)), n)
        if stop <= start:
            continue
        ramp_n = max(int(round(min(0.4, duration / 4.0) * fs)), 1)
        shape = np.ones(stop - start, dtype=np.float32)
        up = 0.5 - 0.5 * np.cos(np.pi * np.arange(1, ramp_n + 1) / (ramp_n + 1))
        m = min(ramp_n, shape.size)
        shape[:m] = up[:m]
        shape[shape.size - m :] = np.minimum(shape[shape.size - m :], up[:m][::-1])
        seg = REST_ACTIVATION + shape[:, None] * (level[None, :] - REST_ACTIVATION)
        env[start:stop] = np.maximum(env[start:stop], seg.astype(np.float32))
    return env


def _stable_int(text: str) -> int:
    """A process-independent integer hash of ``text`` (Python's hash() is salted)."""
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "little")
