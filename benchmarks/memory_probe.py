"""Peak RSS of ``evaluate`` on 64 ``digits`` images at a given T (prints one JSON line).

    python benchmarks/memory_probe.py 100000
    PYTHONPATH=<other checkout> python benchmarks/memory_probe.py 100000   # another version

An MLP (64-32-10, random weights) converted with the defaults; one batch of 64 images with
labels. ``peak_mb`` is ``VmHWM`` after the run, ``rss_before_mb`` the RSS before it.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

import tfsnn  # noqa: E402
from tfsnn.datasets import load_dataset  # noqa: E402


def status_mb(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024


def main(timesteps: int):
    ds = load_dataset("digits")
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input(ds.input_shape), keras.layers.Flatten(),
                          keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10)])
    snn = tfsnn.convert(m, ds.x_train[:200])
    x, y = ds.x_test[:64], ds.y_test[:64]
    snn.evaluate(x[:2], y[:2], timesteps=10)  # warm up
    before = status_mb("VmRSS")
    res = snn.evaluate(x, y, timesteps=timesteps, batch_size=64)
    print(json.dumps({"T": timesteps, "rss_before_mb": round(before),
                      "peak_mb": round(status_mb("VmHWM")), "accuracy": res.accuracy}))


if __name__ == "__main__":
    main(int(sys.argv[1]))
