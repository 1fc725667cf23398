"""The Experiment class and the `tfsnn run` command."""

import subprocess
import sys

import keras
import numpy as np
import pytest

import tfsnn
from tfsnn.experiment import Experiment, load_config


def test_experiment_runs_and_steps_work_alone(tmp_path):
    exp = Experiment(name="t", dataset="digits", model="mlp", epochs=3, batch_size=32,
                     timesteps=40, n_test=120, logdir=None, analysis=False, verbose=0)
    acc = exp.ann_accuracy()  # trains first
    assert exp.ann is not None and 0.6 < acc <= 1.0
    snn = exp.convert()
    assert isinstance(snn, tfsnn.SpikingModel)
    assert 0.0 <= exp.snn_accuracy() <= 1.0
    result = exp.run()
    assert result.accuracy_per_step.shape == (40,)
    assert result.snn_accuracy == pytest.approx(result.accuracy_per_step[-1])
    assert result.snn_accuracy >= result.ann_accuracy - 0.05
    m = result.metrics()
    assert {"ann_accuracy", "snn_accuracy", "spikes_per_image"} <= set(m)
    assert "SNN accuracy" in result.summary()


def test_experiment_takes_a_trained_model_or_callable(digits):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(digits.input_shape), keras.layers.Flatten(),
                              keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    before = [w.copy() for w in model.get_weights()]
    exp = Experiment(dataset="digits", model=model, timesteps=10, n_test=20, logdir=None,
                     analysis=False, verbose=0)
    exp.run()
    for a, b in zip(before, exp.ann.get_weights()):  # used as given, not retrained
        np.testing.assert_array_equal(a, b)
    exp2 = Experiment(dataset="digits", model=lambda: keras.models.clone_model(model),
                      epochs=1, timesteps=10, n_test=20, logdir=None, analysis=False, verbose=0)
    exp2.run()
    assert exp2.history is not None


@pytest.mark.parametrize("kw,match", [
    (dict(encoding="burst"), "unknown encoding"),
    (dict(dataset="nope"), "nope"),
    (dict(timesteps=0), "timesteps"),
    (dict(input_mode="noise"), "input_mode"),
    (dict(epochs=-1), "epochs"),
])
def test_experiment_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        exp = Experiment(logdir=None, verbose=0, **kw)
        exp.dataset  # noqa: B018 - datasets load lazily


def test_cli_run_with_overrides(tmp_path):
    cfg = tmp_path / "exp.yaml"
    cfg.write_text("experiment:\n  name: cli\n  dataset: digits\n  model: mlp\n"
                   "  epochs: 2\n  timesteps: 20\n")
    out = subprocess.run(
        [sys.executable, "-m", "tfsnn.cli", "run", str(cfg), "--set", "n_test=50",
         "--set", "logdir=null", "--set", "analysis=false", "--set", "verbose=0"],
        capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "SNN accuracy" in out.stdout and "T=20" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "tfsnn.cli", "run", str(cfg), "--set",
                          "colour=red"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "colour" in bad.stderr


def test_example_configs_are_valid():
    from tfsnn.experiment import experiment_kwargs

    for name in ("lenet_mnist5k", "digits_mlp"):
        kw = experiment_kwargs(load_config(f"experiments/{name}.yaml"))
        Experiment(**kw)


@pytest.mark.parametrize("encoding", ["ttfs", "ttfs_clamped"])
def test_experiment_fits_ttfs_windows_into_the_run(encoding):
    exp = Experiment(dataset="digits", model="mlp", encoding=encoding, epochs=2, batch_size=32,
                     timesteps=30, n_test=60, logdir=None, analysis=False, verbose=0)
    result = exp.run()
    assert exp.snn.dyn_params["latency"] <= 30
    assert result.snn_accuracy >= result.ann_accuracy - 0.1
    if encoding == "ttfs_clamped":
        names = [type(layer).__name__ for layer in exp.ann.layers]
        assert "ClampedReLU" in names
    with pytest.warns(UserWarning, match="before its readout is final"):
        exp.snn.evaluate(exp.x_test[:4], exp.y_test[:4], timesteps=5)


def test_experiment_synapse_graph(tmp_path):
    exp = Experiment(dataset="digits", model="mlp", epochs=1, timesteps=10, n_test=30,
                     logdir=None, analysis=False, verbose=0)
    exp.run()
    g = exp.synapse_graph()
    n = g.to_csv(tmp_path / "g.csv")
    assert n == g.num_synapses > 0
    header = (tmp_path / "g.csv").read_text().splitlines()[0]
    assert header == "source_group,source_neuron,dest_group,dest_neuron,edge"
    # rates come from the evaluated test set: spike counts / (N * T)
    res = exp.snn_result
    fc1 = [s for s in exp.snn.specs if s.kind == "dense"][0].name
    assert res.neuron_spike_counts[fc1].sum() > 0
