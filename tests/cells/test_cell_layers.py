"""Every named cell as a Keras user meets it: wrapped in ``keras.layers.RNN`` with only its
Keras-style arguments, built on data, trained a few steps with ``fit`` (the weights change)
and round-tripped through ``get_config`` (in the manner of Keras's ``run_layer_test``)."""

import keras
import numpy as np
import pytest

from tfsnn.cells import ENCODINGS, SpikingRNN, encoding_module
from tfsnn.cells.binding import CELL_NAMES

pytestmark = pytest.mark.jax

NAMES = sorted({n for pair in CELL_NAMES.values() for n in pair})
#: cells whose synaptic op is shared by every encoding's subclass: trained under rate coding
#: only (the other encodings build, run and round-trip them, in ``test_cell_runs_...``)
SHARED_OPS = {"LifNeuronCellConv1D", "LifNeuronCellAvgPool1D", "LifNeuronCellMaxPool1D",
              "LifNeuronCellDepthwiseConv2D", "LifNeuronCellSeparableConv2D",
              "LifNeuronCellAdd"}
TRAINED = [(e, n) for e in sorted(ENCODINGS) for n in NAMES
           if n not in SHARED_OPS or e == "rate"]
RUN_ONLY = [(e, n) for e in sorted(ENCODINGS) for n in sorted(SHARED_OPS) if e != "rate"]
B, H, C = 8, 6, 2


def _steps(encoding):
    # TTFS cells fire in the window after the one they integrate in (default window 10)
    return 3 if encoding == "rate" else 20


def _fit(model, x, y):
    before = [w.copy() for w in model.get_weights()]
    model.compile(keras.optimizers.SGD(0.5), "mse")
    model.fit(x, y, epochs=3, batch_size=B, verbose=0)
    after = model.get_weights()
    return any(not np.array_equal(a, b) for a, b in zip(before, after))


def _model(encoding, name, cell, T, rng):
    """A small model around the cell; pooling cells get a trainable conv in front."""
    if name in ("IntegratorNeuronCell", "LifNeuronCell"):
        inp = keras.Input((T, 5))
        out = keras.layers.RNN(cell, return_sequences=True)(inp)
        x = rng.random((2 * B, T, 5)).astype("float32")
    else:
        one_d = name.endswith("1D")
        space = (H,) if one_d else (H, H)
        inp = keras.Input((T,) + space + (C,))
        h = inp
        if "Pool" in name or "Add" in name:  # a residual sum of C = 2 maps (H, H)
            conv = keras.layers.Conv1D if one_d else keras.layers.Conv2D
            h = keras.layers.TimeDistributed(conv(C, 3, padding="same"))(h)
        out = SpikingRNN(cell, return_sequences=True)(h)
        x = rng.random((2 * B, T) + space + (C,)).astype("float32")
    out = keras.layers.Lambda(lambda t: keras.ops.mean(t, axis=1))(out)
    return keras.Model(inp, out), x


def _config_round_trip(cell):
    cfg = cell.get_config()
    clone = type(cell).from_config(cfg)
    assert clone.get_config() == cfg
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(cell))
    assert type(restored) is type(cell) and restored.get_config() == cfg


def _new_cell(cls, name):
    if name in ("IntegratorNeuronCell", "LifNeuronCell"):
        return cls(units=4)
    if name == "LifNeuronCellConv2D":
        return cls(filters=3, kernel_size=3)
    if name == "LifNeuronCellConv1D":
        return cls(filters=3, kernel_size=3, padding="causal")
    if name == "LifNeuronCellDepthwiseConv2D":
        return cls(kernel_size=3, depth_multiplier=2, padding="same")
    if name == "LifNeuronCellSeparableConv2D":
        return cls(filters=3, kernel_size=3, depth_multiplier=2, strides=2)
    if name == "LifNeuronCellAdd":
        return cls()
    return cls(pool_size=2)


@pytest.mark.parametrize("encoding,name", TRAINED)
def test_cell_builds_trains_and_round_trips(encoding, name):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    cls = getattr(encoding_module(encoding), name)
    assert cls.__name__ == name and cls.encoding == encoding
    cell = _new_cell(cls, name)
    T = _steps(encoding)
    model, x = _model(encoding, name, cell, T, rng)
    assert cell.built and cell.neuron_shape is not None
    y_shape = model.output_shape[1:]
    y = rng.random((len(x),) + tuple(y_shape)).astype("float32")
    assert _fit(model, x, y), f"{encoding}.{name}: fit did not change the weights"
    out = model.predict(x[:B], verbose=0)
    assert np.isfinite(out).all()
    _config_round_trip(cell)


@pytest.mark.parametrize("encoding,name", RUN_ONLY)
def test_cell_runs_and_round_trips(encoding, name):
    cls = getattr(encoding_module(encoding), name)
    assert cls.__name__ == name and cls.encoding == encoding
    cell = _new_cell(cls, name)
    model, x = _model(encoding, name, cell, _steps(encoding), np.random.default_rng(0))
    out = keras.ops.convert_to_numpy(model(x[:2]))
    assert np.isfinite(out).all() and out.shape[1:] == cell.neuron_shape
    _config_round_trip(cell)


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_conv_cell_in_plain_keras_rnn_infers_its_shape(encoding):
    """``keras.layers.RNN`` steps a conv cell built from Keras-style arguments only; the
    map size comes from the input (same/valid padding, strides)."""
    mod = encoding_module(encoding)
    x = np.random.default_rng(1).random((2, 4, 9, 9, 1)).astype("float32")
    for padding, strides, shape in (("valid", 1, (7, 7, 4)), ("same", 2, (5, 5, 4))):
        cell = mod.LifNeuronCellConv2D(filters=4, kernel_size=3, strides=strides,
                                       padding=padding)
        out = keras.layers.RNN(cell, return_sequences=True)(x)
        assert tuple(out.shape) == (2, 4) + shape
        assert set(np.unique(keras.ops.convert_to_numpy(out))) <= {0.0, 1.0}


def test_rate_lif_cell_spikes_with_default_weights():
    """A fresh LifNeuronCell has Keras-initialized, trainable weights, so it spikes."""
    cell = encoding_module("rate").LifNeuronCell(units=16)
    x = np.ones((4, 10, 8), "float32")
    out = keras.ops.convert_to_numpy(keras.layers.RNN(cell, return_sequences=True)(x))
    assert out.sum() > 0
    assert {w.name for w in cell.trainable_weights} == {"kernel", "bias"}


def test_declared_output_shape_is_checked():
    cell = encoding_module("rate").LifNeuronCellConv2D(filters=2, kernel_size=3,
                                                       output_shape=(5, 5, 2))
    with pytest.raises(ValueError, match="does not match"):
        cell.build((None, 8, 8, 1))
