"""Calibration for short simulations: error-minimizing scales and bias calibration."""

import keras
import numpy as np
import pytest
from keras import ops

import tfsnn
from tfsnn.conversion import analog_forward, parse
from tfsnn.conversion.calibrate import (
    SCALE_GRID,
    _bias_target,
    calibrate_biases,
    calibration_errors,
    mse_scales,
)


def _conv_net():
    keras.utils.set_random_seed(3)
    inp = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="c1")(inp)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="c2")(x)
    x = keras.layers.AveragePooling2D(2, name="p")(x)
    x = keras.layers.Flatten(name="f")(x)
    x = keras.layers.Dense(12, activation="relu", name="d")(x)
    return keras.Model(inp, keras.layers.Dense(4, name="out")(x))


def _residual_net():
    keras.utils.set_random_seed(4)
    inp = keras.Input((6, 6, 2))
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inp)
    b = keras.layers.Conv2D(4, 3, padding="same", name="c2")(a)
    b = keras.layers.BatchNormalization(name="bn")(b)
    y = keras.layers.ReLU(name="act")(keras.layers.Add(name="add")([b, a]))
    y = keras.layers.GlobalAveragePooling2D(name="gap")(y)
    return keras.Model(inp, keras.layers.Dense(3, name="out")(y))


def _code_error(v, lam, t):
    u = np.clip(np.round(v * t / lam), 0, t)
    return float(((u * lam / t - v) ** 2).sum())


def test_mse_scales_minimize_the_rate_code_error(rng):
    model = _conv_net()
    specs = parse(model)
    x = rng.uniform(0, 1, (40, 8, 8, 1)).astype("float32")
    acts = {k: ops.convert_to_numpy(v) for k, v in analog_forward(specs, x).items()}
    for t in (2, 8):
        lam = mse_scales(specs, x, t, channelwise=False)
        assert set(lam) == {"c1", "c2", "d"}  # the readout is not normalized
        for name, value in lam.items():
            v = acts[name].ravel()
            brute = [_code_error(v, f * v.max(), t) for f in SCALE_GRID]
            assert np.all(value == value[0])
            assert _code_error(v, value[0], t) <= min(brute) * (1 + 1e-4)
    lam_c = mse_scales(specs, x, 4)
    v = acts["c1"].reshape(-1, 6)
    for c in range(6):  # channel-wise: each channel's own minimum
        brute = [_code_error(v[:, c], f * v[:, c].max(), 4) for f in SCALE_GRID]
        assert _code_error(v[:, c], lam_c["c1"][c], 4) <= min(brute) * (1 + 1e-4)
    # long simulations quantize finely: the scale moves up towards the maximum
    assert np.all(mse_scales(specs, x, 4096, False)["d"] >= lam["d"])
    assert mse_scales(specs, x, 1, False)["c1"][0] < acts["c1"].max()


def test_bias_calibration_reduces_the_mean_rate_error(rng):
    model = _conv_net()
    x = rng.uniform(0, 1, (64, 8, 8, 1)).astype("float32")
    snn = tfsnn.convert(model, x)
    before = calibration_errors(snn, x, 6)
    assert set(before) == {"c1", "c2", "d"}
    cal = calibrate_biases(snn, x, 6, rounds=2)
    after = calibration_errors(cal, x, 6, reference=snn.specs)
    size = {k: float(np.abs(v).sum()) for k, v in before.items()}
    assert float(np.abs(after["c2"]).sum()) < 0.5 * size["c2"]
    assert sum(float(np.abs(v).sum()) for v in after.values()) < 0.8 * sum(size.values())
    assert cal.meta["calibration"] == {"method": "bias", "timesteps": 6, "rounds": 2,
                                       "samples": 64}
    spec = {s.name: s for s in snn.specs}
    cspec = {s.name: s for s in cal.specs}
    np.testing.assert_array_equal(cspec["c1"].kernel, spec["c1"].kernel)
    assert not np.allclose(cspec["c2"].bias, spec["c2"].bias)
    np.testing.assert_array_equal(cspec["out"].bias, spec["out"].bias)  # readout: exact
    assert "calibration" not in snn.meta  # the input model is unchanged


def test_residual_sum_is_calibrated_through_its_branch(rng):
    model = _residual_net()
    x = rng.uniform(0, 1, (48, 6, 6, 2)).astype("float32")
    snn = tfsnn.convert(model, x)
    specs = {s.name: s for s in snn.specs}
    add = next(s for s in snn.specs if s.row.sums)
    target, scale = _bias_target(snn.specs, add)
    assert target is specs[add.inputs[0]] and target.activation is None
    assert scale.shape == (4,)
    before = calibration_errors(snn, x, 4)
    assert add.name in before
    cal = calibrate_biases(snn, x, 4, rounds=2)
    after = calibration_errors(cal, x, 4, reference=snn.specs)
    assert np.abs(after[add.name]).sum() < np.abs(before[add.name]).sum()


def test_convert_calibrate_option_and_errors(rng):
    model = _conv_net()
    x = rng.uniform(0, 1, (32, 8, 8, 1)).astype("float32")
    snn = tfsnn.convert(model, x, calibrate=4)
    assert snn.meta["calibration"]["timesteps"] == 4 and snn.meta["normalization"] == "scale"
    res = snn.evaluate(x, np.zeros(len(x), int), timesteps=4)
    assert res.accuracy_per_step.shape == (4,)
    with pytest.raises(ValueError, match="calibrate applies to rate coding"):
        tfsnn.convert(model, x, encoding="ttfs", calibrate=4)
    with pytest.raises(ValueError, match="calibrate needs a normalization set"):
        tfsnn.convert(model, None, calibrate=4)
    for bad in (0, 2.5, True, "8"):
        with pytest.raises(ValueError, match="calibrate must be None or the number"):
            tfsnn.convert(model, x, calibrate=bad)
