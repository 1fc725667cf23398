"""Failing examples found by the converter's property tests (``test_converter_fuzz``), reduced
and kept as regular tests: an explicit model and an explicit assertion each."""

import keras
import numpy as np
import pytest

import tfsnn
from tfsnn.simulation import FastPathOptions

T = 3


def _maxpool_of_the_input():
    """Max pooling right after the input: under constant input its "spikes" are the
    window maxima of the analog input at every step (it gates the running maximum of the
    input's counts, here ``t x``)."""
    ann = keras.Sequential([keras.Input((4, 4, 1)),
                            keras.layers.MaxPooling2D(2, name="pool"),
                            keras.layers.Flatten(name="flatten"),
                            keras.layers.Dense(2, name="out")])
    ann.get_layer("out").set_weights([np.full((4, 2), 0.25, "float32"),
                                      np.zeros(2, "float32")])
    x = (np.arange(32).reshape(2, 4, 4, 1) % 17 / 16).astype("float32")
    window_max = x.reshape(2, 2, 2, 2, 2, 1).max(axis=(2, 4))
    return tfsnn.convert(ann, normalization=None), x, window_max


def test_maxpool_of_the_constant_input_passes_the_window_maximum():
    snn, x, window_max = _maxpool_of_the_input()
    cells = snn.run_cells(x, T)["pool"]
    res = snn.simulate(x, T, record_spikes=2)
    for t in range(T):
        np.testing.assert_array_equal(cells[:, t], window_max)
        np.testing.assert_array_equal(res.spike_trains["pool"][t], window_max)


def test_maxpool_of_the_constant_input_counts_its_output():
    """Was wrong: a max pooling fed by the constant input was given the IF neurons' closed
    form counts (``constant_counts`` of a gate's state: zeros); gates are counted now."""
    snn, x, window_max = _maxpool_of_the_input()
    res = snn.simulate(x, T, return_counts=True)
    np.testing.assert_array_equal(res.sample_counts["pool"], T * window_max)


def test_maxpool_of_the_constant_input_step_totals():
    """Was wrong: per-step totals were cast to int32, cutting a gate's fractional output
    (``Layout.fractional`` layers are summed in float now)."""
    snn, x, window_max = _maxpool_of_the_input()
    res = snn.simulate(x, T)
    np.testing.assert_array_equal(res.layer_stats["pool"].step_counts,
                                  np.full(T, window_max.sum()))


def test_maxpool_after_average_pooling_step_totals():
    """Average pooling of spikes gives window means (multiples of 1/4 here); the max pool
    after it gates their running maximum, so its output per step is such a fraction."""
    ann = keras.Sequential([keras.Input((4, 4, 1)),
                            keras.layers.Conv2D(1, 1, activation="relu", name="conv"),
                            keras.layers.AveragePooling2D(2, name="avg"),
                            keras.layers.MaxPooling2D(2, name="pool"),
                            keras.layers.Flatten(name="flatten"),
                            keras.layers.Dense(2, name="out")])
    ann.get_layer("conv").set_weights([np.ones((1, 1, 1, 1), "float32"), np.zeros(1, "float32")])
    # one input pixel at full intensity: the conv neuron under it spikes at every step
    x = np.zeros((1, 4, 4, 1), "float32")
    x[0, 1, 2, 0] = 1.0
    snn = tfsnn.convert(ann, normalization=None)
    cells = snn.run_cells(x, T)["pool"]
    np.testing.assert_array_equal(cells.ravel(), np.full(T, 0.25))  # the pooled fraction
    res = snn.simulate(x, T)
    np.testing.assert_array_equal(res.layer_stats["pool"].step_counts, np.full(T, 0.25))


