"""The quantizers and the quantization-aware layers: arithmetic, gradients, serialization."""

import keras
import numpy as np
import pytest
from keras import ops

from tfsnn.quantization import (
    QuantizedConv2D,
    QuantizedDense,
    QuantizedReLU,
    fake_quantize_weights,
    integer_weights,
    levels_from_bits,
    qcfs,
    quantize_weights,
    weight_qmax,
)

pytestmark = pytest.mark.jax  # the layers run on every backend


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


def test_levels_and_qmax():
    assert [levels_from_bits(b) for b in (1, 2, 3, 4, 8)] == [1, 3, 7, 15, 255]
    assert [weight_qmax(b) for b in (1, 2, 4, 8)] == [1, 1, 7, 127]


def test_qcfs_levels_clip_and_half_level_shift():
    clip, L = 2.0, 3
    x = np.array([-1.0, 0.0, 0.33, 0.34, 0.99, 1.66, 1.67, 2.0, 5.0], np.float32)
    y = _np(qcfs(x, clip, L))
    # clip / L * clip(floor(x L / clip + 1/2), 0, L): steps at (k - 1/2) * clip / L
    expect = clip / L * np.clip(np.floor(x * L / clip + 0.5), 0, L)
    np.testing.assert_allclose(y, expect, rtol=1e-6)
    np.testing.assert_allclose(y, [0, 0, 0, 2 / 3, 2 / 3, 4 / 3, 2, 2, 2], rtol=1e-6)
    assert len(np.unique(_np(qcfs(np.linspace(-1, 3, 1001), clip, L)))) == L + 1


def test_weight_quantization_per_output_channel():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 3, 2, 4)).astype(np.float32) * np.array([0.1, 1, 10, 100])
    w_int, scale = (_np(v) for v in quantize_weights(w, 4))
    assert scale.shape == (1, 1, 1, 4)
    assert np.all(np.abs(w_int) <= 7) and np.all(w_int == np.round(w_int))
    # the largest weight of every channel is +-7, each channel has its own scale
    np.testing.assert_allclose(np.abs(w_int).reshape(-1, 4).max(0), 7)
    np.testing.assert_allclose(scale.ravel(), np.abs(w).reshape(-1, 4).max(0) / 7, rtol=1e-5)
    np.testing.assert_allclose(w_int * scale, w, atol=float(scale.max()) / 2 + 1e-6)
    # recovered from the quantized kernel after a per-output-channel rescale
    wq = w_int * scale * np.array([2.0, -0.5, 3.0, 1.0], np.float32)
    ints, s = integer_weights(wq, 4)
    np.testing.assert_array_equal(np.abs(ints), np.abs(w_int).astype(np.int32))
    np.testing.assert_allclose(ints * s, wq, rtol=1e-5, atol=1e-6)


def test_binary_weights():
    w = np.array([[0.5, -0.2], [-1.0, 0.1]], np.float32)
    w_int, scale = (_np(v) for v in quantize_weights(w, 1))
    np.testing.assert_array_equal(w_int, [[1, -1], [-1, 1]])
    np.testing.assert_allclose(scale.ravel(), [1.0, 0.2])


def test_straight_through_gradients():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("uses the gradient tape of the TensorFlow backend")
    import tensorflow as tf

    x = tf.constant([-0.5, 0.3, 0.9, 1.5], tf.float32)
    clip = tf.Variable(1.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = qcfs(x, clip, 3)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [0, 1, 1, 0])  # 1 on [0, clip]
    # d/dlambda: floor(x L / lambda + 1/2) / L - x / lambda inside, the level L / L = 1 above
    expect = (1 / 3 - 0.3) + (1 - 0.9) + 1.0
    assert float(tape.gradient(y, clip)) == pytest.approx(expect, rel=1e-5)
    w = tf.Variable(np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(fake_quantize_weights(w, 2) * np.arange(12).reshape(3, 4))
    np.testing.assert_allclose(tape.gradient(loss, w).numpy(), np.arange(12).reshape(3, 4))


def test_layers_compute_with_quantized_weights_and_round_trip(tmp_path):
    keras.utils.set_random_seed(0)
    inp = keras.Input((6, 6, 2))
    x = QuantizedConv2D(3, 3, weight_bits=2, name="c")(inp)
    x = QuantizedReLU(bits=2, clip_value=0.7, name="r")(x)
    x = keras.layers.Flatten()(x)
    out = QuantizedDense(4, weight_bits=4, name="d")(x)
    model = keras.Model(inp, out)
    conv = model.get_layer("c")
    w_int, scale = (_np(v) for v in conv.integer_kernel())
    assert set(np.unique(w_int)) <= {-1.0, 0.0, 1.0}
    xs = np.random.default_rng(1).random((5, 6, 6, 2)).astype(np.float32)
    ref = _np(ops.conv(xs, w_int * scale, padding="valid")) + _np(conv.bias)
    np.testing.assert_allclose(_np(conv(xs)), ref, rtol=1e-5, atol=1e-5)
    relu = model.get_layer("r")
    assert relu.levels == 3 and relu.clip_value == pytest.approx(0.7)
    for layer in (conv, relu, model.get_layer("d")):
        assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()
    path = tmp_path / "q.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(_np(loaded(xs)), _np(model(xs)), rtol=1e-6)
    assert loaded.get_layer("c").weight_bits == 2 and loaded.get_layer("r").levels == 3


@pytest.mark.parametrize("kwargs, match", [
    ({"bits": 0}, "activation bits"), ({}, "exactly one of bits and levels"),
    ({"levels": 0}, "levels"), ({"bits": 2, "clip_value": -1}, "clip_value"),
])
def test_quantized_relu_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        QuantizedReLU(**kwargs)


def test_weight_bits_errors():
    for bad in (0, 17, 2.5, True, "4"):
        with pytest.raises(ValueError, match="weight_bits"):
            QuantizedDense(3, weight_bits=bad)
