"""Conv1D end to end on a small synthetic 1-D task: which of three frequencies a noisy
sinusoid has (random phase). A tiny Conv1D / AveragePooling1D / MaxPooling1D /
GlobalAveragePooling1D network is trained for a few epochs, converted with the defaults, and
the SNN must classify held-out signals within a stated margin of its ANN: 3 points for rate
coding at T = 32 and 5 points at T = 8 (constant input), 5 points for TTFS at T = 32.
(Measured: ANN 100 %, rate coding 100 % from T = 4 on, TTFS 100 %.)"""

import keras
import numpy as np
import pytest

import tfsnn

L = keras.layers
LENGTH, FREQS = 48, (2, 4, 7)  # cycles per signal


def _signals(n, rng):
    y = rng.integers(0, len(FREQS), n)
    t = np.arange(LENGTH) / LENGTH
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    x = 0.5 + 0.35 * np.sin(2 * np.pi * np.asarray(FREQS)[y][:, None] * t + phase)
    x = np.clip(x + rng.normal(0, 0.08, x.shape), 0, 1)
    return x[..., None].astype("float32"), y


@pytest.fixture(scope="module")
def frequency_task():
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    x_train, y_train = _signals(480, rng)
    x_test, y_test = _signals(100, rng)
    model = keras.Sequential([
        keras.Input((LENGTH, 1)),
        L.Conv1D(8, 7, strides=2, padding="causal", activation="relu"),
        L.MaxPooling1D(2),
        L.Conv1D(12, 5, padding="same", activation="relu"),
        L.AveragePooling1D(2),
        L.GlobalAveragePooling1D(),
        L.Dense(len(FREQS), activation="softmax"),
    ])
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=6, batch_size=32, verbose=0)
    ann_acc = float(np.mean(model.predict(x_test, verbose=0).argmax(-1) == y_test))
    return model, x_train[:100], x_test, y_test, ann_acc


def test_conv1d_net_converts_to_rate_coding(frequency_task):
    model, x_norm, x_test, y_test, ann_acc = frequency_task
    assert ann_acc >= 0.9  # the task is learnt
    snn = tfsnn.convert(model, x_norm)
    res = snn.evaluate(x_test, y_test, timesteps=32)
    assert res.accuracy >= ann_acc - 0.03, (res.accuracy, ann_acc)
    assert res.accuracy_per_step[7] >= ann_acc - 0.05, res.accuracy_per_step


def test_conv1d_net_converts_to_ttfs(frequency_task):
    model, x_norm, x_test, y_test, ann_acc = frequency_task
    snn = tfsnn.convert(model, x_norm, encoding="ttfs", timesteps=32)
    res = snn.evaluate(x_test, y_test, timesteps=32)
    assert res.accuracy >= ann_acc - 0.05, (res.accuracy, ann_acc)
