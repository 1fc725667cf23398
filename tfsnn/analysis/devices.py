"""Devices for the energy estimate: published energy per operation, and user devices.

A :class:`Device` prices the operations that ``tfsnn.analysis.energy`` counts per image:

- ``energy_per_synop``: joules per synaptic operation. On a spiking (event-driven) device a
  synop is one spike arriving at one synapse (an accumulate); on a non-spiking device it is
  one multiply-accumulate of the network computed densely (KerasSpiking's convention: "each
  synop/neuron update is one MAC").
- ``energy_per_neuron_update``: joules per update of one neuron in one timestep (integrate,
  leak, threshold test); an ANN updates each neuron once per image (its activation).
- ``spiking``: whether the device is event-driven, i.e. computes a synapse only when a spike
  arrives; a non-spiking device computes every synapse at every timestep.
- ``energy_per_mac``: joules per multiply-accumulate on real values (the ANN's MACs, the
  SNN's analog input layer) where it differs from ``energy_per_synop``; ``None``: the device
  has no separate figure and a MAC costs ``energy_per_synop``. A device runs the ANN when it
  is not spiking or has this figure (``Device.runs_ann``).
- ``source``: where the figures come from.

Presets (``DEVICES``; the figures of KerasSpiking's ``ModelEnergy.devices``,
``keras_spiking/model_energy.py``, plus the 45 nm model tfsnn uses by default):

============ ======== ===================== ================ ===============================
name         spiking  energy per synop      per neuron upd.  source
============ ======== ===================== ================ ===============================
cpu          no       8.6 nJ                8.6 nJ           Degnan et al. 2015 (Intel
                                                             i7-4960X)
gpu          no       0.3 nJ                0.3 nJ           Degnan et al. 2015 (Nvidia GTX
                                                             Titan Black; large batches)
arm          no       0.9 nJ                0.9 nJ           Degnan et al. 2015 (ARM
                                                             Cortex-A)
loihi        yes      27.1 pJ (23.6 + 3.5)  81 pJ            Davies et al. 2018
spinnaker    yes      13.3 nJ               26 nJ            Höppner et al. 2019
spinnaker2   yes      450 pJ                2.19 nJ          Höppner et al. 2019
45nm         yes      0.9 pJ (MAC 4.6 pJ)   0                Horowitz 2014
============ ======== ===================== ================ ===============================

Loihi's synop is the minimum energy of a synaptic spike operation (23.6 pJ) plus 3.5 pJ for
routing the spike (Davies et al. give 3.0-4.0 pJ per tile hop); 81 pJ is an active neuron
update. The 45 nm model prices a 32-bit float accumulate at 0.9 pJ and a multiply-accumulate
at 3.7 + 0.9 = 4.6 pJ, with neuron updates free (Rueckauer et al. 2017's count).

References: B. Degnan, B. Marr, J. Hasler, "Assessing trends in performance per watt for
signal processing applications", IEEE TVLSI 24(1), 2015. M. Davies et al., "Loihi: a
neuromorphic manycore processor with on-chip learning", IEEE Micro 38(1), 2018.
S. Höppner et al., "Dynamic power management for neuromorphic many-core systems", IEEE TCAS-I
66(8), 2019. M. Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC
2014.

Only the computation is priced: no data movement on or off the chip, no idle power, no
mapping of the network onto cores. Treat the numbers as rough, comparable estimates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def check_energy(name: str, value) -> float:
    """``value`` as a float: a finite number >= 0 (joules per operation), else ValueError
    naming ``name``."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not (ok and math.isfinite(float(value)) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0 (joules per operation), "
                         f"got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Device:
    """Energy figures of one device (see the module docstring); checked on creation."""

    name: str
    energy_per_synop: float
    energy_per_neuron_update: float
    spiking: bool
    source: str = ""
    energy_per_mac: float | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"a device name must be a non-empty string, got {self.name!r}")
        where = f"device {self.name!r}: "
        for field in ("energy_per_synop", "energy_per_neuron_update"):
            object.__setattr__(self, field, check_energy(where + field, getattr(self, field)))
        if self.energy_per_mac is not None:
            object.__setattr__(self, "energy_per_mac",
                               check_energy(where + "energy_per_mac", self.energy_per_mac))
        if not isinstance(self.spiking, (bool, np.bool_)):
            raise ValueError(f"{where}spiking must be True (event-driven) or False (computes "
                             f"every synapse at every step), got {self.spiking!r}")
        object.__setattr__(self, "spiking", bool(self.spiking))
        if not isinstance(self.source, str):
            raise ValueError(f"{where}source must be a string, got {self.source!r}")

    @property
    def mac_energy(self) -> float:
        """Joules per multiply-accumulate (``energy_per_mac``, else ``energy_per_synop``)."""
        return self.energy_per_synop if self.energy_per_mac is None else self.energy_per_mac

    @property
    def runs_ann(self) -> bool:
        """Whether the ANN can be priced on this device (not spiking, or a MAC figure)."""
        return not self.spiking or self.energy_per_mac is not None


