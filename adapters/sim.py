"""The built-in simulated EMG corpus (adapter ``sim``): the project's embedded default.

Plausible surface EMG generated on the fly, seeded and deterministic (same options ->
identical arrays), so the quick start, the vocabulary and the trainer work without any
download. Physiology and devices are described in :mod:`adapters.sim_physiology` and
:mod:`adapters.sim_devices`; in short:

- band-limited MUAP-shaped activity (20-450 Hz, or up to Nyquist on slow devices) from
  a few virtual forearm muscles, each gesture activating its own pattern; electrodes see
  muscles by distance on the device's layout;
- rest between contractions, raised-cosine ramps up and down, slow force fluctuation;
- subject variability: muscle anatomy, overall gain, personal activation patterns, MUAP
  spectrum; session variability: armband rotation/shift, grid shift, bipolar placement;
- 50 or 60 Hz powerline interference (with its 3rd harmonic below Nyquist), baseline
  noise, ADC quantisation to integer counts (``gain`` in uV or mV per count).

SOURCE is ignored: pass ``builtin`` (or any path; nothing is read or written there).
:meth:`SimAdapter.discover` yields units without touching disk.

Options (strings from the CLI are parsed):

==================  ============================================================
``subjects``        number of subjects (default 6)
``sessions``        sessions per subject (default 1); a session re-dons the devices
``gestures``        a count (first N of :data:`DEFAULT_GESTURES`, then ``gesture_K``)
                    or a comma list of names (default 5); ``rest`` is always separate
``repetitions``     repetitions per gesture (default 3)
``contraction_s``   cue length of one contraction [s] (default 3.0)
``rest_s``          rest before the first and after every contraction [s] (default 2.0)
``devices``         comma list of :data:`adapters.sim_devices.DEVICES` (default all)
``seed``            integer seed (default 0)
``powerline``       ``50``, ``60`` or ``auto`` (default: each subject's lab draws one)
==================  ============================================================

One unit = one (device, subject, session) recording, key ``<device>/sub-NN/ses-K``,
holding every gesture x repetition. Within a repetition the gestures come in a random
order. Events: ``kind="gesture"`` (label = gesture name, ``repetition`` 1-based) for each
cue, ``kind="rest"`` (label ``rest``) for each rest interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from scipy import fft as sfft

from adapters.sim_devices import (
    DEVICES,
    VirtualDevice,
    channel_infos,
    nominal_sites,
    sim_lake_device,
)
from adapters.sim_physiology import (
    DEFAULT_GESTURES,
    MAX_SOURCE_UV,
    MUSCLES,
    SubjectTraits,
    band_response,
    make_subject,
    mixing_weights,
    muap_spectrum,
    ramp_envelope,
    shaped_noise,
    slow_fluctuation,
)
from emgcorpus.errors import ConfigError, SourceError, check_option, check_positive
from emgcorpus.recording import Adapter, Event, Recording, SourceUnit, SubjectInfo

__all__ = ["DEFAULT_GESTURES", "SimAdapter", "SimOptions", "simulate_recording"]

#: Channels generated at a time (bounds memory on 64-channel devices).
_CHANNEL_CHUNK = 16
#: Share of local (per-electrode, uncorrelated) activity relative to the muscle mixture.
_LOCAL_SHARE = 0.35
_GENERATOR = "emgcorpus sim 1"


def _parse_int(name: str, value: Any, minimum: int = 1) -> int:
    try:
        v = int(str(value).strip())
    except ValueError:
        raise ConfigError(f"option {name} must be an integer, got {value!r}") from None
    if v < minimum:
        raise ConfigError(f"option {name} must be >= {minimum}, got {v}")
    return v


def _parse_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        items = [str(v).strip() for v in value]
    else:
        items = [v.strip() for v in str(value).split(",")]
    return tuple(v for v in items if v)


def _parse_gestures(value: Any) -> tuple[str, ...]:
    text = value if isinstance(value, (list, tuple)) else str(value).strip()
    if isinstance(text, str) and text.isdigit():
        count = _parse_int("gestures", text)
        names = list(DEFAULT_GESTURES[:count])
        names += [f"gesture_{k}" for k in range(len(names) + 1, count + 1)]
        return tuple(names)
    names_t = _parse_list(text)
    if not names_t:
        raise ConfigError("option gestures must be a count or a comma list of names, got ''")
    if "rest" in names_t:
        raise ConfigError("option gestures must not name 'rest': rest is always its own class")
    if len(set(names_t)) != len(names_t):
        raise ConfigError(f"option gestures has duplicate names: {','.join(names_t)}")
    return names_t


@dataclass(frozen=True)
class SimOptions:
    """Parsed options of the simulated corpus (see the module docstring)."""

    subjects: int = 6
    sessions: int = 1
    gestures: tuple[str, ...] = DEFAULT_GESTURES[:5]
    repetitions: int = 3
    contraction_s: float = 3.0
    rest_s: float = 2.0
    devices: tuple[str, ...] = tuple(DEVICES)
    seed: int = 0
    powerline: str = "auto"
    extra: dict[str, str] = field(default_factory=dict)

    KNOWN: ClassVar[tuple[str, ...]] = (
        "subjects",
        "sessions",
        "gestures",
        "repetitions",
        "contraction_s",
        "rest_s",
        "devices",
        "seed",
        "powerline",
        "dataset",
    )

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> SimOptions:
        """Parse adapter options (strings or Python values); ConfigError names a bad one."""
        unknown = sorted(set(options) - set(cls.KNOWN))
        if unknown:
            raise ConfigError(
                f"unknown sim option(s) {', '.join(unknown)}: expected {', '.join(cls.KNOWN)}"
            )
        kw: dict[str, Any] = {}
        for name in ("subjects", "sessions", "repetitions"):
            if name in options:
                kw[name] = _parse_int(name, options[name])
        if "seed" in options:
            kw["seed"] = _parse_int("seed", options["seed"], minimum=0)
        for name in ("contraction_s", "rest_s"):
            if name in options:
                kw[name] = check_positive(f"option {name}", options[name], "s")
        if "gestures" in options:
            kw["gestures"] = _parse_gestures(options["gestures"])
        if "devices" in options:
            devices = _parse_list(options["devices"])
            if not devices:
                raise ConfigError("option devices must name at least one device")
            for d in devices:
                check_option("option devices", d, DEVICES)
            kw["devices"] = devices
        if "powerline" in options:
            kw["powerline"] = check_option(
                "option powerline", str(options["powerline"]).strip(), ("auto", "50", "60")
            )
        return cls(**kw)

    @property
    def duration_s(self) -> float:
        """Length of every recording [s]."""
        per = self.contraction_s + self.rest_s
        return self.rest_s + self.repetitions * len(self.gestures) * per


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(list(key)))


def _device_code(device: str) -> int:
    return sorted(DEVICES).index(device)


def subject_traits(options: SimOptions, subject: int) -> SubjectTraits:
    """The traits of subject ``subject`` (1-based): same for every device and session."""
    mains = None if options.powerline == "auto" else float(options.powerline)
    return make_subject(_rng(options.seed, 1, subject), options.gestures, mains)


def _electrode_sites(
    device: VirtualDevice, traits: SubjectTraits, rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, str]]:
    """Real skin sites after donning, and a description of the donning for ``meta``."""
    muscle_sites = {
        m.name: (float(traits.sites[i, 0]), float(traits.sites[i, 1]))
        for i, m in enumerate(MUSCLES)
    }
    sites = nominal_sites(device, muscle_sites)
    if device.layout == "ring":
        rotation = float(rng.normal(0.0, 25.0))
        shift = float(rng.normal(0.0, 10.0))
        sites = sites + np.array([rotation, shift])
        info = {"donning_rotation_deg": f"{rotation:.2f}", "donning_shift_mm": f"{shift:.2f}"}
    elif device.layout == "grid":
        arc = float(rng.normal(0.0, 5.0))
        shift = float(rng.normal(0.0, 5.0))
        sites = sites + np.array([math.degrees(arc / 40.0), shift])
        info = {"donning_arc_shift_mm": f"{arc:.2f}", "donning_shift_mm": f"{shift:.2f}"}
    else:
        err = rng.normal(0.0, 4.0, sites.shape)
        sites = sites + err * np.array([math.degrees(1.0 / 40.0), 1.0])
        info = {"placement_error_mm_rms": f"{float(np.sqrt(np.mean(err**2))):.2f}"}
    return sites, info


def _timeline(
    options: SimOptions, rng: np.random.Generator
) -> tuple[list[Event], np.ndarray, np.ndarray, np.ndarray]:
    """Cue events and the contractions' gesture index, activation onset and duration [s]."""
    events: list[Event] = [Event(0.0, options.rest_s, "rest", None, "rest")]
    gesture_idx, onsets, durations = [], [], []
    t = options.rest_s
    c, r = options.contraction_s, options.rest_s
    for rep in range(1, options.repetitions + 1):
        for g in rng.permutation(len(options.gestures)):
            events.append(Event(t, c, options.gestures[g], rep, "gesture"))
            events.append(Event(t + c, r, "rest", None, "rest"))
            reaction = float(np.clip(rng.normal(0.15, 0.05), 0.0, 0.3)) * min(1.0, c / 3.0)
            gesture_idx.append(int(g))
            onsets.append(t + reaction)
            durations.append(max(c - reaction + float(rng.normal(0.0, 0.1)) * c / 3.0, c / 2.0))
            t += c + r
    return events, np.array(gesture_idx), np.array(onsets), np.array(durations)


