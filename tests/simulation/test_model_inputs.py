"""What users pass to ``SpikingModel`` (``evaluate``, ``simulate``, ``predict``, ``run_cells``)
and to ``load_snn``: labels in every accepted form, images outside [0, 1], missing axes,
empty input, and SNN files whose metadata lacks a key."""

import json
import zipfile

import keras
import numpy as np
import pytest

import tfsnn

T = 20
# each row's largest value is its class: the SNN below predicts argmax(x)
X = np.array([[0.9, 0.1, 0.2], [0.1, 0.8, 0.0], [0.0, 0.1, 0.9], [0.2, 0.95, 0.1]],
             np.float32)
Y = np.array([0, 1, 2, 1])


def argmax_ann():
    """3 inputs -> 3 IF neurons (identity) -> 3 readout neurons (identity)."""
    ann = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3, activation="relu",
                                                                  name="hidden"),
                            keras.layers.Dense(3, name="out")])
    for name in ("hidden", "out"):
        ann.get_layer(name).set_weights([np.eye(3, dtype="float32"), np.zeros(3, "float32")])
    return ann


@pytest.fixture(scope="module")
def snn():
    return tfsnn.convert(argmax_ann(), normalization=None, v_init=0.0)


@pytest.fixture(scope="module")
def image_snn():
    ann = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(name="flatten"),
                            keras.layers.Dense(3, name="out")])
    return tfsnn.convert(ann, normalization=None)


@pytest.mark.parametrize("labels", [Y, Y[:, None], Y.astype(float), np.eye(3)[Y]],
                         ids=["indices", "column", "floats", "one-hot"])
def test_every_label_form_gives_the_same_accuracy(snn, labels):
    """``(N, 1)`` labels (keras.datasets.cifar10) were argmax'd to 0: accuracy 0.25 here."""
    res = snn.evaluate(X, labels, timesteps=T, batch_size=4)
    assert res.accuracy == 1.0


@pytest.mark.parametrize("labels, match", [
    ([0, 1, 3, 1], r"labels go up to 3 but num_classes=3"),
    ([0, -1, 2, 1], r"negative labels"),
    ([0, 1.5, 2, 1], r"non-integer labels"),
    (["a", "b", "c", "b"], r"numeric class labels"),
    (np.eye(4)[[0, 1, 2, 1]], r"one-hot rows of width 4 .*3 classes"),
    ([0, np.nan, 2, 1], r"NaN"),
    ([0, 1, 2], r"x has 4 samples but y has 3 labels"),
])
def test_bad_labels_are_refused(snn, labels, match):
    with pytest.raises(ValueError, match=match):
        snn.evaluate(X, np.array(labels), timesteps=T, batch_size=4)


@pytest.mark.parametrize("scale", [255.0, -1.0], ids=["0-255", "negative"])
def test_images_outside_the_unit_interval_are_refused_everywhere(snn, scale):
    """Constant input of 0-255 images gave a wrong accuracy without a word."""
    bad = X * scale
    match = r"8-bit" if scale > 1 else r"standardized"
    for run in (lambda: snn.evaluate(bad, Y, timesteps=T), lambda: snn.simulate(bad, T),
                lambda: snn.predict(bad, T), lambda: snn.run_cells(bad, T)):
        with pytest.raises(ValueError, match=rf"x \(float32\) has values in .*{match}"):
            run()
    with pytest.raises(ValueError, match=r"8-bit"):
        snn.evaluate((X * 255).astype(np.uint8), Y, timesteps=T)


def test_empty_input_says_there_are_no_samples(snn):
    """It was "range() arg 3 must not be zero"."""
    for run in (lambda: snn.evaluate(X[:0], Y[:0], timesteps=T),
                lambda: snn.simulate(X[:0], T), lambda: snn.predict(X[:0], T)):
        with pytest.raises(ValueError, match=r"x has no samples \(array shape \(0, 3\)\)"):
            run()


def test_a_single_sample_without_batch_axis_is_one_sample(snn):
    """It was reported as "x has 3 samples but y has 1"."""
    assert snn.evaluate(X[2], [2], timesteps=T).accuracy == 1.0
    assert snn.evaluate(X[1], 1, timesteps=T).accuracy == 1.0
    assert snn.predict(X[0], T).shape == (1, 3)


def test_images_without_channel_axis_say_how_to_add_it(image_snn):
    x = np.full((5, 4, 4), 0.5, np.float32)
    with pytest.raises(ValueError, match=r"samples of shape \(4, 4\) .*expects \(4, 4, 1\): "
                                         r"add a channel axis \(x\[\.\.\., None\]\)"):
        image_snn.evaluate(x, np.zeros(5), timesteps=T)
    with pytest.raises(ValueError, match=r"x\[None, \.\.\., None\]"):
        image_snn.predict(x[0], T)
    assert image_snn.evaluate(x[..., None], np.zeros(5), timesteps=T).scores.shape == (5, 3)


def _rewrite_meta(src, dst, change):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "tfsnn_meta.json":
                meta = json.loads(data)
                change(meta)
                data = json.dumps(meta).encode()
            zout.writestr(item, data)


@pytest.mark.parametrize("change, match", [
    (lambda m: m.pop("specs"), r"not a tfsnn SNN file: metadata lacks 'specs'"),
    (lambda m: m.pop("encoding"), r"metadata lacks 'encoding'"),
    (lambda m: m["params"].pop("threshold"), r"metadata 'params' lacks 'threshold'"),
    (lambda m: m["specs"][1].pop("kind"), r"metadata 'specs'\[1\] lacks 'kind'"),
    (lambda m: m.update(specs=[]), r"'specs' is not a list of layers"),
    (lambda m: m.update(format=99), r"format 99; this tfsnn reads formats up to 1"),
    (lambda m: m["specs"][1].update(name="renamed"), r"layer metadata does not fit the model"),
])
def test_snn_file_with_incomplete_metadata_is_refused_clearly(snn, tmp_path, change, match):
    """A missing key was a bare ``KeyError: 'specs'``."""
    good = tmp_path / "good.keras"
    snn.save(good)
    bad = tmp_path / "bad.keras"
    _rewrite_meta(good, bad, change)
    with pytest.raises(ValueError, match=match):
        tfsnn.load_snn(bad)
    tfsnn.load_snn(good)
