"""Energy per device: presets against hand-computed numbers for a tiny net, user devices, errors."""

import math

import keras
import numpy as np
import pytest

from tfsnn.analysis import devices as devmod
from tfsnn.analysis.devices import DEVICES, Device, get_device, register_device
from tfsnn.analysis.energy import (
    device_estimate,
    energy_estimate,
    energy_table,
    energy_table_markdown,
)
from tfsnn.conversion import convert
from tfsnn.simulation import SimulationResult

T = 10
N = 2
# hidden spikes over the N = 2 images (3 neurons): 10 spikes, 5 per image; each reaches the
# 2 readout neurons: 10 accumulates per image
HIDDEN = np.array([6.0, 0.0, 4.0])
# Poisson input spikes over the 2 images (4 pixels): 6 spikes, 3 per image, fan-out 3: 9 ACs
INPUT = np.array([3.0, 1.0, 0.0, 2.0])

# counts per image by hand (Dense 4 -> 3 ReLU -> Dense 3 -> 2)
ANN_MACS = 4 * 3 + 3 * 2  # 18
ANN_NEURONS = 3 + 2  # one activation per neuron and image
NEURON_UPDATES = (3 + 2) * T  # 50
SNN_ACS = 5 * 2  # 10 (constant input)
ANALOG_MACS = 12  # the hidden layer's current from the analog input, once per image


@pytest.fixture(scope="module")
def snn():
    keras.utils.set_random_seed(0)
    inp = keras.Input((4,), name="input")
    h = keras.layers.Dense(3, activation="relu", name="hidden")(inp)
    out = keras.layers.Dense(2, name="out")(h)
    return convert(keras.Model(inp, out), normalization=None, v_init=0.0)


def _result(input_mode="constant", inp=None):
    counts = {"hidden": HIDDEN}
    if inp is not None:
        counts["input"] = inp
    return SimulationResult(accuracy=None, accuracy_per_step=None, spike_counts={},
                            neuron_spike_counts=counts, num_samples=N, timesteps=T,
                            input_mode=input_mode, scores=np.zeros((N, 2)))


@pytest.fixture
def registry(monkeypatch):
    """A private copy of the device table: registrations do not leak into other tests."""
    monkeypatch.setattr(devmod, "DEVICES", dict(DEVICES))
    return devmod.DEVICES


def test_presets_have_the_published_figures():
    want = {"cpu": (8.6e-9, 8.6e-9, False), "gpu": (0.3e-9, 0.3e-9, False),
            "arm": (0.9e-9, 0.9e-9, False), "loihi": (27.1e-12, 81e-12, True),
            "spinnaker": (13.3e-9, 26e-9, True), "spinnaker2": (450e-12, 2.19e-9, True),
            "45nm": (0.9e-12, 0.0, True)}
    assert set(want) <= set(DEVICES)
    for name, (synop, neuron, spiking) in want.items():
        d = get_device(name)
        assert d.energy_per_synop == pytest.approx(synop, rel=1e-12)
        assert d.energy_per_neuron_update == pytest.approx(neuron, rel=1e-12)
        assert d.spiking is spiking and d.source
    assert get_device("45nm").mac_energy == 4.6e-12 and get_device("cpu").mac_energy == 8.6e-9
    assert get_device("LOIHI") is get_device("loihi")


@pytest.mark.parametrize("name", ["loihi", "spinnaker", "spinnaker2"])
def test_spiking_presets_by_hand(snn, name):
    d = get_device(name)
    e = energy_estimate(snn, _result(), device=name)
    # analog MACs (no MAC figure: priced as synops) + spike-driven ACs + neuron updates
    want = (ANALOG_MACS + SNN_ACS) * d.energy_per_synop + NEURON_UPDATES * d.energy_per_neuron_update
    assert e["snn"]["energy"] == pytest.approx(want, rel=1e-12)
    assert e["snn"]["synops"] == SNN_ACS and e["snn"]["macs"] == ANALOG_MACS
    assert e["snn"]["neuron_updates"] == NEURON_UPDATES
    assert e["snn"]["neuron_energy"] == pytest.approx(NEURON_UPDATES * d.energy_per_neuron_update)
    # the ANN on the GPU (a spiking device does not run it): 18 MACs + 5 activations
    assert e["ann"]["device"] == "gpu"
    assert e["ann"]["energy"] == pytest.approx((ANN_MACS + ANN_NEURONS) * 0.3e-9, rel=1e-12)
    assert e["ratio"] == pytest.approx(want / ((ANN_MACS + ANN_NEURONS) * 0.3e-9))
    out = e["layers"]["out"]
    assert out["synops"] == SNN_ACS and out["neuron_updates"] == 2 * T
    assert out["snn_energy"] == pytest.approx(SNN_ACS * d.energy_per_synop
                                              + 2 * T * d.energy_per_neuron_update)
    assert out["ann_energy"] == pytest.approx((6 + 2) * 0.3e-9)
    assert e["params"]["device"]["name"] == name


