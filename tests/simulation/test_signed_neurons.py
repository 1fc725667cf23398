"""Signed IF neurons (``convert(..., signed=True)``): the exact-count theorem of
``tfsnn.neurons.rate``, both execution paths, events for energy, save/load, fine-tuning
through the negative spike's surrogate, and NIR export's refusal.

Weights are multiples of 1/64 and inputs of 1/16 (as in ``test_engine_paths``), so float sums
are exact in any order and both paths must give the very same spikes.
"""

import keras
import numpy as np
import pytest
from keras import ops
from sim_helpers import exact_weights, grads

import tfsnn
from tfsnn.cells import SpikingRNN
from tfsnn.interop import NIRError
from tfsnn.neurons import RateDynamics, RateParams, heaviside, surrogate_spike
from tfsnn.quantization import QuantizedConv2D, QuantizedDense, QuantizedReLU
from tfsnn.simulation import FastPathOptions
from tfsnn.simulation.cellpath import cell_path_model

T = 19


def _step_all(dyn, params, currents):
    """Spike trains ``(T, n)`` of neurons driven by ``currents`` ``(T, n)``."""
    state = dyn.initial_state(currents.shape[1], (), params)
    out = []
    for c in currents:
        s, state = dyn.step(ops.convert_to_tensor(c), state, params)
        out.append(ops.convert_to_numpy(s))
    return np.stack(out)


@pytest.mark.jax
@pytest.mark.parametrize("v_init", [0.0, 0.5, 0.9])
@pytest.mark.parametrize("theta", [1.0, 0.37])
def test_signed_count_is_the_rounded_mean_current_whatever_the_order(v_init, theta):
    """``|I_t| <= theta``: ``N_T = clip(floor(T Ibar / theta + v_init), 0, T)`` exactly."""
    rng = np.random.default_rng(0)
    n, steps = 3000, 16
    cur = rng.uniform(-1, 1, (steps, n))
    cur[:, :500] = np.sort(cur[:, :500], axis=0)[::-1]  # early excitation, late inhibition
    cur[:, 500:1000] = np.sort(cur[:, 500:1000], axis=0)  # the reverse
    cur[:, 1000:1100] = rng.choice([-1.0, 1.0], (steps, 100))  # at the bound
    cur = (cur * theta).astype(np.float32)
    want = np.clip(np.floor(cur.astype(np.float64).sum(0) / theta + v_init), 0, steps)
    dyn = RateDynamics()
    signed = _step_all(dyn, dyn.make_params(threshold=theta, v_init=v_init, signed=True), cur)
    assert set(np.unique(signed)) == {-1.0, 0.0, 1.0}
    np.testing.assert_array_equal(signed.sum(0), want)
    # the net count never goes below zero on the way
    assert np.cumsum(signed, axis=0).min() == 0
    # plain IF neurons get the uneven orders wrong (the error the sign removes)
    plain = _step_all(dyn, dyn.make_params(threshold=theta, v_init=v_init), cur)
    assert np.mean(plain.sum(0) != want) > 0.1
    assert plain.min() == 0.0


def test_signed_parameter_is_checked():
    assert RateParams(signed=1).signed is True
    with pytest.raises(ValueError, match="signed must be True or False"):
        RateParams(signed="yes")
    with pytest.raises(ValueError, match="signed must be True or False"):
        tfsnn.convert(_cnn(), normalization=None, signed=2)


def _cnn():
    """Convolutions, both poolings and a residual block: negative spikes pass through all."""
    inp = keras.Input((8, 8, 1), name="input")
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(inp)
    x = keras.layers.AveragePooling2D(2, name="pool1")(x)
    y = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv2")(x)
    y = keras.layers.Conv2D(4, 3, padding="same", name="conv3")(y)
    x = keras.layers.ReLU(name="res")(keras.layers.Add(name="add")([x, y]))
    x = keras.layers.MaxPooling2D(2, name="pool2")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(12, activation="relu", name="fc1")(x)
    return exact_weights(keras.Model(inp, keras.layers.Dense(5, name="out")(x)), low=-40)


