"""Rate-coded cells and the end-to-end rate SNN."""

import keras
import numpy as np
import pytest
from keras import ops

import tfsnn
from tfsnn.cells import SpikingRNN, rate


def _identity_layer(n, v_init=0.0, tau=None):
    cell = rate.LifNeuronCell(units=n, v_init=v_init, tau=tau)
    cell.build((None, n))
    cell.kernel.assign(np.eye(n, dtype="float32"))
    return cell


@pytest.mark.jax
@pytest.mark.parametrize("v_init", [0.0, 0.5])
@pytest.mark.parametrize("T", [10, 37, 200])
def test_if_rate_equals_clipped_relu_within_one_over_T(v_init, T):
    x = np.linspace(-0.5, 1.5, 81, dtype="float32")
    cell = _identity_layer(len(x), v_init)
    seq = np.repeat(x[None, None], T, axis=1)
    spikes = ops.convert_to_numpy(SpikingRNN(cell, return_sequences=True)(seq))[0]
    assert set(np.unique(spikes)) <= {0.0, 1.0}
    rate_ = spikes.sum(0) / T
    err = np.abs(rate_ - np.clip(x, 0, 1))
    assert err.max() <= 1.0 / T + 1e-6, err.max()


def test_leak_lowers_the_rate():
    x = np.full(4, 0.3, "float32")
    seq = np.repeat(x[None, None], 100, axis=1)
    r_if = ops.convert_to_numpy(keras.layers.RNN(_identity_layer(4), return_sequences=True)(seq))
    r_lif = ops.convert_to_numpy(keras.layers.RNN(_identity_layer(4, tau=5.0),
                                                  return_sequences=True)(seq))
    assert r_lif.sum() < r_if.sum()


@pytest.mark.jax
def test_maxpool_passes_spikes_of_the_most_active_input():
    cell = rate.LifNeuronCellMaxPool2D(pool_size=2, output_shape=(1, 1, 1))
    cell.build((None, 2, 2, 1))
    # input (0,0) spikes every step, (1,1) every other step, the rest never
    T = 8
    seq = np.zeros((1, T, 2, 2, 1), "float32")
    seq[0, :, 0, 0, 0] = 1
    seq[0, ::2, 1, 1, 0] = 1
    out = ops.convert_to_numpy(SpikingRNN(cell, return_sequences=True)(seq))
    np.testing.assert_array_equal(out[0, :, 0, 0, 0], np.ones(T))
    # the leader falls silent after a burst; the output count follows the largest count
    seq = np.zeros((1, T, 2, 2, 1), "float32")
    seq[0, :3, 0, 0, 0] = 1  # 3 early spikes
    seq[0, 2:, 0, 1, 0] = 1  # steady spiker takes the lead at step 5
    out = ops.convert_to_numpy(SpikingRNN(cell, return_sequences=True)(seq))[0, :, 0, 0, 0]
    np.testing.assert_array_equal(out, [1, 1, 1, 0, 0, 1, 1, 1])


@pytest.mark.jax
def test_rate_snn_close_to_ann_on_digits(digits, trained_digits_cnn):
    ann_acc = float(np.mean(trained_digits_cnn.predict(digits.x_test, verbose=0).argmax(1)
                            == digits.y_test))
    snn = tfsnn.convert(trained_digits_cnn, digits.x_train[:500])
    res = snn.evaluate(digits.x_test, digits.y_test, timesteps=100, batch_size=128,
                       return_predictions=True)
    assert res.accuracy_per_step.shape == (100,)
    assert res.accuracy == res.accuracy_per_step[-1]
    # stated margin on real data (this net has a max-pool gate, the lossiest part)
    assert res.accuracy >= ann_acc - 0.03, (res.accuracy, ann_acc)
    assert res.accuracy_per_step[-1] > res.accuracy_per_step[0]
    assert set(res.spike_counts) == {"conv1", "conv2", "pool2", "fc1"}
    assert res.spikes_per_image > 0
    scores = snn.predict(digits.x_test[:20], timesteps=100)
    assert scores.shape == (20, 10)
    np.testing.assert_array_equal(scores.argmax(1), res.predictions_per_step[-1, :20])