def simulate_recording(
    options: SimOptions, device_name: str, subject: int, session: int, dataset: str = "sim"
) -> Recording:
    """Generate one (device, subject, session) recording; deterministic in its arguments."""
    device = DEVICES[check_option("device", device_name, DEVICES)]
    traits = subject_traits(options, subject)
    key = (options.seed, subject, session, _device_code(device.name))
    don_rng, rec_rng = _rng(*key, 2), _rng(*key, 3)
    sites, donning = _electrode_sites(device, traits, don_rng)

    events, g_idx, onsets, durations = _timeline(options, rec_rng)
    fs = device.fs
    n = int(round(options.duration_s * fs))
    m = len(MUSCLES)
    # Activation envelope per muscle: personal pattern x repetition effort x fluctuation.
    levels = traits.activation[g_idx] * rec_rng.lognormal(0.0, 0.1, (len(g_idx), 1))
    levels = np.clip(levels * rec_rng.lognormal(0.0, 0.05, levels.shape), 0.0, 1.0)
    env = ramp_envelope(n, fs, onsets, durations, levels)
    env *= slow_fluctuation(rec_rng, n, fs, m, 0.08)
    np.maximum(env, 0.0, out=env)

    freqs = sfft.rfftfreq(n, 1.0 / fs)
    band = band_response(freqs, device)
    muap = np.sqrt(muap_spectrum(freqs, traits.f_low, traits.f_high)) * band
    muscle_activity = env * shaped_noise(rec_rng, n, m, muap)  # (n, m), unit = max effort

    contact = rec_rng.lognormal(0.0, 0.1, device.n_channels)
    weights = mixing_weights(sites, traits, device.spread_mm)
    weights *= (traits.gain * MAX_SOURCE_UV * contact)[:, None]  # (C, m) [uV]
    noise_rms = device.noise_uv * rec_rng.lognormal(0.0, 0.15, device.n_channels)
    mains_amp = rec_rng.lognormal(math.log(6.0), 0.4, device.n_channels)  # [uV]
    mains_phase = rec_rng.uniform(-0.3, 0.3, device.n_channels)
    harmonics = [(1, 1.0)] + ([(3, 0.25)] if 3 * traits.powerline_hz < 0.45 * fs else [])
    wt = 2.0 * math.pi * traits.powerline_hz * np.arange(n) / fs
    # sin(k(wt + phi)) = sin(k wt) cos(k phi) + cos(k wt) sin(k phi): one sin/cos per harmonic.
    mains = [
        (np.sin(k * wt).astype(np.float32), np.cos(k * wt).astype(np.float32), k, rel)
        for k, rel in harmonics
    ]

    counts = np.empty((n, device.n_channels), dtype=np.int16)
    for lo in range(0, device.n_channels, _CHANNEL_CHUNK):
        hi = min(lo + _CHANNEL_CHUNK, device.n_channels)
        w = weights[lo:hi].astype(np.float32)
        x = muscle_activity @ w.T
        local_env = env @ w.T
        x += _LOCAL_SHARE * local_env * shaped_noise(rec_rng, n, hi - lo, muap)
        x += noise_rms[lo:hi].astype(np.float32) * shaped_noise(rec_rng, n, hi - lo, band)
        for sin_k, cos_k, k, rel in mains:
            amp = rel * mains_amp[lo:hi]
            x += np.outer(sin_k, (amp * np.cos(k * mains_phase[lo:hi])).astype(np.float32))
            x += np.outer(cos_k, (amp * np.sin(k * mains_phase[lo:hi])).astype(np.float32))
        q = np.rint(x / np.float32(device.uv_per_count))
        counts[:, lo:hi] = np.clip(q, device.adc_min, device.adc_max).astype(np.int16)

    meta = {
        "generator": _GENERATOR,
        "simulated": "true",
        "seed": str(options.seed),
        "powerline_hz": f"{traits.powerline_hz:g}",
        "subject_gain": f"{traits.gain:.3f}",
        "muap_spectrum_hz": f"f_low={traits.f_low:.1f} f_high={traits.f_high:.1f}",
        "gestures": ",".join(options.gestures),
        "source": "builtin (no files)",
        **donning,
    }
    subject_id = f"{subject:02d}"
    return Recording(
        dataset=dataset,
        subject=subject_id,
        session=str(session),
        trial=device.name,
        device=sim_lake_device(device.name),
        fs=fs,
        channels=channel_infos(device),
        samples=counts,
        events=events,
        sources=[],
        subject_info=SubjectInfo(subject=subject_id, extra={"simulated": "true"}),
        meta=meta,
    )


