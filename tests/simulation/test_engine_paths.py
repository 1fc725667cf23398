"""The fast simulation path against the step-by-step cell path, and chunking invariance.

The networks have weights and biases that are multiples of 1/64 and inputs that are multiples
of 1/16, so every float sum is exact whatever the summation order (folded or per-step
synaptic ops, any batch size): both paths must give the very same spikes.
Tests marked ``jax`` also run under ``KERAS_BACKEND=jax pytest -m jax``.
"""

import keras
import numpy as np
import pytest
from sim_helpers import exact_weights

import tfsnn
from tfsnn.ir import LayerSpec, by_name
from tfsnn.simulation import Engine, FastPathOptions
from tfsnn.simulation.layout import tiling_area

T = 23  # not a multiple of the chunk sizes below


def _cnn():
    return exact_weights(keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1"),
        keras.layers.AveragePooling2D(2, name="pool1"),
        keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv2"),
        keras.layers.MaxPooling2D(2, name="pool2"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(12, activation="relu", name="fc1"),
        keras.layers.Dense(5, activation="softmax", name="out"),
    ]))


def _mlp():
    return exact_weights(keras.Sequential([
        keras.Input((4, 4, 1)),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(10, activation="relu", name="fc1"),
        keras.layers.Dense(8, activation="relu", name="fc2"),
        keras.layers.Dense(3, name="out"),
    ]), seed=1)


def _images(shape, n=13, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 17, (n,) + shape) / 16).astype("float32")


def _snn(ann, v_init=0.5, **opts):
    snn = tfsnn.convert(ann, normalization=None, v_init=v_init)
    snn.fast_path = FastPathOptions(**opts)
    return snn


@pytest.fixture(scope="module")
def cnn_snn():
    return _snn(_cnn())


def _assert_same_as_cells(snn, x, mode, chunk, batch_size=None):
    ref = snn.run_cells(x, T, input_mode=mode, seed=5)
    res = snn.simulate(x, T, batch_size=batch_size or len(x), input_mode=mode, seed=5,
                       chunk=chunk, record_spikes=len(x), return_counts=True)
    spiking = [n for n in res.spike_trains if n != snn.input_spec.name]
    assert spiking and set(res.layer_stats) >= set(spiking)
    for name in spiking:
        trains = np.moveaxis(ref[name], 1, 0)  # (T, B, ...)
        n_rec = min(len(x), batch_size or len(x))  # trains are recorded from the first batch
        np.testing.assert_array_equal(res.spike_trains[name], trains[:, :n_rec], err_msg=name)
        np.testing.assert_array_equal(res.sample_counts[name], trains.sum(0), err_msg=name)
        np.testing.assert_array_equal(res.layer_stats[name].step_counts,
                                      trains.reshape(T, -1).sum(1), err_msg=name)
    out = ref[snn.output.name].reshape(len(x), T, -1)
    np.testing.assert_array_equal(res.predictions_per_step, out.argmax(-1).T)
    np.testing.assert_array_equal(res.scores, out[:, -1] / T)
    return res


FOLDS = [False, "synapses", True]


@pytest.mark.jax
@pytest.mark.parametrize("fold", FOLDS)
@pytest.mark.parametrize("chunk", [1, 4, T])
@pytest.mark.parametrize("mode", ["constant", "poisson"])
def test_fast_path_equals_cell_path_cnn(cnn_snn, mode, chunk, fold):
    cnn_snn.fast_path = FastPathOptions(fold=fold)
    res = _assert_same_as_cells(cnn_snn, _images((8, 8, 1)), mode, chunk)
    assert set(res.spike_counts) >= {"conv1", "conv2", "pool2", "fc1"}
    assert res.spike_counts["conv1"] > 0 and res.spike_counts["fc1"] > 0


@pytest.mark.jax
@pytest.mark.parametrize("fold", [False, True])
@pytest.mark.parametrize("mode", ["constant", "poisson"])
def test_fast_path_equals_cell_path_mlp(mode, fold):
    snn = _snn(_mlp(), v_init=0.0, fold=fold)
    _assert_same_as_cells(snn, _images((4, 4, 1), n=9), mode, chunk=7, batch_size=4)


def _concat_net():
    """The input concatenated with spikes: analog (constant mode) and spiking parts mix."""
    inp = keras.Input((6, 6, 1), name="input")
    a = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="conv_a")(inp)
    c = keras.layers.Concatenate(name="cat")([inp, a])
    p = keras.layers.AveragePooling2D(2, name="pool")(c)
    f = keras.layers.Flatten(name="flatten")(p)
    h = keras.layers.Dense(7, activation="relu", name="fc")(f)
    return exact_weights(keras.Model(inp, keras.layers.Dense(4, name="out")(h)), seed=2)


