"""Sweep objectives: metric names, their directions, and their values in experiment results."""

from __future__ import annotations

import math
from collections.abc import Mapping

from tfsnn.sweeps.distributions import is_real, to_python

__all__ = ["default_direction", "normalize_objectives", "result_metrics", "objective_value"]

_MAXIMIZE_HINTS = ("accuracy", "acc", "f1", "precision", "recall", "auc")
_MINIMIZE_HINTS = ("spike", "energy", "latency", "loss", "error", "time", "ops", "synop",
                   "power", "delay")


def default_direction(metric: str) -> str:
    """``"maximize"`` for accuracy-like names, ``"minimize"`` for spike/energy/latency/loss/...
    names; a ValueError when the name says neither (or both)."""
    m = metric.lower()
    tokens = m.replace("-", "_").split("_")
    maxi = any(h in m for h in _MAXIMIZE_HINTS if len(h) > 3) or \
        any(t in _MAXIMIZE_HINTS for t in tokens)
    mini = any(h in m for h in _MINIMIZE_HINTS)
    if maxi == mini:
        raise ValueError(f"cannot infer whether to maximize or minimize objective {metric!r}; "
                         "pass directions=(...) (config: objectives: [[NAME, maximize], ...])")
    return "maximize" if maxi else "minimize"


def normalize_objectives(objectives, directions) -> tuple[list[str], list[str]]:
    """Objective names and directions as two checked lists of the same length (directions
    inferred by :func:`default_direction` when None)."""
    if isinstance(objectives, str):
        objectives = [objectives]
    objectives = list(objectives)
    if not objectives or not all(isinstance(o, str) and o for o in objectives):
        raise ValueError(f"objectives must be a non-empty list of metric names, got "
                         f"{objectives!r}")
    if len(set(objectives)) != len(objectives):
        raise ValueError(f"objectives lists a metric twice: {objectives!r}")
    if directions is None:
        return objectives, [default_direction(o) for o in objectives]
    directions = [directions] if isinstance(directions, str) else list(directions)
    if len(directions) != len(objectives):
        raise ValueError(f"{len(objectives)} objective(s) {objectives!r} but "
                         f"{len(directions)} direction(s) {directions!r}")
    for d in directions:
        if d not in ("maximize", "minimize"):
            raise ValueError(f"direction must be 'maximize' or 'minimize', got {d!r}")
    return objectives, directions


def result_metrics(result) -> dict:
    """The finite scalar metrics of an experiment result (a mapping, or ``result.metrics()``)."""
    if isinstance(result, Mapping):
        raw = dict(result)
    else:
        get = getattr(result, "metrics", None)
        raw = dict(get()) if callable(get) else {}
    out = {}
    for k, v in raw.items():
        v = to_python(v)
        if isinstance(v, (bool, int, float, str)) and not (isinstance(v, float)
                                                           and not math.isfinite(v)):
            out[str(k)] = v
    return out


def objective_value(result, metrics: dict, name: str) -> float:
    """Objective ``name`` of ``result`` (its attribute or key, else ``metrics[name]``) as a
    finite float; a ValueError that lists the available metrics otherwise."""
    if isinstance(result, Mapping):
        value = result.get(name, metrics.get(name))
    else:
        value = getattr(result, name, metrics.get(name))
    if value is None:
        available = sorted(set(metrics) | {a for a in dir(result) if not a.startswith("_")})
        raise ValueError(f"the experiment result has no metric {name!r}; available: "
                         f"{', '.join(available) or 'none'}")
    value = to_python(value)
    if not is_real(value) or not math.isfinite(float(value)):
        raise ValueError(f"objective {name!r} is {value!r}, not a finite number")
    return float(value)
