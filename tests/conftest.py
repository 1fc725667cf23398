import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def digits():
    from tfsnn.datasets import load_dataset

    return load_dataset("digits")


@pytest.fixture(scope="session")
def trained_digits_cnn(digits):
    """A small CNN (conv, avg pool, conv, max pool, dense) trained briefly on digits."""
    keras.utils.set_random_seed(0)
    m = keras.Sequential([
        keras.Input(digits.input_shape),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1"),
        keras.layers.AveragePooling2D(2, name="pool1"),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2"),
        keras.layers.MaxPooling2D(2, name="pool2"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(32, activation="relu", name="fc1"),
        keras.layers.Dense(10, activation="softmax", name="out"),
    ])
    m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    m.fit(digits.x_train, digits.y_train, epochs=12, batch_size=32, verbose=0)
    return m


_EXIT = {}


def pytest_sessionfinish(session, exitstatus):
    _EXIT["status"] = int(exitstatus)


def pytest_unconfigure(config):
    """Leave without the interpreter's teardown: a background thread of TensorFlow or a
    database driver cancelled there can abort the process ("exception not rethrown")
    after every test has passed. The report is printed by now."""
    if "status" in _EXIT:
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT["status"])
