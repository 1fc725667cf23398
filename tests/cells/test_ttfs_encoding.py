"""Time-to-first-spike encodings: ttfs, ttfs_dyn_thresh, ttfs_clamped."""

import keras
import numpy as np
import pytest
from keras import ops

import tfsnn
from tfsnn.cells import SpikingRNN, encoding_module
from tfsnn.cells.synapse import avgpool2d, conv2d, dense, maxpool2d
from tfsnn.conversion import ConversionError
from tfsnn.layers import ClampedReLU, clamped_relu_factory
from tfsnn.neurons import TTFSParams

ENCODINGS = ("ttfs", "ttfs_dyn_thresh", "ttfs_clamped")
SPIKING = ("dense", "conv2d", "maxpool")


def _single_layer(encoding, n, window, cut=0.0, tau_theta=0.4):
    """A layer of ``n`` first-layer neurons, neuron i driven by input current x_i."""
    mod = encoding_module(encoding)
    cell = mod.LifNeuronCell(units=n, dyn_params={
        "window": window, "depth": 1, "first": True, "cut": cut, "in_cut": 0.0,
        "tau_theta": tau_theta})
    cell.build((None, n))
    cell.kernel.assign(np.eye(n, dtype="float32"))
    return cell


def _spike_steps(spikes):
    """(T, n) spikes -> first spike step per neuron (-1 = silent)."""
    fired = spikes.max(0) > 0
    return np.where(fired, spikes.argmax(0), -1)


@pytest.mark.jax
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_single_neuron_spikes_once_and_earlier_for_stronger_input(encoding):
    window = 16
    cut = 0.1 if encoding == "ttfs_clamped" else 0.0
    x = np.sort(np.concatenate([np.linspace(-0.5, 1.5, 201), np.geomspace(1e-3, 1, 300)]))
    x = x.astype("float32")
    cell = _single_layer(encoding, len(x), window, cut)
    seq = np.repeat(x[None, None], 3 * window, axis=1)
    spikes = ops.convert_to_numpy(SpikingRNN(cell, return_sequences=True)(seq))[0]
    assert set(np.unique(spikes)) <= {0.0, 1.0}
    assert spikes.sum(0).max() == 1  # at most one spike per neuron
    # only in the firing window (the second window for a first layer)
    assert spikes[:window].sum() == 0 and spikes[2 * window:].sum() == 0
    k = _spike_steps(spikes) - window
    fired = k >= 0
    assert not fired[x <= 0].any() and fired[x >= 1].all()
    t = np.where(fired, k, 10 * window)
    assert np.all(np.diff(t) <= 0), "spike time must not grow with the input"
    assert len(np.unique(k[fired])) == window  # every step of the window is used
    g = encoding_module(encoding).DYNAMICS.g
    params = TTFSParams(window=window, tau_theta=0.4)
    lo = cut if encoding == "ttfs_clamped" else 0.0
    decoded = ops.convert_to_numpy(g(k[fired].astype("float32"), lo, params))
    a = np.clip(x[fired], 0, 1)
    if encoding == "ttfs":  # rounding to the grid 1/window
        assert np.abs(decoded - a).max() <= 0.5 / window + 1e-6
        edge = np.abs(x - 0.5 / window) > 1e-6  # V = mean current: rounding at the edge
        np.testing.assert_array_equal(fired[edge], (x >= 0.5 / window)[edge])
    elif encoding == "ttfs_clamped":  # grid on [clamp, 1]; nothing below the clamp
        assert np.abs(decoded - a).max() <= 0.5 * (1 - cut) / (window - 1) + 1e-6
        edge = np.abs(x - cut) > 1e-6
        np.testing.assert_array_equal(fired[edge], (x >= cut)[edge])
    else:  # geometric grid: constant relative error
        assert np.abs(np.log(decoded / a)).max() <= 0.5 / (0.4 * window) + 1e-5


