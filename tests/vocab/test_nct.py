"""The NCT tokenizer: invariances (rate, channel order, gain), rests, edge cases, real data."""

from __future__ import annotations

import glob

import numpy as np
import pytest
from scipy import io as sio
from scipy import signal

from emgcorpus.errors import ConfigError
from emgcorpus.recording import ChannelInfo
from tests.conftest import shared_data
from vocab.descriptors import DESCRIPTOR_DIM
from vocab.nct import NCTTokenizer
from vocab.tokenizer_base import KIND_ACTIVE, KIND_REST, Segments
from vocab.tokenizers import get_tokenizer, tokenizer_from_config

GEN_FS = 4000.0
#: (channel, onset s, offset s, amplitude) of the synthetic bursts
BURSTS = [
    (0, 1.0, 2.2, 1.0), (0, 4.0, 4.5, 0.5), (0, 6.0, 8.5, 2.0),
    (1, 1.5, 1.8, 0.8), (1, 5.0, 7.0, 1.5),
    (2, 0.0, 1.2, 1.0), (2, 3.0, 3.4, 1.2),
]  # fmt: skip
DURATION_S = 10.0
N_CH = 3


def synthetic(fs: float, seed: int = 0) -> np.ndarray:
    """EMG-like bursts (band-limited noise, 20 ms ramps) over a white noise floor, at ``fs``.

    Generated at 4 kHz and resampled with resample_poly, so that every rate holds the same
    signal (as a resampled recording would).
    """
    rng = np.random.default_rng(seed)
    n = int(DURATION_S * GEN_FS)
    t = np.arange(n) / GEN_FS
    sos = signal.butter(4, [30, 300], "bandpass", fs=GEN_FS, output="sos")
    emg = signal.sosfiltfilt(sos, rng.normal(size=(n, N_CH)), axis=0)
    emg /= emg.std(axis=0)
    amp = np.zeros((n, N_CH))
    for ch, on, off, a in BURSTS:
        ramp = np.clip(np.minimum(t - on, off - t) / 0.02, 0, 1)
        amp[:, ch] = np.maximum(amp[:, ch], a * ramp)
    x = amp * emg + 0.02 * rng.normal(size=(n, N_CH))
    if fs == GEN_FS:
        return x
    return np.asarray(signal.resample_poly(x, int(fs), int(GEN_FS), axis=0))


def channels(n: int, units: str = "mV") -> list[ChannelInfo]:
    return [ChannelInfo(name=f"c{i}", units=units) for i in range(n)]


def contraction_onsets(s: Segments) -> list[tuple[int, float]]:
    first = (s.kind == KIND_ACTIVE) & (s.descriptor[:, 7] == 1)
    return sorted(zip(s.channel[first].tolist(), s.onset_s[first].tolist()))


def check_tiling(s: Segments, n_samples: int, fs: float) -> None:
    """Per channel: segments are sorted, contiguous and add up to the recording's duration."""
    assert np.all(np.diff(s.onset_s) >= 0)
    for c in np.unique(s.channel):
        m = s.channel == c
        on, dur = s.onset_s[m], s.duration_s[m].astype(np.float64)
        assert on[0] == 0.0
        assert np.allclose(on[1:], on[:-1] + dur[:-1], atol=1e-5)  # float32 durations
        assert np.isclose(dur.sum(), n_samples / fs, atol=1e-4)


def test_finds_the_synthetic_bursts() -> None:
    fs = 2000.0
    x = synthetic(fs)
    s = NCTTokenizer().segment(x, fs, channels(N_CH))
    expected = sorted((ch, on) for ch, on, _, _ in BURSTS)
    found = contraction_onsets(s)
    assert [c for c, _ in found] == [c for c, _ in expected]
    assert np.allclose([o for _, o in found], [o for _, o in expected], atol=0.04)
    assert s.descriptor.shape == (len(s), DESCRIPTOR_DIM)
    active = s.kind == KIND_ACTIVE
    assert np.isfinite(s.descriptor[active]).all() and np.isnan(s.descriptor[~active]).all()
    # the louder burst of channel 0 is more intense than the quieter one
    a0 = active & (s.channel == 0)
    loud = s.descriptor[a0 & (s.onset_s > 5.9), 1].mean()
    quiet = s.descriptor[a0 & (s.onset_s > 3.9) & (s.onset_s < 4.6), 1].mean()
    assert loud - quiet > np.log(2.0)  # 4x amplitude, at least a factor 2 in RMS
    check_tiling(s, x.shape[0], fs)


