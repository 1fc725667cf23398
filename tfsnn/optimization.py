"""Kept for compatibility: the sweeps now live in :mod:`tfsnn.sweeps`.

``from tfsnn.optimization import sweep, OptimizableValue, ...`` keeps working; new code imports
from ``tfsnn.sweeps``.
"""

from tfsnn.sweeps import (
    SNN_ONLY_KWARGS,
    DiscreteInterval,
    DiscreteValues,
    Distribution,
    OptimizableValue,
    RealInterval,
    SweepConfig,
    SweepError,
    clear_ann_cache,
    describe_study,
    load_sweep_config,
    seed_all,
    sweep,
    sweep_from_config,
)

__all__ = [
    "Distribution", "DiscreteInterval", "RealInterval", "DiscreteValues", "OptimizableValue",
    "seed_all", "sweep", "SweepError", "SweepConfig", "load_sweep_config", "sweep_from_config",
    "describe_study", "clear_ann_cache", "SNN_ONLY_KWARGS",
]
