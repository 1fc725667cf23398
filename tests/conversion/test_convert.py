"""``convert``: argument checks and repeated conversions."""

import keras
import numpy as np
import pytest

import tfsnn

pytestmark = pytest.mark.jax  # the conversion runs on every backend


def _mlp(rng):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="relu",
                                                                    name="h1"),
                              keras.layers.Dense(4, activation="relu", name="h2"),
                              keras.layers.Dense(3, name="out")])
    return model


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
