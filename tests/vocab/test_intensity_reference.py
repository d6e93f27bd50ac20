"""NCT ``intensity_reference``: descriptor intensities against each channel's floor or one
reference per recording (the median floor), segmentation unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from emgcorpus.errors import ConfigError
from tests.vocab.test_nct import N_CH, channels, synthetic
from vocab.nct import NCTTokenizer

FS = 1000.0
#: per-channel noise added to the synthetic recording, so the channels' floors differ
NOISE = np.array([0.02, 0.05, 0.03])


def _recording() -> np.ndarray:
    x = synthetic(FS)
    rng = np.random.default_rng(7)
    return x + NOISE * rng.normal(size=x.shape)


def test_device_reference_keeps_segments_and_shifts_intensities_by_the_floor_ratio() -> None:
    x = _recording()
    own, dev = NCTTokenizer(), NCTTokenizer(intensity_reference="device")
    prep = own.prepare(x, FS, channels(N_CH))
    assert prep is not None
    floor = own.recording_floor(prep)
    assert floor.max() / floor.min() > 1.5  # the floors differ, or the test shows nothing
    a = own.segment(x, FS, channels(N_CH))
    b = dev.segment(x, FS, channels(N_CH))
    assert np.array_equal(a.channel, b.channel) and np.array_equal(a.onset_s, b.onset_s)
    assert np.array_equal(a.kind, b.kind) and np.array_equal(a.duration_s, b.duration_s)
    active = ~np.isnan(a.descriptor[:, 1])
    shift = np.log(floor / np.median(floor))[a.channel[active]]
    # entries 1-2 (log intensity, log contraction peak) move by ln(floor_c / median floor)
    for entry in (1, 2):
        got = b.descriptor[active, entry] - a.descriptor[active, entry]
        assert np.allclose(got, shift, atol=1e-4)
    others = [i for i in range(a.descriptor.shape[1]) if i not in (1, 2)]
    assert np.allclose(a.descriptor[:, others], b.descriptor[:, others], equal_nan=True, atol=1e-6)


def test_device_reference_keeps_the_channels_relative_amplitudes_and_cancels_gain() -> None:
    x = _recording()
    # without the floor cap, so the per-channel floor can follow the louder channel
    dev = NCTTokenizer(intensity_reference="device", floor_channel_spread=None)
    base = dev.segment(x, FS, channels(N_CH))
    louder = x.copy()
    louder[:, 1] *= 1.5  # one electrode with better contact: its intensities go up
    s = dev.segment(louder, FS, channels(N_CH))
    gained = dev.segment(x * 1000.0, FS, channels(N_CH, units="uV"))
    assert np.allclose(base.descriptor, gained.descriptor, atol=1e-4, equal_nan=True)
    on0 = (base.channel == 1) & ~np.isnan(base.descriptor[:, 1])
    on1 = (s.channel == 1) & ~np.isnan(s.descriptor[:, 1])
    assert on0.sum() and on1.sum()
    # device reference: the louder channel's intensities rise by ln 1.5 (the median floor,
    # channel 2's, stays); the per-channel floor rises with the channel and hides the change
    assert s.descriptor[on1, 1].mean() - base.descriptor[on0, 1].mean() == pytest.approx(
        np.log(1.5), abs=0.05
    )
    own = NCTTokenizer(floor_channel_spread=None)
    a = own.segment(x, FS, channels(N_CH))
    c = own.segment(louder, FS, channels(N_CH))
    m0 = (a.channel == 1) & ~np.isnan(a.descriptor[:, 1])
    m1 = (c.channel == 1) & ~np.isnan(c.descriptor[:, 1])
    assert abs(c.descriptor[m1, 1].mean() - a.descriptor[m0, 1].mean()) < 0.05


def test_unknown_reference_is_refused() -> None:
    with pytest.raises(ConfigError, match="intensity_reference must be one of channel, device"):
        NCTTokenizer(intensity_reference="global")
