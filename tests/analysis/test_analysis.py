"""Spike statistics, energy model and plots against hand-computed values."""

import math

import keras
import numpy as np
import pytest
from keras import ops

from tfsnn.analysis.energy import (
    ann_operations,
    energy_estimate,
    synaptic_fanout,
    window_connectivity,
)
from tfsnn.analysis.plots import PLOTS, save_all_plots
from tfsnn.analysis.statistics import layer_statistics, pearson, snn_activation_analysis
from tfsnn.conversion import convert
from tfsnn.simulation import LayerStats, SimulationResult

T = 8


# ----------------------------------------------------------------------------- statistics
@pytest.fixture(scope="module")
def tiny():
    """2 inputs -> 4 IF neurons -> 2 readout neurons, with spikes known by hand.

    Constant currents (V_0 = 0, theta = 1, T = 8): 1.5 and 1 spike at every step, 0.5 at
    t = 2, 4, 6, 8, 0.25 at t = 4, 8, 0 and -0.1 never.
    """
    inp = keras.Input((2,), name="input")
    h = keras.layers.Dense(4, activation="relu", name="hidden")(inp)
    out = keras.layers.Dense(2, name="out")(h)
    ann = keras.Model(inp, out)
    ann.get_layer("hidden").set_weights([
        np.array([[1.5, 0.5, 0.25, 0.0], [0.0, 0.25, 0.5, 0.0]], np.float32),
        np.array([0, 0, 0, -0.1], np.float32)])
    ann.get_layer("out").set_weights([
        np.array([[1, 0], [0, 0], [0, 1], [0, 0]], np.float32), np.zeros(2, np.float32)])
    snn = convert(ann, normalization=None, v_init=0.0)
    x = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    y = np.array([0, 1])
    return ann, snn, x, y


# per-image spike counts of the hidden layer, and its spikes per step (both images)
COUNTS = np.array([[8, 4, 2, 0], [0, 2, 4, 0]], np.float64)
STEPS = np.array([1, 3, 1, 5, 1, 3, 1, 5], np.float64)


def test_statistics_by_hand(tiny):
    ann, snn, x, y = tiny
    a = snn_activation_analysis(ann, snn, x, y, T, n_correlation=2, record_samples=1)
    d = a["layers"]["hidden"]
    assert list(a["layers"]) == ["hidden"]
    assert d["num_neurons"] == 4 and d["total_spikes"] == 20.0
    assert d["spikes_per_image"] == 10.0
    # mean/variance over the 8 (image, neuron) pairs: sum 20, sum of squares 104
    assert d["count_mean"] == pytest.approx(20 / 8)
    assert d["count_var"] == pytest.approx(104 / 8 - (20 / 8) ** 2)  # 6.75
    assert d["rate_mean"] == pytest.approx(20 / 8 / T)
    assert d["spike_time_histogram"] == STEPS.tolist()
    # sum t h_t = 100, sum t^2 h_t = 604 over 20 spikes
    assert d["spike_time_mean"] == pytest.approx(5.0)
    assert d["spike_time_var"] == pytest.approx(604 / 20 - 25.0)  # 5.2
    assert d["silent_neuron_fraction"] == 0.25  # the neuron with bias -0.1
    assert d["silent_pair_fraction"] == 3 / 8
    # ANN activations (lambda = 1): [1.5, .5, .25, 0], [0, .25, .5, 0]; clipped they equal
    # the rates exactly, unclipped the 1.5 lowers the correlation
    act = np.array([[1.5, 0.5, 0.25, 0.0], [0.0, 0.25, 0.5, 0.0]])
    rate = COUNTS / T
    assert d["rate_correlation"] == pytest.approx(1.0)
    assert d["rate_rmse"] == pytest.approx(0.0, abs=1e-12)
    assert d["rate_correlation_unclipped"] == pytest.approx(np.corrcoef(act.ravel(),
                                                                        rate.ravel())[0, 1])
    assert d["rate_correlation_unclipped"] < 0.99
    arr = a["_arrays"]["layers"]["hidden"]
    np.testing.assert_array_equal(arr["sample_counts"], COUNTS)
    np.testing.assert_array_equal(arr["neuron_counts"], COUNTS.sum(0))
    np.testing.assert_allclose(arr["ann_activation"], act)
    train = arr["spike_train"][:, 0]  # image 0: (T, 4)
    t = np.arange(1, T + 1)
    np.testing.assert_array_equal(train, np.stack([np.ones(T), t % 2 == 0, t % 4 == 0,
                                                   np.zeros(T)], 1))

    net = a["network"]
    # readout: class 0 integrates neuron 0, class 1 neuron 2. Image 0 is right at every
    # step; image 1 ties (0, 0) at t = 1 (argmax 0: wrong), then is right.
    assert net["accuracy_per_step"] == [0.5] + [1.0] * (T - 1)
    assert net["snn_accuracy"] == 1.0 and net["ann_accuracy"] == 1.0
    assert net["best_step"] == 2 and net["accuracy_loss"] == 0.0
    assert net["spikes_per_image"] == 10.0
    # readout scores V_T / T = [rate0, rate2] against the ANN logits [a0, a2]
    scores = np.array([[1.0, 0.25], [0.0, 0.5]])
    logits = np.array([[1.5, 0.25], [0.0, 0.5]])
    np.testing.assert_allclose(a["_arrays"]["readout"]["snn_scores"], scores)
    assert net["readout_correlation"] == pytest.approx(np.corrcoef(scores.ravel(),
                                                                   logits.ravel())[0, 1])
    # energy: hidden gets the analog input (2 x 4 MACs), the readout 20 spikes / 2 images x 2
    e = a["energy"]
    assert e["layers"]["hidden"]["snn_macs"] == 8 and e["layers"]["hidden"]["snn_acs"] == 0
    assert e["layers"]["out"]["snn_acs"] == 20.0
    assert e["ann"]["macs"] == 16
    assert e["snn"]["energy"] == pytest.approx(8 * 4.6e-12 + 20 * 0.9e-12)
    assert e["ratio"] == pytest.approx((8 * 4.6 + 20 * 0.9) / (16 * 4.6))