def test_maxpool_passes_the_first_spike_only():
    cell = encoding_module("ttfs").LifNeuronCellMaxPool2D(
        pool_size=2, output_shape=(1, 1, 1), dyn_params={"window": 4})
    cell.build((None, 2, 2, 1))
    seq = np.zeros((1, 6, 2, 2, 1), "float32")
    seq[0, 1, 0, 1, 0] = 1  # the earliest (largest) input
    seq[0, 3, 1, 1, 0] = 1
    seq[0, 3, 0, 0, 0] = 1
    out = ops.convert_to_numpy(SpikingRNN(cell, return_sequences=True)(seq))[0, :, 0, 0, 0]
    np.testing.assert_array_equal(out, [0, 1, 0, 0, 0, 0])


# ----------------------------------------------------------------------------- networks
def _dyadic(rng, shape, scale=8, denom=64):
    """Weights that are multiples of 1/denom: float sums are exact in any order."""
    return (np.round(rng.standard_normal(shape) * scale) / denom).astype("float32")


def _dyadic_cnn(clamp=None, seed=0):
    """conv -> avg pool -> conv -> max pool -> flatten -> dense -> dense (8x8x1 input)."""
    rng = np.random.default_rng(seed)

    def act():
        return ClampedReLU(clamp) if clamp else keras.layers.ReLU()

    m = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(4, 3, padding="same", name="conv1"), act(),
        keras.layers.AveragePooling2D(2, name="pool1"),
        keras.layers.Conv2D(4, 3, padding="same", name="conv2"), act(),
        keras.layers.MaxPooling2D(2, name="pool2"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(8, name="fc1"), act(),
        keras.layers.Dense(3, name="out"),
    ])
    for layer in m.layers:
        if layer.weights:
            k, b = layer.get_weights()
            layer.set_weights([_dyadic(rng, k.shape, 24), _dyadic(rng, b.shape, 4)])
    x = (np.round(rng.random((6, 8, 8, 1)) * 16) / 16).astype("float32")
    return m, x


def _reference(snn, x):
    """Layer-by-layer ANN with every activation rounded to the linear TTFS code (theta = 1):
    returns {layer: spike step inside its firing window (-1 = silent)}, the readout and
    {layer: the rounded activation}."""
    tau = snn.dyn_params["window"]
    steps, a, out = {}, {}, None
    for s in snn.specs:
        if s.kind == "input":
            a[s.name] = x
            continue
        src = a[s.inputs[0]]
        if s.kind == "flatten":
            a[s.name] = src.reshape(len(src), -1)
            continue
        if s.kind in ("maxpool", "avgpool"):
            f = (maxpool2d(src, s.config["pool_size"], s.config["strides"], "valid")
                 if s.kind == "maxpool" else
                 avgpool2d(src, s.config["pool_size"], s.config["strides"], "valid",
                           s.config["scale"]))
            a[s.name] = ops.convert_to_numpy(f)
            continue
        z = ops.convert_to_numpy(dense(src, s.kernel, s.bias) if s.kind == "dense" else
                                 conv2d(src, s.kernel, s.bias, (1, 1), "same"))
        if s is snn.readout:
            out = z
            continue
        p = s.config["dyn_params"]
        lo = p["cut"] if snn.encoding == "ttfs_clamped" else 0.0
        steps_ = tau - 1 if lo > 0 else tau
        g = 1 - (1 - lo) * np.arange(tau + 1, dtype="float32") / steps_
        thr = 1 - (1 - lo) * (np.arange(tau, dtype="float32") + 0.5) / steps_
        if lo > 0:
            thr[-1] = lo
        above = (z[..., None] >= thr) & (z[..., None] >= p["cut"])
        k = np.where(above.any(-1), above.argmax(-1), -1)
        steps[s.name] = k
        a[s.name] = np.where(k >= 0, g[k], 0.0).astype("float32")
    return steps, out, a


@pytest.mark.jax
@pytest.mark.parametrize("encoding, min_act", [("ttfs", 0.0), ("ttfs_clamped", 0.0),
                                               ("ttfs", 0.25), ("ttfs_clamped", 0.5625)])