@pytest.mark.parametrize("name", ["cpu", "gpu", "arm"])
def test_non_spiking_presets_by_hand(snn, name):
    d = get_device(name)
    e = energy_estimate(snn, _result(), device=name)
    # every synapse at every step: hidden's analog current once (12), the readout 6 x T;
    # neuron updates 5 x T
    ops = ANALOG_MACS + 6 * T
    assert e["snn"]["macs"] == ops and e["snn"]["synops"] == 0
    assert e["snn"]["energy"] == pytest.approx((ops + NEURON_UPDATES) * d.energy_per_synop)
    # the ANN on the same device: KerasSpiking's (connections + neurons) x energy per op
    assert e["ann"]["device"] == name
    assert e["ann"]["energy"] == pytest.approx((ANN_MACS + ANN_NEURONS) * d.energy_per_synop)


def test_poisson_input_spikes_are_synops(snn):
    e = energy_estimate(snn, _result("poisson", INPUT), device="loihi")
    assert e["layers"]["hidden"]["synops"] == 3 * 3 and e["layers"]["hidden"]["macs"] == 0
    assert e["snn"]["synops"] == 9 + SNN_ACS
    assert e["snn"]["energy"] == pytest.approx((9 + SNN_ACS) * 27.1e-12 + NEURON_UPDATES * 81e-12)
    cpu = energy_estimate(snn, _result("poisson", INPUT), device="cpu")
    assert cpu["snn"]["macs"] == ANN_MACS * T  # no analog layer: every synapse every step


def test_45nm_equals_the_default_call(snn):
    old = energy_estimate(snn, _result())
    assert set(old) == {"params", "layers", "ann", "snn", "ratio", "saving"}
    assert old["params"] == {"e_mac": 4.6e-12, "e_ac": 0.9e-12, "e_neuron": 0.0,
                             "units": "joules per image", "timesteps": T,
                             "input_mode": "constant", "num_samples": N}
    assert list(old["layers"]["out"]) == ["kind", "ann_macs", "ann_acs", "snn_macs", "snn_acs",
                                          "neuron_updates", "sources", "ann_energy",
                                          "snn_energy", "ratio"]
    assert old["snn"]["energy"] == pytest.approx(ANALOG_MACS * 4.6e-12 + SNN_ACS * 0.9e-12)
    assert old["ann"]["energy"] == pytest.approx(ANN_MACS * 4.6e-12)
    new = energy_estimate(snn, _result(), device="45nm")
    assert new["ann"]["device"] == "45nm"
    for side in ("ann", "snn"):
        assert new[side]["energy"] == pytest.approx(old[side]["energy"], rel=1e-12)
    assert new["ratio"] == pytest.approx(old["ratio"], rel=1e-12)
    for name in old["layers"]:
        assert new["layers"][name]["snn_energy"] == pytest.approx(
            old["layers"][name]["snn_energy"], rel=1e-12)
    # the old keyword arguments still work
    e = energy_estimate(snn, _result(), e_mac=1.0, e_ac=2.0, e_neuron=0.5)
    assert e["snn"]["energy"] == pytest.approx(ANALOG_MACS + 2 * SNN_ACS + 0.5 * NEURON_UPDATES)


def test_ann_device_choice(snn):
    e = energy_estimate(snn, _result(), device="loihi", ann_device="cpu")
    assert e["ann"]["energy"] == pytest.approx((ANN_MACS + ANN_NEURONS) * 8.6e-9)
    e = device_estimate(snn, _result(), "spinnaker2", ann_device="45nm")
    assert e["ann"]["energy"] == pytest.approx(ANN_MACS * 4.6e-12)
    with pytest.raises(ValueError, match="ann_device 'spinnaker' is a spiking device.*cpu"):
        energy_estimate(snn, _result(), device="loihi", ann_device="spinnaker")


def test_energy_table_rows(snn):
    rows = energy_table(snn, _result())
    assert [r["device"] for r in rows] == list(DEVICES)
    by = {r["device"]: r for r in rows}
    ann_cpu = (ANN_MACS + ANN_NEURONS) * 8.6e-9
    ann_gpu = (ANN_MACS + ANN_NEURONS) * 0.3e-9
    for r in rows:
        e = energy_estimate(snn, _result(), device=r["device"])
        assert r["snn_joules_per_image"] == pytest.approx(e["snn"]["energy"], rel=1e-12)
        assert r["ann_cpu_joules_per_image"] == pytest.approx(ann_cpu)
        assert r["ann_gpu_joules_per_image"] == pytest.approx(ann_gpu)
        assert r["ratio_gpu"] == pytest.approx(r["snn_joules_per_image"] / ann_gpu)
    loihi = by["loihi"]
    assert loihi["snn_synops"] == SNN_ACS and loihi["snn_neuron_updates"] == NEURON_UPDATES
    assert loihi["snn_neuron_joules_per_image"] == pytest.approx(50 * 81e-12)
    md = energy_table_markdown(rows)
    assert md.splitlines()[0].startswith("| device | event-driven |")
    assert "| loihi | yes | 27.1 pJ | 81 pJ |" in md
    assert len(md.splitlines()) == 2 + len(rows)
    one = energy_table(snn, _result(), devices=["loihi"], ann_devices=["arm"])
    assert len(one) == 1 and "ratio_arm" in one[0] and "ratio_gpu" not in one[0]