def test_statistics_reuse_given_result(tiny, monkeypatch):
    ann, snn, x, y = tiny
    res = snn.evaluate(x, y, timesteps=T, return_counts=True, record_spikes=1)
    monkeypatch.setattr(snn, "simulate", lambda *a, **k: pytest.fail("simulated again"))
    a = snn_activation_analysis(ann, snn, x, y, T, result=res, ann_accuracy=0.5,
                                n_correlation=2)
    assert a["network"]["ann_accuracy"] == 0.5
    assert a["layers"]["hidden"]["total_spikes"] == 20.0
    np.testing.assert_array_equal(a["_arrays"]["layers"]["hidden"]["sample_counts"], COUNTS)


def test_statistics_resimulate_when_result_does_not_fit(tiny):
    ann, snn, x, y = tiny
    res = snn.evaluate(x, y, timesteps=4)  # another T: not usable for T = 8
    a = snn_activation_analysis(ann, snn, x, y, T, result=res, n_correlation=1)
    assert a["layers"]["hidden"]["total_spikes"] == 20.0
    assert a["layers"]["hidden"]["n_correlation_samples"] == 1
    assert a["_arrays"]["layers"]["hidden"]["sample_counts"].shape == (1, 4)


def test_layer_statistics_without_spikes():
    st = LayerStats("l", 3, np.zeros(3), np.zeros(5), 0.0, 6)
    d = layer_statistics(st, 2, 5)
    assert d["total_spikes"] == 0 and d["count_var"] == 0
    assert math.isnan(d["spike_time_mean"]) and math.isnan(d["spike_time_var"])
    assert d["silent_neuron_fraction"] == 1.0 and d["silent_pair_fraction"] == 1.0
    with pytest.raises(ValueError, match="step_counts"):
        layer_statistics(st, 2, 4)


def test_pearson():
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(pearson([1, 1, 1], [1, 2, 3]))
    with pytest.raises(ValueError, match="correlate"):
        pearson([1, 2], [1, 2, 3])


def test_analysis_errors(tiny):
    ann, snn, x, y = tiny
    with pytest.raises(ValueError, match="samples"):
        snn_activation_analysis(ann, snn, x, y[:1], T)
    with pytest.raises(ValueError, match="at least one image"):
        snn_activation_analysis(ann, snn, x[:0], None, T)


# ----------------------------------------------------------------------------- energy
def test_window_connectivity_by_hand():
    # 4 inputs, 3x3 "same": output o sees inputs o-1..o+1 in bounds
    c = window_connectivity(4, 4, 3, 1, "same")
    assert c.sum(1).tolist() == [2, 3, 3, 2] and c.sum(0).tolist() == [2, 3, 3, 2]
    # 5 inputs, k 3, stride 2, "same": 3 outputs, pad 1 before: {0,1} {1,2,3} {3,4}
    c = window_connectivity(5, 3, 3, 2, "same")
    assert c.sum(1).tolist() == [2, 3, 2] and c.sum(0).tolist() == [1, 2, 1, 2, 1]
    # "valid", stride 2: {0,1,2} {2,3,4}
    c = window_connectivity(5, 2, 3, 2, "valid")
    assert c.sum(0).tolist() == [1, 1, 2, 1, 1]
    with pytest.raises(ValueError, match="padding"):
        window_connectivity(5, 2, 3, 2, "full")