def test_rest_and_active_durations_tile_each_channel() -> None:
    fs = 1000.0
    x = synthetic(fs)
    s = NCTTokenizer().segment(x, fs, channels(N_CH))
    check_tiling(s, x.shape[0], fs)
    rest = s.kind == KIND_REST
    assert rest.any() and (s.duration_s[rest] > 0).all()
    # channel 0 rests 1 s before its first burst (within the envelope's half window)
    first_rest = s.duration_s[rest & (s.channel == 0)][0]
    assert abs(first_rest - 1.0) < 0.04


def _match(a: Segments, b: Segments, tol_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices of active segments of a and b on the same channel with onsets within tol_s."""
    ia, ib = [], []
    act_b = np.nonzero(b.kind == KIND_ACTIVE)[0]
    for i in np.nonzero(a.kind == KIND_ACTIVE)[0]:
        cand = act_b[(b.channel[act_b] == a.channel[i])]
        if cand.size == 0:
            continue
        j = cand[np.argmin(np.abs(b.onset_s[cand] - a.onset_s[i]))]
        if abs(b.onset_s[j] - a.onset_s[i]) <= tol_s:
            ia.append(i)
            ib.append(j)
    return np.asarray(ia, dtype=np.int64), np.asarray(ib, dtype=np.int64)


#: Tolerances of the rate-invariance checks: onsets within 20 ms; per descriptor entry an
#: absolute tolerance on the median over matched segments (ln units for 0-2, ratios for
#: 3-6, 0/1 flags, Hz for 9-12, log10 ratios for 13-15).
RATE_TOL = np.array(
    [0.02, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0, 0, 3.0, 3.0, 5.0, 2.0, 0.03, 0.03, 0.03]
)


def check_rate_invariance(s1: Segments, s2: Segments) -> None:
    n1, n2 = int((s1.kind == KIND_ACTIVE).sum()), int((s2.kind == KIND_ACTIVE).sum())
    assert n1 > 0 and abs(n1 - n2) <= max(1, 0.05 * max(n1, n2))
    c1, c2 = contraction_onsets(s1), contraction_onsets(s2)
    assert abs(len(c1) - len(c2)) <= max(1, 0.05 * max(len(c1), len(c2)))
    ia, ib = _match(s1, s2, tol_s=0.02)
    assert len(ia) >= 0.9 * min(n1, n2), "most active segments have a partner within 20 ms"
    diff = np.median(np.abs(s1.descriptor[ia] - s2.descriptor[ib]), axis=0)
    assert np.all(diff <= RATE_TOL + 1e-6), f"median |diff| per entry {np.round(diff, 3)}"


def test_rate_invariance_synthetic() -> None:
    tok = NCTTokenizer()
    s1 = tok.segment(synthetic(1000.0), 1000.0, channels(N_CH))
    s2 = tok.segment(synthetic(2000.0), 2000.0, channels(N_CH))
    check_rate_invariance(s1, s2)
    o1, o2 = contraction_onsets(s1), contraction_onsets(s2)
    assert [c for c, _ in o1] == [c for c, _ in o2]
    assert np.allclose([t for _, t in o1], [t for _, t in o2], atol=0.02)


def _grabmyo(trial: str = "gesture11_trial2") -> tuple[np.ndarray, float, list[ChannelInfo]]:
    wfdb = pytest.importorskip("wfdb")
    path = shared_data("grabmyo_p1", f"session1_participant1_{trial}.hea")
    rec = wfdb.rdrecord(str(path)[:-4])
    chans = [
        ChannelInfo(name=n, units="mV", status="bad" if n.startswith("U") else "good")
        for n in rec.sig_name
    ]
    return np.asarray(rec.p_signal), float(rec.fs), chans


def test_rate_invariance_real_grabmyo() -> None:
    x, fs, chans = _grabmyo()
    assert fs == 2048.0
    x1 = signal.resample_poly(x, 125, 256, axis=0)  # 1000 Hz
    x2 = signal.resample_poly(x, 125, 128, axis=0)  # 2000 Hz
    tok = NCTTokenizer()
    check_rate_invariance(tok.segment(x1, 1000.0, chans), tok.segment(x2, 2000.0, chans))


def test_channel_permutation_permutes_segments() -> None:
    fs = 1000.0
    x = synthetic(fs)
    tok = NCTTokenizer()
    s = tok.segment(x, fs, channels(N_CH))
    perm = np.array([2, 0, 1])
    sp = tok.segment(x[:, perm], fs, [channels(N_CH)[i] for i in perm])
    assert len(sp) == len(s)
    for new_c, old_c in enumerate(perm):
        a, b = s.channel == old_c, sp.channel == new_c
        assert np.array_equal(s.onset_s[a], sp.onset_s[b])
        assert np.array_equal(s.duration_s[a], sp.duration_s[b])
        assert np.allclose(s.descriptor[a], sp.descriptor[b], equal_nan=True, rtol=1e-5, atol=1e-5)


def test_gain_leaves_segments_and_descriptors_unchanged() -> None:
    fs = 1000.0
    x = synthetic(fs)
    tok = NCTTokenizer()
    s = tok.segment(x, fs, channels(N_CH))
    su = tok.segment(x * 1000.0, fs, channels(N_CH, units="uV"))  # mV -> uV
    assert np.array_equal(s.channel, su.channel) and np.array_equal(s.onset_s, su.onset_s)
    assert np.array_equal(s.kind, su.kind)
    assert np.allclose(s.descriptor, su.descriptor, rtol=1e-4, atol=1e-4, equal_nan=True)


def test_recording_that_starts_mid_contraction() -> None:
    """Channel 2 is active from the first sample: the floor must still come from its rest."""
    fs = 1000.0
    x = synthetic(fs)
    s = NCTTokenizer().segment(x, fs, channels(N_CH))
    c2 = s.channel == 2
    assert s.kind[c2][0] == KIND_ACTIVE and s.onset_s[c2][0] == 0.0
    first_rest = np.nonzero(c2 & (s.kind == KIND_REST))[0][0]
    assert abs(s.onset_s[first_rest] - 1.2) < 0.04
    # intensity over the floor: the unit-RMS burst over the white noise left after
    # resampling 4 kHz -> 1 kHz and the 20-450 Hz band-pass
    noise_rms = 0.02 * np.sqrt(fs / GEN_FS) * np.sqrt((450 - 20) / (fs / 2))
    intensity = s.descriptor[c2 & (s.kind == KIND_ACTIVE), 1][:5].mean()
    assert abs(intensity - np.log(1.0 / noise_rms)) < 0.3


def test_unused_and_non_emg_channels_produce_nothing() -> None:
    fs = 1000.0
    x = synthetic(fs)
    chans = [
        ChannelInfo(name="emg", units="mV"),
        ChannelInfo(name="acc", type="ACC", units="g"),
        ChannelInfo(name="dead", units="mV", status="bad"),
    ]
    s = NCTTokenizer().segment(x, fs, chans)
    assert set(s.channel.tolist()) == {0}
    none = [ChannelInfo(name="a", type="ACC"), ChannelInfo(name="b", status="bad"), chans[1]]
    assert len(NCTTokenizer().segment(x, fs, none)) == 0


def test_empty_short_and_bad_input() -> None:
    tok = NCTTokenizer()
    empty = tok.segment(np.zeros((0, 2)), 1000.0, channels(2))
    assert len(empty) == 0 and empty.descriptor.shape == (0, DESCRIPTOR_DIM)
    assert len(tok.segment(np.ones((30, 2)), 1000.0, channels(2))) == 0  # 30 ms
    silent = tok.segment(np.zeros((2000, 2)), 1000.0, channels(2))
    assert (silent.kind == KIND_REST).all() and len(silent) == 2
    x = synthetic(1000.0)
    x[500, 1] = np.nan
    with pytest.raises(ConfigError, match="finite.*sample 500 of channel 1"):
        tok.segment(x, 1000.0, channels(N_CH))
    with pytest.raises(ConfigError, match="3 channels but 2"):
        tok.segment(synthetic(1000.0), 1000.0, channels(2))
    with pytest.raises(ConfigError, match="fs"):
        tok.segment(synthetic(1000.0), 0.0, channels(N_CH))


def test_parameters_and_registry() -> None:
    tok = get_tokenizer("nct", substep_ms=100.0)
    assert isinstance(tok, NCTTokenizer) and tok.params["substep_ms"] == 100.0
    assert tok.descriptor_dim == DESCRIPTOR_DIM
    cfg = tok.config()
    assert cfg["name"] == "nct" and cfg["version"] == NCTTokenizer.version
    assert tokenizer_from_config(cfg).params == tok.params
    with pytest.raises(ConfigError, match="version"):
        tokenizer_from_config({**cfg, "version": "0"})
    with pytest.raises(ConfigError, match="unknown NCT parameter"):
        NCTTokenizer(substep=100)
    with pytest.raises(ConfigError, match="unknown tokenizer"):
        get_tokenizer("bpe")
    with pytest.raises(ConfigError, match="off_ratio"):
        NCTTokenizer(on_ratio=2.0, off_ratio=4.0)
    # shorter sub-steps -> more active segments over the same contractions
    x = synthetic(1000.0)
    n_short = (tok.segment(x, 1000.0, channels(N_CH)).kind == KIND_ACTIVE).sum()
    n_long = (NCTTokenizer().segment(x, 1000.0, channels(N_CH)).kind == KIND_ACTIVE).sum()
    assert n_short > 1.5 * n_long


# ---------------------------------------------------------------- every real dataset


def _active_fraction(s: Segments, t0: float = 0.0, t1: float = np.inf) -> float:
    m = (s.onset_s >= t0) & (s.onset_s < t1)
    total = s.duration_s[m].sum()
    return float(s.duration_s[m & (s.kind == KIND_ACTIVE)].sum() / max(total, 1e-9))


def test_real_cote_allard_gesture_vs_neutral() -> None:
    folder = shared_data("cote_allard_myo", "PreTrainingDataset", "Female0", "training0")
    tok = NCTTokenizer()
    fr = {}
    for i in (0, 5):  # gesture 0 = neutral, 5 = hand close
        x = np.fromfile(folder / f"classe_{i}.dat", np.int16).reshape(-1, 8).astype(np.float64)
        s = tok.segment(x, 200.0, channels(8, units="n/a"))
        check_tiling(s, x.shape[0], 200.0)
        fr[i] = _active_fraction(s)
        # a 200 Hz Myo records nothing above 95 Hz: those entries are absent, not "no power"
        assert np.isnan(s.descriptor[s.kind == KIND_ACTIVE][:, 14:16]).all()
        assert np.isfinite(s.descriptor[s.kind == KIND_ACTIVE][:, :14]).all()
        assert np.all(s.descriptor[s.kind == KIND_ACTIVE, 11] <= 95.0 + 1e-3)
    assert fr[5] > 0.1 and fr[5] > 3 * fr[0]


def test_real_ciil_myo() -> None:
    folder = shared_data("ciil_myo", "ElectrodeShift", "subject0", "training")
    x = np.loadtxt(folder / "R_0_C_1.csv", delimiter=",")  # Hand_Open
    s = NCTTokenizer().segment(x, 200.0, channels(8, units="n/a"))
    assert (s.kind == KIND_ACTIVE).sum() > 5
    check_tiling(s, x.shape[0], 200.0)


def test_real_flexemg_rest_then_gestures() -> None:
    path = shared_data("flexemg_hd64", "data", "001-Session1Train", "001-001.mat")
    m = sio.loadmat(str(path), squeeze_me=True)
    lsb = float(m["p"]["lsbmV"].item())
    x = m["raw"][:, :64].astype(np.float64) * lsb
    s = NCTTokenizer().segment(x, 1000.0, channels(64))
    assert len(np.unique(s.channel)) == 64
    rest_phase = _active_fraction(s, 0.5, 4.5)  # 5 s rest before the first gesture
    gesture_phase = _active_fraction(s, 5.5, 24.5)
    assert gesture_phase > 0.3 and gesture_phase > 2 * rest_phase


def test_real_grabmyo_skips_unused_channels() -> None:
    x, fs, chans = _grabmyo("gesture16_trial1")
    s = NCTTokenizer().segment(x, fs, chans)
    unused = {i for i, c in enumerate(chans) if c.name.startswith("U")}
    assert len(unused) == 4 and not unused & set(s.channel.tolist())
    assert (s.kind == KIND_ACTIVE).sum() > 10
    check_tiling(s, x.shape[0], fs)


def test_real_physionet_needle_emg() -> None:
    wfdb = pytest.importorskip("wfdb")
    folder = shared_data("physionet_emgdb")
    rec = wfdb.rdrecord(str(folder / "emg_neuropathy"))
    x = np.asarray(rec.p_signal)
    s = NCTTokenizer().segment(x, float(rec.fs), channels(1))
    assert (s.kind == KIND_ACTIVE).any()
    check_tiling(s, x.shape[0], float(rec.fs))


def test_real_openhdemg_otb_grid() -> None:
    path = shared_data("openhdemg_otb", "otb_testfile.mat")
    m = sio.loadmat(str(path))
    x = np.asarray(m["Data"][0, 0][:20480, :64], dtype=np.float64)  # first 10 s, 64 EMG
    s = NCTTokenizer().segment(x, 2048.0, channels(64, units="uV"))
    assert (s.kind == KIND_ACTIVE).sum() > 64
    check_tiling(s, x.shape[0], 2048.0)


def test_every_shared_dataset_folder_is_covered() -> None:
    """A new folder in ../shared/data must get a real-data test above."""
    root = shared_data()
    covered = {
        "cote_allard_myo", "ciil_myo", "flexemg_hd64", "grabmyo_p1", "physionet_emgdb",
        "openhdemg_otb",
    }  # fmt: skip
    folders = {p.rstrip("/").split("/")[-1] for p in glob.glob(str(root / "*") + "/")}
    assert folders <= covered, f"untested dataset folders: {sorted(folders - covered)}"


@pytest.mark.parametrize(
    ("adapter", "folder"),
    [
        ("cote-allard", "cote_allard_myo"),
        ("ciil", "ciil_myo"),
        ("flexemg", "flexemg_hd64"),
        ("grabmyo", "grabmyo_p1"),
        ("wfdb", "physionet_emgdb"),
        ("otb", "openhdemg_otb"),
    ],
)
def test_real_recordings_through_the_adapters(adapter: str, folder: str) -> None:
    """Adapter output (physical units, channel types/status, recorded band) tokenizes."""
    from adapters.registry import make_adapter

    source = shared_data(folder)
    ad = make_adapter(adapter, str(source))
    units = ad.discover()
    # the first units may be rest/neutral recordings: take the first one with activity
    for unit in units[:8]:
        rec = ad.read(unit)
        s = NCTTokenizer().segment(rec.physical(), rec.fs, rec.channels)
        if (s.kind == KIND_ACTIVE).any():
            break
    assert (s.kind == KIND_ACTIVE).any(), f"no contraction in the first 8 units of {folder}"
    used = {i for i, c in enumerate(rec.channels) if c.type == "EMG" and c.status == "good"}
    assert set(s.channel.tolist()) == used
    check_tiling(s, rec.n_samples, rec.fs)
    active = s.kind == KIND_ACTIVE
    high = max(c.high_cutoff or rec.fs / 2 for c in rec.channels)
    assert np.all(s.descriptor[active, 11] <= min(450.0, 0.95 * high) + 1e-3)