@pytest.mark.parametrize("fold", FOLDS)
@pytest.mark.parametrize("mode", ["constant", "poisson"])
def test_fast_path_equals_cell_path_concat(mode, fold):
    snn = _snn(_concat_net(), fold=fold)
    res = _assert_same_as_cells(snn, _images((6, 6, 1), n=5), mode, chunk=3)
    assert {"conv_a", "fc"} <= set(res.spike_counts)
    assert "pool" in res.neuron_spike_counts  # linear pooling: time-summed output


def test_long_chunk_runs_an_inner_loop(cnn_snn, monkeypatch):
    """Chunks longer than MAX_UNROLL loop instead of unrolling (step by step without
    folding, layer by layer with it): same spikes, and the loop strategy really ran."""
    from tfsnn.simulation import engine

    ran = []
    for name in ("chunk_by_step", "chunk_looped"):
        method = getattr(engine.Engine, name)
        monkeypatch.setattr(engine.Engine, name,
                            lambda self, *a, _m=method, _n=name: ran.append(_n) or _m(self, *a))
    monkeypatch.setattr(engine, "MAX_UNROLL", 3)
    for fold, strategy in ((False, "chunk_by_step"), (True, "chunk_looped")):
        cnn_snn.fast_path = FastPathOptions(fold=fold)
        cnn_snn._engines.clear()  # engines are cached per configuration
        ran.clear()
        for mode in ("constant", "poisson"):
            _assert_same_as_cells(cnn_snn, _images((8, 8, 1), n=5), mode, chunk=10)
        assert set(ran) == {strategy}, ran
    cnn_snn._engines.clear()


def _summary(res):
    return {"preds": res.predictions_per_step, "scores": res.scores,
            "counts": res.neuron_spike_counts, "spikes": res.spike_counts,
            "steps": {k: v.step_counts for k, v in res.layer_stats.items()},
            "sq": {k: v.sum_sq_counts for k, v in res.layer_stats.items()},
            "silent": {k: v.silent_pairs for k, v in res.layer_stats.items()}}


def _assert_same(a, b):
    fa, fb = keras.tree.flatten(_summary(a)), keras.tree.flatten(_summary(b))
    assert len(fa) == len(fb)
    for u, v in zip(fa, fb):
        np.testing.assert_array_equal(u, v)


@pytest.mark.jax
@pytest.mark.parametrize("mode", ["constant", "poisson"])
def test_chunking_and_batching_do_not_change_results(cnn_snn, mode):
    x = _images((8, 8, 1), n=11, seed=3)
    cnn_snn.fast_path = FastPathOptions()
    ref = cnn_snn.simulate(x, T, batch_size=11, input_mode=mode, seed=2, chunk=T)
    for fold in FOLDS:
        cnn_snn.fast_path = FastPathOptions(fold=fold)
        for chunk, bs in [(1, 11), (6, 4), (None, 7), (T, 3)]:
            res = cnn_snn.simulate(x, T, batch_size=bs, input_mode=mode, seed=2, chunk=chunk)
            _assert_same(ref, res)


@pytest.mark.jax
def test_poisson_spikes_independent_of_batching_and_chunking(cnn_snn):
    x = _images((8, 8, 1), n=6, seed=4)
    trains = []
    for fold, chunk, bs in [(False, 1, 6), (False, 5, 6), (True, 7, 6), (True, T, 6)]:
        cnn_snn.fast_path = FastPathOptions(fold=fold)
        res = cnn_snn.simulate(x, T, batch_size=bs, input_mode="poisson", seed=9,
                               chunk=chunk, record_spikes=6)
        trains.append(res.spike_trains["input"])
    for t in trains[1:]:
        np.testing.assert_array_equal(t, trains[0])
    # per-sample trains do not depend on the batch a sample is in (global sample index)
    counts = [cnn_snn.simulate(x, T, batch_size=bs, input_mode="poisson", seed=9,
                               return_counts=True).sample_counts["input"] for bs in (1, 4, 6)]
    for c in counts[1:]:
        np.testing.assert_array_equal(c, counts[0])
    # and they are Bernoulli(x): binary, mean rate close to the intensity
    assert set(np.unique(trains[0])) <= {0.0, 1.0}
    other = cnn_snn.simulate(x, T, input_mode="poisson", seed=10, record_spikes=6)
    assert not np.array_equal(other.spike_trains["input"], trains[0])


@pytest.mark.jax
@pytest.mark.parametrize("fold", [False, True])
@pytest.mark.parametrize("v_init", [0.0, 0.5])
@pytest.mark.parametrize("timesteps", [10, 37, 200])
def test_if_rate_equals_clipped_input_within_one_over_T(timesteps, v_init, fold):
    """A hidden IF layer driven by a constant current x fires at clip(x, 0, 1) +- 1/T."""
    x = np.linspace(-0.5, 1.5, 81, dtype="float32")
    n = len(x)
    ann = keras.Sequential([keras.Input((1,)),
                            keras.layers.Dense(n, activation="relu", name="hidden"),
                            keras.layers.Dense(2, name="out")])
    ann.get_layer("hidden").set_weights([np.zeros((1, n), "float32"), x])
    snn = _snn(ann, v_init=v_init, fold=fold)
    res = snn.simulate(np.zeros((3, 1), "float32"), timesteps, batch_size=2)
    rate = res.neuron_spike_counts["hidden"] / (3 * timesteps)
    err = np.abs(rate - np.clip(x, 0, 1))
    assert err.max() <= 1.0 / timesteps + 1e-6, err.max()
    assert res.layer_stats["hidden"].step_counts.shape == (timesteps,)