_DEGNAN = "Degnan et al. 2015, IEEE TVLSI 24(1)"
_HOPPNER = "Höppner et al. 2019, IEEE TCAS-I 66(8)"

#: the known devices by name (lower case); ``register_device`` adds to it
DEVICES: dict[str, Device] = {d.name: d for d in (
    Device("cpu", 8.6e-9, 8.6e-9, False, _DEGNAN + " (Intel i7-4960X)"),
    Device("gpu", 0.3e-9, 0.3e-9, False, _DEGNAN + " (Nvidia GTX Titan Black)"),
    Device("arm", 0.9e-9, 0.9e-9, False, _DEGNAN + " (ARM Cortex-A)"),
    Device("loihi", (23.6 + 3.5) * 1e-12, 81e-12, True, "Davies et al. 2018, IEEE Micro 38(1)"),
    Device("spinnaker", 13.3e-9, 26e-9, True, _HOPPNER),
    Device("spinnaker2", 450e-12, 2.19e-9, True, _HOPPNER),
    Device("45nm", 0.9e-12, 0.0, True, "Horowitz 2014, ISSCC (32-bit float, 45 nm CMOS)",
           energy_per_mac=4.6e-12),
)}


def _key(name) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a device name must be a non-empty string, got {name!r}")
    return name.strip().lower()


def device_names(runs_ann: bool = False) -> list[str]:
    """The names of ``DEVICES`` in order (only those that run the ANN if ``runs_ann``)."""
    return [k for k, d in DEVICES.items() if d.runs_ann or not runs_ann]


def get_device(device) -> Device:
    """The ``Device`` named ``device`` (case-insensitive), or ``device`` itself if it is one.

    Raises ValueError listing the known names when there is no such device."""
    if isinstance(device, Device):
        return device
    key = _key(device)
    if key not in DEVICES:
        raise ValueError(f"unknown device {device!r}; known devices: {', '.join(device_names())} "
                         "(add one with tfsnn.analysis.devices.register_device)")
    return DEVICES[key]


def register_device(name: str, energy_per_synop: float, energy_per_neuron_update: float,
                    spiking: bool, source: str = "", energy_per_mac: float | None = None, *,
                    overwrite: bool = False) -> Device:
    """Add a device to ``DEVICES`` (then usable by name, e.g. in ``energy_estimate``).

    Args:
        name: its name (stored lower case).
        energy_per_synop, energy_per_neuron_update, energy_per_mac: joules per operation
            (finite, >= 0; see the module docstring).
        spiking: True for an event-driven device.
        source: where the figures come from.
        overwrite: replace a device of the same name (else that is an error).

    Returns the new ``Device``.
    """
    key = _key(name)
    if key in DEVICES and not overwrite:
        raise ValueError(f"device {key!r} is already registered; pass overwrite=True to "
                         "replace it")
    device = Device(key, energy_per_synop, energy_per_neuron_update, spiking, source,
                    energy_per_mac)
    DEVICES[key] = device
    return device