class SimAdapter(Adapter):
    """The built-in simulated corpus; SOURCE is ignored (``builtin`` or any path)."""

    name = "sim"
    version = "1"
    summary = "built-in simulated EMG corpus (several virtual devices, seeded, no files)"
    reads_files = False

    def __init__(self, source: str | Any = "builtin", **options: Any) -> None:
        super().__init__(source, **options)
        self.sim_options = SimOptions.from_options(options)

    def discover(self) -> list[SourceUnit]:
        """One unit per (device, subject, session); touches no disk."""
        o = self.sim_options
        keys = [
            f"{d}/sub-{s:02d}/ses-{k}"
            for d in o.devices
            for s in range(1, o.subjects + 1)
            for k in range(1, o.sessions + 1)
        ]
        return [SourceUnit(key=k, files=()) for k in sorted(keys)]

    def read(self, unit: SourceUnit) -> Recording:
        """Generate the unit's recording; SourceError for a key this corpus does not have."""
        device, subject, session = self._parse_key(unit.key)
        return simulate_recording(self.sim_options, device, subject, session, self.dataset)

    def _parse_key(self, key: str) -> tuple[str, int, int]:
        o = self.sim_options
        parts = key.split("/")
        expected = "expected <device>/sub-NN/ses-K"
        if len(parts) != 3 or not parts[1].startswith("sub-") or not parts[2].startswith("ses-"):
            raise SourceError(key, f"not a sim unit key: {expected}")
        try:
            subject, session = int(parts[1][4:]), int(parts[2][4:])
        except ValueError:
            raise SourceError(key, f"not a sim unit key: {expected}") from None
        if parts[0] not in o.devices:
            raise SourceError(key, f"device {parts[0]!r} not in option devices {o.devices}")
        if not (1 <= subject <= o.subjects and 1 <= session <= o.sessions):
            raise SourceError(
                key,
                f"subject/session out of range: corpus has {o.subjects} subjects "
                f"and {o.sessions} sessions",
            )
        return parts[0], subject, session
