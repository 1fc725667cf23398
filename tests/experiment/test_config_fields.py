"""``ExperimentConfig`` checks every typed field when it is made, before anything trains: a
ValueError whose message starts with the field's name (config files and the CLI prefix it
with the file and key)."""

import math
from pathlib import Path

import pytest

from tfsnn.experiment import Experiment, ExperimentConfig


@pytest.mark.parametrize("field, value, message", [
    ("seed", None, "seed must be a non-negative integer below 2**32, got None"),
    ("seed", -1, "seed must be a non-negative integer"),
    ("seed", 2 ** 32, "seed must be a non-negative integer below 2**32"),
    ("seed", 1.5, "seed must be a non-negative integer"),
    ("percentile", "99", "percentile must be a number in (0, 100], got '99'"),
    ("percentile", 0, "percentile must be a number in (0, 100], got 0"),
    ("percentile", 100.5, "percentile must be a number in (0, 100]"),
    ("percentile", "high", "percentile must be a number in (0, 100], got 'high'"),
    ("threshold", math.nan, "threshold must be a finite number > 0, got nan"),
    ("threshold", 0, "threshold must be a finite number > 0"),
    ("v_init", math.inf, "v_init must be a finite number or None, got inf"),
    ("tau", -1.0, "tau must be a finite number > 0 or None"),
    ("learning_rate", "fast", "learning_rate must be a finite number > 0, got 'fast'"),
    ("clamp", 0.0, "clamp must be a finite number > 0 or None"),
    ("scale", -2.0, "scale must be a finite number > 0"),
    ("scale", {"fc1": math.nan}, "scale['fc1'] must be a finite number > 0"),
    ("normalization", "mean", "normalization: unknown normalization 'mean'; supported: "),
    ("encoding", "burst", "encoding: unknown encoding 'burst'; supported: "),
    ("input_mode", "noise", "input_mode: unknown input_mode 'noise'; supported: "),
    ("model", "resnet", "model: unknown model 'resnet'; built-in models: ['lenet', 'mlp'"),
    ("model", 3, "model must be a built-in model name, a keras.Model or a callable"),
    ("sim_batch_size", 0, "sim_batch_size must be a positive integer, got 0"),
    ("n_test", 0, "n_test must be a positive integer or None, got 0"),
    ("verbose", -1, "verbose must be a non-negative integer"),
    ("epochs", True, "epochs must be a non-negative integer, got True"),
    ("channelwise", "yes", "channelwise must be True or False, got 'yes'"),
    ("analysis", None, "analysis must be True or False, got None"),
    ("train", 1, "train must be True or False or None, got 1"),
    ("early_stopping", -2, "early_stopping must be False, True or a patience"),
    ("early_stopping", "soon", "early_stopping must be False, True or a patience"),
    ("logdir", 5, "logdir must be a path (a string) or None, got 5"),
    ("model_kwargs", [1], "model_kwargs must be a mapping of keyword arguments or None"),
    ("encoding_params", {"tresh": 1.0},
     "encoding_params: unknown parameter(s) ['tresh'] for the 'rate' encoding ('tresh': did "
     "you mean 'threshold'?)"),
])
def test_bad_field_is_named_when_the_config_is_made(field, value, message):
    with pytest.raises(ValueError) as e:
        ExperimentConfig(**{field: value})
    assert str(e.value).startswith(field), str(e.value)
    assert message in str(e.value)
    with pytest.raises(ValueError, match="^" + field):
        Experiment(**{field: value})


def test_combinations_with_the_encoding_are_checked():
    with pytest.raises(ValueError, match=r"^tau: the ttfs encodings have no leak"):
        ExperimentConfig(encoding="ttfs", tau=20.0)
    with pytest.raises(ValueError, match=r"^encoding_params: .*'windw': did you mean 'window'"):
        ExperimentConfig(encoding="ttfs", encoding_params={"windw": 8})
    with pytest.raises(ValueError, match=r"^scale: normalization='scale' needs scale="):
        ExperimentConfig(normalization="scale")


def test_valid_values_pass_and_keep_their_meaning():
    cfg = ExperimentConfig(seed=7, percentile=99, threshold=2, v_init=0.5, tau=20.0,
                           logdir=Path("/tmp/x"), early_stopping=3, scale={"fc1": 2.0},
                           n_test=10)
    assert (cfg.seed, cfg.logdir, cfg.early_stopping) == (7, "/tmp/x", 3)
    assert cfg.hparams()["tau"] == 20.0 and cfg.hparams()["percentile"] == 99.0
    ttfs = ExperimentConfig(encoding="ttfs", encoding_params={"window": 8, "min_activation": 0.1})
    assert ttfs.encoding_params == {"window": 8, "min_activation": 0.1}
