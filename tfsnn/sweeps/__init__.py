"""Hyperparameter sweeps: optimizable values, their distributions, and an Optuna bridge.

Draw values yourself (the reference toolbox's loop style)::

    opt_timesteps = OptimizableValue("timesteps", DiscreteValues([80, 100, 120, 140]))
    while True:
        exp = Experiment(..., timesteps=opt_timesteps.get())

or let Optuna search them, with a shared, resumable storage::

    study = sweep({"dataset": "digits", "model": "mlp", "epochs": 3},
                  {"timesteps": DiscreteInterval(10, 60, 10),
                   "percentile": RealInterval("uniform", low=99.0, high=100.0)},
                  n_trials=20, study_name="digits_rate")
    print(describe_study(study))

Modules: ``distributions`` (values and distributions), ``runner`` (``sweep``), ``trial`` (the
per-trial objective), ``objectives`` (metric directions and values), ``cache`` (trained ANNs
reused across trials), ``storage`` (Optuna RDB storage, heartbeats, races), ``sampler``,
``hparams`` (TensorBoard HParams), ``settings`` (the experiment settings checked before the
first trial), ``config`` (config files, ``tfsnn sweep CONFIG``; format in
docs/sweeps.md) and ``report`` (``describe_study``).
"""

from tfsnn.sweeps.cache import SNN_ONLY_KWARGS, clear_ann_cache
from tfsnn.sweeps.config import SweepConfig, load_sweep_config, sweep_from_config
from tfsnn.sweeps.distributions import (
    DiscreteInterval,
    DiscreteValues,
    Distribution,
    OptimizableValue,
    RealInterval,
    seed_all,
)
from tfsnn.sweeps.hparams import HParamsWriter
from tfsnn.sweeps.report import describe_study
from tfsnn.sweeps.runner import SweepError, sweep
from tfsnn.sweeps.sampler import PerTrialSeededTPESampler
from tfsnn.sweeps.storage import StorageError

__all__ = [
    "Distribution", "DiscreteInterval", "RealInterval", "DiscreteValues", "OptimizableValue",
    "seed_all", "sweep", "SweepError", "SweepConfig", "load_sweep_config", "sweep_from_config",
    "describe_study", "clear_ann_cache", "SNN_ONLY_KWARGS", "HParamsWriter",
    "PerTrialSeededTPESampler", "StorageError",
]
