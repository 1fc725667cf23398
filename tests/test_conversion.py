"""Parsing, folding and normalization."""

import keras
import numpy as np
import pytest
from keras import ops

import tfsnn
from tfsnn.conversion import ConversionError, analog_forward, parse
from tfsnn.conversion.normalize import NUM_BINS, compute_scales, normalize


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
    (keras.layers.ZeroPadding2D(1, name="pad"), "ZeroPadding2D"),
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


def _mlp(rng):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="relu",
                                                                    name="h1"),
                              keras.layers.Dense(4, activation="relu", name="h2"),
                              keras.layers.Dense(3, name="out")])
    return model


def test_normalization_modes_give_documented_scales(rng):
    model = _mlp(rng)
    specs = parse(model)
    x = rng.uniform(0, 1, (1000, 6)).astype("float32")
    acts = {k: _np(v) for k, v in analog_forward(specs, x).items()}
    lam_max = compute_scales(specs, x, "max")
    assert set(lam_max) == {"h1", "h2"}  # the readout is not normalized
    assert np.allclose(lam_max["h1"], acts["h1"].max())
    lam_max_c = compute_scales(specs, x, "max", channelwise=True)
    m = acts["h1"].max(0)
    np.testing.assert_allclose(lam_max_c["h1"], np.where(m > 0, m, 1.0), rtol=1e-6)  # dead: 1
    for p in (50.0, 99.0, 99.9):
        lam = compute_scales(specs, x, "percentile", percentile=p, batch_size=64)
        a = acts["h2"]
        pos = a[a > 0]
        lo, hi = np.percentile(pos, max(p - 0.1, 0)), np.percentile(pos, min(p + 0.1, 100))
        tol = a.max() / NUM_BINS
        assert lo - tol <= lam["h2"][0] <= hi + tol, (p, lam["h2"][0], lo, hi)
    lam_u = compute_scales(specs, x, "scale", scale={"h1": 2.0})
    assert lam_u["h1"][0] == 2.0 and lam_u["h2"][0] == 1.0
    # streaming: the batch size does not change the result
    a1 = compute_scales(specs, x, "percentile", batch_size=7)
    a2 = compute_scales(specs, x, "percentile", batch_size=1000)
    for k in a1:
        np.testing.assert_allclose(a1[k], a2[k], rtol=1e-6)


def test_normalized_network_computes_scaled_activations(rng):
    model = _mlp(rng)
    specs = parse(model)
    x = rng.uniform(0, 1, (200, 6)).astype("float32")
    nspecs, lam = normalize(specs, x, "max")
    a = {k: _np(v) for k, v in analog_forward(specs, x).items()}
    b = {k: _np(v) for k, v in analog_forward(nspecs, x).items()}
    np.testing.assert_allclose(b["h1"], a["h1"] / lam["h1"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b["h2"], a["h2"] / lam["h2"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b["out"], a["out"], rtol=1e-4, atol=1e-5)  # readout unscaled
    assert b["h1"].max() == pytest.approx(1.0, abs=1e-5)


def test_bad_normalization_arguments(rng):
    model = _mlp(rng)
    x = rng.uniform(0, 1, (10, 6)).astype("float32")
    with pytest.raises(ValueError, match="unknown normalization"):
        tfsnn.convert(model, x, normalization="mean")
    with pytest.raises(ValueError, match="percentile"):
        tfsnn.convert(model, x, normalization="percentile", percentile=0)
    with pytest.raises(ValueError, match="scale"):
        tfsnn.convert(model, x, normalization="scale")
    with pytest.raises(ValueError, match="unknown layers"):
        tfsnn.convert(model, x, normalization="scale", scale={"nope": 1.0})
    with pytest.raises(ValueError, match="unknown encoding"):
        tfsnn.convert(model, x, encoding="burst")
    with pytest.raises(ValueError, match=r"shape \(5,\).*expects \(6,\)"):
        tfsnn.convert(model, x[:, :5])
    bad = x.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        tfsnn.convert(model, bad)


def test_repeated_conversions_do_not_warn_about_retracing():
    """A sweep converts and simulates many models in one process: no retracing warnings."""
    import logging

    if keras.backend.backend() != "tensorflow":
        pytest.skip("TensorFlow's tf.function warning")
    import tensorflow as tf

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    tf.get_logger().addHandler(handler)
    try:
        m = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(6, activation="relu"), keras.layers.Dense(3)])
        x = np.random.default_rng(0).random((90, 4, 4, 1), dtype=np.float32)
        for i in range(7):
            snn = tfsnn.convert(m, x[:40 + 7 * i])
            snn.simulate(x[:10 + i], timesteps=5 + i)
    finally:
        tf.get_logger().removeHandler(handler)
    assert not [r for r in records if "retracing" in r.getMessage()]
