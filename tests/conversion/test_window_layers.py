"""Parsing and folding of DepthwiseConv2D, SeparableConv2D, Conv1D and the 1-D pooling
layers: the folded network computes what ``model.predict`` does (BatchNorm folded into the
depthwise kernel per channel and multiplier, into the separable pointwise kernel), and clear
errors for what the kinds do not cover."""

import keras
import numpy as np
import pytest

import tfsnn
from tfsnn.conversion import ConversionError
from tfsnn.conversion.forward import analog_forward
from tfsnn.conversion.parse import parse
from tfsnn.ir import LayerSpec
from tfsnn.ir.kernels import composed_kernel

L = keras.layers


def _random_bn(model, rng):
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 2.0, c), rng.uniform(-0.3, 0.3, c),
                               rng.normal(0, 0.3, c), rng.uniform(0.2, 2.0, c)])


def _mobile(use_bias):
    inp = keras.Input((9, 9, 3))
    x = L.Conv2D(4, 3, padding="same", use_bias=use_bias)(inp)
    x = L.BatchNormalization()(x)
    x = L.ReLU()(x)
    x = L.DepthwiseConv2D(3, depth_multiplier=2, strides=2, padding="same",
                          use_bias=use_bias, name="dw")(x)
    x = L.BatchNormalization(name="dw_bn")(x)
    x = L.Activation("relu")(x)
    x = L.DepthwiseConv2D(2, use_bias=use_bias, name="dw1")(x)  # multiplier 1, valid
    x = L.BatchNormalization(name="dw1_bn")(x)
    x = L.ReLU()(x)
    x = L.SeparableConv2D(5, 3, depth_multiplier=2, padding="same", use_bias=use_bias,
                          name="sep")(x)
    x = L.BatchNormalization(name="sep_bn")(x)
    x = L.ReLU()(x)
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inp, L.Dense(4, activation="softmax")(x))


def _signal():
    inp = keras.Input((20, 2))
    x = L.Conv1D(4, 5, padding="causal", activation="relu")(inp)
    x = L.MaxPooling1D(2)(x)
    x = L.Conv1D(6, 3, strides=2, padding="same", use_bias=False)(x)
    x = L.BatchNormalization()(x)
    x = L.ReLU()(x)
    x = L.AveragePooling1D(2, strides=1, padding="same")(x)
    x = L.Conv1D(4, 2, padding="valid", activation="relu")(x)
    x = L.GlobalAveragePooling1D()(x)
    return keras.Model(inp, L.Dense(3)(x))


@pytest.mark.parametrize("use_bias", [True, False])
def test_batchnorm_folds_into_depthwise_and_separable(use_bias):
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    model = _mobile(use_bias)
    _random_bn(model, rng)
    specs = parse(model)
    kinds = {s.name: s.kind for s in specs}
    assert kinds["dw"] == kinds["dw1"] == "depthwise_conv2d"
    assert kinds["sep"] == "separable_conv2d"
    named = {s.name: s for s in specs}
    assert named["dw"].source_layers == ["dw", "dw_bn", named["dw"].source_layers[-1]]
    assert named["dw"].kernel.shape == (3, 3, 4, 2) and named["dw"].bias.shape == (8,)
    assert named["sep"].depthwise_kernel.shape == (3, 3, 8, 2)
    assert named["sep"].kernel.shape == (1, 1, 16, 5)
    x = rng.uniform(0, 1, (6, 9, 9, 3)).astype("float32")
    out = analog_forward(specs, x, [specs[-1].name])[specs[-1].name]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.softmax(out)),
                               model.predict(x, verbose=0), rtol=1e-4, atol=1e-6)


def test_separable_composed_kernel_is_the_layer():
    """The composed kernel as a plain convolution gives the separable layer's output."""
    rng = np.random.default_rng(1)
    layer = L.SeparableConv2D(3, 3, depth_multiplier=2, padding="same", use_bias=False)
    x = rng.uniform(0, 1, (2, 6, 6, 4)).astype("float32")
    y = keras.ops.convert_to_numpy(layer(x))
    spec = LayerSpec("s", "separable_conv2d", ["x"], (6, 6, 4), (6, 6, 3),
                           kernel=np.asarray(layer.pointwise_kernel),
                           depthwise_kernel=np.asarray(layer.depthwise_kernel))
    z = keras.ops.conv(x, composed_kernel(spec), padding="same")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(z), y, rtol=1e-5, atol=1e-6)


def test_1d_layers_parse_and_fold_like_keras():
    rng = np.random.default_rng(2)
    keras.utils.set_random_seed(2)
    model = _signal()
    _random_bn(model, rng)
    specs = parse(model)
    assert [s.kind for s in specs] == ["input", "conv1d", "maxpool1d", "conv1d", "avgpool1d",
                                       "conv1d", "avgpool1d", "flatten", "dense"]
    assert [s.output_shape for s in specs][1:6] == [(20, 4), (10, 4), (5, 6), (5, 6), (4, 4)]
    x = rng.uniform(0, 1, (5, 20, 2)).astype("float32")
    out = analog_forward(specs, x, [specs[-1].name])[specs[-1].name]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out), model.predict(x, verbose=0),
                               rtol=1e-4, atol=1e-5)


def test_normalization_rescales_depthwise_and_separable_per_channel():
    """Channel-wise data normalization keeps the network's function: the readout is the
    ANN's output, whatever per-channel scales the depthwise and separable kernels took."""
    rng = np.random.default_rng(3)
    keras.utils.set_random_seed(3)
    model = _mobile(True)
    _random_bn(model, rng)
    x = rng.uniform(0, 1, (8, 9, 9, 3)).astype("float32")
    snn = tfsnn.convert(model, x, normalization="max", channelwise=True)
    lam = {s.name: s.config["lambda"] for s in snn.specs}
    assert np.ptp(lam["dw"]) > 0 and np.ptp(lam["sep"]) > 0  # really per channel
    out = analog_forward(snn.specs, x, [snn.output.name])[snn.output.name]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.softmax(out)),
                               model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


def _sequential(*layers, shape=(12, 2)):
    return keras.Sequential([keras.Input(shape), *layers, L.Flatten(), L.Dense(2)])


@pytest.mark.parametrize("make,match", [
    (lambda: _sequential(L.Conv1D(2, 3, dilation_rate=2)), "dilation_rate"),
    (lambda: _sequential(L.Conv1D(4, 3, groups=2)), "groups=2"),
    (lambda: _sequential(L.Conv1D(2, 3, data_format="channels_first"), shape=(2, 12)),
     "channels_last"),
    (lambda: _sequential(L.AveragePooling1D(2, data_format="channels_first"), shape=(2, 12)),
     "channels_last"),
    (lambda: _sequential(L.DepthwiseConv2D(3, dilation_rate=2), shape=(8, 8, 2)),
     "dilation_rate"),
    (lambda: _sequential(L.SeparableConv2D(2, 3, dilation_rate=2), shape=(8, 8, 2)),
     "dilation_rate"),
    (lambda: _sequential(L.DepthwiseConv2D(3, data_format="channels_first"), shape=(2, 8, 8)),
     "channels_last"),
    (lambda: _sequential(L.DepthwiseConv2D(3, activation="relu"), L.BatchNormalization(),
                         shape=(8, 8, 2)), "BatchNormalization"),
])
def test_unsupported_combinations_raise_clear_errors(make, match):
    with pytest.raises(ConversionError, match=match) as info:
        tfsnn.convert(make(), normalization=None)
    assert "is not supported" in str(info.value) or "fold" in str(info.value)
