"""One sweep trial: claim a slot in the study, run one experiment, record what it gave."""

from __future__ import annotations

import os
import socket
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

import optuna
from optuna.trial import TrialState

from tfsnn.jsonutil import to_jsonable
from tfsnn.sweeps.cache import run_experiment
from tfsnn.sweeps.distributions import OptimizableValue
from tfsnn.sweeps.hparams import HParamsWriter
from tfsnn.sweeps.objectives import objective_value, result_metrics

__all__ = ["SweepObjective"]


def _worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class SweepObjective:
    """The Optuna objective of a sweep (``study.optimize(objective, ...)``).

    Each call runs ``factory(**experiment_kwargs, **suggested, name=study_name,
    run="trial_XXXX", logdir=logdir).run()`` (through the ANN cache when ``cache_ann``) and
    returns its objective score(s). It records on the trial: ``worker`` (host:pid),
    ``hparams`` (the suggested values), every scalar metric, and on failure ``error`` and
    ``traceback``. With ``reserve`` (a heartbeat storage) a trial first claims one of the
    ``n_trials`` slots: COMPLETE trials and older RUNNING ones must leave one free, else it
    is PRUNED with the user attribute ``skipped`` before it runs anything.
    """

    study: optuna.Study
    search: dict[str, OptimizableValue]
    experiment_kwargs: dict
    factory: Callable
    objectives: list[str]
    n_trials: int
    study_name: str
    logdir: str | None
    cache_ann: bool
    reserve: bool
    tensorboard: HParamsWriter
    worker: str = field(default_factory=_worker)

    def __call__(self, trial):
        trial.set_user_attr("worker", self.worker)
        if self.reserve:
            self._claim_slot(trial)
        run, values = f"trial_{trial.number:04d}", {}
        try:
            values = {name: v.suggest(trial) for name, v in self.search.items()}
            trial.set_user_attr("hparams", to_jsonable(values))
            kwargs = {**self.experiment_kwargs, **values, "name": self.study_name, "run": run,
                      "logdir": self.logdir}
            result = run_experiment(self.factory, kwargs, self.cache_ann)
            metrics = result_metrics(result)
            scores = [objective_value(result, metrics, o) for o in self.objectives]
        except Exception as e:
            trial.set_user_attr("error", f"{type(e).__name__}: {e}"[:2000])
            trial.set_user_attr("traceback", traceback.format_exc()[-4000:])
            self.tensorboard.log_trial(run, values, {})
            raise
        metrics.update(zip(self.objectives, scores))
        for k, v in metrics.items():
            trial.set_user_attr(k, v)
        self.tensorboard.log_trial(run, values, dict(zip(self.objectives, scores)),
                                   session=getattr(result, "logdir", None) is None)
        return scores[0] if len(scores) == 1 else scores

    def _claim_slot(self, trial) -> None:
        """Prune ``trial`` when COMPLETE + older RUNNING trials already fill ``n_trials``."""
        taken = self.study.get_trials(deepcopy=False,
                                      states=(TrialState.COMPLETE, TrialState.RUNNING))
        ahead = sum(t.state == TrialState.COMPLETE or t.number < trial.number for t in taken)
        if ahead >= self.n_trials:
            trial.set_user_attr("skipped", "n_trials already reached or claimed")
            raise optuna.TrialPruned("n_trials already reached or claimed")