@pytest.mark.jax
def test_save_load_round_trip(tmp_path, digits, trained_digits_cnn):
    snn = tfsnn.convert(trained_digits_cnn, digits.x_train[:200], v_init=0.5, tau=50.0)
    path = tmp_path / "snn.keras"
    snn.save(path)
    snn2 = tfsnn.load_snn(path)
    assert snn2.encoding == "rate" and snn2.params == snn.params
    x = digits.x_test[:40]
    r1 = snn.evaluate(x, digits.y_test[:40], timesteps=30, return_predictions=True)
    r2 = snn2.evaluate(x, digits.y_test[:40], timesteps=30, return_predictions=True)
    np.testing.assert_array_equal(r1.predictions_per_step, r2.predictions_per_step)
    np.testing.assert_allclose(r1.scores, r2.scores)
    assert r1.spike_counts == r2.spike_counts


def test_bad_inputs_raise_clear_errors(tmp_path, digits, trained_digits_cnn):
    snn = tfsnn.convert(trained_digits_cnn, digits.x_train[:100])
    x, y = digits.x_test[:8], digits.y_test[:8]
    for bad_t in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="timesteps"):
            snn.evaluate(x, y, timesteps=bad_t)
    with pytest.raises(ValueError, match=r"shape \(8, 8, 2\).*expects \(8, 8, 1\)"):
        snn.evaluate(np.zeros((2, 8, 8, 2), "float32"), None, timesteps=5)
    bad = x.copy()
    bad[0, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="inf"):
        snn.evaluate(bad, y, timesteps=5)
    with pytest.raises(ValueError, match="input_mode"):
        snn.evaluate(x, y, timesteps=5, input_mode="burst")
    with pytest.raises(ValueError, match="8 samples but y has 7"):
        snn.evaluate(x, y[:7], timesteps=5)
    with pytest.raises(FileNotFoundError):
        tfsnn.load_snn(tmp_path / "missing.keras")
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="not a tfsnn SNN file"):
        tfsnn.load_snn(corrupt)
    with pytest.raises(ValueError, match=r"\.keras"):
        snn.save(tmp_path / "model.h5")


@pytest.mark.jax
def test_poisson_input_is_seeded(digits, trained_digits_cnn):
    snn = tfsnn.convert(trained_digits_cnn, digits.x_train[:100])
    x, y = digits.x_test[:32], digits.y_test[:32]
    a = snn.evaluate(x, y, timesteps=20, input_mode="poisson", seed=3)
    b = snn.evaluate(x, y, timesteps=20, input_mode="poisson", seed=3, batch_size=5)
    c = snn.evaluate(x, y, timesteps=20, input_mode="poisson", seed=4)
    assert a.spike_counts == b.spike_counts
    assert a.spike_counts != c.spike_counts
    # the input layer spikes at rate ~ intensity
    rate_in = a.neuron_spike_counts["input"].sum() / (32 * 20)
    assert rate_in == pytest.approx(x.sum() / 32, rel=0.05)


def test_poisson_input_spikes_are_counted_apart(digits, trained_digits_cnn):
    """``spikes_per_image`` counts the network's neurons in both input modes; the Poisson
    input's spikes are reported on their own."""
    snn = tfsnn.convert(trained_digits_cnn, digits.x_train[:100])
    x, T = digits.x_test[:16], 20
    res = snn.simulate(x, timesteps=T, input_mode="poisson")
    inp = res.spike_counts[res.input_name]
    assert res.total_spikes == sum(v for k, v in res.spike_counts.items()
                                  if k != res.input_name)
    assert res.input_spikes_per_image == inp / 16
    expected = float(x.sum()) * T  # Poisson: mean = intensity per step
    assert abs(inp - expected) < 5 * np.sqrt(expected)
    const = snn.simulate(x, timesteps=T)
    assert const.input_spikes_per_image == 0.0 and res.input_name not in const.spike_counts
    assert abs(const.spikes_per_image / res.spikes_per_image - 1) < 0.2


def test_clamped_relu_under_rate_coding_warns():
    from tfsnn.layers import ClampedReLU

    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, name="fc"),
                          ClampedReLU(0.2, name="act"), keras.layers.Dense(2, name="out")])
    x = np.random.default_rng(0).random((20, 4), dtype=np.float32)
    with pytest.warns(UserWarning, match=r"clamp of the ClampedReLU layer\(s\) \['fc'\]"):
        tfsnn.convert(m, x)
    m0 = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="relu"),
                           keras.layers.Dense(2)])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tfsnn.convert(m0, x)
