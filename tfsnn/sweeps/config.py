"""Sweep config files (YAML or JSON; format: docs/sweeps.md) and ``tfsnn sweep CONFIG``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tfsnn.experiment import load_config
from tfsnn.sweeps.distributions import (
    DISTRIBUTIONS,
    REAL_DISTRIBUTIONS,
    DiscreteInterval,
    DiscreteValues,
    Distribution,
    OptimizableValue,
    RealInterval,
    is_int,
)
from tfsnn.sweeps.objectives import default_direction
from tfsnn.sweeps.runner import resolve_factory, sweep
from tfsnn.sweeps.settings import check_experiment_settings

__all__ = ["SweepConfig", "load_sweep_config", "sweep_from_config", "parse_distribution",
           "parse_objectives"]

# top-level config keys besides study/objectives/experiment/search: sweep() keyword arguments
_CONFIG_OPTIONS = ("storage", "seed", "logdir", "heartbeat_interval", "grace_period",
                   "max_failures_in_a_row", "experiment_factory", "cache_ann", "verbose",
                   "progress")
_CONFIG_KEYS = ("study", "objectives", "experiment", "search") + _CONFIG_OPTIONS
_SET_BY_SWEEP = {"name": "the top-level 'study' key",
                 "run": "nothing (the sweep names runs trial_XXXX)",
                 "logdir": "the top-level 'logdir' key"}


@dataclass
class SweepConfig:
    """A parsed, validated sweep config file."""

    study: str
    objectives: list[str]
    directions: list[str]
    experiment: dict
    search: dict[str, OptimizableValue]
    options: dict = field(default_factory=dict)
    path: str | None = None


def _num(v):
    """YAML 1.1 reads '1e-3' as a string: accept numeric strings in distribution arguments."""
    if isinstance(v, str):
        try:
            f = float(v)
        except ValueError:
            return v
        return int(f) if f.is_integer() and "." not in v and "e" not in v.lower() else f
    return v


def _discrete_interval(args) -> DiscreteInterval:
    if isinstance(args, Mapping):
        extra = sorted(set(args) - {"start", "stop", "step", "seed"})
        if extra or not {"start", "stop"} <= set(args):
            raise ValueError(f"expected keys start, stop, step (optional), seed "
                             f"(optional); got {sorted(args)}")
        return DiscreteInterval(**{k: _num(v) if k != "seed" else v for k, v in args.items()})
    if not isinstance(args, list) or not 2 <= len(args) <= 3:
        raise ValueError(f"expected [start, stop] or [start, stop, step], got {args!r}")
    return DiscreteInterval(*map(_num, args))


def _real_interval(args) -> RealInterval:
    if not isinstance(args, Mapping) or "distribution" not in args:
        raise ValueError(f"expected {{distribution: NAME, <numpy keyword arguments>}} "
                         f"with NAME one of {', '.join(REAL_DISTRIBUTIONS)}, got {args!r}")
    kw = {k: _num(v) if k not in ("distribution", "seed") else v for k, v in args.items()}
    return RealInterval(kw.pop("distribution"), **kw)


def _discrete_values(args) -> DiscreteValues:
    if isinstance(args, Mapping):
        extra = sorted(set(args) - {"values", "seed"})
        if extra or "values" not in args:
            raise ValueError(f"expected a list or {{values: [...], seed: N}}, got {args!r}")
        return DiscreteValues(args["values"], seed=args.get("seed"))
    if not isinstance(args, list):
        raise ValueError(f"expected a list of values, got {args!r}")
    return DiscreteValues(args)


_PARSERS = {"DiscreteInterval": _discrete_interval, "RealInterval": _real_interval,
            "DiscreteValues": _discrete_values}


def parse_distribution(where: str, spec) -> Distribution:
    """A distribution from its config form ``{KIND: ARGS}``; errors start with ``where``."""
    kinds = ", ".join(DISTRIBUTIONS)
    example = ("e.g. {DiscreteInterval: [10, 60, 10]}, "
               "{RealInterval: {distribution: uniform, low: 99.0, high: 100.0}} or "
               "{DiscreteValues: [0.0, 0.5]}")
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise ValueError(f"{where}: expected a mapping with one key ({kinds}), {example}; "
                         f"got {spec!r}")
    (kind, args), = spec.items()
    if kind not in DISTRIBUTIONS:
        raise ValueError(f"{where}: unknown distribution {kind!r}; supported: {kinds}")
    try:
        return _PARSERS[kind](args)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{where}: {e}") from None


def parse_objectives(where: str, spec) -> tuple[list[str], list[str | None]]:
    """Objective names and their directions (None: not given) from the config's
    ``objectives`` (NAME, a list of NAME or [NAME, maximize|minimize], or a mapping)."""
    if spec is None:
        spec = ["snn_accuracy"]
    if isinstance(spec, str):
        spec = [spec]
    if isinstance(spec, Mapping):
        spec = [[k, v] for k, v in spec.items()]
    if not isinstance(spec, list) or not spec:
        raise ValueError(f"{where}: expected a list like [snn_accuracy] or "
                         f"[[snn_accuracy, maximize], [spikes_per_image, minimize]], got {spec!r}")
    names, dirs = [], []
    for item in spec:
        if isinstance(item, str):
            names.append(item)
            dirs.append(None)
        elif (isinstance(item, list) and len(item) == 2 and all(isinstance(x, str)
                                                                 for x in item)):
            if item[1] not in ("maximize", "minimize"):
                raise ValueError(f"{where}: direction of {item[0]!r} must be maximize or "
                                 f"minimize, got {item[1]!r}")
            names.append(item[0])
            dirs.append(item[1])
        else:
            raise ValueError(f"{where}: each objective must be NAME or [NAME, maximize|minimize],"
                             f" got {item!r}")
    return names, dirs


def _read_mapping(path: Path) -> Mapping:
    data = load_config(path, expected="a mapping with keys study, objectives, experiment, "
                                      "search")
    unknown = [k for k in data if k not in _CONFIG_KEYS]
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: "
                         f"{', '.join(_CONFIG_KEYS)}")
    return data


def _objectives(path: Path, spec) -> tuple[list[str], list[str]]:
    names, dirs = parse_objectives(f"{path}: objectives", spec)
    try:
        return names, [d or default_direction(n) for n, d in zip(names, dirs)]
    except ValueError as e:
        raise ValueError(f"{path}: objectives: {e}") from None


def _experiment(path: Path, experiment) -> dict:
    experiment = experiment or {}
    if not isinstance(experiment, Mapping):
        raise ValueError(f"{path}: 'experiment' must be a mapping of Experiment keyword "
                         f"arguments, got {experiment!r}")
    for k, hint in _SET_BY_SWEEP.items():
        if k in experiment:
            raise ValueError(f"{path}: experiment.{k} is set by the sweep; use {hint}")
    return dict(experiment)


def _search(path: Path, search, experiment: dict) -> dict[str, OptimizableValue]:
    if not isinstance(search, Mapping) or not search:
        raise ValueError(f"{path}: 'search' must be a non-empty mapping NAME: "
                         "{DiscreteInterval|RealInterval|DiscreteValues: ...}")
    parsed = {}
    for name, spec in search.items():
        if name in experiment:
            raise ValueError(f"{path}: search.{name} is also set in experiment.{name}; "
                             "remove one of them")
        parsed[str(name)] = OptimizableValue(str(name),
                                             parse_distribution(f"{path}: search.{name}", spec))
    return parsed


def _options(path: Path, data: Mapping) -> dict:
    options = {k: data[k] for k in _CONFIG_OPTIONS if k in data}
    for k in ("heartbeat_interval", "grace_period", "max_failures_in_a_row", "seed"):
        if k in options and options[k] is not None and not is_int(options[k]):
            raise ValueError(f"{path}: {k} must be an integer, got {options[k]!r}")
    for k in ("storage", "logdir", "experiment_factory"):
        if k in options and options[k] is not None and not isinstance(options[k], str):
            raise ValueError(f"{path}: {k} must be a string, got {options[k]!r}")
    return options


def load_sweep_config(path) -> SweepConfig:
    """Read and validate a YAML or JSON sweep config (format: docs/sweeps.md)."""
    path = Path(path)
    data = _read_mapping(path)
    study = data.get("study") or path.stem
    if not isinstance(study, str):
        raise ValueError(f"{path}: 'study' must be a string, got {study!r}")
    names, directions = _objectives(path, data.get("objectives"))
    experiment = _experiment(path, data.get("experiment"))
    search = _search(path, data.get("search"), experiment)
    options = _options(path, data)
    check_experiment_settings(
        resolve_factory(options.get("experiment_factory")), experiment, search,
        {"name": study, "run": "trial_0000", "logdir": options.get("logdir")},
        lambda k: f"{path}: experiment.{k}", lambda k: f"{path}: search.{k}")
    return SweepConfig(study=study, objectives=names, directions=directions,
                       experiment=experiment, search=search, options=options,
                       path=str(path))


def sweep_from_config(path, n_trials: int, storage=None, study_name: str | None = None):
    """Run the sweep described in a config file; ``storage``/``study_name`` override it."""
    cfg = load_sweep_config(path)
    options = dict(cfg.options)
    storage = storage or options.pop("storage", None)
    options.pop("storage", None)
    return sweep(cfg.experiment, cfg.search, n_trials, objectives=cfg.objectives,
                 directions=cfg.directions, storage=storage,
                 study_name=study_name or cfg.study, **options)
