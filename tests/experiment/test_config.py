"""ExperimentConfig: the typed settings of an Experiment."""

import dataclasses
import re

import pytest

from tfsnn.experiment import Experiment, ExperimentConfig, experiment_kwargs
from tfsnn.experiment.config import SNN_ONLY_FIELDS

# Experiment's keyword arguments and their defaults, as they were before the typed config.
DEFAULTS = dict(
    name="experiment", dataset="digits", model="mlp", encoding="rate", timesteps=100,
    normalization="percentile", percentile=99.9, channelwise=True, scale=None, epochs=5,
    batch_size=128, seed=0, logdir="tblogs", run=None, input_mode="constant", threshold=1.0,
    v_init=None, tau=None, n_norm=1000, n_test=None, sim_batch_size=256, learning_rate=1e-3,
    early_stopping=False, train=None, activation=None, clamp=None, activation_levels=None,
    model_kwargs=None, verbose=1, encoding_params=None, analysis=True, fine_tune_epochs=0,
    fine_tune_timesteps=None, fine_tune_learning_rate=1e-4, fine_tune_params=None)

# The sweep's ANN cache left these out of its key (tfsnn.optimization.SNN_ONLY_KWARGS).
SNN_ONLY_KWARGS = {
    "name", "run", "logdir", "verbose", "encoding", "encoding_params", "timesteps",
    "normalization", "percentile", "channelwise", "scale", "input_mode", "threshold", "v_init",
    "tau", "n_norm", "n_test", "sim_batch_size", "analysis",
    "fine_tune_epochs", "fine_tune_timesteps", "fine_tune_learning_rate", "fine_tune_params",
}

CHANGED = dict(
    name="exp1", dataset="mnist5k", model="lenet", encoding="ttfs", timesteps=40,
    normalization="max", percentile=99.0, channelwise=False, scale=2.0, epochs=0,
    batch_size=16, seed=3, logdir="/tmp/logs", run="r1", input_mode="poisson", threshold=0.5,
    v_init=0.25, tau=None, n_norm=10, n_test=30, sim_batch_size=8, learning_rate=0.01,
    early_stopping=True, train=True, activation="relu", clamp=1.5, activation_levels=None,
    model_kwargs={"width": 4}, verbose=0, encoding_params={"window": 5}, analysis=False,
    fine_tune_epochs=0, fine_tune_timesteps=5, fine_tune_learning_rate=1e-3,
    fine_tune_params={"train_leak": True})
# (tau stays None: TTFS neurons have no leak, and ExperimentConfig refuses the combination)


def test_fields_match_the_experiment_arguments():
    fields = dataclasses.fields(ExperimentConfig)
    assert [f.name for f in fields] == list(DEFAULTS)
    assert {f.name: f.default for f in fields} == DEFAULTS
    assert {f.metadata["stage"] for f in fields} == {"ann", "snn", "run"}
    run = {f.name for f in fields if f.metadata["stage"] == "run"}
    assert run == {"name", "run", "logdir", "verbose"}


def test_snn_only_fields_equal_the_sweep_cache_set():
    assert SNN_ONLY_FIELDS == SNN_ONLY_KWARGS
    assert isinstance(SNN_ONLY_FIELDS, frozenset)
    assert ExperimentConfig.stage_fields("ann") == set(DEFAULTS) - SNN_ONLY_KWARGS


def test_config_round_trips_the_experiment_kwargs():
    cfg = ExperimentConfig(**CHANGED)
    assert cfg.kwargs() == CHANGED
    assert ExperimentConfig(**cfg.kwargs()) == cfg
    exp = Experiment(**CHANGED)
    assert exp.config == cfg
    assert Experiment(**exp.config.kwargs()).config == cfg
    defaults = ExperimentConfig().kwargs()
    assert defaults == {**DEFAULTS, "model_kwargs": {}, "encoding_params": {},
                        "fine_tune_params": {}}
    assert experiment_kwargs({"experiment": CHANGED}) == CHANGED


def test_experiment_attributes_read_the_config():
    exp = Experiment(**CHANGED)
    for k, v in CHANGED.items():
        attr = {"dataset": "dataset_spec", "model": "model_spec", "run": "run_name"}.get(k, k)
        assert getattr(exp, attr) == v, k
    exp.timesteps = 12
    assert exp.config.timesteps == 12 and exp.hparams()["timesteps"] == 12
    assert Experiment(logdir=None).run_name  # a timestamp
    assert Experiment(logdir=None).config.run is None


def test_experiment_from_a_config_with_changes():
    cfg = ExperimentConfig(timesteps=20, logdir=None)
    assert Experiment(cfg).config is cfg
    exp = Experiment(cfg, timesteps=7, seed=2)
    assert (exp.timesteps, exp.seed, exp.logdir) == (7, 2, None)
    assert cfg.timesteps == 20
    with pytest.raises(ValueError, match="timesteps must be >= 1, got 0"):
        Experiment(cfg, timesteps=0)


def test_hparams():
    hp = ExperimentConfig(**CHANGED).hparams()
    assert hp == {"dataset": "mnist5k", "model": "lenet", "encoding": "ttfs", "timesteps": 40,
                  "normalization": "max", "percentile": 99.0, "channelwise": False,
                  "epochs": 0, "batch_size": 16, "seed": 3, "input_mode": "poisson",
                  "threshold": 0.5, "v_init": 0.25, "tau": "none"}
    hp = ExperimentConfig(dataset=object(), model=lambda: None).hparams()
    assert (hp["dataset"], hp["model"], hp["v_init"], hp["tau"]) == (
        "user data", "<lambda>", "default", "none")


@pytest.mark.parametrize("kw,message", [
    (dict(encoding="burst"), "unknown encoding 'burst'; supported: ['rate', "),
    (dict(input_mode="noise"), "unknown input_mode 'noise'; supported: "),
    (dict(timesteps=0), "timesteps must be >= 1, got 0"),
    (dict(timesteps=2.5), "timesteps must be an integer >= 1, got 2.5"),
    (dict(epochs=-1), "epochs must be a non-negative integer, got -1"),
    (dict(batch_size=0), "batch_size must be a positive integer, got 0"),
    (dict(n_norm=1.5), "n_norm must be a positive integer, got 1.5"),
])
def test_config_errors(kw, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ExperimentConfig(**kw)
    with pytest.raises(ValueError, match=re.escape(message)):
        Experiment(**kw)


def test_unknown_setting():
    with pytest.raises(TypeError, match="colour"):
        Experiment(colour="red")
    with pytest.raises(ValueError, match=r"unknown experiment setting\(s\) \['colour'\]"):
        experiment_kwargs({"colour": "red"})
