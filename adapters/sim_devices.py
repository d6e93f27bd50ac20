"""Virtual EMG devices of the simulated corpus: layout, rate, ADC and where electrodes sit.

The forearm is modelled as a cylinder of radius :data:`FOREARM_RADIUS_MM`. A point on its
skin is ``(angle_deg, along_mm)``: ``angle_deg`` around the forearm (0 = dorsal midline,
90 = ulnar side, 180 = volar midline, 270 = radial side) and ``along_mm`` from the elbow
crease towards the wrist. Each device knows its *nominal* electrode sites; a subject's
donning (rotation/shift of the armband or grid, placement error of bipolar pairs) moves
the real sites, while the :class:`~emgcorpus.recording.ElectrodePosition` written into the
recording stays nominal, as in a real dataset.

Devices (``name``: channels, rate, ADC):

- ``myo8``: 8-channel armband ring, 200 Hz, 8-bit counts (-128..127) like the Myo.
- ``ring16``: 16-channel armband ring, 1000 Hz, 16-bit counts.
- ``grid64``: 8 x 8 high-density grid (10 mm pitch), 2048 Hz, 16-bit counts, monopolar.
- ``bipolar4``: 4 bipolar pairs over named muscles, 2000 Hz, 16-bit counts in mV.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from emgcorpus.recording import ChannelInfo, ElectrodePosition

#: Radius of the virtual forearm [mm] (circumference about 250 mm).
FOREARM_RADIUS_MM = 40.0
#: Hardware band of every virtual device: high-pass [Hz]; low-pass is min(this, fs/2).
BAND_LOW_HZ = 20.0
BAND_HIGH_HZ = 450.0

Layout = Literal["ring", "grid", "muscle"]


@dataclass(frozen=True)
class VirtualDevice:
    """One simulated acquisition device.

    ``gain`` is the ADC step in ``units`` per count; counts are clipped to
    ``[adc_min, adc_max]``. ``spread_mm`` is how far an electrode "sees" [mm]: the
    distance at which a muscle's contribution has fallen to about a third (bipolar
    pairs see less far than monopolar grid electrodes). ``noise_uv`` is the RMS of the
    amplifier/skin baseline noise [uV].
    """

    name: str
    layout: Layout
    n_channels: int
    fs: float
    units: str
    gain: float
    adc_min: int
    adc_max: int
    spread_mm: float
    noise_uv: float
    ring_along_mm: float = 60.0
    grid_rows: int = 0
    grid_cols: int = 0
    grid_pitch_mm: float = 10.0
    grid_center_angle_deg: float = 120.0
    grid_center_along_mm: float = 80.0
    muscles: tuple[str, ...] = ()
    interelectrode_mm: float | None = None
    description: str = ""

    @property
    def high_cutoff(self) -> float:
        """Upper edge of the recorded band [Hz]: the hardware low-pass or Nyquist."""
        return min(BAND_HIGH_HZ, self.fs / 2.0)

    @property
    def uv_per_count(self) -> float:
        """ADC step in microvolts."""
        return self.gain * (1000.0 if self.units == "mV" else 1.0)


DEVICES: dict[str, VirtualDevice] = {
    "myo8": VirtualDevice(
        name="myo8",
        layout="ring",
        n_channels=8,
        fs=200.0,
        units="uV",
        gain=8.0,
        adc_min=-128,
        adc_max=127,
        spread_mm=20.0,
        noise_uv=4.0,
        interelectrode_mm=10.0,
        description="8 bipolar pairs equally spaced around the forearm, 8-bit counts",
    ),
    "ring16": VirtualDevice(
        name="ring16",
        layout="ring",
        n_channels=16,
        fs=1000.0,
        units="uV",
        gain=0.5,
        adc_min=-32768,
        adc_max=32767,
        spread_mm=16.0,
        noise_uv=2.5,
        interelectrode_mm=10.0,
        description="16 bipolar pairs equally spaced around the forearm, 16-bit counts",
    ),
    "grid64": VirtualDevice(
        name="grid64",
        layout="grid",
        n_channels=64,
        fs=2048.0,
        units="uV",
        gain=0.5,
        adc_min=-32768,
        adc_max=32767,
        spread_mm=14.0,
        noise_uv=3.0,
        grid_rows=8,
        grid_cols=8,
        grid_pitch_mm=10.0,
        interelectrode_mm=10.0,
        description="8x8 monopolar grid, 10 mm pitch, rows along the forearm, centred "
        "over the ulnar side (flexor and extensor carpi ulnaris)",
    ),
    "bipolar4": VirtualDevice(
        name="bipolar4",
        layout="muscle",
        n_channels=4,
        fs=2000.0,
        units="mV",
        gain=0.0002,
        adc_min=-32768,
        adc_max=32767,
        spread_mm=12.0,
        noise_uv=1.5,
        muscles=(
            "flexor_carpi_radialis",
            "flexor_carpi_ulnaris",
            "extensor_carpi_radialis",
            "extensor_digitorum",
        ),
        interelectrode_mm=10.0,
        description="4 bipolar pairs over named muscle bellies, 16-bit counts in mV",
    ),
}


def nominal_sites(
    device: VirtualDevice, muscle_sites: dict[str, tuple[float, float]]
) -> np.ndarray:
    """Nominal skin sites of the device's electrodes: shape (n_channels, 2) of
    ``(angle_deg, along_mm)``. ``muscle_sites`` gives each named muscle's belly site."""
    if device.layout == "ring":
        angles = np.arange(device.n_channels) * 360.0 / device.n_channels
        return np.stack([angles, np.full(device.n_channels, device.ring_along_mm)], axis=1)
    if device.layout == "grid":
        rows, cols = np.divmod(np.arange(device.n_channels), device.grid_cols)
        arc_mm = (cols - (device.grid_cols - 1) / 2.0) * device.grid_pitch_mm
        along = (rows - (device.grid_rows - 1) / 2.0) * device.grid_pitch_mm
        angles = device.grid_center_angle_deg + np.degrees(arc_mm / FOREARM_RADIUS_MM)
        return np.stack([angles, device.grid_center_along_mm + along], axis=1)
    return np.array([muscle_sites[m] for m in device.muscles], dtype=np.float64)


