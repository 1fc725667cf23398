"""Parsing (the rule table) and folding."""

import keras
import numpy as np
import pytest
from keras import ops

from tfsnn.conversion import SUPPORTED_LAYERS, ConversionError, analog_forward, parse
from tfsnn.conversion.parse import RULES

pytestmark = pytest.mark.jax  # the conversion runs on every backend


def _np(x):
    return ops.convert_to_numpy(x)


def _randomize_bn(model, rng):
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.gamma.assign(rng.uniform(0.5, 2.0, c).astype("float32"))
            layer.beta.assign(rng.normal(0, 0.3, c).astype("float32"))
            layer.moving_mean.assign(rng.normal(0, 0.5, c).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.2, 3.0, c).astype("float32"))


def test_batchnorm_folding_reproduces_ann(rng):
    inp = keras.Input((10, 10, 2))
    x = keras.layers.Conv2D(4, 3, padding="same", name="c1")(inp)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.Activation("relu", name="r1")(x)
    x = keras.layers.Dropout(0.5, name="drop")(x)
    x = keras.layers.Conv2D(6, 3, strides=2, use_bias=False, name="c2")(x)
    x = keras.layers.BatchNormalization(name="bn2", epsilon=1e-2)(x)
    x = keras.layers.ReLU(name="r2")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(8, name="d1")(x)
    x = keras.layers.BatchNormalization(name="bn3")(x)
    x = keras.layers.Activation("relu")(x)
    out = keras.layers.Dense(3, name="out")(x)
    model = keras.Model(inp, out)
    _randomize_bn(model, rng)
    specs = parse(model)
    assert [s.kind for s in specs] == ["input", "conv2d", "conv2d", "flatten", "dense", "dense"]
    assert specs[1].source_layers == ["c1", "bn1", "r1", "drop"]
    x = rng.uniform(0, 1, (16, 10, 10, 2)).astype("float32")
    want = model.predict(x, verbose=0)
    got = _np(analog_forward(specs, x)["out"])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_globalavgpool_softmax_belongs_to_output(rng):
    inp = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(5, 3, activation="relu", name="conv")(inp)
    x = keras.layers.Conv2D(3, 1, name="conv_out")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    out = keras.layers.Activation("softmax", name="sm")(x)
    model = keras.Model(inp, out)
    specs = parse(model)
    by = {s.name: s for s in specs}
    assert by["conv"].activation == "relu"  # not replaced by the softmax
    assert by["conv_out"].activation == "linear"
    assert by["gap"].kind == "flatten" and by["gap"].is_output
    x = rng.uniform(0, 1, (4, 6, 6, 1)).astype("float32")
    logits = _np(analog_forward(specs, x)["gap"])
    np.testing.assert_allclose(_np(ops.softmax(logits)), model.predict(x, verbose=0),
                               rtol=1e-4, atol=1e-6)


def test_functional_concat_parses(rng):
    inp = keras.Input((5, 5, 1))
    a = keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="a")(inp)
    b = keras.layers.Conv2D(3, 1, activation="relu", name="b")(inp)
    c = keras.layers.Concatenate(name="cat")([a, b])
    f = keras.layers.Flatten()(c)
    out = keras.layers.Dense(4, activation="softmax", name="out")(f)
    model = keras.Model(inp, out)
    specs = parse(model)
    cat = [s for s in specs if s.kind == "concat"][0]
    assert cat.inputs == ["a", "b"] and cat.output_shape == (5, 5, 5)
    x = rng.uniform(0, 1, (3, 5, 5, 1)).astype("float32")
    np.testing.assert_allclose(_np(ops.softmax(analog_forward(specs, x)["out"])),
                               model.predict(x, verbose=0), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("layer,cls", [
    (keras.layers.UpSampling2D(2, name="up"), "UpSampling2D"),
    (keras.layers.Conv2D(2, 3, dilation_rate=2, activation="relu", name="dil"), "Conv2D"),
])
def test_unsupported_layer_error_names_layer_class_and_list(layer, cls):
    model = keras.Sequential([keras.Input((8, 8, 1)), layer, keras.layers.Flatten(),
                              keras.layers.Dense(2)])
    with pytest.raises(ConversionError) as e:
        parse(model)
    msg = str(e.value)
    assert layer.name in msg and cls in msg and "Supported layers" in msg and "Conv2D" in msg


def test_non_relu_hidden_activation_is_rejected():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="tanh",
                                                                     name="hid"),
                              keras.layers.Dense(2, activation="softmax")])
    with pytest.raises(ConversionError, match="hid.*tanh.*ReLU"):
        parse(model)


def test_batchnorm_after_relu_cannot_fold():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"),
                              keras.layers.BatchNormalization(name="late_bn"),
                              keras.layers.Dense(2)])
    with pytest.raises(ConversionError, match="late_bn"):
        parse(model)


def test_supported_layers_are_the_rule_table():
    assert SUPPORTED_LAYERS == tuple(RULES)
    assert SUPPORTED_LAYERS[:3] == ("InputLayer", "Dense", "Conv2D")


def test_relu_after_non_negative_layers_is_dropped(rng):
    model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.ReLU(name="r0"),
                              keras.layers.Conv2D(2, 3, activation="relu", name="c"),
                              keras.layers.MaxPooling2D(2, name="mp"),
                              keras.layers.ReLU(name="r1"), keras.layers.Flatten(name="f"),
                              keras.layers.Activation("relu", name="r2"),
                              keras.layers.Dense(3, name="out"), keras.layers.Softmax(name="sm")])
    specs = parse(model)
    by = {s.name: s for s in specs}
    assert [s.kind for s in specs] == ["input", "conv2d", "maxpool", "flatten", "dense"]
    assert by["input"].source_layers == ["input", "r0"]
    assert by["mp"].source_layers == ["mp", "r1"] and by["f"].source_layers == ["f", "r2"]
    assert by["out"].activation == "softmax" and by["out"].is_output
    x = rng.uniform(0, 1, (4, 6, 6, 1)).astype("float32")
    np.testing.assert_allclose(_np(ops.softmax(analog_forward(specs, x)["out"])),
                               model.predict(x, verbose=0), rtol=1e-4, atol=1e-6)


def test_shared_pre_activation_cannot_merge():
    inp = keras.Input((4,))
    d = keras.layers.Dense(3, name="d")(inp)
    r = keras.layers.ReLU(name="r")(d)
    out = keras.layers.Dense(2)(keras.layers.Concatenate()([r, d]))
    with pytest.raises(ConversionError, match="pre-activation output of 'd'"):
        parse(keras.Model(inp, out))
