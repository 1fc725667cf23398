"""Data-based normalization and the ANN forward pass it takes its scales from."""

import keras
import numpy as np
import pytest
from keras import ops

from tfsnn.conversion import analog_forward, parse
from tfsnn.conversion.forward import layer_forward
from tfsnn.conversion.normalize import NUM_BINS, compute_scales, normalize, propagate_scales
from tfsnn.ir import LayerSpec

pytestmark = pytest.mark.jax  # the conversion runs on every backend


def _np(x):
    return ops.convert_to_numpy(x)


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


def test_analog_forward_returns_only_the_requested_names(rng):
    specs = parse(_mlp(rng))
    x = rng.uniform(0, 1, (5, 6)).astype("float32")
    full = analog_forward(specs, x)
    assert list(full) == ["input", "h1", "h2", "out"]
    part = analog_forward(specs, x, ["h1"])
    assert list(part) == ["h1"]
    np.testing.assert_array_equal(_np(part["h1"]), _np(full["h1"]))


def test_layer_forward_rejects_unknown_kinds():
    spec = LayerSpec("odd", "residual", ["input"], (3,), (3,))
    with pytest.raises(ValueError, match="unknown layer kind 'residual'"):
        layer_forward(spec, [np.zeros((1, 3), np.float32)])


def test_scales_propagate_through_pooling_concat_and_flatten():
    specs = [LayerSpec("input", "input", [], (4, 4, 1), (4, 4, 1)),
             LayerSpec("a", "conv2d", ["input"], (4, 4, 1), (4, 4, 2),
                       kernel=np.ones((1, 1, 1, 2), np.float32), bias=np.zeros(2, np.float32),
                       activation="relu"),
             LayerSpec("b", "conv2d", ["input"], (4, 4, 1), (4, 4, 1),
                       kernel=np.ones((1, 1, 1, 1), np.float32), bias=np.zeros(1, np.float32),
                       activation="relu"),
             LayerSpec("cat", "concat", ["a", "b"], (4, 4, 2), (4, 4, 3)),
             LayerSpec("pool", "maxpool", ["cat"], (4, 4, 3), (2, 2, 3),
                       config={"pool_size": (2, 2), "strides": (2, 2), "padding": "valid"}),
             LayerSpec("flat", "flatten", ["pool"], (2, 2, 3), (12,)),
             LayerSpec("out", "dense", ["flat"], (12,), (2,), kernel=np.ones((12, 2), np.float32),
                       bias=np.zeros(2, np.float32), activation="linear", is_output=True)]
    lam = propagate_scales(specs, {"a": np.array([2.0, 3.0]), "b": np.array([5.0])})
    np.testing.assert_array_equal(lam["cat"], [2, 3, 5])
    np.testing.assert_array_equal(lam["pool"], [2, 3, 5])
    np.testing.assert_array_equal(lam["flat"], [2, 3, 5] * 4)
    np.testing.assert_array_equal(lam["out"], [1, 1])
