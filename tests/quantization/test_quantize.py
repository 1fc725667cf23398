"""``tfsnn.quantize``: rebuilding a model with quantized layers, bits per layer, calibration,
training and saving."""

import keras
import numpy as np
import pytest

import tfsnn
from tfsnn.models import build_model
from tfsnn.quantization import QuantizedConv2D, QuantizedDense, QuantizedReLU, mse_clip


def _model():
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(4, 3, activation="relu", name="c1"),
        keras.layers.MaxPooling2D(2, name="p1"),
        keras.layers.Flatten(name="f"),
        keras.layers.Dense(10, name="d1"),
        keras.layers.ReLU(name="r1"),
        keras.layers.Dense(3, activation="softmax", name="out"),
    ])


X = np.random.default_rng(0).random((40, 8, 8, 1)).astype(np.float32)


def test_quantize_replaces_layers_and_keeps_weights():
    m = _model()
    q = tfsnn.quantize(m, weight_bits=4, activation_bits=2, input_bits=8)
    kinds = {layer.name: type(layer) for layer in q.layers}
    assert kinds["c1"] is QuantizedConv2D and kinds["d1"] is QuantizedDense
    assert kinds["c1_relu"] is QuantizedReLU and kinds["r1"] is QuantizedReLU
    assert q.get_layer("c1").weight_bits == 8  # the input layer: input_bits
    assert q.get_layer("d1").weight_bits == q.get_layer("out").weight_bits == 4
    assert q.get_layer("c1").activation.__name__ == "linear"  # its ReLU is a layer now
    assert q.get_layer("r1").levels == 3
    np.testing.assert_array_equal(q.get_layer("d1").kernel.numpy(),
                                  m.get_layer("d1").kernel.numpy())
    # 8-bit weights and activations calibrated at the maximum: close to the float model
    q8 = tfsnn.quantize(m, 8, 8, 8, calibration_data=X, percentile=100)
    np.testing.assert_allclose(q8.predict(X, verbose=0), m.predict(X, verbose=0), atol=0.02)


def test_bits_per_layer_and_float_layers():
    q = tfsnn.quantize(_model(), weight_bits={"d1": 2}, activation_bits={"r1": 1},
                       input_bits=None)
    assert q.get_layer("c1").weight_bits is None and q.get_layer("d1").weight_bits == 2
    assert q.get_layer("r1").levels == 1
    assert q.get_layer("c1").activation.__name__ == "relu"  # float ReLU kept
    with pytest.raises(ValueError, match=r"weight_bits names unknown layers \['nope'\]"):
        tfsnn.quantize(_model(), weight_bits={"nope": 4})
    with pytest.raises(ValueError, match="activation_bits must be an integer from 1 to 16"):
        tfsnn.quantize(_model(), activation_bits=0)
    with pytest.raises(TypeError, match="keras.Model"):
        tfsnn.quantize("model.keras")


def test_calibration_sets_clip_to_the_percentile():
    m = _model()
    q = tfsnn.quantize(m, 4, 4, 8, calibration_data=X, percentile=99.0,
                       clip_init="percentile")
    acts = keras.Model(m.inputs, m.get_layer("r1").output).predict(X, verbose=0)
    assert q.get_layer("r1").clip_value == pytest.approx(np.percentile(acts[acts > 0], 99.0),
                                                         rel=1e-5)
    assert q.get_layer("c1_relu").clip_value > 0


def _qcfs_error(a, clip, levels):
    return np.square(a - clip / levels * np.clip(np.floor(a * levels / clip + 0.5), 0,
                                                 levels)).sum()


@pytest.mark.parametrize("bits", [2, 4])
def test_mse_calibration_minimizes_the_quantization_error(bits):
    m = _model()
    q = tfsnn.quantize(m, None, bits, None, calibration_data=X)  # clip_init="mse" default
    acts = keras.Model(m.inputs, m.get_layer("r1").output).predict(X, verbose=0)
    a = acts[acts > 0].astype(np.float64)
    levels, clip = 2 ** bits - 1, q.get_layer("r1").clip_value
    assert clip == pytest.approx(mse_clip(a, levels), rel=1e-6)
    # no clip on a fine grid of the whole range does better by more than 1 %
    grid = np.linspace(0.01, 1.0, 400) * a.max()
    best = min(_qcfs_error(a, c, levels) for c in grid)
    assert _qcfs_error(a, clip, levels) <= best * 1.01
    # fewer levels: a lower clip (rare large activations are given up for the many small)
    assert clip < np.percentile(a, 99.9)
    if bits == 2:
        assert _qcfs_error(a, clip, levels) < 0.8 * _qcfs_error(a, np.percentile(a, 99.9),
                                                                  levels)


def test_unknown_clip_init_is_refused():
    with pytest.raises(ValueError, match="clip_init must be one of"):
        tfsnn.quantize(_model(), 4, 4, 8, calibration_data=X, clip_init="max")


def test_quantization_aware_training_and_save_load(tmp_path):
    q = tfsnn.quantize(_model(), 4, 2, 8, calibration_data=X)
    y = (X.mean(axis=(1, 2, 3)) * 3).astype(int).clip(0, 2)
    q.compile("adam", "sparse_categorical_crossentropy")
    before = q.get_layer("r1").clip_value
    w0 = q.get_layer("d1").kernel.numpy().copy()
    q.fit(X, y, epochs=2, batch_size=8, verbose=0)
    assert q.get_layer("r1").clip_value != before  # the clip value trains
    assert not np.array_equal(q.get_layer("d1").kernel.numpy(), w0)
    path = tmp_path / "q.keras"
    q.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), q.predict(X, verbose=0),
                               rtol=1e-5, atol=1e-6)
    # re-quantizing a quantized model changes the bits and keeps the clip values
    q2 = tfsnn.quantize(loaded, weight_bits=2, activation_bits=1)
    assert q2.get_layer("d1").weight_bits == 2 and q2.get_layer("r1").levels == 1
    assert q2.get_layer("r1").clip_value == pytest.approx(loaded.get_layer("r1").clip_value)


def test_build_model_with_quant_activation():
    m = build_model("lenet", (8, 8, 1), 10, activation="quant",
                                 activation_levels=3)
    acts = [layer for layer in m.layers if isinstance(layer, QuantizedReLU)]
    assert len(acts) == 4 and all(a.levels == 3 for a in acts)
    with pytest.raises(ValueError, match="activation_levels"):
        build_model("lenet", (8, 8, 1), 10, activation="quant")
    with pytest.raises(ValueError, match="needs activation='quant'"):
        build_model("lenet", (8, 8, 1), 10, activation_levels=3)


def test_experiment_config_activation_levels():
    cfg = tfsnn.ExperimentConfig(activation="quant", activation_levels=3)
    assert cfg.activation_levels == 3 and "activation_levels" in cfg.stage_fields("ann")
    for kw in ({"activation": "quant"}, {"activation_levels": 3},
               {"activation": "quant", "activation_levels": 0}):
        with pytest.raises(ValueError, match="activation_levels"):
            tfsnn.ExperimentConfig(**kw)