def _images(n=11, seed=0):
    return (np.random.default_rng(seed).integers(0, 17, (n, 8, 8, 1)) / 16).astype("float32")


@pytest.fixture(scope="module")
def signed_snn():
    return tfsnn.convert(_cnn(), normalization=None, signed=True)


@pytest.mark.jax
@pytest.mark.parametrize("fold", [False, True])
@pytest.mark.parametrize("chunk", [1, 5, T])
@pytest.mark.parametrize("mode", ["constant", "poisson"])
def test_engine_equals_cell_path_and_counts_events(signed_snn, mode, chunk, fold):
    snn, x = signed_snn, _images()
    snn.fast_path = FastPathOptions(fold=fold)
    ref = snn.run_cells(x, T, input_mode=mode, seed=3)
    res = snn.simulate(x, T, batch_size=4, input_mode=mode, seed=3, chunk=chunk,
                       record_spikes=4, return_counts=True)
    negative = 0
    for name in ("conv2", "add", "pool2", "fc1"):
        trains = np.moveaxis(ref[name], 1, 0)  # (T, B, ...)
        np.testing.assert_array_equal(res.spike_trains[name], trains[:, :4], err_msg=name)
        np.testing.assert_array_equal(res.sample_counts[name], trains.sum(0), err_msg=name)
        assert trains.sum(0).min() >= 0  # net counts: a ReLU's rate
        events = np.abs(trains)
        np.testing.assert_array_equal(res.layer_stats[name].step_counts,
                                      events.reshape(T, -1).sum(1), err_msg=name)
        np.testing.assert_array_equal(res.neuron_events(name), events.sum((0, 1)))
        assert res.spike_counts[name] == events.sum()
        negative += int((trains < 0).sum())
    assert negative > 0  # the network does send negative spikes
    out = ref[snn.output.name].reshape(len(x), T, -1)
    np.testing.assert_array_equal(res.scores, out[:, -1] / T)
    np.testing.assert_array_equal(res.predictions_per_step, out.argmax(-1).T)


def test_energy_counts_negative_spikes_and_save_load(signed_snn, tmp_path):
    x = _images()
    res = signed_snn.simulate(x, T, return_counts=True)
    e = tfsnn.energy_estimate(signed_snn, res)
    # fc1's input is pool2's spikes: one accumulate per event and synapse (12 each)
    pool2_events = res.neuron_events("pool2").sum()
    assert pool2_events > res.neuron_spike_counts["pool2"].sum()
    assert e["layers"]["fc1"]["snn_acs"] == pytest.approx(12 * pool2_events / len(x))
    signed_snn.save(tmp_path / "signed.keras")
    back = tfsnn.load_snn(tmp_path / "signed.keras")
    assert back.dyn_params["signed"] is True
    again = back.simulate(x, T, return_counts=True)
    np.testing.assert_array_equal(again.scores, res.scores)
    for name in res.neuron_event_counts:
        np.testing.assert_array_equal(again.neuron_events(name), res.neuron_events(name))


def test_nir_refuses_signed_neurons(signed_snn):
    with pytest.raises(NIRError, match="signed neurons"):
        tfsnn.to_nir(signed_snn)


@pytest.mark.jax
@pytest.mark.parametrize("shape", ["triangle", "exponential"])
def test_negative_spike_is_exact_forward_with_the_mirrored_surrogate(shape):
    theta, width = np.float32(0.8), 0.5
    v = np.linspace(-1.6, 1.0, 27).astype(np.float32)
    v[3], v[4] = 0.0, -1e-9  # at 0: no negative spike; just below: one
    fn = surrogate_spike(shape, width).below_zero
    out = ops.convert_to_numpy(fn(ops.convert_to_tensor(v), theta))
    np.testing.assert_array_equal(out, (v < 0).astype(np.float32))
    np.testing.assert_array_equal(out, ops.convert_to_numpy(
        heaviside.below_zero(ops.convert_to_tensor(v), theta)))
    dv, dtheta = (ops.convert_to_numpy(g) for g in grads(fn, v, theta))
    w, a = width * theta, np.abs(v.astype(np.float64)) / (width * theta)
    g = np.maximum(0.0, 1.0 - a) / w if shape == "triangle" else np.exp(-a) / (2 * w)
    np.testing.assert_allclose(dv, -g, rtol=1e-5, atol=1e-7)
    assert float(np.sum(dtheta)) == 0.0