def channel_infos(device: VirtualDevice) -> list[ChannelInfo]:
    """The recording's channel table: nominal positions, ADC gain and recorded band."""
    infos = []
    for i in range(device.n_channels):
        muscle = None
        if device.layout == "ring":
            pos = ElectrodePosition(
                system="ring",
                angle_deg=i * 360.0 / device.n_channels,
                along_mm=device.ring_along_mm,
            )
            scheme, reference = "armband ring", "bipolar"
        elif device.layout == "grid":
            row, col = divmod(i, device.grid_cols)
            pos = ElectrodePosition(
                system="grid",
                row=row,
                col=col,
                pitch_mm=device.grid_pitch_mm,
                grid_name=device.name,
            )
            scheme, reference = "electrode grid", "common reference (wrist)"
        else:
            muscle = device.muscles[i]
            pos = ElectrodePosition(system="muscle", muscle=muscle)
            scheme, reference = "muscle belly", "bipolar"
        infos.append(
            ChannelInfo(
                name=f"emg{i + 1}",
                type="EMG",
                units=device.units,
                gain=device.gain,
                offset=0.0,
                position=pos,
                reference=reference,
                group=device.name,
                target_muscle=muscle,
                placement_scheme=scheme,
                placement_description=device.description,
                interelectrode_distance=device.interelectrode_mm,
                low_cutoff=BAND_LOW_HZ,
                high_cutoff=device.high_cutoff,
                status="good",
            )
        )
    return infos


def sim_lake_device(name: str) -> str:
    """The lake's ``device`` of the recordings made with virtual device ``name``."""
    return f"sim-{name}"
