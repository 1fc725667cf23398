"""Distributions and optimizable values: support, moments, seeding, errors, Optuna mapping."""

import numpy as np
import optuna
import pytest
from scipy import stats

from tfsnn.sweeps import (
    DiscreteInterval,
    DiscreteValues,
    OptimizableValue,
    RealInterval,
    seed_all,
)
from tfsnn.sweeps.distributions import QUANTILE_EPS

N_DRAWS = 20_000


# --------------------------------------------------------------------------------------------
# Distributions
# --------------------------------------------------------------------------------------------

def _chi2_uniform(draws, support):
    counts = np.array([sum(1 for d in draws if d == s) for s in support])
    assert counts.sum() == len(draws), "a draw fell outside the support"
    return stats.chisquare(counts).pvalue


@pytest.mark.parametrize("args, support", [
    ((1, 5, 1), [1, 2, 3, 4]),
    ((1, 6, 2), [1, 3, 5]),           # step does not divide stop - start: range semantics
    ((10, 60, 10), [10, 20, 30, 40, 50]),
    ((-3, 0), [-3, -2, -1]),
    ((0.0, 1.0, 0.25), [0.0, 0.25, 0.5, 0.75]),
])
def test_discrete_interval_support_and_uniformity(args, support):
    d = DiscreteInterval(*args, seed=1)
    assert d.values == support
    draws = d.sample(N_DRAWS)
    assert set(draws) == set(support)
    assert all(type(x) is type(support[0]) for x in draws[:50])
    assert _chi2_uniform(draws, support) > 1e-4


def test_discrete_values_uniform_and_keeps_objects():
    values = ["a", 3, 0.5, None, (1, 2)]
    d = DiscreteValues(values, seed=2)
    draws = d.sample(N_DRAWS)
    assert _chi2_uniform(draws, values) > 1e-4
    assert any(x == (1, 2) and isinstance(x, tuple) for x in draws)


_REAL_CASES = [
    ("normal", {"loc": 2.0, "scale": 3.0}, stats.norm(2.0, 3.0)),
    ("normal", {}, stats.norm(0.0, 1.0)),                              # numpy's defaults
    ("uniform", {"low": -1.0, "high": 3.0}, stats.uniform(-1.0, 4.0)),
    ("poisson", {"lam": 4.0}, stats.poisson(4.0)),
    ("beta", {"a": 2.0, "b": 5.0}, stats.beta(2.0, 5.0)),
]


@pytest.mark.parametrize("name, kwargs, ref", _REAL_CASES)
def test_real_interval_moments(name, kwargs, ref):
    d = RealInterval(name, seed=3, **kwargs)
    x = np.array(d.sample(N_DRAWS), dtype=float)
    mean, var, _, kurt = (float(v) for v in ref.stats(moments="mvsk"))
    se_mean = np.sqrt(var / N_DRAWS)
    se_var = var * np.sqrt((kurt + 2.0) / N_DRAWS)
    assert abs(x.mean() - mean) < 5 * se_mean, (x.mean(), mean)
    assert abs(x.var(ddof=1) - var) < 5 * se_var, (x.var(ddof=1), var)
    lo, hi = ref.support()
    assert x.min() >= lo and x.max() <= hi
    if name == "poisson":
        assert all(type(v) is int for v in d.sample(20))
    else:
        assert all(type(v) is float for v in d.sample(20))
        assert stats.kstest(x, ref.cdf).pvalue > 1e-4


@pytest.mark.parametrize("name, kwargs, ref", _REAL_CASES)
def test_quantile_mapping_keeps_the_prior(name, kwargs, ref):
    """Uniform quantiles through the inverse CDF (the Optuna mapping) give the same law."""
    d = RealInterval(name, **kwargs)
    q = np.random.default_rng(4).uniform(QUANTILE_EPS, 1 - QUANTILE_EPS, N_DRAWS)
    x = d.ppf(q)
    assert np.all(np.isfinite(x))
    mean, var = (float(v) for v in ref.stats(moments="mv"))
    assert abs(x.mean() - mean) < 5 * np.sqrt(var / N_DRAWS)


def test_seeding_is_reproducible():
    def seq(v, n=20):
        return [v.get() for _ in range(n)]

    a = OptimizableValue("x", RealInterval("normal", loc=0.0, scale=1.0), seed=7)
    b = OptimizableValue("x", RealInterval("normal", loc=0.0, scale=1.0), seed=7)
    c = OptimizableValue("x", RealInterval("normal", loc=0.0, scale=1.0), seed=8)
    assert seq(a) == seq(b) != seq(c)
    d1, d2 = DiscreteInterval(0, 1000, seed=5), DiscreteInterval(0, 1000, seed=5)
    assert seq(OptimizableValue("t", d1)) == seq(OptimizableValue("t", d2))
    seed_all(11)
    u = OptimizableValue("u", RealInterval("uniform"))
    first = seq(u)
    seed_all(11)
    assert seq(u) == first
    seed_all(None)


