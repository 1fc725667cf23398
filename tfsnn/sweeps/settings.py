"""A sweep's experiment settings checked before its first trial.

A sweep with a misspelled setting or a bad value would otherwise record one FAIL trial per
attempt (with a traceback) before it stops. For the default factory (``Experiment``, or a
subclass that keeps its ``__init__``) the fixed settings and every searched name are checked
against ``ExperimentConfig`` first, and so are the searched values that can be listed: every
value of a ``DiscreteValues``, both ends of a ``DiscreteInterval`` and one draw of a
``RealInterval``. Other factories take their own arguments, which are not checked here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from tfsnn.experiment import EXPERIMENT_SETTINGS, Experiment, experiment_config
from tfsnn.sweeps.distributions import DiscreteInterval, DiscreteValues, Distribution

__all__ = ["check_experiment_settings", "checks_settings", "listed_values"]

Label = Callable[[str], str]


def checks_settings(factory) -> bool:
    """Whether ``factory`` takes exactly ``Experiment``'s settings (then they are checked)."""
    return isinstance(factory, type) and issubclass(factory, Experiment) and \
        factory.__init__ is Experiment.__init__


def listed_values(dist: Distribution) -> list:
    """Values of ``dist`` to check: all of a DiscreteValues, the ends of a DiscreteInterval,
    one (seeded) draw of anything else."""
    if isinstance(dist, DiscreteValues):
        return list(dist.values)
    if isinstance(dist, DiscreteInterval):
        return [dist.start, dist.last]
    return [dist.sample(rng=np.random.default_rng(0))]


def check_experiment_settings(factory, fixed: Mapping, search: Mapping, set_by_sweep: Mapping,
                              fixed_label: Label, search_label: Label) -> None:
    """Raise ValueError naming the setting (``fixed_label(key)`` or ``search_label(name)``)
    when the sweep's settings cannot make a valid ``ExperimentConfig``; ``search`` maps names
    to ``OptimizableValue``s; ``set_by_sweep`` holds what the sweep sets itself (name, run,
    logdir). Nothing is checked for factories other than ``Experiment``."""
    if not checks_settings(factory):
        return
    base = {**fixed, **set_by_sweep}
    experiment_config(base, lambda key: fixed_label(key) if key is not None else
                      "the fixed experiment settings")
    for name, value in search.items():
        if name not in EXPERIMENT_SETTINGS:
            raise ValueError(f"{search_label(name)}: unknown experiment setting {name!r}; "
                             f"allowed: {', '.join(sorted(EXPERIMENT_SETTINGS))}")
        for v in listed_values(value.distribution):
            experiment_config({**base, name: v}, lambda key, v=v, name=name: (
                f"{search_label(name)} value {v!r}" if key in (name, None) else fixed_label(key)))