def _conv_dense_snn():
    """Conv2D(2, 3x3, same) on 4x4x1 -> Flatten -> Dense(3)."""
    keras.utils.set_random_seed(0)
    ann = keras.Sequential([
        keras.Input((4, 4, 1)),
        keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="conv"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(3, name="dense")])
    return convert(ann, normalization=None)


def _result(snn, counts, n, input_mode):
    return SimulationResult(accuracy=None, accuracy_per_step=None, spike_counts={},
                            neuron_spike_counts=counts, num_samples=n, timesteps=10,
                            input_mode=input_mode, scores=np.zeros((n, 3)))


def test_energy_by_hand_conv_dense():
    snn = _conv_dense_snn()
    ops_ = ann_operations(snn.specs)
    # conv: (2+3+3+2)^2 = 100 in-bounds (output, input) position pairs x c_in 1 x c_out 2
    assert ops_["conv"] == {"macs": 200, "acs": 0}
    assert ops_["dense"] == {"macs": 32 * 3, "acs": 0}
    fan = synaptic_fanout(snn.specs)
    f_in = fan["conv"]["input"][..., 0]
    per_axis = np.array([2, 3, 3, 2])
    np.testing.assert_array_equal(f_in, np.outer(per_axis, per_axis) * 2)
    assert f_in[0, 0] == 8 and f_in[0, 1] == 12 and f_in[1, 1] == 18
    np.testing.assert_array_equal(fan["dense"]["conv"], np.full((4, 4, 2), 3.0))

    # constant input: conv = 200 MACs; dense gets sum(conv counts) * 3 / N accumulates
    conv_counts = np.arange(32, dtype=np.float64).reshape(4, 4, 2)  # sum 496, over N = 2
    e = energy_estimate(snn, _result(snn, {"input": np.ones((4, 4, 1)) * 20, "conv": conv_counts},
                                     2, "constant"))
    assert e["layers"]["conv"]["snn_macs"] == 200 and e["layers"]["conv"]["snn_acs"] == 0
    assert e["layers"]["dense"]["snn_acs"] == 496 * 3 / 2
    assert e["layers"]["dense"]["sources"] == {"conv": 744.0}
    assert e["ann"]["energy"] == pytest.approx((200 + 96) * 4.6e-12)
    assert e["snn"]["energy"] == pytest.approx(200 * 4.6e-12 + 744 * 0.9e-12)
    assert e["ratio"] == pytest.approx((200 * 4.6 + 744 * 0.9) / (296 * 4.6))
    assert e["layers"]["conv"]["neuron_updates"] == 32 * 10

    # Poisson input: the input spikes; corner, edge and interior pixels fan out 8, 12, 18
    inp = np.zeros((4, 4, 1))
    inp[0, 0], inp[0, 1], inp[1, 2] = 5, 1, 3
    e = energy_estimate(snn, _result(snn, {"input": inp, "conv": conv_counts}, 1, "poisson"),
                        e_mac=1.0, e_ac=2.0, e_neuron=0.5)
    assert e["layers"]["conv"]["snn_macs"] == 0
    assert e["layers"]["conv"]["snn_acs"] == 5 * 8 + 1 * 12 + 3 * 18
    assert e["layers"]["dense"]["snn_acs"] == 496 * 3
    assert e["snn"]["energy"] == pytest.approx(2.0 * (106 + 1488) + 0.5 * (32 + 3) * 10)
    assert e["params"]["e_ac"] == 2.0


def test_energy_average_pool_folded_into_fanout():
    keras.utils.set_random_seed(0)
    ann = keras.Sequential([
        keras.Input((4, 4, 1)),
        keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="conv"),
        keras.layers.AveragePooling2D(2, name="pool"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(3, name="dense")])
    snn = convert(ann, normalization=None)
    ops_ = ann_operations(snn.specs)
    assert ops_["pool"] == {"macs": 0, "acs": 4 * 4 * 2}  # 2x2x2 windows of 4 inputs
    assert ops_["dense"]["macs"] == 8 * 3
    fan = synaptic_fanout(snn.specs)
    # every conv neuron lies in one window, whose pooled unit reaches the 3 dense neurons
    np.testing.assert_array_equal(fan["dense"]["conv"], np.full((4, 4, 2), 3.0))
    e = energy_estimate(snn, _result(snn, {"input": np.ones((4, 4, 1)),
                                           "conv": np.ones((4, 4, 2))}, 1, "constant"))
    assert e["layers"]["pool"]["snn_acs"] == 0 and e["layers"]["pool"]["ann_acs"] == 32
    assert e["layers"]["dense"]["snn_acs"] == 32 * 3


