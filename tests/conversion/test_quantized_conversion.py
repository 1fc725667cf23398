"""Converting quantized ANNs: thresholds from the clip values, integer weights, the T = L
relation between the SNN and the quantized ANN (docs/quantization.md), and
``check_compatibility``."""

import keras
import numpy as np
import pytest

import tfsnn
from tfsnn.conversion import ConversionError, check_compatibility
from tfsnn.quantization import QuantizedConv2D, QuantizedDense, QuantizedReLU, integer_weights

L = 3


def _qnet(seed=0, non_negative=False):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((6, 6, 1), name="input")
    x = QuantizedConv2D(4, 3, weight_bits=4, name="c1")(inp)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = QuantizedReLU(levels=L, clip_value=0.8, name="r1")(x)
    x = keras.layers.Flatten(name="flat")(x)
    x = QuantizedDense(8, weight_bits=4, name="d1")(x)
    x = QuantizedReLU(levels=L, clip_value=1.3, name="r2")(x)
    out = QuantizedDense(3, weight_bits=4, name="out")(x)
    model = keras.Model(inp, out)
    bn = model.get_layer("bn1")
    bn.set_weights([np.array([1.5, -0.7, 0.9, 2.0], np.float32), np.full(4, 0.05, np.float32),
                    np.full(4, 0.1, np.float32), np.array([0.5, 1.0, 2.0, 0.8], np.float32)])
    if non_negative:  # every step's current then lies in [0, theta] (see the docs)
        for name, gain in (("c1", 0.3), ("d1", 0.05 * np.linspace(0.1, 1, 8))):
            layer = model.get_layer(name)
            k, b = layer.get_weights()
            layer.set_weights([np.abs(k) * gain / np.abs(k).max(), np.zeros_like(b)])
        bn.set_weights([np.ones(4, np.float32), np.zeros(4, np.float32),
                        np.zeros(4, np.float32), np.ones(4, np.float32) - 1e-3])
    return model


X = np.random.default_rng(0).random((16, 6, 6, 1)).astype(np.float32)


def _levels(model, name, clip):
    a = keras.Model(model.inputs, model.get_layer(name).output).predict(X, verbose=0)
    return np.rint(a * L / clip)


def test_thresholds_from_clip_values_and_integer_weights():
    model = _qnet()
    snn = tfsnn.convert(model)  # no normalization data needed: every ReLU is quantized
    specs = {s.name: s for s in snn.specs}
    np.testing.assert_allclose(specs["c1"].config["lambda"], 0.8)
    np.testing.assert_allclose(specs["d1"].config["lambda"], 1.3)
    assert specs["c1"].activation == "qcfs" and specs["c1"].config["levels"] == L
    for name in ("c1", "d1", "out"):
        w_int, scale = (np.asarray(v) for v in model.get_layer(name).integer_kernel())
        ints, s = integer_weights(specs[name].kernel, 4)
        # BatchNorm folding and normalization rescale output channels: same integers
        np.testing.assert_array_equal(np.abs(ints), np.abs(w_int).astype(np.int32))
        np.testing.assert_allclose(ints * s, specs[name].kernel, rtol=1e-5, atol=1e-7)


@pytest.mark.jax  # the quantized layers and their conversion run on every backend
def test_first_layer_spike_count_at_T_equal_L_is_the_quantized_activation():
    model = _qnet()
    snn = tfsnn.convert(model)
    spikes = snn.run_cells(X, L)
    np.testing.assert_array_equal(spikes["c1"].sum(axis=1), _levels(model, "r1", 0.8))
    # deeper layers: equal unless the membrane ends outside [0, theta) (see the docs)
    deep = np.mean(spikes["d1"].sum(axis=1) == _levels(model, "r2", 1.3))
    assert deep > 0.8


def test_whole_network_exact_when_currents_stay_in_zero_theta():
    model = _qnet(non_negative=True)
    snn = tfsnn.convert(model)
    spikes = snn.run_cells(X, L)
    np.testing.assert_array_equal(spikes["c1"].sum(axis=1), _levels(model, "r1", 0.8))
    lev2 = _levels(model, "r2", 1.3)
    assert set(np.unique(lev2)) == {0, 1, 2, 3}  # every level occurs
    np.testing.assert_array_equal(spikes["d1"].sum(axis=1), lev2)
    # the readout integrates: V_T / T is the quantized ANN's output
    np.testing.assert_allclose(spikes["out"][:, -1] / L, model.predict(X, verbose=0),
                               rtol=1e-4, atol=1e-5)


def _bad_model():
    inp = keras.Input((8, 8, 1), name="input")
    x = keras.layers.Conv2D(4, 3, activation="tanh", name="c1")(inp)
    x = keras.layers.MaxPooling2D(2, padding="same", name="p1")(x)
    x = keras.layers.Conv2D(4, 3, padding="same", name="c2")(x)
    x = keras.layers.ReLU(name="r2")(x)
    x = keras.layers.BatchNormalization(name="bn2")(x)
    x = keras.layers.LeakyReLU(name="leaky")(x)
    x = keras.layers.Flatten(name="flat")(x)
    return keras.Model(inp, keras.layers.Dense(3, activation="softmax", name="out")(x))


def test_check_compatibility_lists_every_problem():
    model = _bad_model()
    problems = check_compatibility(model)
    assert len(problems) == 3
    assert "'c1'" in problems[0] and "tanh" in problems[0]
    assert "'bn2'" in problems[1] and "before the activation" in problems[1]
    assert "'leaky'" in problems[2] and "LeakyReLU is not supported" in problems[2]
    with pytest.raises(ConversionError, match="all 3 problems") as info:
        tfsnn.convert(model)
    assert info.value.problems == problems


def test_akida_preset():
    problems = check_compatibility(_bad_model(), preset="akida")
    text = "\n".join(problems)
    assert "pooling layer 'p1' has padding 'same' but its convolution 'c1' has 'valid'" in text
    assert "activation 'r2' has a float ReLU" in text
    assert "layer 'c2' has float weights; allowed weight bits: [1, 2, 4, 8]" in text
    assert "LeakyReLU is not allowed by the constraints" in text
    q = tfsnn.quantize(keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, name="c"),
        keras.layers.BatchNormalization(name="bn"), keras.layers.ReLU(name="r"),
        keras.layers.MaxPooling2D(2, name="p"), keras.layers.Flatten(name="f"),
        keras.layers.Dense(3, name="out")]), weight_bits=4, activation_bits=2, input_bits=8)
    assert check_compatibility(q, preset="akida") == []
    assert check_compatibility(q, preset="akida", activation_bits=(4,)) == [
        "activation 'r' has 2-bit activations; allowed activation bits: [4]"]
    with pytest.raises(ValueError, match="unknown preset 'loihi9'"):
        check_compatibility(q, preset="loihi9")
    with pytest.raises(ValueError, match=r"unknown constraint\(s\) \['weightbits'\]"):
        check_compatibility(q, weightbits=(4,))


def test_energy_prices_integer_weights_as_low_bit_operations():
    snn = tfsnn.convert(_qnet())
    res = snn.simulate(X[:4], timesteps=L)
    e = tfsnn.energy_estimate(snn, res)
    assert e["params"]["integer_layers"] == ["c1", "d1", "out"]
    for row in e["layers"].values():
        assert row["snn_energy"] == pytest.approx(row["snn_macs"] * 0.23e-12
                                                  + row["snn_acs"] * 0.03e-12)
        assert row["ann_energy"] == pytest.approx(row["ann_macs"] * 0.23e-12)
    assert e["layers"]["d1"]["snn_acs"] > 0
