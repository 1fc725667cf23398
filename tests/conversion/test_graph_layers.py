"""Graph layers at conversion: residual ``Add`` (identity and projection shortcuts), ReLU6,
ZeroPadding2D / Cropping2D / Reshape, and input Rescaling / Normalization folded into the
first synaptic layer, each against ``model.predict`` and with the clear errors."""

import keras
import numpy as np
import pytest
from keras import ops

import tfsnn
from tfsnn.conversion import ConversionError
from tfsnn.conversion.forward import analog_forward
from tfsnn.conversion.normalize import normalize
from tfsnn.conversion.parse import parse


def _random_bn(model, seed=0):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, c), rng.uniform(-0.2, 0.3, c),
                               rng.uniform(-0.2, 0.2, c), rng.uniform(0.5, 1.5, c)])
    return model


def resnet_block_model():
    """Input -> conv; identity block (Activation after Add); projection block (stride 2,
    1x1 conv + BN shortcut; ReLU layer after Add); GAP; Dense softmax."""
    L = keras.layers
    inp = keras.Input((8, 8, 2), name="input")
    x = L.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(inp)
    y = L.Conv2D(4, 3, padding="same", name="b1_conv1")(x)
    y = L.ReLU(name="b1_relu1")(L.BatchNormalization(name="b1_bn1")(y))
    y = L.BatchNormalization(name="b1_bn2")(L.Conv2D(4, 3, padding="same", name="b1_conv2")(y))
    x = L.Activation("relu", name="b1_act")(L.Add(name="b1_add")([y, x]))
    y = L.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="b2_conv1")(x)
    y = L.Conv2D(6, 3, padding="same", name="b2_conv2")(y)
    p = L.BatchNormalization(name="b2_proj_bn")(L.Conv2D(6, 1, strides=2, name="b2_proj")(x))
    x = L.ReLU(name="b2_act")(L.Add(name="b2_add")([y, p]))
    x = L.GlobalAveragePooling2D(name="gap")(x)
    out = L.Dense(3, activation="softmax", name="out")(x)
    keras.utils.set_random_seed(0)
    return _random_bn(keras.Model(inp, out))


def _images(shape, n=8, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (n,) + shape).astype("float32")


def _np(t):
    return ops.convert_to_numpy(t)


