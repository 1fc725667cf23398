"""Optimizable values and the distributions they are drawn from.

``OptimizableValue(name, distribution)`` is a named hyperparameter: ``.get()`` draws a value
(the reference toolbox's loop style), ``.suggest(trial)`` asks an Optuna trial for one. Each
distribution also names its TensorBoard HParams domain (``hparams_domain``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

__all__ = ["Distribution", "DiscreteInterval", "RealInterval", "DiscreteValues",
           "OptimizableValue", "seed_all", "DISTRIBUTIONS", "REAL_DISTRIBUTIONS"]

_GLOBAL_RNG = np.random.default_rng()

# Quantiles sampled by Optuna for distributions without an Optuna equivalent stay inside
# [QUANTILE_EPS, 1 - QUANTILE_EPS] so the inverse CDF is finite (normal: about +-6 sigma).
QUANTILE_EPS = 1e-9


def seed_all(seed: int | None) -> None:
    """Reseed the generator used by every distribution/value created without its own ``seed``."""
    global _GLOBAL_RNG
    _GLOBAL_RNG = np.random.default_rng(seed)


def is_real(x) -> bool:
    """A real number (numpy scalars included), not a bool."""
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))


def is_int(x) -> bool:
    """An integer (numpy scalars included), not a bool."""
    return isinstance(x, numbers.Integral) and not isinstance(x, (bool, np.bool_))


def to_python(x):
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
        if not is_int(size) or size < 0:
            raise ValueError(f"size must be a non-negative integer, got {size!r}")
        return self._draw(rng, int(size))

    def suggest(self, trial, name: str):
        """Ask an Optuna ``trial`` for a value of parameter ``name`` from this distribution."""
        raise NotImplementedError

    def _draw(self, rng, size):  # -> list of Python values (one when size is None)
        raise NotImplementedError

    def hparams_domain(self, hp):
        """The TensorBoard HParams domain (``hp`` = ``tensorboard.plugins.hparams.summary_v2``)
        of this distribution, or None when it has none."""
        return None

    def hparams_value(self, value):
        """``value`` as a value of :meth:`hparams_domain`'s type."""
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
            if not is_real(v) or not math.isfinite(v):
                raise ValueError(f"DiscreteInterval: {arg} must be a finite number, got {v!r}")
        if step <= 0:
            raise ValueError(f"DiscreteInterval: step must be > 0, got {step!r}")
        if start >= stop:
            raise ValueError(f"DiscreteInterval: start ({start!r}) must be < stop ({stop!r}); "
                             "stop is exclusive, e.g. DiscreteInterval(1, 5, 1) draws 1..4")
        self.integer = all(is_int(v) for v in (start, stop, step))
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

    def hparams_domain(self, hp):
        if self.n <= 100:
            return hp.Discrete(self.values)
        if self.integer:
            return hp.IntInterval(self.start, self.last)
        return hp.RealInterval(self.start, self.last)

    def __repr__(self):
        return f"DiscreteInterval({self.start!r}, {self.stop!r}, {self.step!r})"


# name -> (numpy keyword arguments with their defaults; _REQUIRED if numpy has none)
_REQUIRED = object()
REAL_DISTRIBUTIONS = {
    "normal": {"loc": 0.0, "scale": 1.0},
    "uniform": {"low": 0.0, "high": 1.0},
    "poisson": {"lam": 1.0},
    "beta": {"a": _REQUIRED, "b": _REQUIRED},
}
_POSITIVE = {"normal": ("scale",), "poisson": ("lam",), "beta": ("a", "b")}


def _expected(dist: str) -> str:
    return ", ".join(f"{k}" if d is _REQUIRED else f"{k}={d}"
                     for k, d in REAL_DISTRIBUTIONS[dist].items())


def _real_name(distribution_name) -> str:
    supported = ", ".join(REAL_DISTRIBUTIONS)
    if not isinstance(distribution_name, str):
        raise ValueError(f"RealInterval: distribution_name must be a string (one of "
                         f"{supported}), got {distribution_name!r}")
    dist = distribution_name.strip().lower()
    if dist not in REAL_DISTRIBUTIONS:
        raise ValueError(f"RealInterval: unknown distribution {distribution_name!r}; "
                         f"supported: {supported}")
    return dist


def _real_params(dist: str, kwargs: dict) -> dict:
    """``kwargs`` checked against numpy's ``Generator.<dist>`` arguments, defaults filled in."""
    spec = REAL_DISTRIBUTIONS[dist]
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
        if not is_real(v) or not math.isfinite(v):
            raise ValueError(f"{where}: {k} must be a finite number, got {v!r}")
    params = {k: float(v) for k, v in params.items()}
    for k in _POSITIVE.get(dist, ()):
        if params[k] <= 0:
            raise ValueError(f"{where}: {k} must be > 0, got {params[k]!r}")
    if dist == "uniform" and not params["low"] < params["high"]:
        raise ValueError(f"{where}: low ({params['low']!r}) must be < high "
                         f"({params['high']!r})")
    return params


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
        self.distribution = _real_name(distribution_name)
        self.kwargs = _real_params(self.distribution, kwargs)

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
        q = trial.suggest_float(f"{name}__quantile", QUANTILE_EPS, 1.0 - QUANTILE_EPS)
        return self._convert(self.ppf(q))

    def hparams_domain(self, hp):
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
        values = [to_python(v) for v in values]
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

    def _hparams_kind(self):
        if all(is_real(v) for v in self.values):
            return float if any(isinstance(v, float) for v in self.values) else int
        if all(isinstance(v, (bool, str)) for v in self.values) and \
                len({type(v) for v in self.values}) == 1:
            return type(self.values[0])
        return str

    def hparams_value(self, value):
        kind = self._hparams_kind()
        return kind(value) if kind is not str else (value if isinstance(value, str)
                                                    else repr(value))

    def hparams_domain(self, hp):
        return hp.Discrete([self.hparams_value(v) for v in self.values])

    def __repr__(self):
        return f"DiscreteValues({self.values!r})"


DISTRIBUTIONS = {"DiscreteInterval": DiscreteInterval, "RealInterval": RealInterval,
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
                            f"{', '.join(DISTRIBUTIONS)}, got {type(distribution).__name__}")
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