@pytest.mark.parametrize("fold, timesteps", [(True, 5), (False, 40)])  # 40: chunk_by_step
def test_one_image_through_a_one_pixel_wide_map(fold, timesteps):
    """Was an error on TensorFlow: ``keras.ops.add`` of two ``(1, H, 1, 1)`` count tensors
    became an NCHW ``bias_add`` that fails on CPU; counts are added with ``add_n`` now.
    A batch of one image and a layer whose map is H x 1 x 1 (H > 1) after the first
    spiking layer: the engine must run and count like the cell path."""
    ann = keras.Sequential([keras.Input((6, 4, 1)),
                            keras.layers.Conv2D(2, 2, activation="relu", name="conv1"),
                            keras.layers.Conv2D(1, 3, activation="relu", name="conv2"),
                            keras.layers.Flatten(name="flatten"),
                            keras.layers.Dense(2, name="out")])
    for layer in ann.layers:
        layer.set_weights([np.full(w.shape, 0.25, "float32") for w in layer.get_weights()])
    x = np.full((1, 6, 4, 1), 0.5, "float32")
    snn = tfsnn.convert(ann, normalization=None)
    assert snn.specs[2].output_shape == (3, 1, 1)
    snn.fast_path = FastPathOptions(fold=fold, chunk=timesteps)
    res = snn.simulate(x, timesteps, return_counts=True)
    np.testing.assert_array_equal(res.sample_counts["conv2"],
                                  snn.run_cells(x, timesteps)["conv2"].sum(1))


@pytest.mark.parametrize("fold, timesteps", [(None, 5), (True, 40), (False, 40)])
def test_one_image_through_max_pooling_of_a_one_pixel_wide_map(fold, timesteps):
    """A batch of one image, a conv layer whose map is 3 x 1 x 1 and a max pooling after
    it (the gate adds the conv's spikes to its running counts): the engine must run and
    count like the cell path, with the default options too. Was an error on TensorFlow:
    ``keras.ops.add`` of two ``(1, H, 1, 1)`` states became an NCHW ``bias_add``; the
    neurons add with ``tfsnn.backend.add`` now."""
    ann = keras.Sequential([keras.Input((5, 3, 1)),
                            keras.layers.Conv2D(1, 3, activation="relu", name="conv"),
                            keras.layers.MaxPooling2D(2, strides=1, padding="same",
                                                      name="pool"),
                            keras.layers.Flatten(name="flatten"),
                            keras.layers.Dense(2, name="out")])
    for layer in ann.layers:
        layer.set_weights([np.full(w.shape, 0.25, "float32") for w in layer.get_weights()])
    x = np.full((1, 5, 3, 1), 0.5, "float32")
    snn = tfsnn.convert(ann, normalization=None)
    assert snn.specs[1].output_shape == (3, 1, 1)
    snn.fast_path = FastPathOptions(fold=fold, chunk=None if fold is None else timesteps)
    res = snn.simulate(x, timesteps, return_counts=True)
    np.testing.assert_array_equal(res.sample_counts["pool"],
                                  snn.run_cells(x, timesteps)["pool"].sum(1))


def test_maxpool_of_the_constant_input_concatenated_and_average_pooled():
    """Was an error: the closed-form counts of a max pooling fed by the constant input were
    shaped like its input, so ``simulate`` failed to concatenate them when it summed an
    average pooling after a concatenation with that max pooling."""
    inp = keras.Input((6, 6, 2), name="input")
    pool = keras.layers.MaxPooling2D(2, padding="same", name="pool")(inp)
    conv = keras.layers.Conv2D(4, 2, padding="same", activation="relu", name="conv")(pool)
    cat = keras.layers.Concatenate(name="cat")([conv, pool])
    avg = keras.layers.AveragePooling2D(2, padding="same", name="avg")(cat)
    flat = keras.layers.Flatten(name="flatten")(avg)
    ann = keras.Model(inp, keras.layers.Dense(3, name="out")(flat))
    for layer in ann.layers:
        layer.set_weights([np.full(w.shape, 0.25, "float32") for w in layer.get_weights()])
    x = (np.arange(144).reshape(2, 6, 6, 2) % 17 / 16).astype("float32")
    snn = tfsnn.convert(ann, normalization=None)
    res = snn.simulate(x, T, return_counts=True)
    cells = snn.run_cells(x, T)
    for name in ("pool", "conv"):
        np.testing.assert_array_equal(res.sample_counts[name], cells[name].sum(1))
    np.testing.assert_allclose(res.neuron_spike_counts["avg"], cells["avg"].sum((0, 1)),
                               rtol=1e-6)
