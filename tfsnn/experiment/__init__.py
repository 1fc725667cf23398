"""The experiment: one ANN -> SNN run (``Experiment``), its typed settings
(``ExperimentConfig``) and experiments described in files (``run_config``)."""

from tfsnn.experiment.config import SNN_ONLY_FIELDS, ExperimentConfig
from tfsnn.experiment.experiment import Experiment, ExperimentResult
from tfsnn.experiment.files import (
    EXPERIMENT_SETTINGS,
    experiment_config,
    experiment_kwargs,
    load_config,
    load_experiment_config,
    run_config,
)

__all__ = ["Experiment", "ExperimentConfig", "ExperimentResult", "SNN_ONLY_FIELDS",
           "experiment_kwargs", "load_config", "run_config", "experiment_config",
           "load_experiment_config", "EXPERIMENT_SETTINGS"]