def test_constant_input_statistics(cnn_snn):
    """Analog input: counted as intensity x T, no per-step spikes; linear pooling summed."""
    x = _images((8, 8, 1), n=4)
    cnn_snn.fast_path = FastPathOptions()
    res = cnn_snn.simulate(x, T, return_counts=True)
    np.testing.assert_allclose(res.neuron_spike_counts["input"], x.sum(0) * T)
    assert "input" not in res.spike_counts
    c1 = res.sample_counts["conv1"]
    pooled = c1.reshape(4, 4, 2, 4, 2, 4).mean(axis=(2, 4))
    np.testing.assert_allclose(res.neuron_spike_counts["pool1"], pooled.sum(0), rtol=1e-6)
    stats = res.layer_stats["conv1"]
    assert stats.sum_sq_counts == pytest.approx(float((c1.astype(np.float64) ** 2).sum()))
    assert stats.silent_pairs == int((c1 == 0).sum())


def test_bad_options_raise(cnn_snn):
    x = _images((8, 8, 1), n=2)
    cnn_snn.fast_path = FastPathOptions()
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="chunk"):
            cnn_snn.simulate(x, T, chunk=bad)
    cnn_snn.fast_path = FastPathOptions(fold="layers")
    with pytest.raises(ValueError, match="fold"):
        cnn_snn.simulate(x, T)


def test_step_totals_of_a_tiled_layer_come_from_its_pool(cnn_snn):
    """conv1 (8x8) is tiled by pool1 (2x2): its per-step totals are 4 x the pooled sums."""
    snn = cnn_snn
    eng = Engine(snn, 10, 5, "constant", 0, False, "synapses", snn._unit_scales())
    assert eng.layout.tot_via == {"conv1": ("pool1", 4)}
    pool = by_name(snn.specs)["pool1"]
    src = by_name(snn.specs)["conv1"]
    assert tiling_area(pool, src) == 4
    for cfg in ({"pool_size": (3, 3), "strides": (3, 3)},   # area 9: window means inexact
                {"pool_size": (2, 2), "strides": (1, 1)},   # overlapping windows
                {"pool_size": (3, 2), "strides": (3, 2)}):  # 8 rows not divisible by 3
        spec = LayerSpec("p", "avgpool", ["conv1"], src.output_shape, (4, 4, 4), config=cfg)
        assert tiling_area(spec, src) == 0


@pytest.mark.jax
@pytest.mark.parametrize("mode", ["constant", "poisson"])
def test_accuracy_scored_on_the_device_equals_the_predictions(cnn_snn, mode):
    """``evaluate`` scores every step on the device; the per-step accuracy equals the one
    computed from the per-step predictions, whatever the batching (padding is masked)."""
    cnn_snn.fast_path = FastPathOptions()
    x = _images((8, 8, 1), n=13, seed=4)
    y = np.random.default_rng(4).integers(0, 5, len(x))
    ref = cnn_snn.simulate(x, T, batch_size=13, input_mode=mode, seed=1)
    expect = (ref.predictions_per_step == y[None]).mean(1)
    for bs in (13, 5):
        res = cnn_snn.evaluate(x, y, T, batch_size=bs, input_mode=mode, seed=1)
        assert res.predictions_per_step is None  # nothing of size T x N kept by default
        np.testing.assert_array_equal(res.accuracy_per_step, expect)
        assert res.accuracy == expect[-1]
        full = cnn_snn.evaluate(x, y, T, batch_size=bs, input_mode=mode, seed=1,
                                return_predictions=True)
        np.testing.assert_array_equal(full.predictions_per_step, ref.predictions_per_step)


def test_engine_returns_nothing_of_size_steps_times_batch_when_scoring(cnn_snn):
    """With labels and without predictions or recorded trains, every array an engine call
    returns is O(T) or O(B x neurons), never O(T x B): host memory is flat in T per image."""
    steps, b = 40, 6
    cnn_snn.fast_path = FastPathOptions()
    fn = cnn_snn.engine(steps, b, predictions=False, labels=True)
    x = _images((8, 8, 1), n=b, seed=2)
    out = fn(keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(np.int32(0)),
             keras.ops.convert_to_tensor(np.int32(0)), keras.ops.convert_to_tensor(np.int32(b)),
             keras.ops.convert_to_tensor(np.zeros(b, np.int32)))
    for path, a in keras.tree.flatten_with_path(out):
        shape = tuple(keras.ops.shape(a))
        assert not (steps in shape and b in shape), (path, shape)
    assert tuple(keras.ops.shape(out["correct"])) == (steps,)
