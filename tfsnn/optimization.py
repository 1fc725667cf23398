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

See docs/sweeps.md for the config-file format (``tfsnn sweep CONFIG``).
"""

from __future__ import annotations

import importlib
import json
import math
import numbers
import os
import socket
import time
import traceback
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "Distribution", "DiscreteInterval", "RealInterval", "DiscreteValues", "OptimizableValue",
    "seed_all", "sweep", "SweepError", "SweepConfig", "load_sweep_config", "sweep_from_config",
    "describe_study", "clear_ann_cache", "SNN_ONLY_KWARGS",
]

# --------------------------------------------------------------------------------------------
# Distributions
# --------------------------------------------------------------------------------------------

_GLOBAL_RNG = np.random.default_rng()

# Quantiles sampled by Optuna for distributions without an Optuna equivalent stay inside
# [_Q_EPS, 1 - _Q_EPS] so the inverse CDF is finite (normal: about +-6 sigma).
_Q_EPS = 1e-9


def seed_all(seed: int | None) -> None:
    """Reseed the generator used by every distribution/value created without its own ``seed``."""
    global _GLOBAL_RNG
    _GLOBAL_RNG = np.random.default_rng(seed)


def _is_real(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))


def _is_int(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, (bool, np.bool_))


def _py(x):
    """numpy scalar -> Python scalar (leaves everything else alone)."""
    return x.item() if isinstance(x, np.generic) else x


class Distribution:
    """Base class: something :class:`OptimizableValue` can draw from and map onto Optuna."""

    def __init__(self, seed: int | None = None):
        self.seed = seed
        self._rng = None if seed is None else np.random.default_rng(seed)

    def sample(self, size: int | None = None, rng: np.random.Generator | None = None):
        """One value (``size=None``) or a list of ``size`` values."""
        rng = rng or self._rng or _GLOBAL_RNG
        if size is None:
            return self._draw(rng, None)[0]
        if not _is_int(size) or size < 0:
            raise ValueError(f"size must be a non-negative integer, got {size!r}")
        return self._draw(rng, int(size))

    def suggest(self, trial, name: str):
        """Ask an Optuna ``trial`` for a value of parameter ``name`` from this distribution."""
        raise NotImplementedError

    def _draw(self, rng, size):  # -> list of Python values (one when size is None)
        raise NotImplementedError

    # TensorBoard HParams: a domain (or None) and a value of the domain's type.
    def _tb_domain(self, hp):
        return None

    def _tb_value(self, value):
        return value if isinstance(value, (bool, int, float, str)) else repr(value)


class DiscreteInterval(Distribution):
    """Uniform over ``start, start + step, ...`` below ``stop`` (stop exclusive, like ``range``).

    ``DiscreteInterval(1, 5, 1)`` draws from 1, 2, 3, 4. Integers stay integers; float
    arguments give floats. Optuna: ``suggest_int(name, start, last, step=step)`` (or
    ``suggest_float`` with ``step`` for floats) where ``last`` is the largest value < ``stop``,
    so the support is the same for ``.get()`` and for Optuna, also when ``step`` does not divide
    ``stop - start``.
    """

    def __init__(self, start, stop, step=1, seed: int | None = None):
        super().__init__(seed)
        for arg, v in (("start", start), ("stop", stop), ("step", step)):
            if not _is_real(v) or not math.isfinite(v):
                raise ValueError(f"DiscreteInterval: {arg} must be a finite number, got {v!r}")
        if step <= 0:
            raise ValueError(f"DiscreteInterval: step must be > 0, got {step!r}")
        if start >= stop:
            raise ValueError(f"DiscreteInterval: start ({start!r}) must be < stop ({stop!r}); "
                             "stop is exclusive, e.g. DiscreteInterval(1, 5, 1) draws 1..4")
        self.integer = all(_is_int(v) for v in (start, stop, step))
        if self.integer:
            self.start, self.stop, self.step = int(start), int(stop), int(step)
            self.n = len(range(self.start, self.stop, self.step))
        else:
            self.start, self.stop, self.step = float(start), float(stop), float(step)
            self.n = max(1, math.ceil((self.stop - self.start) / self.step - 1e-9))
        self.last = self._value(self.n - 1)

    def _value(self, k: int):
        if self.integer:
            return self.start + k * self.step
        return float(round(self.start + k * self.step, 12))

    @property
    def values(self) -> list:
        return [self._value(k) for k in range(self.n)]

    def _draw(self, rng, size):
        ks = rng.integers(0, self.n, size=1 if size is None else size)
        return [self._value(int(k)) for k in ks]

    def suggest(self, trial, name):
        if self.integer:
            return trial.suggest_int(name, self.start, self.last, step=self.step)
        if self.n == 1:
            return self.start
        v = trial.suggest_float(name, self.start, self.last, step=self.step)
        return self._value(min(self.n - 1, max(0, round((v - self.start) / self.step))))

    def _tb_domain(self, hp):
        if self.n <= 100:
            return hp.Discrete(self.values)
        if self.integer:
            return hp.IntInterval(self.start, self.last)
        return hp.RealInterval(self.start, self.last)

    def __repr__(self):
        return f"DiscreteInterval({self.start!r}, {self.stop!r}, {self.step!r})"


# name -> (numpy keyword arguments with their defaults; _REQUIRED if numpy has none)
_REQUIRED = object()
_REAL_DISTRIBUTIONS = {
    "normal": {"loc": 0.0, "scale": 1.0},
    "uniform": {"low": 0.0, "high": 1.0},
    "poisson": {"lam": 1.0},
    "beta": {"a": _REQUIRED, "b": _REQUIRED},
}


def _expected(dist: str) -> str:
    return ", ".join(f"{k}" if d is _REQUIRED else f"{k}={d}"
                     for k, d in _REAL_DISTRIBUTIONS[dist].items())


class RealInterval(Distribution):
    """A numpy distribution by name: ``normal``, ``uniform``, ``poisson`` or ``beta``.

    Keyword arguments are those of ``numpy.random.Generator.<name>`` (``loc``/``scale``,
    ``low``/``high``, ``lam``, ``a``/``b``), with numpy's defaults. ``poisson`` gives ints.

    Optuna: ``uniform`` -> ``suggest_float(name, low, high)``. ``normal``, ``poisson`` and
    ``beta`` have no Optuna equivalent: the trial suggests the quantile
    ``u = suggest_float(name + "__quantile", 1e-9, 1 - 1e-9)`` and the value is the inverse CDF
    (``scipy.stats``) at ``u``. Random search then draws from the same prior, and TPE searches
    the quantile space. The value itself is stored in the trial's ``hparams`` user attribute.
    """

    def __init__(self, distribution_name: str, seed: int | None = None, **kwargs):
        super().__init__(seed)
        supported = ", ".join(_REAL_DISTRIBUTIONS)
        if not isinstance(distribution_name, str):
            raise ValueError(f"RealInterval: distribution_name must be a string (one of "
                             f"{supported}), got {distribution_name!r}")
        dist = distribution_name.strip().lower()
        if dist not in _REAL_DISTRIBUTIONS:
            raise ValueError(f"RealInterval: unknown distribution {distribution_name!r}; "
                             f"supported: {supported}")
        spec = _REAL_DISTRIBUTIONS[dist]
        where = f"RealInterval({dist!r})"
        if "size" in kwargs:
            raise ValueError(f"{where}: 'size' is not supported (one value is drawn per .get())")
        unknown = [k for k in kwargs if k not in spec]
        if unknown:
            raise ValueError(f"{where}: unknown keyword argument(s) {', '.join(map(repr, unknown))}"
                             f"; expected: {_expected(dist)} (as numpy.random.Generator.{dist})")
        missing = [k for k, d in spec.items() if d is _REQUIRED and k not in kwargs]
        if missing:
            raise ValueError(f"{where}: missing keyword argument(s) "
                             f"{', '.join(map(repr, missing))}; expected: {_expected(dist)}")
        params = {k: kwargs.get(k, d) for k, d in spec.items()}
        for k, v in params.items():
            if not _is_real(v) or not math.isfinite(v):
                raise ValueError(f"{where}: {k} must be a finite number, got {v!r}")
        params = {k: float(v) for k, v in params.items()}
        positive = {"normal": ("scale",), "poisson": ("lam",), "beta": ("a", "b")}.get(dist, ())
        for k in positive:
            if params[k] <= 0:
                raise ValueError(f"{where}: {k} must be > 0, got {params[k]!r}")
        if dist == "uniform" and not params["low"] < params["high"]:
            raise ValueError(f"{where}: low ({params['low']!r}) must be < high "
                             f"({params['high']!r})")
        self.distribution = dist
        self.kwargs = params

    def _convert(self, v):
        return int(v) if self.distribution == "poisson" else float(v)

    def _draw(self, rng, size):
        draws = getattr(rng, self.distribution)(**self.kwargs, size=1 if size is None else size)
        return [self._convert(v) for v in draws]

    def ppf(self, q):
        """Inverse CDF at quantile(s) ``q`` (used for the Optuna mapping)."""
        from scipy import stats

        p = self.kwargs
        if self.distribution == "normal":
            return stats.norm.ppf(q, loc=p["loc"], scale=p["scale"])
        if self.distribution == "uniform":
            return stats.uniform.ppf(q, loc=p["low"], scale=p["high"] - p["low"])
        if self.distribution == "poisson":
            return stats.poisson.ppf(q, mu=p["lam"])
        return stats.beta.ppf(q, p["a"], p["b"])

    def suggest(self, trial, name):
        if self.distribution == "uniform":
            return trial.suggest_float(name, self.kwargs["low"], self.kwargs["high"])
        q = trial.suggest_float(f"{name}__quantile", _Q_EPS, 1.0 - _Q_EPS)
        return self._convert(self.ppf(q))

    def _tb_domain(self, hp):
        if self.distribution == "uniform":
            return hp.RealInterval(self.kwargs["low"], self.kwargs["high"])
        if self.distribution == "beta":
            return hp.RealInterval(0.0, 1.0)
        return None

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"RealInterval({self.distribution!r}, {args})"


def _same(a, b) -> bool:
    return type(a) is type(b) and a == b


class DiscreteValues(Distribution):
    """Uniform over a list of values (each listed once), e.g. ``DiscreteValues(["a", "b"])``.

    Optuna: ``suggest_categorical``. Values that are not None/bool/int/float/str (lists,
    tuples, ...) are suggested by their ``repr`` and mapped back.
    """

    def __init__(self, values: Sequence, seed: int | None = None):
        super().__init__(seed)
        if not isinstance(values, (list, tuple, range, np.ndarray)):
            raise ValueError(f"DiscreteValues expects a list of values, got "
                             f"{type(values).__name__} {values!r}")
        values = [_py(v) for v in values]
        if not values:
            raise ValueError("DiscreteValues: the list of values is empty; give at least one")
        dups = [v for i, v in enumerate(values) if any(_same(v, w) for w in values[:i])]
        if dups:
            raise ValueError(f"DiscreteValues: duplicate value(s) {dups!r} in {values!r}; "
                             "list each value once")
        self.values = values
        primitive = all(v is None or isinstance(v, (bool, int, float, str)) for v in values)
        self._choices = values if primitive else [repr(v) for v in values]
        if len(set(map(repr, self._choices))) != len(values):
            self._choices = list(range(len(values)))  # reprs collide: suggest the index

    def _draw(self, rng, size):
        ks = rng.integers(0, len(self.values), size=1 if size is None else size)
        return [self.values[int(k)] for k in ks]

    def suggest(self, trial, name):
        choice = trial.suggest_categorical(name, self._choices)
        return self.values[next(i for i, c in enumerate(self._choices) if _same(c, choice))]

    def _tb_kind(self):
        if all(_is_real(v) for v in self.values):
            return float if any(isinstance(v, float) for v in self.values) else int
        if all(isinstance(v, (bool, str)) for v in self.values) and \
                len({type(v) for v in self.values}) == 1:
            return type(self.values[0])
        return str

    def _tb_value(self, value):
        kind = self._tb_kind()
        return kind(value) if kind is not str else (value if isinstance(value, str)
                                                    else repr(value))

    def _tb_domain(self, hp):
        return hp.Discrete([self._tb_value(v) for v in self.values])

    def __repr__(self):
        return f"DiscreteValues({self.values!r})"


_DISTRIBUTIONS = {"DiscreteInterval": DiscreteInterval, "RealInterval": RealInterval,
                  "DiscreteValues": DiscreteValues}


class OptimizableValue:
    """A named hyperparameter and the distribution its values come from.

    ``get()`` draws a value (from its own generator when ``seed`` is given, else from the
    distribution's, else from the module generator that :func:`seed_all` seeds);
    ``suggest(trial)`` asks an Optuna trial for one.
    """

    def __init__(self, name: str, distribution: Distribution, seed: int | None = None):
        if not isinstance(name, str) or not name:
            raise ValueError(f"OptimizableValue: name must be a non-empty string, got {name!r}")
        if not isinstance(distribution, Distribution):
            raise TypeError(f"OptimizableValue({name!r}): distribution must be one of "
                            f"{', '.join(_DISTRIBUTIONS)}, got {type(distribution).__name__}")
        self.name = name
        self.distribution = distribution
        self.seed = seed
        self._rng = None if seed is None else np.random.default_rng(seed)

    def get(self):
        """Draw one value."""
        return self.distribution.sample(rng=self._rng)

    def suggest(self, trial):
        """Ask an Optuna trial for a value."""
        return self.distribution.suggest(trial, self.name)

    def __repr__(self):
        return f"OptimizableValue({self.name!r}, {self.distribution!r})"


# --------------------------------------------------------------------------------------------
# Sweep
# --------------------------------------------------------------------------------------------

class SweepError(ValueError):
    """The sweep cannot go on (e.g. every trial fails: the configuration is probably wrong)."""


# Experiment keyword arguments that do not change the trained ANN. Trials that differ only in
# these reuse one trained ANN per sweep process (any other argument is part of the cache key).
# `encoding` only matters for training when it is a clamped encoding (the ANN is then trained
# with a clamped ReLU), see _ann_cache_key.
SNN_ONLY_KWARGS = {
    "name", "run", "logdir", "verbose", "encoding", "encoding_params", "timesteps",
    "normalization", "percentile", "channelwise", "scale", "input_mode", "threshold", "v_init",
    "tau", "n_norm", "n_test", "sim_batch_size", "analysis",
}

_ANN_CACHE: OrderedDict = OrderedDict()
_ANN_CACHE_SIZE = 4


def clear_ann_cache() -> None:
    """Forget the trained ANNs cached by :func:`sweep` in this process."""
    _ANN_CACHE.clear()


def _ann_cache_key(factory, kwargs: dict) -> str | None:
    if not isinstance(kwargs.get("model"), str):
        return None  # a user model (or nothing to train): nothing to cache
    relevant = {k: v for k, v in kwargs.items() if k not in SNN_ONLY_KWARGS}
    if "clamp" in str(kwargs.get("encoding", "")):
        relevant["__clamped_ann__"] = True
    ident = f"{getattr(factory, '__module__', '')}.{getattr(factory, '__qualname__', factory)}"
    return ident + json.dumps(relevant, sort_keys=True, default=repr)


def _run_experiment(factory, kwargs: dict, cache_ann: bool):
    key = _ann_cache_key(factory, kwargs) if cache_ann else None
    if key is not None and key in _ANN_CACHE:
        _ANN_CACHE.move_to_end(key)
        kwargs = {**kwargs, "model": _ANN_CACHE[key]}
    exp = factory(**kwargs)
    result = exp.run()
    if key is not None and key not in _ANN_CACHE and getattr(exp, "ann", None) is not None:
        _ANN_CACHE[key] = exp.ann
        while len(_ANN_CACHE) > _ANN_CACHE_SIZE:
            _ANN_CACHE.popitem(last=False)
    return result


def _resolve_factory(factory):
    if factory is None:
        from tfsnn.experiment import Experiment

        return Experiment
    if isinstance(factory, str):
        mod, _, attr = factory.partition(":")
        if not mod or not attr:
            raise ValueError(f"experiment_factory must look like 'package.module:Name', "
                             f"got {factory!r}")
        try:
            return getattr(importlib.import_module(mod), attr)
        except (ImportError, AttributeError) as e:
            raise ValueError(f"cannot import experiment_factory {factory!r}: {e}") from e
    if not callable(factory):
        raise ValueError(f"experiment_factory must be callable, got {factory!r}")
    return factory


_MAXIMIZE_HINTS = ("accuracy", "acc", "f1", "precision", "recall", "auc")
_MINIMIZE_HINTS = ("spike", "energy", "latency", "loss", "error", "time", "ops", "synop",
                   "power", "delay")


def _default_direction(metric: str) -> str:
    m = metric.lower()
    tokens = m.replace("-", "_").split("_")
    maxi = any(h in m for h in _MAXIMIZE_HINTS if len(h) > 3) or \
        any(t in _MAXIMIZE_HINTS for t in tokens)
    mini = any(h in m for h in _MINIMIZE_HINTS)
    if maxi == mini:
        raise ValueError(f"cannot infer whether to maximize or minimize objective {metric!r}; "
                         "pass directions=(...) (config: objectives: [[NAME, maximize], ...])")
    return "maximize" if maxi else "minimize"


def _normalize_objectives(objectives, directions) -> tuple[list[str], list[str]]:
    if isinstance(objectives, str):
        objectives = [objectives]
    objectives = list(objectives)
    if not objectives or not all(isinstance(o, str) and o for o in objectives):
        raise ValueError(f"objectives must be a non-empty list of metric names, got "
                         f"{objectives!r}")
    if len(set(objectives)) != len(objectives):
        raise ValueError(f"objectives lists a metric twice: {objectives!r}")
    if directions is None:
        directions = [_default_direction(o) for o in objectives]
    else:
        directions = [directions] if isinstance(directions, str) else list(directions)
        if len(directions) != len(objectives):
            raise ValueError(f"{len(objectives)} objective(s) {objectives!r} but "
                             f"{len(directions)} direction(s) {directions!r}")
        for d in directions:
            if d not in ("maximize", "minimize"):
                raise ValueError(f"direction must be 'maximize' or 'minimize', got {d!r}")
    return objectives, directions


def _normalize_search(search) -> dict[str, OptimizableValue]:
    if isinstance(search, (list, tuple)):
        items = []
        for v in search:
            if not isinstance(v, OptimizableValue):
                raise ValueError(f"search as a list must hold OptimizableValue objects, got {v!r}")
            items.append((v.name, v))
        search = dict(items)
    if not isinstance(search, Mapping) or not search:
        raise ValueError("search must be a non-empty dict {name: OptimizableValue or "
                         "distribution}")
    out = {}
    for name, v in search.items():
        if isinstance(v, Distribution):
            v = OptimizableValue(name, v)
        elif not isinstance(v, OptimizableValue):
            raise ValueError(f"search[{name!r}] must be an OptimizableValue or one of "
                             f"{', '.join(_DISTRIBUTIONS)}, got {v!r}")
        elif v.name != name:
            raise ValueError(f"search[{name!r}] holds OptimizableValue named {v.name!r}; "
                             "use the same name")
        out[name] = v
    return out


def _sqlite_path(url: str) -> Path | None:
    if url.startswith("sqlite:///") and ":memory:" not in url:
        return Path(url[len("sqlite:///"):])
    return None


def _make_storage(storage, study_name: str, heartbeat_interval: int, grace_period: int):
    import optuna

    if storage is None:
        storage = f"sqlite:///{study_name}.db"
    if not isinstance(storage, str):
        return storage  # an Optuna storage object: used as given
    engine_kwargs = {}
    if storage.startswith("sqlite"):
        engine_kwargs = {"connect_args": {"timeout": 30}}
        path = _sqlite_path(storage)
        if path is not None and path.parent != Path(""):
            path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # heartbeat and retry are "experimental" in Optuna
        retry_cls = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
        if retry_cls is not None:  # Optuna >= 4.9
            callback = {"heartbeat_stale_trial_callback": retry_cls(max_retry=1)}
        else:
            callback = {"failed_trial_callback":
                        optuna.storages.RetryFailedTrialCallback(max_retry=1)}
        return _retry_on_db_race(lambda: optuna.storages.RDBStorage(
            storage, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat_interval,
            grace_period=grace_period, **callback))


def _retry_on_db_race(make, attempts: int = 8):
    """Processes that open a fresh database together race to create its tables (Optuna raises
    an IntegrityError/OperationalError in the loser): try again once the winner is done."""
    import sqlalchemy.exc

    rng = np.random.default_rng()
    for attempt in range(attempts):
        try:
            return make()
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.OperationalError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 + 0.5 * rng.random())


def _heartbeat_enabled(storage) -> bool:
    get = getattr(storage, "get_heartbeat_interval", None)
    return get is not None and get() is not None


def _fail_stale(study) -> None:
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optuna.storages.fail_stale_trials(study)


def _trial_seed(seed: int, number: int) -> int:
    return int(np.random.SeedSequence([seed, number]).generate_state(1)[0])


def _per_trial_sampler(seed: int | None):
    """TPE reseeded from (seed, trial number) before each trial.

    One process with a fixed seed is reproducible, and processes that share a study draw
    different random start-up points (a plain seeded sampler would repeat the same ones).
    """
    import optuna

    class PerTrialSeededTPESampler(optuna.samplers.BaseSampler):
        def __init__(self):
            self._inner = optuna.samplers.TPESampler(seed=seed)

        def before_trial(self, study, trial):
            if seed is not None:
                self._inner = optuna.samplers.TPESampler(seed=_trial_seed(seed, trial.number))
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

    return PerTrialSeededTPESampler()


def _jsonable(v):
    v = _py(v)
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else repr(v)
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return repr(v)


def _result_metrics(result) -> dict:
    if isinstance(result, Mapping):
        raw = dict(result)
    else:
        get = getattr(result, "metrics", None)
        raw = dict(get()) if callable(get) else {}
    out = {}
    for k, v in raw.items():
        v = _py(v)
        if isinstance(v, (bool, int, float, str)) and not (isinstance(v, float)
                                                           and not math.isfinite(v)):
            out[str(k)] = v
    return out


def _objective_value(result, metrics: dict, name: str) -> float:
    if isinstance(result, Mapping):
        value = result.get(name, metrics.get(name))
    else:
        value = getattr(result, name, metrics.get(name))
    if value is None:
        available = sorted(set(metrics) | {a for a in dir(result) if not a.startswith("_")})
        raise ValueError(f"the experiment result has no metric {name!r}; available: "
                         f"{', '.join(available) or 'none'}")
    value = _py(value)
    if not _is_real(value) or not math.isfinite(float(value)):
        raise ValueError(f"objective {name!r} is {value!r}, not a finite number")
    return float(value)


class _TensorBoard:
    """Study-level HParams config and per-trial hparams + objective scalars (TF imported lazily)."""

    def __init__(self, logdir, study_name: str, search: dict, objectives: list[str]):
        self.enabled = False
        if logdir is None:
            return
        try:
            import tensorflow as tf
            from tensorboard.plugins.hparams import summary_v2 as hp
        except ImportError as e:
            warnings.warn(f"TensorFlow is not importable ({e}); the sweep writes no HParams "
                          "summaries to TensorBoard", stacklevel=3)
            return
        self.tf, self.hp = tf, hp
        self.root = Path(logdir) / study_name
        self.search = search
        self.objectives = objectives
        self.hparams = {name: hp.HParam(name, v.distribution._tb_domain(hp))
                        for name, v in search.items()}
        self.enabled = True

    def write_config(self):
        if not self.enabled:
            return
        hp = self.hp
        metrics = [hp.Metric(f"sweep/{m}", display_name=m) for m in self.objectives]
        writer = self.tf.summary.create_file_writer(str(self.root))
        with writer.as_default():
            hp.hparams_config(hparams=list(self.hparams.values()), metrics=metrics)
        writer.close()

    def log_trial(self, run: str, values: dict, metrics: dict, session: bool = True):
        """Objective scalars, and (``session``) the trial's hparams: skip those when the
        Experiment logged its own into the same run (TensorBoard keeps one per run)."""
        if not self.enabled or set(values) != set(self.hparams):
            return
        try:
            self._log_trial(run, values, metrics, session)
        except Exception as e:  # logging must not fail a finished trial
            warnings.warn(f"could not write HParams summaries for {run}: {e}", stacklevel=2)

    def _log_trial(self, run: str, values: dict, metrics: dict, session: bool):
        hparams = {self.hparams[k]: self.search[k].distribution._tb_value(v)
                   for k, v in values.items()}
        writer = self.tf.summary.create_file_writer(str(self.root / run))
        with writer.as_default():
            if session:
                self.hp.hparams(hparams, trial_id=f"{self.root.name}/{run}")
            for k, v in metrics.items():
                if _is_real(v):
                    self.tf.summary.scalar(f"sweep/{k}", float(v), step=0)
        writer.close()


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def sweep(experiment_kwargs: Mapping, search, n_trials: int,
          objectives: Sequence[str] | str = ("snn_accuracy",),
          directions: Sequence[str] | str | None = None, storage=None,
          study_name: str | None = None, seed: int | None = 0, logdir: str | None = "tblogs",
          experiment_factory: Callable | str | None = None, *, sampler=None,
          heartbeat_interval: int = 10, grace_period: int | None = 60,
          max_failures_in_a_row: int | None = 5, cache_ann: bool = True,
          poll_interval: float = 1.0, verbose: bool = False, progress: bool = True):
    """Search ``search`` with Optuna until the study has ``n_trials`` COMPLETE trials.

    Each trial runs ``experiment_factory(**experiment_kwargs, **suggested, name=study_name,
    run="trial_XXXX", logdir=logdir).run()`` (default factory: ``tfsnn.experiment.Experiment``,
    or a ``"module:Name"`` string) and reads the ``objectives`` from the result's attributes
    (or ``result.metrics()``). Directions default from the metric names (accuracy: maximize;
    spikes/energy/latency/...: minimize). Every scalar metric becomes a trial user attribute.

    ``storage``: an Optuna RDB URL or storage object; default ``sqlite:///<study_name>.db``.
    Processes and machines sharing one storage share the study. The study is resumable: killed
    processes' RUNNING trials are failed after ``grace_period`` seconds without heartbeat (and
    retried once); a process runs a new trial only while COMPLETE + live RUNNING trials are
    fewer than ``n_trials``, so the total ends at exactly ``n_trials`` COMPLETE trials. A trial
    that lost the race for the last slot is recorded as PRUNED before it runs anything.

    Failing trials are recorded as FAIL (``error``/``traceback`` user attributes) and do not
    count; ``max_failures_in_a_row`` consecutive failures in this process raise
    :class:`SweepError`. ``logdir=None`` disables the TensorBoard HParams summaries.
    """
    import optuna
    from optuna.trial import TrialState

    if not _is_int(n_trials) or n_trials < 1:
        raise ValueError(f"n_trials must be a positive integer, got {n_trials!r}")
    if not isinstance(experiment_kwargs, Mapping):
        raise ValueError(f"experiment_kwargs must be a dict, got {type(experiment_kwargs).__name__}")
    experiment_kwargs = dict(experiment_kwargs)
    search = _normalize_search(search)
    objectives, directions = _normalize_objectives(objectives, directions)
    reserved = {"name", "run", "logdir"}
    for what, keys in (("experiment_kwargs", experiment_kwargs), ("search", search)):
        bad = sorted(reserved & set(keys))
        if bad:
            raise ValueError(f"{what} must not set {', '.join(bad)}: the sweep sets name "
                             "(= study_name), run (= trial_XXXX) and logdir itself")
    both = sorted(set(experiment_kwargs) & set(search))
    if both:
        raise ValueError(f"{', '.join(both)} is both a fixed experiment argument and a searched "
                         "hyperparameter; remove it from one of them")
    if max_failures_in_a_row is not None and max_failures_in_a_row < 1:
        raise ValueError(f"max_failures_in_a_row must be >= 1 or None, got "
                         f"{max_failures_in_a_row!r}")
    study_name = study_name or "tfsnn_sweep"
    factory = _resolve_factory(experiment_factory)
    if grace_period is not None and grace_period <= heartbeat_interval:
        raise ValueError(f"grace_period ({grace_period}) must exceed heartbeat_interval "
                         f"({heartbeat_interval})")

    old_verbosity = optuna.logging.get_verbosity()
    if not verbose:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        storage_obj = _make_storage(storage, study_name, heartbeat_interval, grace_period)
        study = _retry_on_db_race(lambda: optuna.create_study(
            study_name=study_name, storage=storage_obj, sampler=sampler or _per_trial_sampler(seed),
            directions=directions, load_if_exists=True))
        _check_study(study, objectives, directions)
        reserve = _heartbeat_enabled(study._storage)
        tb = _TensorBoard(logdir, study_name, search, objectives)
        tb.write_config()
        worker = f"{socket.gethostname()}:{os.getpid()}"

        def objective(trial):
            trial.set_user_attr("worker", worker)
            if reserve:  # claim a slot: COMPLETE + older RUNNING trials must leave one free
                taken = study.get_trials(deepcopy=False,
                                         states=(TrialState.COMPLETE, TrialState.RUNNING))
                ahead = sum(t.state == TrialState.COMPLETE or t.number < trial.number
                            for t in taken)
                if ahead >= n_trials:
                    trial.set_user_attr("skipped", "n_trials already reached or claimed")
                    raise optuna.TrialPruned("n_trials already reached or claimed")
            run, values = f"trial_{trial.number:04d}", {}
            try:
                values = {name: v.suggest(trial) for name, v in search.items()}
                trial.set_user_attr("hparams", _jsonable(values))
                kwargs = {**experiment_kwargs, **values, "name": study_name, "run": run,
                          "logdir": logdir}
                result = _run_experiment(factory, kwargs, cache_ann)
                metrics = _result_metrics(result)
                scores = [_objective_value(result, metrics, o) for o in objectives]
            except Exception as e:
                trial.set_user_attr("error", f"{type(e).__name__}: {e}"[:2000])
                trial.set_user_attr("traceback", traceback.format_exc()[-4000:])
                tb.log_trial(run, values, {})
                raise
            metrics.update(zip(objectives, scores))
            for k, v in metrics.items():
                trial.set_user_attr(k, v)
            tb.log_trial(run, values, dict(zip(objectives, scores)),
                         session=getattr(result, "logdir", None) is None)
            return scores[0] if len(scores) == 1 else scores

        failures, last_error, waiting_said = 0, None, False
        done: list = []  # the trial each optimize() call ran

        def record(_study, frozen):
            done.append(frozen)

        while True:
            if reserve:
                _fail_stale(study)
            trials = study.get_trials(deepcopy=False,
                                      states=(TrialState.COMPLETE, TrialState.RUNNING))
            n_complete = sum(t.state == TrialState.COMPLETE for t in trials)
            n_running = len(trials) - n_complete if reserve else 0
            if n_complete >= n_trials:
                break
            if n_complete + n_running >= n_trials:  # others' trials may still finish or fail
                if progress and not waiting_said:
                    print(f"[{study_name}] {n_complete}/{n_trials} complete; waiting for "
                          f"{n_running} running trial(s)", flush=True)
                    waiting_said = True
                time.sleep(poll_interval)
                continue
            done.clear()
            study.optimize(objective, n_trials=1, catch=(Exception,), callbacks=[record],
                           gc_after_trial=True)
            t = done[-1]
            if t.state == TrialState.COMPLETE:
                failures = 0
                if progress:
                    scores = ", ".join(f"{o}={_fmt(v)}" for o, v in zip(objectives, t.values))
                    hps = ", ".join(f"{k}={_fmt(v)}"
                                    for k, v in t.user_attrs.get("hparams", {}).items())
                    print(f"[{study_name}] trial {t.number}: {scores}  ({hps})  "
                          f"[{n_complete + 1}/{n_trials}]", flush=True)
            elif t.state == TrialState.FAIL:
                failures += 1
                last_error = t.user_attrs.get("error", "unknown error")
                if progress:
                    print(f"[{study_name}] trial {t.number} FAILED: {last_error}", flush=True)
                if max_failures_in_a_row is not None and failures >= max_failures_in_a_row:
                    raise SweepError(
                        f"study {study_name!r}: {failures} trials in a row failed; the last "
                        f"error was: {last_error} (see the trials' 'traceback' user "
                        "attribute); check the experiment configuration")
        return study
    finally:
        optuna.logging.set_verbosity(old_verbosity)


def _check_study(study, objectives: list[str], directions: list[str]) -> None:
    """Refuse to mix objectives in one stored study; record them on first use."""
    have = [d.name.lower() for d in study.directions]
    stored = study.user_attrs.get("tfsnn_objectives")
    if have != directions or (stored is not None and stored != objectives):
        raise ValueError(f"study {study.study_name!r} in this storage optimizes "
                         f"{stored or '?'} ({', '.join(have)}), not {objectives} "
                         f"({', '.join(directions)}); use another study name or storage")
    if stored is None:
        study.set_user_attr("tfsnn_objectives", objectives)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                study.set_metric_names(objectives)
        except Exception:  # older Optuna
            pass


# --------------------------------------------------------------------------------------------
# Config files
# --------------------------------------------------------------------------------------------

# top-level config keys besides study/objectives/experiment/search: sweep() keyword arguments
_CONFIG_OPTIONS = ("storage", "seed", "logdir", "heartbeat_interval", "grace_period",
                   "max_failures_in_a_row", "experiment_factory", "cache_ann", "verbose",
                   "progress")
_CONFIG_KEYS = ("study", "objectives", "experiment", "search") + _CONFIG_OPTIONS


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


def _parse_distribution(where: str, spec) -> Distribution:
    kinds = ", ".join(_DISTRIBUTIONS)
    example = ("e.g. {DiscreteInterval: [10, 60, 10]}, "
               "{RealInterval: {distribution: uniform, low: 99.0, high: 100.0}} or "
               "{DiscreteValues: [0.0, 0.5]}")
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise ValueError(f"{where}: expected a mapping with one key ({kinds}), {example}; "
                         f"got {spec!r}")
    (kind, args), = spec.items()
    if kind not in _DISTRIBUTIONS:
        raise ValueError(f"{where}: unknown distribution {kind!r}; supported: {kinds}")
    try:
        if kind == "DiscreteInterval":
            if isinstance(args, Mapping):
                extra = sorted(set(args) - {"start", "stop", "step", "seed"})
                if extra or not {"start", "stop"} <= set(args):
                    raise ValueError(f"expected keys start, stop, step (optional), seed "
                                     f"(optional); got {sorted(args)}")
                return DiscreteInterval(**{k: _num(v) if k != "seed" else v
                                           for k, v in args.items()})
            if not isinstance(args, list) or not 2 <= len(args) <= 3:
                raise ValueError(f"expected [start, stop] or [start, stop, step], got {args!r}")
            return DiscreteInterval(*map(_num, args))
        if kind == "RealInterval":
            if not isinstance(args, Mapping) or "distribution" not in args:
                raise ValueError(f"expected {{distribution: NAME, <numpy keyword arguments>}} "
                                 f"with NAME one of {', '.join(_REAL_DISTRIBUTIONS)}, "
                                 f"got {args!r}")
            kw = {k: _num(v) if k not in ("distribution", "seed") else v
                  for k, v in args.items()}
            return RealInterval(kw.pop("distribution"), **kw)
        if isinstance(args, Mapping):
            extra = sorted(set(args) - {"values", "seed"})
            if extra or "values" not in args:
                raise ValueError(f"expected a list or {{values: [...], seed: N}}, got {args!r}")
            return DiscreteValues(args["values"], seed=args.get("seed"))
        if not isinstance(args, list):
            raise ValueError(f"expected a list of values, got {args!r}")
        return DiscreteValues(args)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{where}: {e}") from None


def _parse_objectives(where: str, spec) -> tuple[list[str], list[str | None]]:
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


def load_sweep_config(path) -> SweepConfig:
    """Read and validate a YAML or JSON sweep config (format: docs/sweeps.md)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep config {str(path)!r} does not exist")
    text = path.read_text()
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as e:
        raise ValueError(f"{path}: cannot parse the file: {e}") from None
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: expected a mapping with keys study, objectives, experiment, "
                         f"search; got {type(data).__name__}")
    unknown = [k for k in data if k not in _CONFIG_KEYS]
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: "
                         f"{', '.join(_CONFIG_KEYS)}")
    study = data.get("study") or path.stem
    if not isinstance(study, str):
        raise ValueError(f"{path}: 'study' must be a string, got {study!r}")
    names, dirs = _parse_objectives(f"{path}: objectives", data.get("objectives"))
    try:
        inferred = [d or _default_direction(n) for n, d in zip(names, dirs)]
    except ValueError as e:
        raise ValueError(f"{path}: objectives: {e}") from None
    experiment = data.get("experiment") or {}
    if not isinstance(experiment, Mapping):
        raise ValueError(f"{path}: 'experiment' must be a mapping of Experiment keyword "
                         f"arguments, got {experiment!r}")
    for k in ("name", "run", "logdir"):
        if k in experiment:
            hint = {"name": "the top-level 'study' key", "logdir": "the top-level 'logdir' key",
                    "run": "nothing (the sweep names runs trial_XXXX)"}[k]
            raise ValueError(f"{path}: experiment.{k} is set by the sweep; use {hint}")
    search = data.get("search")
    if not isinstance(search, Mapping) or not search:
        raise ValueError(f"{path}: 'search' must be a non-empty mapping NAME: "
                         "{DiscreteInterval|RealInterval|DiscreteValues: ...}")
    parsed = {}
    for name, spec in search.items():
        if name in experiment:
            raise ValueError(f"{path}: search.{name} is also set in experiment.{name}; "
                             "remove one of them")
        parsed[str(name)] = OptimizableValue(str(name),
                                             _parse_distribution(f"{path}: search.{name}", spec))
    options = {k: data[k] for k in _CONFIG_OPTIONS if k in data}
    for k in ("heartbeat_interval", "grace_period", "max_failures_in_a_row", "seed"):
        if k in options and options[k] is not None and not _is_int(options[k]):
            raise ValueError(f"{path}: {k} must be an integer, got {options[k]!r}")
    for k in ("storage", "logdir", "experiment_factory"):
        if k in options and options[k] is not None and not isinstance(options[k], str):
            raise ValueError(f"{path}: {k} must be a string, got {options[k]!r}")
    return SweepConfig(study=study, objectives=names, directions=inferred,
                       experiment=dict(experiment), search=parsed, options=options,
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


def describe_study(study) -> str:
    """Trial counts, objectives, best trial(s) and their hyperparameters, as text."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    count = {s: sum(t.state == s for t in trials) for s in TrialState}
    skipped = sum(t.state == TrialState.PRUNED and "skipped" in t.user_attrs for t in trials)
    interrupted = sum(t.state == TrialState.FAIL and "error" not in t.user_attrs for t in trials)
    names = study.user_attrs.get("tfsnn_objectives") or \
        [f"value{i}" for i in range(len(study.directions))]
    dirs = [d.name.lower() for d in study.directions]
    lines = [f"study {study.study_name!r}: {count[TrialState.COMPLETE]} complete, "
             f"{count[TrialState.FAIL]} failed, {count[TrialState.RUNNING]} running, "
             f"{count[TrialState.WAITING]} waiting"
             + (f", {skipped} skipped (n_trials already claimed)" if skipped else "")
             + (f", {count[TrialState.PRUNED] - skipped} pruned"
                if count[TrialState.PRUNED] > skipped else "")
             + (f" ({interrupted} of the failed were interrupted: their process stopped)"
                if interrupted else ""),
             "objectives: " + ", ".join(f"{n} ({d})" for n, d in zip(names, dirs))]

    def params(t):
        hps = t.user_attrs.get("hparams") or t.params
        return ", ".join(f"{k}={_fmt(v)}" for k, v in hps.items())

    if count[TrialState.COMPLETE]:
        best = study.best_trials if len(dirs) > 1 else [study.best_trial]
        if len(dirs) > 1:
            lines.append(f"Pareto front ({len(best)} trial(s)):")
        for t in sorted(best, key=lambda t: t.number)[:20]:
            scores = ", ".join(f"{n}={_fmt(v)}" for n, v in zip(names, t.values))
            lines.append(f"  {'best ' if len(dirs) == 1 else ''}trial {t.number}: {scores}")
            lines.append(f"    {params(t)}")
    else:
        lines.append("no complete trial yet")
    failed = [t for t in trials if t.state == TrialState.FAIL and "error" in t.user_attrs]
    if failed:
        lines.append("last failures:")
        for t in failed[-3:]:
            lines.append(f"  trial {t.number}: {t.user_attrs['error']}")
    return "\n".join(lines)