def test_real_simulation_counts_by_hand():
    """The same net simulated: spikes known by hand (V_0 = 0, theta = 1, T = 8)."""
    inp = keras.Input((4,), name="input")
    h = keras.layers.Dense(3, activation="relu", name="hidden")(inp)
    out = keras.layers.Dense(2, name="out")(h)
    ann = keras.Model(inp, out)
    k = np.zeros((4, 3), np.float32)
    k[0] = [1.0, 0.5, 0.0]  # image 1: 8, 4, 0 spikes
    k[1] = [0.0, 0.25, 0.5]  # image 2: 0, 2, 4 spikes
    ann.get_layer("hidden").set_weights([k, np.zeros(3, np.float32)])
    ann.get_layer("out").set_weights([np.ones((3, 2), np.float32), np.zeros(2, np.float32)])
    snn = convert(ann, normalization=None, v_init=0.0)
    x = np.eye(4, dtype=np.float32)[:2]
    res = snn.evaluate(x, np.array([0, 1]), timesteps=8)
    np.testing.assert_array_equal(res.neuron_spike_counts["hidden"], [8, 6, 4])
    e = energy_estimate(snn, res, device="loihi")
    # 18 spikes / 2 images x 2 synapses = 18 synops; 5 neurons x 8 steps; 12 analog MACs
    assert e["snn"]["synops"] == 18 and e["snn"]["neuron_updates"] == 40
    assert e["snn"]["energy"] == pytest.approx((12 + 18) * 27.1e-12 + 40 * 81e-12)


def test_register_device(snn, registry):
    d = register_device("My-Chip", 1e-12, 2e-12, True, "a datasheet")
    assert d.name == "my-chip" and get_device("my-chip") is d
    e = energy_estimate(snn, _result(), device="my-chip")
    assert e["snn"]["energy"] == pytest.approx((ANALOG_MACS + SNN_ACS) * 1e-12
                                               + NEURON_UPDATES * 2e-12)
    assert "my-chip" in [r["device"] for r in energy_table(snn, _result())]
    with pytest.raises(ValueError, match="already registered.*overwrite=True"):
        register_device("my-chip", 1e-12, 2e-12, True)
    assert register_device("my-chip", 3e-12, 0, True, overwrite=True).energy_per_synop == 3e-12
    # with a MAC figure a spiking device runs the ANN, and prices the analog MACs with it
    register_device("mac-chip", 1e-12, 0.0, True, energy_per_mac=5e-12)
    e = energy_estimate(snn, _result(), device="mac-chip")
    assert e["ann"]["device"] == "mac-chip"
    assert e["snn"]["energy"] == pytest.approx(ANALOG_MACS * 5e-12 + SNN_ACS * 1e-12)
    # a Device object works without registering it
    own = Device("scratch", 1.0, 0.0, False)
    assert energy_estimate(snn, _result(), device=own)["snn"]["energy"] == ANALOG_MACS + 6 * T
    assert "scratch" not in registry


@pytest.mark.parametrize("kwargs, match", [
    (dict(energy_per_synop=-1e-12), "energy_per_synop must be a finite number >= 0"),
    (dict(energy_per_neuron_update=math.inf), "energy_per_neuron_update must be a finite"),
    (dict(energy_per_synop=math.nan), "energy_per_synop must be a finite"),
    (dict(energy_per_synop="1e-12"), "energy_per_synop must be a finite"),
    (dict(energy_per_synop=True), "energy_per_synop must be a finite"),
    (dict(energy_per_mac=-1.0), "energy_per_mac must be a finite"),
    (dict(spiking="yes"), "spiking must be True"),
    (dict(name=""), "non-empty string"),
])
def test_register_device_errors(registry, kwargs, match):
    args = dict(name="bad", energy_per_synop=1e-12, energy_per_neuron_update=1e-12,
                spiking=True)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        register_device(**args)
    assert "bad" not in registry


def test_device_errors(snn):
    with pytest.raises(ValueError, match=r"unknown device 'tpu'; known devices: cpu, gpu"):
        energy_estimate(snn, _result(), device="tpu")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        energy_table(snn, _result(), devices=["loihi", "tpu"])
    with pytest.raises(ValueError, match="either device= or e_mac"):
        energy_estimate(snn, _result(), e_mac=1.0, device="loihi")
    with pytest.raises(ValueError, match="ann_device needs device="):
        energy_estimate(snn, _result(), ann_device="cpu")
    with pytest.raises(ValueError, match="e_ac must be a finite number >= 0"):
        energy_estimate(snn, _result(), e_ac=math.inf)
    with pytest.raises(ValueError, match="'loihi' is a spiking device"):
        energy_table(snn, _result(), ann_devices=["loihi"])


def test_public_names():
    import tfsnn

    assert tfsnn.energy_table is energy_table and tfsnn.register_device is register_device