def _assert_forward_is_predict(model, specs, x, softmax=True):
    out = analog_forward(specs, x)[next(s.name for s in specs if s.is_output)]
    out = ops.softmax(out) if softmax else out
    np.testing.assert_allclose(_np(out), model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


def test_add_parses_to_a_sum_with_branches_and_matches_predict():
    model = resnet_block_model()
    specs = {s.name: s for s in parse(model)}
    add1, add2 = specs["b1_add"], specs["b2_add"]
    assert add1.kind == "add" and add1.inputs == ["b1_conv2", "conv1"]
    assert add1.activation == "relu" and add1.source_layers == ["b1_add", "b1_act"]
    assert add2.inputs == ["b2_conv2", "b2_proj"] and add2.activation == "relu"
    # conv + BN without ReLU on a branch: no neurons of its own
    for name in ("b1_conv2", "b2_conv2", "b2_proj"):
        assert specs[name].activation is None and specs[name].is_branch
    assert specs["b2_proj"].source_layers == ["b2_proj", "b2_proj_bn"]
    assert not specs["conv1"].is_branch and specs["b1_conv1"].activation == "relu"
    _assert_forward_is_predict(model, list(specs.values()), _images((8, 8, 2)))


def test_residual_normalization_gives_both_branches_the_sum_scale():
    model = resnet_block_model()
    specs = parse(model)
    x = _images((8, 8, 2), 16)
    norm, lam = normalize(specs, x, mode="max", channelwise=True)
    named = {s.name: s for s in norm}
    for add, branch, identity in (("b1_add", "b1_conv2", "conv1"), ("b2_add", "b2_conv2", None)):
        assert not np.allclose(lam[add], 1.0)
        np.testing.assert_array_equal(lam[branch], lam[add])  # branch current in sum units
        scales = named[add].config["scales"]
        assert scales.shape == (lam[add].size, 2)
        if identity is not None:  # spikes of the shortcut times lambda_in / lambda_add
            np.testing.assert_allclose(scales[:, 1], lam[identity] / lam[add], rtol=1e-6)
        np.testing.assert_array_equal(scales[:, 0], 1.0)
    np.testing.assert_array_equal(lam["b2_proj"], lam["b2_add"])
    # the normalized network computes every layer's activation over its scale
    a, b = analog_forward(specs, x), analog_forward(norm, x)
    for name in ("conv1", "b1_add", "b2_add", "b2_proj", "b1_conv2"):
        shape = (1,) * (len(specs[0].output_shape)) + (-1,)
        np.testing.assert_allclose(_np(b[name]), _np(a[name]) / lam[name].reshape(shape),
                                   rtol=1e-4, atol=1e-5)
    assert np.max(_np(b["b1_add"])) == pytest.approx(1.0, rel=1e-5)


def _add_model(y_fn, act=True):
    L = keras.layers
    inp = keras.Input((6, 6, 2))
    x = L.Conv2D(2, 3, padding="same", activation="relu", name="c0")(inp)
    y = y_fn(x)
    z = L.Add(name="add")([x, y])
    if act:
        z = L.ReLU(name="act")(z)
    z = L.Flatten()(z)
    return keras.Model(inp, L.Dense(2, name="out")(z))


@pytest.mark.parametrize("build,match", [
    (lambda: _add_model(lambda x: keras.layers.Conv2D(1, 1, name="c1")(x)),
     "'add'.*one shape"),
    (lambda: _add_model(lambda x: keras.layers.Conv2D(2, 1, name="c1")(x), act=False),
     "'add'.*ReLU after the Add"),
    (lambda: _add_model(lambda x: keras.layers.Conv2D(2, 1, activation="tanh", name="c1")(x)),
     "'add'.*'c1'"),
])
def test_add_errors_name_the_problem(build, match):
    with pytest.raises(ConversionError, match=match):
        parse(build())


def test_branch_without_relu_feeding_more_than_the_add_is_refused():
    L = keras.layers
    inp = keras.Input((6, 6, 2))
    x = L.Conv2D(2, 3, padding="same", activation="relu", name="c0")(inp)
    y = L.Conv2D(2, 1, name="lin")(x)
    z = L.ReLU(name="act")(L.Add(name="add")([x, y]))
    z = L.Concatenate(name="cat")([z, y])
    model = keras.Model(inp, L.Dense(2, name="out")(L.Flatten()(z)))
    with pytest.raises(ConversionError, match="'lin'.*no activation.*only feed one Add"):
        parse(model)


def test_ttfs_refuses_add_clearly():
    with pytest.raises(ConversionError, match="'b1_add' \\(add\\).*'ttfs'"):
        tfsnn.convert(resnet_block_model(), normalization=None, encoding="ttfs")


def _relu6_model(kind):
    L = keras.layers
    if kind == "layer":
        acts = [L.Dense(6, name="fc"), L.ReLU(max_value=0.5, name="cap")]
    elif kind == "activation":
        acts = [L.Dense(6, name="fc"), L.Activation("relu6", name="cap")]
    else:
        acts = [L.Dense(6, activation="relu6", name="fc")]
    m = keras.Sequential([keras.Input((4,))] + acts + [L.Dense(2, name="out")])
    rng = np.random.default_rng(1)
    m.get_layer("fc").set_weights([rng.uniform(-1, 9, (4, 6)).astype("float32"),
                                   np.zeros(6, "float32")])
    return m


@pytest.mark.parametrize("kind,cap", [("layer", 0.5), ("activation", 6.0), ("inside", 6.0)])
def test_relu_max_value_is_a_capped_relu_and_caps_the_scale(kind, cap):
    model = _relu6_model(kind)
    specs = parse(model)
    fc = specs[1]
    assert fc.activation == "relu" and fc.config["max_value"] == cap
    x = _images((4,), 32)
    _assert_forward_is_predict(model, specs, x, softmax=False)
    assert _np(analog_forward(specs, x)["fc"]).max() == pytest.approx(cap)
    for mode in ("max", None):
        _, lam = normalize(specs, x, mode=mode, channelwise=True)
        assert np.all(lam["fc"] <= cap) and (mode is None or np.any(lam["fc"] == cap))


def test_relu_negative_slope_and_threshold_still_raise():
    for layer in (keras.layers.ReLU(negative_slope=0.1, name="leaky"),
                  keras.layers.ReLU(threshold=0.2, name="thr")):
        m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), layer,
                              keras.layers.Dense(2)])
        with pytest.raises(ConversionError, match=f"'{layer.name}'.*negative_slope"):
            parse(m)


def _norm_layer(kind, c):
    if kind == "rescaling":
        return keras.layers.Rescaling(2.0, offset=-0.5, name="pre")
    layer = keras.layers.Normalization(axis=-1, name="pre")
    layer.adapt(np.random.default_rng(2).normal(0.3, 0.7, (64, 5, 5, c)).astype("float32"))
    return layer