def test_snn_computes_the_rounded_ann_exactly(encoding, min_act):
    m, x = _dyadic_cnn(clamp=0.125 if encoding == "ttfs_clamped" else None)
    snn = tfsnn.convert(m, None, encoding=encoding, normalization=None, window=8,
                        min_activation=min_act)
    assert snn.dyn_params["window"] == 8 and snn.dyn_params["latency"] == 32
    cuts = [s.config["dyn_params"]["cut"] for s in snn.specs
            if "dyn_params" in s.config and s is not snn.readout]
    assert cuts == [max(min_act, 0.125 if encoding == "ttfs_clamped" else 0.0)] * 3
    ref_steps, ref_out, _ = _reference(snn, x)
    T = 40
    cells = snn.run_cells(x, T)
    for s in snn.specs:
        if s.name not in ref_steps:
            continue
        d = s.config["dyn_params"]["depth"]
        got = _spike_steps(np.moveaxis(cells[s.name], 1, 0).reshape(T, -1))
        got = np.where(got >= 0, got - d * 8, -1)
        assert np.all((got >= 0) | (got == -1))
        np.testing.assert_array_equal(got, ref_steps[s.name].reshape(-1), err_msg=s.name)
    assert any((k >= 0).any() and (k == -1).any() for k in ref_steps.values())
    np.testing.assert_array_equal(cells["out"][:, -1] / T, ref_out)
    res = snn.evaluate(x, None, timesteps=T)
    np.testing.assert_array_equal(res.scores, ref_out)  # predict = the ANN's logits


@pytest.mark.parametrize("encoding", ["ttfs", "ttfs_clamped"])
def test_decoded_spike_times_are_the_rounded_activations(encoding):
    from tfsnn.analysis.statistics import decoded_values

    m, x = _dyadic_cnn(clamp=0.125 if encoding == "ttfs_clamped" else None)
    snn = tfsnn.convert(m, None, encoding=encoding, normalization=None, window=8)
    _, _, ref = _reference(snn, x)
    names = list(snn.simulate(x, timesteps=40).layer_stats)
    assert names == ["conv1", "conv2", "pool2", "fc1"]
    got = decoded_values(snn, x, names, 40, max_bytes=40 * 4 * 200)  # batches of 1-2 images
    for name in names:
        np.testing.assert_allclose(got[name], ref[name], atol=1e-6, err_msg=name)
    assert all(0 < (v > 0).mean() < 1 for v in got.values())


@pytest.mark.jax
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_fast_path_equals_cell_path_and_spikes_once(encoding):
    m, x = _dyadic_cnn(clamp=0.125 if encoding == "ttfs_clamped" else None, seed=1)
    snn = tfsnn.convert(m, x, encoding=encoding, normalization="scale", scale=2.0, window=7)
    T = 30  # the readout window ends at 28
    res = snn.evaluate(x, None, timesteps=T, record_spikes=len(x), chunk=4)
    cells = snn.run_cells(x, T)
    checked = 0
    for s in snn.specs:
        if s.kind not in SPIKING or s is snn.readout:
            continue
        fast = np.moveaxis(res.spike_trains[s.name], 0, 1)
        np.testing.assert_array_equal(fast, cells[s.name], err_msg=s.name)
        for spikes in (fast, cells[s.name]):
            assert set(np.unique(spikes)) <= {0.0, 1.0}
            assert spikes.sum(1).max() <= 1, f"{s.name} spikes more than once"
        assert cells[s.name].sum() > 0
        checked += 1
    assert checked == 4  # conv1, conv2, pool2, fc1
    out = np.moveaxis(cells["out"], 0, 1)  # (T, B, classes)
    unique = (out == out.max(-1, keepdims=True)).sum(-1) == 1  # argmax of ties is backend's
    assert unique[-1].all() and not unique[0].any()  # readout silent before its window
    np.testing.assert_array_equal(res.predictions_per_step[unique], out.argmax(-1)[unique])
    np.testing.assert_array_equal(res.scores, cells["out"][:, -1] / T)
    counts = {k: v for k, v in res.spike_counts.items()}
    assert counts == {k: float(cells[k].sum()) for k in counts}