def test_fine_tuning_a_signed_snn(trained_digits_cnn, digits):
    """Signed SNNs fine-tune (the negative spike's surrogate carries the gradient): the
    accuracy at T = 2 rises, and the engine's spikes equal the training graph's forward."""
    snn = tfsnn.convert(trained_digits_cnn, digits.x_train[:300], signed=True)
    steps = 2
    before = snn.evaluate(digits.x_test, digits.y_test, timesteps=steps).accuracy
    keras.utils.set_random_seed(0)
    tuned = snn.fine_tune(digits.x_train, digits.y_train, timesteps=steps, epochs=1,
                          batch_size=32, learning_rate=1e-3, verbose=0)
    assert tuned.dyn_params["signed"] is True
    after = tuned.evaluate(digits.x_test, digits.y_test, timesteps=steps).accuracy
    assert after >= before + 0.02, (before, after)
    core = next(lay for lay in tuned.history.model.layers if isinstance(lay, keras.Model))
    cells = {lay.cell.name: lay.cell for lay in core.layers if isinstance(lay, SpikingRNN)}
    x = digits.x_test[:50]
    out = cell_path_model(tuned.specs, cells, all_layers=True)(
        ops.convert_to_tensor(np.repeat(x[:, None], steps, axis=1)), training=True)
    res = tuned.simulate(x, timesteps=steps, return_counts=True, batch_size=50)
    negative = 0
    for name, cell in tuned.cells.items():
        if cell.spiking:
            trains = ops.convert_to_numpy(out[name])
            np.testing.assert_array_equal(res.sample_counts[name], trains.sum(axis=1),
                                          err_msg=name)
            negative += int((trains < 0).sum())
    assert negative > 0


L = 7


def _qnet():
    """A quantized net (4-bit weights, L = 7 QCFS activations) with mixed-sign weights."""
    keras.utils.set_random_seed(1)
    inp = keras.Input((6, 6, 1), name="input")
    x = QuantizedConv2D(6, 3, weight_bits=4, name="c1")(inp)
    x = QuantizedReLU(levels=L, clip_value=0.8, name="r1")(x)
    x = keras.layers.Flatten(name="flat")(x)
    x = QuantizedDense(16, weight_bits=4, name="d1")(x)
    x = QuantizedReLU(levels=L, clip_value=1.3, name="r2")(x)
    return keras.Model(inp, QuantizedDense(3, weight_bits=4, name="out")(x))


def test_signed_neurons_reproduce_the_quantized_ann_at_T_equal_L():
    """At T = L the second layer's counts are the quantized ANN's levels wherever every
    step's current lies in [-theta, theta] (always, for signed neurons; plain IF neurons
    miss some of them)."""
    model = _qnet()
    x = np.random.default_rng(0).random((64, 6, 6, 1)).astype(np.float32)
    r2 = keras.Model(model.inputs, model.get_layer("r2").output).predict(x, verbose=0)
    levels = np.rint(r2 * L / 1.3)
    exact = {}
    for signed in (False, True):
        snn = tfsnn.convert(model, signed=signed)
        spikes = snn.run_cells(x, L)
        d1 = next(s for s in snn.specs if s.name == "d1")
        # per-step currents into d1 (theta = 1 after normalization)
        c1 = spikes["c1"].reshape(len(x), L, -1)
        cur = np.einsum("btk,kn->btn", c1.astype(np.float64), d1.kernel) + d1.bias
        bounded = np.all(np.abs(cur) <= 1.0, axis=1)
        counts = spikes["d1"].sum(axis=1)
        exact[signed] = counts == levels
        if signed:
            assert bounded.mean() > 0.5
            np.testing.assert_array_equal(counts[bounded], levels[bounded])
    assert exact[True].mean() > exact[False].mean()