@pytest.mark.parametrize("kind", ["rescaling", "normalization"])
@pytest.mark.parametrize("first", ["conv_valid", "conv_same_1x1", "flatten_dense"])
def test_input_affine_folds_into_the_first_synaptic_layer(kind, first):
    L = keras.layers
    inp = keras.Input((5, 5, 3))
    x = _norm_layer(kind, 3)(inp)
    if first == "conv_valid":
        x = L.Flatten()(L.Conv2D(4, 3, activation="relu", name="first")(x))
    elif first == "conv_same_1x1":  # 'same' with a 1x1 kernel pads nothing
        x = L.Flatten()(L.Conv2D(4, 1, padding="same", activation="relu", name="first")(x))
    else:
        x = L.Dense(4, activation="relu", name="first")(L.Flatten()(x))
    model = keras.Model(inp, L.Dense(3, name="out")(x))
    specs = parse(model)
    assert [s.kind for s in specs].count("input") == 1 and "pre" in specs[0].source_layers
    assert all("affine" not in s.config for s in specs)
    _assert_forward_is_predict(model, specs, _images((5, 5, 3)), softmax=False)


def test_input_offset_before_a_padded_conv_is_refused():
    inp = keras.Input((5, 5, 1))
    x = keras.layers.Rescaling(1.0, offset=-0.5, name="pre")(inp)
    x = keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="first")(x)
    model = keras.Model(inp, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    with pytest.raises(ConversionError, match="offset.*'first'.*padding='same'"):
        parse(model)
    # a pure scale folds there
    inp = keras.Input((5, 5, 1))
    x = keras.layers.Rescaling(0.5, name="pre")(inp)
    x = keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="first")(x)
    model = keras.Model(inp, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    _assert_forward_is_predict(model, parse(model), _images((5, 5, 1)), softmax=False)


def test_input_affine_must_feed_a_synaptic_layer():
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Rescaling(2.0, name="pre"),
                              keras.layers.MaxPooling2D(2, name="pool"), keras.layers.Flatten(),
                              keras.layers.Dense(2)])
    with pytest.raises(ConversionError, match="'pool'.*Rescaling/Normalization"):
        parse(model)


def test_padding_cropping_reshape_match_predict():
    L = keras.layers
    model = keras.Sequential([
        keras.Input((6, 6, 2)),
        L.ZeroPadding2D(((1, 0), (2, 1)), name="pad"),
        L.Conv2D(4, 3, activation="relu", name="c1"),
        L.Cropping2D(((0, 1), (1, 1)), name="crop"),
        L.Reshape((4, 20), name="rs"),  # (4, 5, 4) -> rows of 20 = 5 positions x 4 maps
        L.Flatten(name="flat"),
        L.Dense(3, name="out"),
    ])
    specs = parse(model)
    assert [s.kind for s in specs][1:] == ["zeropad", "conv2d", "crop", "reshape", "flatten",
                                           "dense"]
    assert specs[1].config["padding"] == ((1, 0), (2, 1)) and specs[4].output_shape == (4, 20)
    x = _images((6, 6, 2))
    _assert_forward_is_predict(model, specs, x, softmax=False)
    norm, lam = normalize(specs, x, mode="max", channelwise=True)
    np.testing.assert_array_equal(lam["rs"], np.tile(lam["c1"], 5))
    np.testing.assert_allclose(_np(analog_forward(norm, x)["out"]),
                               model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


def test_reshape_that_mixes_channel_scales_is_refused():
    L = keras.layers
    model = keras.Sequential([keras.Input((3, 3, 2)), L.Conv2D(2, 1, activation="relu"),
                              L.Reshape((6, 3), name="rs"), L.Flatten(), L.Dense(2)])
    specs = parse(model)
    x = _images((3, 3, 2))
    with pytest.raises(ConversionError, match="'rs'.*channelwise=False"):
        normalize(specs, x, mode="max", channelwise=True)
    normalize(specs, x, mode="max", channelwise=False)


def test_relu6_cap_is_the_firing_rate_cap():
    """ReLU(max_value=0.5) normalized with lambda = 0.5: an IF neuron fires at most every
    step, so its rate is the ANN's clamped activation over lambda within 1/T, and the
    readout follows the ANN."""
    model = _relu6_model("layer")
    x = _images((4,), 16)
    snn = tfsnn.convert(model, x, normalization="max", v_init=0.5)
    fc = next(s for s in snn.specs if s.name == "fc")
    np.testing.assert_array_equal(fc.config["lambda"], 0.5)
    T = 40
    outs = snn.run_cells(x, T)
    a = _np(analog_forward(parse(model), x)["fc"]) / 0.5
    assert a.max() == 1.0 and (a == 1.0).mean() > 0.3  # many neurons at the cap
    np.testing.assert_array_less(np.abs(outs["fc"].sum(1) / T - a), 1.0 / T + 1e-6)
    w = np.abs(model.get_layer("out").get_weights()[0]).sum(0)
    scores = outs["out"][:, -1] / T
    assert np.all(np.abs(scores - model.predict(x, verbose=0)) < w * 0.5 / T + 1e-5)
