"""Example models (layer structure, shapes, options) and ANN training/evaluation."""

import keras
import numpy as np
import pytest

from tfsnn.datasets import load_dataset
from tfsnn.layers import clamped_relu_factory
from tfsnn.models import MODELS, build_model
from tfsnn.training import ann_predict, evaluate_ann, train_ann


def _names(model):
    return [layer.name for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def test_registry_has_documented_models():
    assert {"mlp", "lenet", "vgg_small", "vgg11", "resnet20", "mobilenet"} <= set(MODELS)


@pytest.mark.parametrize("shape, conv2_out, flat", [((8, 8, 1), (4, 4), 64),
                                                    ((28, 28, 1), (10, 10), 400)])
def test_lenet_layers_and_shapes(shape, conv2_out, flat):
    m = build_model("lenet", shape, 10)
    assert _names(m) == ["conv1", "pool1", "conv2", "pool2", "flatten", "fc1", "fc2", "output"]
    assert m.input_shape == (None,) + shape and m.output_shape == (None, 10)
    assert m.get_layer("conv1").filters == 6 and m.get_layer("conv2").filters == 16
    assert m.get_layer("conv1").kernel_size == (5, 5)
    assert m.get_layer("conv2").output.shape[1:3] == conv2_out
    assert m.get_layer("flatten").output.shape[-1] == flat
    assert [m.get_layer(n).units for n in ("fc1", "fc2")] == [120, 84]
    assert isinstance(m.get_layer("pool1"), keras.layers.AveragePooling2D)
    assert m.get_layer("fc1").activation is keras.activations.relu
    assert m.get_layer("output").activation is keras.activations.softmax
    assert m.name == "lenet"


def test_lenet_options():
    m = build_model("lenet", (8, 8, 1), 5, pool="max", batchnorm=True, dropout=0.25)
    assert _names(m) == [
        "conv1", "conv1_bn", "conv1_act", "pool1", "conv2", "conv2_bn", "conv2_act", "pool2",
        "flatten", "fc1", "fc1_bn", "fc1_act", "dropout1", "fc2", "fc2_bn", "fc2_act",
        "dropout2", "output"]
    assert isinstance(m.get_layer("pool2"), keras.layers.MaxPooling2D)
    assert isinstance(m.get_layer("conv1_bn"), keras.layers.BatchNormalization)
    assert m.get_layer("conv1").activation is keras.activations.linear
    assert isinstance(m.get_layer("fc1_act"), keras.layers.Activation)
    assert m.get_layer("dropout1").rate == 0.25 and m.output_shape == (None, 5)
    with pytest.raises(ValueError, match="pool must be 'avg' or 'max'"):
        build_model("lenet", (8, 8, 1), 10, pool="min")


def test_activation_name_and_layer_factory():
    m = build_model("mlp", (8, 8, 1), 10, activation="tanh", dropout=0.0)
    assert _names(m) == ["flatten", "fc1", "fc2", "output"]
    assert m.get_layer("fc2").activation is keras.activations.tanh

    m = build_model("lenet", (28, 28, 1), 10,
                    activation=lambda: keras.layers.ReLU(max_value=1.0))
    assert _names(m) == ["conv1", "conv1_act", "pool1", "conv2", "conv2_act", "pool2",
                         "flatten", "fc1", "fc1_act", "fc2", "fc2_act", "output"]
    for n in ("conv1", "conv2", "fc1", "fc2"):
        assert m.get_layer(n).activation is keras.activations.linear
        assert isinstance(m.get_layer(f"{n}_act"), keras.layers.ReLU)
    assert m.get_layer("conv1_act") is not m.get_layer("fc2_act")
    # the clamp is really there: outputs of fc2_act lie in [0, 1]
    probe = keras.Model(m.inputs, m.get_layer("fc2_act").output)
    out = probe.predict(np.random.default_rng(0).random((4, 28, 28, 1)) * 50, verbose=0)
    assert out.min() >= 0.0 and out.max() <= 1.0

    # a layer class is a factory too; an activation function is used as activation=
    m = build_model("mlp", (64,), 10, activation=keras.layers.ReLU)
    assert isinstance(m.get_layer("fc1_act"), keras.layers.ReLU)
    m = build_model("mlp", (64,), 10, activation=keras.activations.relu)
    assert m.get_layer("fc1").activation is keras.activations.relu
    with pytest.raises(TypeError, match="factory"):
        build_model("mlp", (64,), 10, activation=keras.layers.ReLU())


def test_activity_l1_penalizes_hidden_activations_only():
    x = np.random.default_rng(0).random((3, 8, 8, 1)).astype("float32")
    plain = build_model("lenet", (8, 8, 1), 10)
    assert all(layer.activity_regularizer is None for layer in plain.layers)
    for kw, where in (({}, "{}"), ({"batchnorm": True}, "{}_act"),
                      ({"activation": clamped_relu_factory(0.1)}, "{}_act")):
        m = build_model("lenet", (8, 8, 1), 10, activity_l1=1e-3, **kw)
        hidden = ("conv1", "conv2", "fc1", "fc2")
        regs = [layer.name for layer in m.layers if layer.activity_regularizer is not None]
        assert regs == [where.format(n) for n in hidden]
        # the penalty is activity_l1 * sum |a| per sample, averaged over the batch
        m(x, training=True)
        probes = keras.Model(m.inputs[0], [m.get_layer(r).output for r in regs])
        acts = probes(x)
        expect = sum(1e-3 * float(np.abs(np.asarray(a)).sum()) / len(x) for a in acts)
        np.testing.assert_allclose(float(sum(m.losses)), expect, rtol=1e-4)
        assert m.get_layer("output").activity_regularizer is None
    m = build_model("mlp", (8, 8, 1), 10, activity_l1=1e-4)
    assert [la.name for la in m.layers if la.activity_regularizer is not None] == ["fc1", "fc2"]
    with pytest.raises(ValueError, match="activity_l1 must be >= 0"):
        build_model("mlp", (8, 8, 1), 10, activity_l1=-1)


def test_mlp_and_vgg_small_structure():
    m = build_model("mlp", (28, 28, 1), 10)
    assert _names(m) == ["flatten", "fc1", "dropout1", "fc2", "output"]
    assert [m.get_layer(n).units for n in ("fc1", "fc2", "output")] == [128, 64, 10]
    assert build_model("mlp", (7,), 3).output_shape == (None, 3)

    v = build_model("vgg_small", (32, 32, 3), 10)
    assert _names(v) == ["conv1_1", "conv1_2", "pool1", "conv2_1", "conv2_2", "pool2",
                         "conv3_1", "conv3_2", "pool3", "flatten", "fc1", "output"]
    assert v.get_layer("flatten").output.shape[-1] == 4 * 4 * 128
    assert v.get_layer("fc1").units == 256 and v.output_shape == (None, 10)
    assert isinstance(v.get_layer("pool1"), keras.layers.MaxPooling2D)


def test_build_model_errors():
    with pytest.raises(ValueError, match="unknown model 'resnet'.*lenet.*mlp.*vgg_small"):
        build_model("resnet", (8, 8, 1), 10)
    with pytest.raises(ValueError, match="does not accept colour.*accepted options"):
        build_model("lenet", (8, 8, 1), 10, colour=True)
    with pytest.raises(ValueError, match=r"needs an image input shape \(H, W, C\)"):
        build_model("lenet", (8, 8), 10)
    with pytest.raises(ValueError, match="at least 8x8"):
        build_model("vgg_small", (4, 4, 3), 10)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_short_training_on_digits(digits):
    keras.utils.set_random_seed(0)
    model = build_model("mlp", digits.input_shape, digits.num_classes)
    hist = train_ann(model, digits, epochs=2, batch_size=32, verbose=0)
    assert len(hist.history["loss"]) == 2 and "val_accuracy" in hist.history
    assert hist.history["loss"][1] < hist.history["loss"][0]
    acc = evaluate_ann(model, digits.x_test, digits.y_test)
    assert acc > 0.8, acc
    scores = ann_predict(model, digits.x_test[:5])
    assert scores.shape == (5, 10)
    np.testing.assert_allclose(scores.sum(1), 1.0, rtol=1e-4)
    # one-hot labels give the same accuracy
    assert evaluate_ann(model, digits.x_test, np.eye(10)[digits.y_test]) == acc


def test_early_stopping_restores_best_weights(digits):
    # validation = last 10% of the training data; wrong labels there make the validation
    # loss rise while training improves, so the best epoch is an early one
    x, y = digits.x_train[:300], digits.y_train[:300].copy()
    y[270:] = (y[270:] + 1) % 10
    data = (x, y, digits.x_test[:10], digits.y_test[:10])
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(
            (logs["val_loss"], [w.copy() for w in model.get_weights()])))
    keras.utils.set_random_seed(0)
    model = build_model("mlp", digits.input_shape, 10, dropout=0.0)
    hist = train_ann(model, data, epochs=4, batch_size=30, early_stopping=10,
                     learning_rate=3e-3, verbose=0, callbacks=[record])
    assert len(hist.history["loss"]) == 4
    best = int(np.argmin([v for v, _ in seen]))
    assert best < 3  # the last epoch is not the best one: restoring matters
    for w, w_best in zip(model.get_weights(), seen[best][1]):
        np.testing.assert_array_equal(w, w_best)

    keras.utils.set_random_seed(0)
    model = build_model("mlp", digits.input_shape, 10, dropout=0.0)
    seen.clear()
    hist = train_ann(model, data, epochs=20, batch_size=30, early_stopping=1,
                     learning_rate=3e-3, verbose=0, callbacks=[record])
    assert len(hist.history["loss"]) < 20  # stopped early