def _brute_fanout(src_shape, fn):
    """Fan-out by brute force: the nonzero outputs of ``fn`` on each one-hot input."""
    n = int(np.prod(src_shape))
    eye = np.eye(n, dtype=np.float32).reshape((n,) + tuple(src_shape))
    out = ops.convert_to_numpy(fn(ops.convert_to_tensor(eye)))
    return (np.abs(out.reshape(n, -1)) > 0).sum(1).reshape(src_shape)


@pytest.mark.parametrize("pool, pstride, ppad, k2, s2, pad2", [
    (3, 2, "same", 2, 1, "valid"),   # overlapping windows: composed fan-out, no double count
    (2, 2, "valid", 3, 2, "same"),
    (3, 1, "valid", 3, 1, "same"),
])
def test_fanout_matches_brute_force(pool, pstride, ppad, k2, s2, pad2):
    keras.utils.set_random_seed(1)
    ann = keras.Sequential([
        keras.Input((7, 6, 1)),
        keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="conv1"),
        keras.layers.AveragePooling2D(pool, strides=pstride, padding=ppad, name="pool"),
        keras.layers.Conv2D(3, k2, strides=s2, padding=pad2, activation="relu", name="conv2"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(4, name="dense")])
    snn = convert(ann, normalization=None)
    fan = synaptic_fanout(snn.specs)
    pool_l, conv2 = ann.get_layer("pool"), ann.get_layer("conv2")
    ones = np.ones_like(conv2.get_weights()[0])

    def composed(x):  # pooling then conv2 with positive weights: no cancellation
        return ops.conv(pool_l(x), ones, strides=s2, padding=pad2)
    np.testing.assert_array_equal(fan["conv2"]["conv1"], _brute_fanout((7, 6, 2), composed))
    conv1 = ann.get_layer("conv1")
    k1 = np.ones_like(conv1.get_weights()[0])
    np.testing.assert_array_equal(fan["conv1"]["input"],
                                  _brute_fanout((7, 6, 1), lambda x: ops.conv(x, k1,
                                                                              padding="same")))
    # fan-outs sum to the ANN's MACs where no pooling sits in between
    assert fan["conv1"]["input"].sum() == ann_operations(snn.specs)["conv1"]["macs"]
    assert fan["dense"]["conv2"].sum() == ann_operations(snn.specs)["dense"]["macs"]


def test_energy_errors():
    snn = _conv_dense_snn()
    with pytest.raises(ValueError, match="e_ac"):
        energy_estimate(snn, _result(snn, {}, 1, "constant"), e_ac=-1)
    with pytest.raises(ValueError, match="no spike counts of layer 'conv'"):
        energy_estimate(snn, _result(snn, {"input": np.ones((4, 4, 1))}, 1, "constant"))
    with pytest.raises(ValueError, match="do not match"):
        energy_estimate(snn, _result(snn, {"conv": np.ones((2, 2, 2))}, 1, "constant"))


# ----------------------------------------------------------------------------- plots
def test_plots_write_png(tiny, tmp_path):
    ann, snn, x, y = tiny
    a = snn_activation_analysis(ann, snn, x, y, T, n_correlation=2)
    paths = save_all_plots(a, tmp_path / "plots")
    assert [p.stem for p in paths] == list(PLOTS)
    for p in paths:
        data = p.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, p
    with pytest.raises(ValueError, match="_arrays"):
        save_all_plots({k: v for k, v in a.items() if k != "_arrays"}, tmp_path)


def test_ttfs_correlation_decodes_spike_times(digits, trained_digits_cnn):
    """TTFS neurons spike once: the analysis correlates the decoded spike time, which tracks
    the ANN activation far better than the 0/1 count does."""
    snn = convert(trained_digits_cnn, digits.x_train[:200], encoding="ttfs", timesteps=60)
    x, y = digits.x_test[:48], digits.y_test[:48]
    a = snn_activation_analysis(trained_digits_cnn, snn, x, y, 60, n_correlation=48)
    assert a["network"]["snn_value"] == "decoded spike time"
    for name, d in a["layers"].items():
        arr = a["_arrays"]["layers"][name]
        counts_r = pearson(np.clip(arr["ann_activation"], 0, 1), arr["sample_counts"])
        assert d["rate_correlation"] > 0.95, (name, d["rate_correlation"])
        assert d["rate_correlation"] > counts_r + 0.02, (name, d["rate_correlation"], counts_r)
        assert d["rate_rmse"] < 0.1
    rate = snn_activation_analysis(trained_digits_cnn, convert(trained_digits_cnn,
                                                               digits.x_train[:200]),
                                   x, y, 60, n_correlation=8)
    assert rate["network"]["snn_value"] == "rate"