def test_reference_loop_style():
    opt_timesteps = OptimizableValue("timesteps", DiscreteValues([80, 100, 120, 140]), seed=0)
    seen = []
    while len(seen) < 50:
        seen.append(opt_timesteps.get())
    assert set(seen) == {80, 100, 120, 140}


@pytest.mark.parametrize("make, message", [
    (lambda: RealInterval("gauss", loc=0.0), "unknown distribution 'gauss'; supported: normal, "
     "uniform, poisson, beta"),
    (lambda: RealInterval("normal", mean=0.0), "unknown keyword argument(s) 'mean'; expected: "
     "loc=0.0, scale=1.0"),
    (lambda: RealInterval("beta", a=2.0), "missing keyword argument(s) 'b'"),
    (lambda: RealInterval("normal", scale=0.0), "scale must be > 0"),
    (lambda: RealInterval("normal", scale=-1.0), "scale must be > 0"),
    (lambda: RealInterval("poisson", lam=0), "lam must be > 0"),
    (lambda: RealInterval("beta", a=1.0, b=-2.0), "b must be > 0"),
    (lambda: RealInterval("uniform", low=2.0, high=1.0), "low (2.0) must be < high (1.0)"),
    (lambda: RealInterval("uniform", low="a"), "low must be a finite number"),
    (lambda: RealInterval("normal", loc=float("nan")), "loc must be a finite number"),
    (lambda: RealInterval("normal", size=3), "'size' is not supported"),
    (lambda: DiscreteInterval(1, 5, 0), "step must be > 0"),
    (lambda: DiscreteInterval(1, 5, -1), "step must be > 0"),
    (lambda: DiscreteInterval(5, 5), "start (5) must be < stop (5)"),
    (lambda: DiscreteInterval(1, "5"), "stop must be a finite number"),
    (lambda: DiscreteValues([]), "the list of values is empty"),
    (lambda: DiscreteValues("abc"), "expects a list of values, got str"),
    (lambda: DiscreteValues([1, 2, 1]), "duplicate value(s) [1]"),
    (lambda: OptimizableValue("", DiscreteValues([1])), "name must be a non-empty string"),
])
def test_bad_arguments_raise_clear_errors(make, message):
    with pytest.raises(ValueError) as e:
        make()
    assert message in str(e.value)


def test_optimizable_value_needs_a_distribution():
    with pytest.raises(TypeError, match="DiscreteInterval, RealInterval, DiscreteValues"):
        OptimizableValue("x", [1, 2, 3])


# --------------------------------------------------------------------------------------------
# Optuna mapping
# --------------------------------------------------------------------------------------------

def _suggest_many(dist, n=200, name="x"):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    out = []
    for _ in range(n):
        trial = study.ask()
        out.append(dist.suggest(trial, name))
        study.tell(trial, 0.0)
    return out, study


@pytest.mark.parametrize("args", [(1, 5, 1), (1, 6, 2), (10, 60, 10), (0.0, 1.0, 0.25)])
def test_optuna_discrete_interval_same_support(args):
    d = DiscreteInterval(*args)
    got, _ = _suggest_many(d)
    assert set(got) == set(d.values)


def test_optuna_discrete_values_and_real_intervals():
    values = ["a", (1, 2), None]
    got, study = _suggest_many(DiscreteValues(values), 60)
    assert {repr(v) for v in got} == {repr(v) for v in values}
    assert any(isinstance(v, tuple) for v in got)

    got, study = _suggest_many(RealInterval("uniform", low=99.0, high=100.0), 50, "p")
    assert all(99.0 <= v <= 100.0 for v in got)
    assert set(study.trials[0].params) == {"p"}

    got, study = _suggest_many(RealInterval("poisson", lam=3.0), 200, "k")
    assert all(type(v) is int and v >= 0 for v in got)
    assert set(study.trials[0].params) == {"k__quantile"}
    assert abs(np.mean(got) - 3.0) < 5 * np.sqrt(3.0 / 200)

    got, _ = _suggest_many(RealInterval("beta", a=2.0, b=2.0), 50)
    assert all(0.0 < v < 1.0 for v in got)
    got, _ = _suggest_many(RealInterval("normal", loc=5.0, scale=0.1), 50)
    assert all(4.0 < v < 6.0 for v in got)