@pytest.mark.jax
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_ttfs_close_to_ann_on_digits_with_few_spikes(encoding, digits, trained_digits_cnn):
    ann = trained_digits_cnn.predict(digits.x_test, verbose=0).argmax(1)
    extra = {"clamp": 0.05} if encoding == "ttfs_clamped" else {}
    snn = tfsnn.convert(trained_digits_cnn, digits.x_train[:500], encoding=encoding,
                        timesteps=100, **extra)
    res = snn.evaluate(digits.x_test, digits.y_test, timesteps=100, record_spikes=16)
    ann_acc = float(np.mean(ann == digits.y_test))
    margin = 0.03 if encoding == "ttfs_dyn_thresh" else 0.02
    assert res.accuracy >= ann_acc - margin, (res.accuracy, ann_acc)
    # at most one spike per neuron and sample, and far fewer than neurons
    for name, c in res.layer_stats.items():
        assert c.neuron_counts.max() <= len(digits.x_test), name
        assert c.sum_sq_counts == c.total_spikes, name  # all per-sample counts are 0 or 1
    n_neurons = sum(s.num_neurons for s in snn.specs if s.kind in SPIKING
                    and s is not snn.readout)
    assert 0 < res.spikes_per_image < n_neurons


@pytest.mark.jax
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_save_load_round_trip(encoding, tmp_path):
    m, x = _dyadic_cnn(clamp=0.125 if encoding == "ttfs_clamped" else None, seed=2)
    snn = tfsnn.convert(m, x, encoding=encoding, timesteps=40)
    path = tmp_path / f"{encoding}.keras"
    snn.save(path)
    snn2 = tfsnn.load_snn(path)
    assert snn2.encoding == encoding and snn2.dyn_params == snn.dyn_params
    for name, cell in snn.cells.items():
        assert type(snn2.cells[name]) is type(cell)
        assert snn2.cells[name].params == cell.params
    r1 = snn.evaluate(x, None, timesteps=40)
    r2 = snn2.evaluate(x, None, timesteps=40)
    np.testing.assert_array_equal(r1.predictions_per_step, r2.predictions_per_step)
    np.testing.assert_array_equal(r1.scores, r2.scores)
    assert r1.spike_counts == r2.spike_counts and r1.total_spikes > 0


# ----------------------------------------------------------------------------- errors
def _concat_model():
    inp = keras.Input((8, 8, 1))
    a = keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="a")(inp)
    b = keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="b")(inp)
    x = keras.layers.Concatenate(name="cat")([a, b])
    x = keras.layers.Flatten()(x)
    return keras.Model(inp, keras.layers.Dense(3, name="out")(x))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_unsupported_layers_fail_at_conversion(encoding):
    x = np.random.default_rng(0).random((4, 8, 8, 1)).astype("float32")
    with pytest.raises(ConversionError) as e:
        tfsnn.convert(_concat_model(), x, encoding=encoding,
                      **({"clamp": 0.1} if encoding == "ttfs_clamped" else {}))
    msg = str(e.value)
    assert "'cat'" in msg and "concat" in msg and repr(encoding) in msg
    assert "supported" in msg and "maxpool" in msg and "conv2d" in msg


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_bad_parameters_raise_clear_errors(encoding):
    m, x = _dyadic_cnn(clamp=0.125 if encoding == "ttfs_clamped" else None)
    with pytest.raises(ValueError, match="no leak"):
        tfsnn.convert(m, x, encoding=encoding, tau=20.0)
    with pytest.raises(ValueError, match=r"unknown parameter.*windw.*accepted"):
        tfsnn.convert(m, x, encoding=encoding, windw=5)
    with pytest.raises(ValueError, match="timesteps >= 4"):
        tfsnn.convert(m, x, encoding=encoding, timesteps=3)
    with pytest.raises(ValueError, match="window must be an integer >= 1"):
        tfsnn.convert(m, x, encoding=encoding, window=2.5)


