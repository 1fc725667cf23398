"""The sweep's default sampler: TPE reseeded from (seed, trial number) before each trial."""

from __future__ import annotations

import numpy as np
import optuna

__all__ = ["PerTrialSeededTPESampler", "trial_seed"]


def trial_seed(seed: int, number: int) -> int:
    """A seed for trial ``number`` of a sweep seeded with ``seed`` (numpy ``SeedSequence``)."""
    return int(np.random.SeedSequence([seed, number]).generate_state(1)[0])


class PerTrialSeededTPESampler(optuna.samplers.BaseSampler):
    """TPE reseeded from (seed, trial number) before each trial.

    One process with a fixed seed is reproducible, and processes that share a study draw
    different random start-up points (a plain seeded sampler would repeat the same ones).
    ``seed=None``: one unseeded TPE sampler.
    """

    def __init__(self, seed: int | None = None):
        self.seed = seed
        self._inner = optuna.samplers.TPESampler(seed=seed)

    def before_trial(self, study, trial):
        if self.seed is not None:
            self._inner = optuna.samplers.TPESampler(seed=trial_seed(self.seed, trial.number))
        self._inner.before_trial(study, trial)

    def infer_relative_search_space(self, study, trial):
        return self._inner.infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return self._inner.sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self._inner.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study, trial, state, values):
        self._inner.after_trial(study, trial, state, values)

    def reseed_rng(self):
        self._inner.reseed_rng()