def test_shape_and_class_errors(digits):
    model = build_model("mlp", (28, 28, 1), 10)
    with pytest.raises(ValueError, match=r"shape \(8, 8, 1\) .*but model 'mlp' expects "
                                         r"\(28, 28, 1\)"):
        train_ann(model, digits, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"\(28, 28\).*\(28, 28, 1\).*channel axis"):
        ann_predict(model, np.zeros((2, 28, 28), np.float32))
    with pytest.raises(ValueError, match=r"model 'mlp' expects \(28, 28, 1\)"):
        evaluate_ann(model, digits.x_test, digits.y_test)
    small = build_model("mlp", (8, 8, 1), 3)
    with pytest.raises(ValueError, match="x has 360 samples but y has 3"):
        evaluate_ann(small, digits.x_test, digits.y_test[:3])
    with pytest.raises(ValueError, match="10 classes but model 'mlp' has only 3 outputs"):
        train_ann(small, digits, epochs=1, verbose=0)
    bad = np.zeros((2, 28, 28, 1), np.float32)
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="1 NaN"):
        ann_predict(model, bad)


def test_vgg11_structure_and_options():
    v = build_model("vgg11", (32, 32, 3), 10, width=4)
    convs = [la for la in v.layers if isinstance(la, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [4, 8, 16, 16, 32, 32, 32, 32]
    assert [c.name for c in convs][:3] == ["conv1_1", "conv2_1", "conv3_1"]
    pools = [la for la in v.layers if "pool" in la.name]
    assert len(pools) == 5 and all(isinstance(p, keras.layers.AveragePooling2D) for p in pools)
    assert isinstance(v.get_layer("conv1_1_bn"), keras.layers.BatchNormalization)
    assert v.get_layer("flatten").output.shape[-1] == 32 and v.get_layer("fc1").units == 32
    m = build_model("vgg11", (32, 32, 3), 10, width=4, pool="max", batchnorm=False, dense=20)
    assert isinstance(m.get_layer("pool5"), keras.layers.MaxPooling2D)
    assert m.get_layer("fc1").units == 20 and not any("_bn" in la.name for la in m.layers)
    assert build_model("vgg11", (32, 32, 3), 10).get_layer("conv5_2").filters == 512
    with pytest.raises(ValueError, match="width must be a positive integer"):
        build_model("vgg11", (32, 32, 3), 10, width=0)


def test_resnet20_blocks_shortcuts_and_pool_variant():
    r = build_model("resnet20", (32, 32, 3), 10, width=4)
    adds = [la for la in r.layers if isinstance(la, keras.layers.Add)]
    assert len(adds) == 9
    convs = [la for la in r.layers if isinstance(la, keras.layers.Conv2D)]
    assert len(convs) == 1 + 9 * 2 + 2  # stem, two per block, two projections
    proj = [c for c in convs if c.name.endswith("_proj")]
    assert [(c.name, c.kernel_size, c.strides, c.filters) for c in proj] == [
        ("block2_1_proj", (1, 1), (2, 2), 8), ("block3_1_proj", (1, 1), (2, 2), 16)]
    assert r.get_layer("block1_1_add").input[1] is r.get_layer("conv1_act").output  # identity
    assert r.get_layer("block3_3_act").output.shape[1:] == (8, 8, 16)
    assert isinstance(r.get_layer("gap"), keras.layers.GlobalAveragePooling2D)
    assert r.output_shape == (None, 10) and r.name == "resnet20"
    assert r.get_layer("block1_1_conv2").activation is keras.activations.linear
    m = build_model("resnet20", (32, 32, 3), 10, width=4, pool="max")
    assert [la.name for la in m.layers if isinstance(la, keras.layers.MaxPooling2D)] == [
        "pool2", "pool3"]
    assert all(c.strides == (1, 1) for c in m.layers if isinstance(c, keras.layers.Conv2D))
    assert m.get_layer("block3_3_act").output.shape[1:] == (8, 8, 16)
    with pytest.raises(ValueError, match="pool must be 'avg' or 'max'"):
        build_model("resnet20", (32, 32, 3), 10, pool="min")


def test_mobilenet_depthwise_and_separable():
    m = build_model("mobilenet", (32, 32, 3), 10, width=4)
    dws = [la for la in m.layers if isinstance(la, keras.layers.DepthwiseConv2D)]
    assert len(dws) == 7 and isinstance(m.get_layer("dw1_bn"), keras.layers.BatchNormalization)
    assert m.get_layer("pw7").filters == 64 and m.get_layer("pw7").kernel_size == (1, 1)
    assert m.get_layer("pw7_act").output.shape[1:] == (4, 4, 64)
    s = build_model("mobilenet", (32, 32, 3), 10, width=4, separable=True)
    seps = [la for la in s.layers if isinstance(la, keras.layers.SeparableConv2D)]
    assert [la.name for la in seps] == [f"sep{i}" for i in range(1, 8)]
    assert not any(isinstance(la, keras.layers.DepthwiseConv2D) for la in s.layers)
    x = np.random.default_rng(0).random((2, 32, 32, 3)).astype("float32")
    assert m.predict(x, verbose=0).shape == (2, 10)
