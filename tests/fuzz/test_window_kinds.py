"""The 1-D kinds (Conv1D with causal, same and valid padding, AveragePooling1D,
MaxPooling1D, GlobalAveragePooling1D, BatchNorm folded) through the fuzz checks: rates within
the proven bound of the ANN (``fuzz_checks``), identical spikes on both execution paths
(constant and Poisson input, folded or not) and an identical save/load round trip. The
depthwise and separable convolutions are drawn by the fuzz generator itself
(``test_converter_fuzz.py``, ``WINDOW_CONVS``)."""

import keras
import numpy as np
import pytest
from fuzz_checks import check_paths, check_rates, check_save_load, check_weights
from fuzz_nets import BN_EPS
from keras import ops

import tfsnn
from tfsnn.conversion.forward import analog_forward, layer_forward
from tfsnn.ir import walk
from tfsnn.simulation import FastPathOptions

L = keras.layers
T = 24


def _net():
    """Lengths 16 -> 16 (causal) -> 8 -> 4 -> 4 -> 4 -> global average (area 4: exact)."""
    inp = keras.Input((16, 2), name="input")
    x = L.Conv1D(4, 3, padding="causal", activation="relu", name="c1")(inp)
    x = L.AveragePooling1D(2, name="avg")(x)
    x = L.Conv1D(4, 3, strides=2, padding="same", name="c2")(x)
    x = L.BatchNormalization(epsilon=BN_EPS, name="bn")(x)
    x = L.ReLU(name="relu")(x)
    x = L.MaxPooling1D(3, strides=1, padding="same", name="max")(x)
    x = L.Conv1D(3, 1, activation="relu", name="c3")(x)
    x = L.GlobalAveragePooling1D(name="gap")(x)
    model = keras.Model(inp, L.Dense(3, activation="softmax", name="out")(x))
    rng = np.random.default_rng(0)
    for layer in model.layers:  # dyadic weights: every float sum exact (fuzz_nets)
        ws = layer.get_weights()
        if isinstance(layer, L.BatchNormalization):
            c = ws[0].shape
            ws = [rng.integers(-2, 7, c) / 4, rng.integers(-8, 17, c) / 64,
                  rng.integers(-16, 17, c) / 16, rng.choice([0.25, 1.0, 4.0], c) - BN_EPS]
        elif ws:
            m = max(1, round(64 / np.prod(ws[0].shape[:-1])))
            ws = [rng.integers(-m, m + m // 2 + 1, ws[0].shape) / 64,
                  rng.integers(-16, 25, ws[1].shape) / 64]
        layer.set_weights([np.asarray(w, "float32") for w in ws])
    return model


def _ideal(snn, x):
    """The ANN on the converted specs with every hidden layer of neurons clipped at 1 (an
    ideal rate-coded SNN's rates; no normalization: lambda = 1)."""
    def fn(s, ins):
        y = layer_forward(s, ins)
        return ops.minimum(y, 1.0) if s.row.weights and s is not snn.readout else y
    vals = walk(snn.specs, fn, {snn.specs[0].name: ops.convert_to_tensor(x)})
    return {k: np.asarray(ops.convert_to_numpy(v), np.float64) for k, v in vals.items()}


@pytest.fixture(scope="module")
def signal_net():
    ann = _net()
    x = (np.random.default_rng(1).integers(0, 17, (5, 16, 2)) / 16).astype("float32")
    return ann, x


def test_1d_kinds_rates_weights_and_save_load(signal_net):
    ann, x = signal_net
    snn = tfsnn.convert(ann, normalization=None, v_init=0.5)
    assert [s.kind for s in snn.specs][1:] == ["conv1d", "avgpool1d", "conv1d", "maxpool1d",
                                              "conv1d", "avgpool1d", "flatten", "dense"]
    ann_out = analog_forward(snn.specs, x, ["out"])["out"]  # the folded ANN is the ANN
    np.testing.assert_allclose(ops.convert_to_numpy(ops.softmax(ann_out)),
                               ann.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    exp = _ideal(snn, x)
    check_weights(snn, exp, tol=1e-6)
    outs = snn.run_cells(x, T)
    assert outs["c1"].sum() > 0 and outs["c3"].sum() > 0
    check_rates(snn, outs, exp, T, 0.5, tol=1e-6)
    check_save_load(snn, x, T, outs)


@pytest.mark.jax
@pytest.mark.parametrize("mode,fold", [("constant", False), ("poisson", True)])
def test_1d_kinds_same_spikes_on_both_paths(signal_net, mode, fold):
    ann, x = signal_net
    snn = tfsnn.convert(ann, normalization=None, v_init=0.25)
    snn.fast_path = FastPathOptions(fold=fold, chunk=5)
    outs = snn.run_cells(x, T, input_mode=mode, seed=3)
    labels = np.arange(len(x)) % snn.num_classes
    check_paths(snn, x, T, outs, batch_size=3, input_mode=mode, seed=3, labels=labels)