def test_clamped_encoding_needs_a_clamp():
    m, x = _dyadic_cnn()
    with pytest.raises(ValueError, match="ClampedReLU.*clamp=.*'ttfs'"):
        tfsnn.convert(m, x, encoding="ttfs_clamped")
    snn = tfsnn.convert(m, x, encoding="ttfs_clamped", clamp=0.25, normalization=None)
    assert snn.specs[1].config["dyn_params"]["cut"] == 0.25
    with pytest.raises(ValueError, match="tau_theta"):
        tfsnn.convert(m, x, encoding="ttfs_dyn_thresh", tau_theta=0.0)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_min_activation_silences_weak_neurons(encoding):
    m, x = _dyadic_cnn(clamp=0.125 if encoding == "ttfs_clamped" else None, seed=3)
    spikes = []
    for min_act in (0.0, 0.3):
        snn = tfsnn.convert(m, x, encoding=encoding, window=8, min_activation=min_act)
        assert snn.dyn_params["min_activation"] == min_act
        cuts = [np.min(s.config["dyn_params"]["cut"]) for s in snn.specs
                if s.kind in ("conv2d", "dense") and s is not snn.readout]
        assert all(c >= min_act for c in cuts) and len(cuts) == 3
        spikes.append(snn.evaluate(x, None, timesteps=32).spikes_per_image)
    assert spikes[1] < spikes[0]  # exactness with a cut: test_snn_computes_the_rounded_...
    with pytest.raises(ValueError, match=r"min_activation must be in \[0, 1\)"):
        tfsnn.convert(m, x, encoding=encoding, window=8, min_activation=1.5)


def test_clamped_encoding_takes_min_activation_instead_of_a_clamp():
    m, x = _dyadic_cnn()
    snn = tfsnn.convert(m, x, encoding="ttfs_clamped", window=8, min_activation=0.25)
    assert all(s.config["dyn_params"]["cut"] == 0.25 for s in snn.specs
               if s.kind in ("conv2d", "dense") and s is not snn.readout)


def test_clamped_relu_factory_builds_convertible_models():
    from tfsnn.models import build_model

    f = clamped_relu_factory(0.2)
    assert repr(f) == "clamped_relu_factory(0.2)"
    m = build_model("lenet", (8, 8, 1), 10, activation=f)
    acts = [layer for layer in m.layers if isinstance(layer, ClampedReLU)]
    assert len(acts) == 4 and len({id(a) for a in acts}) == 4
    assert all(a.clamp == 0.2 for a in acts)
    specs = tfsnn.conversion.parse(m)
    hidden = [s for s in specs if s.kind in ("dense", "conv2d") and not s.is_output]
    assert all(s.activation == "clamped_relu" and s.config["clamp"] == 0.2 for s in hidden)
    with pytest.raises(ValueError, match="clamp"):
        clamped_relu_factory(-1)


@pytest.mark.jax
def test_readout_on_the_input_decodes_the_mean_current():
    rng = np.random.default_rng(3)
    m = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, name="out")])
    m.layers[0].set_weights([_dyadic(rng, (6, 3)), _dyadic(rng, (3,))])
    x = (np.round(rng.random((5, 6)) * 16) / 16).astype("float32")
    snn = tfsnn.convert(m, None, encoding="ttfs", normalization=None, window=4)
    assert snn.dyn_params["latency"] == 4
    res = snn.evaluate(x, None, timesteps=6)
    np.testing.assert_array_equal(res.scores, m.predict(x, verbose=0))


def test_clamped_relu_values_and_straight_through_gradient():
    x = np.array([-1.0, 0.05, 0.1, 0.3], "float32")
    for st, grad in ((True, [0, 1, 1, 1]), (False, [0, 0, 1, 1])):
        layer = ClampedReLU(0.1, straight_through=st)
        np.testing.assert_array_equal(ops.convert_to_numpy(layer(x)), np.where(x >= 0.1, x, 0))
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            xt = tf.constant(x)
            with tf.GradientTape() as tape:
                tape.watch(xt)
                y = tf.reduce_sum(layer(xt))
            g = tape.gradient(y, xt).numpy()
        else:
            import jax

            g = np.asarray(jax.grad(lambda v, lay=layer: lay(v).sum())(x))
        np.testing.assert_array_equal(g, grad)
        assert ClampedReLU.from_config(layer.get_config()).straight_through == st
