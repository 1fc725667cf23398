"""``convert``: what users pass is checked before any work, with errors that name the argument,
what was found and what is accepted."""

import math
import sys

import keras
import numpy as np
import pytest

import tfsnn

CONVERT_MODULE = sys.modules[tfsnn.convert.__module__]  # the module, not the function

pytestmark = pytest.mark.jax  # the conversion runs on every backend


def _cnn():
    keras.utils.set_random_seed(2)
    return keras.Sequential([keras.Input((4, 4, 1)),
                             keras.layers.Conv2D(2, 3, activation="relu", name="conv"),
                             keras.layers.Flatten(name="flatten"),
                             keras.layers.Dense(3, name="out")])


@pytest.fixture
def x(rng):
    return rng.random((12, 4, 4, 1), dtype=np.float32)


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if convert starts parsing (the first piece of work)."""
    def parse(ann):
        pytest.fail("convert parsed the model before refusing its arguments")
    monkeypatch.setattr(CONVERT_MODULE, "parse", parse)


@pytest.mark.parametrize("kind", ["uint8", "float"])
def test_normalization_set_of_8_bit_pixels_is_refused(x, kind):
    """It gave scales 250x too large, no spikes and chance accuracy, without a word."""
    pixels = np.round(x * 255)
    pixels = pixels.astype(np.uint8) if kind == "uint8" else pixels
    with pytest.raises(ValueError, match=r"normalization set x_norm .*\[0, 1\]: max 2\d\d: "
                                         r"looks like 8-bit .*x / 255"):
        tfsnn.convert(_cnn(), pixels)


def test_standardized_normalization_set_is_refused(x):
    with pytest.raises(ValueError, match=r"x_norm .*min -\d.*standardized"):
        tfsnn.convert(_cnn(), (x - x.mean()) / x.std())


def test_normalization_set_shape_errors_say_what_to_do(x):
    with pytest.raises(ValueError, match=r"x_norm has samples of shape \(4, 4\) .*expects "
                                         r"\(4, 4, 1\): add a channel axis"):
        tfsnn.convert(_cnn(), x[..., 0])
    with pytest.raises(ValueError, match=r"x_norm has no samples"):
        tfsnn.convert(_cnn(), x[:0])
    assert tfsnn.convert(_cnn(), x[0]).meta["lambdas"]  # one image without batch axis


@pytest.mark.parametrize("kw, match", [
    (dict(tresh=2.0), r"unknown parameter\(s\) \['tresh'\] for the 'rate' encoding \('tresh': "
                      r"did you mean 'threshold'\?\); accepted: its parameters \['signed'\], "
                      r"besides convert's arguments \[.*'threshold'"),
    (dict(window=5), r"\['window'\] for the 'rate' encoding"),
    (dict(encoding="ttfs", windw=5), r"'windw': did you mean 'window'\?.*accepted: its "
                                     r"parameters \['min_activation', 'timesteps', 'window'\]"),
    (dict(encoding="ttfs_clamped", clammp=0.1), r"did you mean 'clamp'\?"),
    (dict(percentage=99.0), r"did you mean 'percentile'\?"),
])
def test_misspelled_keywords_are_named_with_a_close_match(x, no_work, kw, match):
    """They vanished into ``**dyn_params``."""
    with pytest.raises(ValueError, match=match):
        tfsnn.convert(_cnn(), x, **kw)


@pytest.mark.parametrize("name, bad", [
    ("threshold", math.nan), ("threshold", math.inf), ("threshold", 0.0), ("threshold", "1"),
    ("v_init", math.nan), ("v_init", math.inf), ("v_init", -math.inf),
    ("tau", math.nan), ("tau", math.inf), ("tau", -5.0),
])
def test_non_finite_neuron_parameters_fail_before_any_work(x, no_work, name, bad):
    """NaN or inf gave a dead network (only ``<= 0`` was checked, and after normalization)."""
    with pytest.raises(ValueError, match=rf"^{name}\b.* must be a finite number"):
        tfsnn.convert(_cnn(), x, **{name: bad})


@pytest.mark.parametrize("percentile", ["99", 0, 100.5, math.nan, None])
def test_bad_percentile_is_named(x, no_work, percentile):
    """``percentile="99"`` was a TypeError from inside the histogram code."""
    with pytest.raises(ValueError, match=r"^percentile must be a number in \(0, 100\], got"):
        tfsnn.convert(_cnn(), x, percentile=percentile)


@pytest.mark.parametrize("value", [-1.0, 0.0, math.nan, math.inf, "2", True, None, [1.0, -1.0]])
def test_bad_per_layer_scale_is_named_not_replaced_by_one(x, value):
    """A negative, zero or NaN scale in the dict was replaced by 1 without a word."""
    with pytest.raises(ValueError, match=r"scale\['conv'\] must be a finite number > 0"):
        tfsnn.convert(_cnn(), x, normalization="scale", scale={"conv": value})


def test_scale_errors(x):
    with pytest.raises(ValueError, match=r"unknown layers \['conv2'\].*\['conv'\]"):
        tfsnn.convert(_cnn(), x, normalization="scale", scale={"conv2": 2.0})
    with pytest.raises(ValueError, match=r"scale\['conv'\] has 3 values but layer 'conv' has 2"):
        tfsnn.convert(_cnn(), x, normalization="scale", scale={"conv": [1.0, 2.0, 3.0]})
    for bad in (math.inf, -2.0, "2"):
        with pytest.raises(ValueError, match=r"^scale must be a finite number > 0"):
            tfsnn.convert(_cnn(), x, normalization="scale", scale=bad)
    snn = tfsnn.convert(_cnn(), x, normalization="scale", scale={"conv": [2.0, 4.0]})
    np.testing.assert_array_equal(snn.specs[1].config["lambda"], [2.0, 4.0])
