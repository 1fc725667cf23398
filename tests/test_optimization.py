"""Hyperparameter sweeps: distributions, the Optuna mapping, resumable/shared sweeps, configs.

Sweeps run against fake experiments (a deterministic function of the parameters) so they take
seconds; one slow test runs the real CLI on experiments/sweep_example.yaml.
"""

import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState
from scipy import stats

from tfsnn import optimization as opt
from tfsnn.optimization import (
    DiscreteInterval,
    DiscreteValues,
    OptimizableValue,
    RealInterval,
    SweepError,
    describe_study,
    load_sweep_config,
    seed_all,
    sweep,
    sweep_from_config,
)

REPO = Path(__file__).resolve().parents[1]
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
    q = np.random.default_rng(4).uniform(opt._Q_EPS, 1 - opt._Q_EPS, N_DRAWS)
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


# --------------------------------------------------------------------------------------------
# Sweeps with a fake experiment
# --------------------------------------------------------------------------------------------

class FakeResult:
    def __init__(self, snn_accuracy, spikes_per_image):
        self.ann_accuracy = 0.97
        self.snn_accuracy = snn_accuracy
        self.spikes_per_image = spikes_per_image
        self.accuracy_per_step = [snn_accuracy]

    def metrics(self):
        return {"ann_accuracy": self.ann_accuracy, "snn_accuracy": self.snn_accuracy,
                "spikes_per_image": self.spikes_per_image}


class FakeExperiment:
    """Deterministic function of its parameters; fails when ``fail`` says so."""

    calls: list = []
    fail = staticmethod(lambda kw: False)

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.ann = None

    def run(self):
        kw = self.kwargs
        FakeExperiment.calls.append(kw)
        if FakeExperiment.fail(kw):
            raise RuntimeError(f"simulated failure at timesteps={kw['timesteps']}")
        self.ann = kw["model"] if not isinstance(kw["model"], str) else object()
        acc = 0.9 - abs(kw["timesteps"] - 30) / 100 + (kw.get("percentile", 99.0) - 99.0) / 50
        return FakeResult(acc, spikes_per_image=10.0 * kw["timesteps"])


@pytest.fixture
def fake(monkeypatch):
    FakeExperiment.calls = []
    FakeExperiment.fail = staticmethod(lambda kw: False)
    opt.clear_ann_cache()
    yield FakeExperiment
    opt.clear_ann_cache()


SEARCH = {"timesteps": DiscreteInterval(10, 60, 10),
          "percentile": RealInterval("uniform", low=99.0, high=100.0)}
BASE = {"dataset": "digits", "model": "mlp", "epochs": 1}


def _sweep(tmp_path, n, **kw):
    kw.setdefault("storage", f"sqlite:///{tmp_path / 'study.db'}")
    kw.setdefault("study_name", "s")
    kw.setdefault("logdir", None)
    kw.setdefault("experiment_factory", FakeExperiment)
    kw.setdefault("progress", False)
    return sweep(BASE, kw.pop("search", SEARCH), n, **kw)


def _complete(study):
    return study.get_trials(states=(TrialState.COMPLETE,))


def test_sweep_runs_trials_and_records_metrics(tmp_path, fake):
    study = _sweep(tmp_path, 4)
    done = _complete(study)
    assert len(done) == 4
    t = done[0]
    assert t.user_attrs["snn_accuracy"] == t.value
    assert t.user_attrs["ann_accuracy"] == 0.97
    assert set(t.user_attrs["hparams"]) == {"timesteps", "percentile"}
    assert t.user_attrs["worker"].endswith(f":{os.getpid()}")
    kw = fake.calls[0]
    assert kw["name"] == "s" and kw["run"] == "trial_0000" and kw["logdir"] is None
    assert kw["dataset"] == "digits" and kw["timesteps"] in range(10, 60, 10)
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    text = describe_study(study)
    assert "4 complete, 0 failed" in text and "best trial" in text and "timesteps=" in text


def test_sweep_is_reproducible_for_a_seed(tmp_path, fake):
    a = _sweep(tmp_path, 4, storage=f"sqlite:///{tmp_path / 'a.db'}", seed=3)
    b = _sweep(tmp_path, 4, storage=f"sqlite:///{tmp_path / 'b.db'}", seed=3)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]


def test_failed_trials_are_recorded_and_do_not_count(tmp_path, fake):
    fake.fail = staticmethod(lambda kw: len(fake.calls) % 2 == 1)  # every other trial
    study = _sweep(tmp_path, 4)
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert len(_complete(study)) == 4 and len(failed) == 4
    assert all("simulated failure at timesteps=" in t.user_attrs["error"] for t in failed)
    assert all("RuntimeError" in t.user_attrs["traceback"] for t in failed)
    assert "failed" in describe_study(study) and "simulated failure" in describe_study(study)


def test_all_trials_failing_stops_with_a_clear_error(tmp_path, fake):
    fake.fail = staticmethod(lambda kw: True)
    with pytest.raises(SweepError, match="3 trials in a row failed.*simulated failure"):
        _sweep(tmp_path, 5, max_failures_in_a_row=3)
    assert len(fake.calls) == 3


def test_missing_objective_metric_fails_the_trial_clearly(tmp_path, fake):
    with pytest.raises(SweepError, match="no metric 'energy_uj'; available: .*snn_accuracy"):
        _sweep(tmp_path, 2, objectives=("energy_uj",), max_failures_in_a_row=1)


def test_sweep_resumes_and_keeps_finished_trials(tmp_path, fake):
    first = {t.number: t.value for t in _complete(_sweep(tmp_path, 3))}
    study = _sweep(tmp_path, 5)
    assert len(_complete(study)) == 5
    assert {t.number: t.value for t in _complete(study) if t.number in first} == first
    n_calls = len(fake.calls)
    _sweep(tmp_path, 5)   # already done: runs nothing
    assert len(fake.calls) == n_calls


def test_waits_for_running_trials_and_fails_stale_ones(tmp_path, fake):
    """A RUNNING trial of another (here: dead) process holds its slot until its heartbeat is
    stale; then it is failed, retried once, and the study still ends at n_trials."""
    url = f"sqlite:///{tmp_path / 'stale.db'}"
    storage = opt._make_storage(url, "s", heartbeat_interval=1, grace_period=2)
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    with pytest.warns(UserWarning):  # asking outside optimize() with a heartbeat storage
        orphan = study.ask()
    storage.record_heartbeat(orphan._trial_id)
    t0 = time.time()
    study = _sweep(tmp_path, 2, storage=url, heartbeat_interval=1, grace_period=2,
                   poll_interval=0.1)
    assert time.time() - t0 >= 1.0, "did not wait for the running trial"
    states = [t.state for t in study.trials]
    assert states[0] == TrialState.FAIL and states.count(TrialState.COMPLETE) == 2
    assert TrialState.RUNNING not in states and TrialState.WAITING not in states
    retried = [t for t in study.trials if t.system_attrs.get("failed_trial") == 0]
    assert retried and retried[0].state == TrialState.COMPLETE
    assert "interrupted" in describe_study(study)


def test_multi_objective_and_directions(tmp_path, fake):
    study = _sweep(tmp_path, 4, objectives=("snn_accuracy", "spikes_per_image"))
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    assert "Pareto front" in describe_study(study)
    with pytest.raises(ValueError, match="cannot infer whether to maximize or minimize"):
        _sweep(tmp_path, 1, objectives=("foo",), study_name="other")
    with pytest.raises(ValueError, match="optimizes .*use another study name"):
        _sweep(tmp_path, 5, objectives=("snn_accuracy",))


def test_sweep_argument_errors(tmp_path, fake):
    with pytest.raises(ValueError, match="n_trials must be a positive integer"):
        _sweep(tmp_path, 0)
    with pytest.raises(ValueError, match="timesteps is both a fixed experiment argument"):
        sweep({**BASE, "timesteps": 5}, SEARCH, 1, experiment_factory=FakeExperiment,
              logdir=None)
    with pytest.raises(ValueError, match="must not set run"):
        sweep({**BASE, "run": "x"}, SEARCH, 1, experiment_factory=FakeExperiment, logdir=None)
    with pytest.raises(ValueError, match="holds OptimizableValue named 'b'"):
        _sweep(tmp_path, 1, search={"a": OptimizableValue("b", DiscreteValues([1]))})


def test_trained_ann_is_reused_across_snn_only_changes(tmp_path, fake):
    _sweep(tmp_path, 4)
    models = [kw["model"] for kw in fake.calls]
    assert models[0] == "mlp"
    assert all(not isinstance(m, str) for m in models[1:])
    assert len({id(m) for m in models[1:]}) == 1
    fake.calls = []
    _sweep(tmp_path, 3, study_name="nocache", cache_ann=False)
    assert [kw["model"] for kw in fake.calls] == ["mlp"] * 3
    assert opt._ann_cache_key(FakeExperiment, {**BASE, "timesteps": 10}) == \
        opt._ann_cache_key(FakeExperiment, {**BASE, "timesteps": 50, "percentile": 99.5})
    assert opt._ann_cache_key(FakeExperiment, BASE) != \
        opt._ann_cache_key(FakeExperiment, {**BASE, "epochs": 2})
    assert opt._ann_cache_key(FakeExperiment, {**BASE, "encoding": "rate"}) != \
        opt._ann_cache_key(FakeExperiment, {**BASE, "encoding": "ttfs_clamped"})


def _plugin_tags(directory: Path) -> set:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(directory))
    acc.Reload()
    return {"hparams": set(acc.PluginTagToContent("hparams")), "tensors": set(acc.Tags()["tensors"])}


def test_tensorboard_hparams_summaries(tmp_path, fake):
    _sweep(tmp_path, 2, logdir=str(tmp_path / "tb"), study_name="tbstudy")
    root = tmp_path / "tb" / "tbstudy"
    assert "_hparams_/experiment" in _plugin_tags(root)["hparams"]
    trial = _plugin_tags(root / "trial_0000")
    assert "_hparams_/session_start_info" in trial["hparams"]
    assert "sweep/snn_accuracy" in trial["tensors"]


def test_tensorboard_missing_is_a_warning(tmp_path, fake, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    with pytest.warns(UserWarning, match="TensorFlow is not importable"):
        study = _sweep(tmp_path, 1, logdir=str(tmp_path / "tb"))
    assert len(_complete(study)) == 1
    assert not (tmp_path / "tb").exists()


# --------------------------------------------------------------------------------------------
# Config files
# --------------------------------------------------------------------------------------------

def test_example_config_is_valid():
    cfg = load_sweep_config(REPO / "experiments" / "sweep_example.yaml")
    assert cfg.study == "digits_rate_sweep"
    assert cfg.experiment["dataset"] == "digits" and cfg.experiment["model"] == "mlp"
    assert cfg.search["timesteps"].distribution.values == [10, 20, 30, 40, 50]
    assert cfg.directions[0] == "maximize"


def test_json_config_and_defaults(tmp_path):
    path = tmp_path / "my_sweep.json"
    path.write_text(json.dumps({
        "experiment": {"dataset": "digits"},
        "search": {"timesteps": {"DiscreteInterval": {"start": 1, "stop": 5}},
                   "v": {"RealInterval": {"distribution": "beta", "a": 2, "b": "3"}},
                   "e": {"DiscreteValues": ["rate", "ttfs"]}},
    }))
    cfg = load_sweep_config(path)
    assert cfg.study == "my_sweep" and cfg.objectives == ["snn_accuracy"]
    assert cfg.search["v"].distribution.kwargs == {"a": 2.0, "b": 3.0}
    assert cfg.search["timesteps"].distribution.values == [1, 2, 3, 4]


@pytest.mark.parametrize("text, message", [
    ("search: {t: {DiscreteInterval: [1, 5]}}\nfoo: 1", "unknown key(s) 'foo'; allowed: study"),
    ("experiment: {}", "'search' must be a non-empty mapping"),
    ("search: {t: {Normal: [1, 5]}}", "search.t: unknown distribution 'Normal'; supported: "
     "DiscreteInterval, RealInterval, DiscreteValues"),
    ("search: {t: [1, 2]}", "search.t: expected a mapping with one key"),
    ("search: {t: {DiscreteInterval: [5, 1]}}", "search.t: DiscreteInterval: start (5) must be"),
    ("search: {t: {RealInterval: {distribution: normal, sd: 1}}}",
     "search.t: RealInterval('normal'): unknown keyword argument(s) 'sd'; expected: loc"),
    ("search: {t: {RealInterval: {low: 1}}}", "search.t: expected {distribution: NAME"),
    ("search: {t: {DiscreteValues: []}}", "search.t: DiscreteValues: the list of values is empty"),
    ("experiment: {name: x}\nsearch: {t: {DiscreteValues: [1]}}", "experiment.name is set by"),
    ("experiment: {t: 1}\nsearch: {t: {DiscreteValues: [1]}}", "search.t is also set in "
     "experiment.t"),
    ("objectives: [[snn_accuracy, up]]\nsearch: {t: {DiscreteValues: [1]}}",
     "direction of 'snn_accuracy' must be maximize or minimize"),
    ("objectives: [foo]\nsearch: {t: {DiscreteValues: [1]}}", "objectives: cannot infer"),
    ("grace_period: soon\nsearch: {t: {DiscreteValues: [1]}}", "grace_period must be an integer"),
    ("- a\n- b", "expected a mapping with keys study"),
])
def test_config_errors_name_the_offending_key(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as e:
        load_sweep_config(path)
    assert message in str(e.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_sweep_config(tmp_path / "nope.yaml")


# --------------------------------------------------------------------------------------------
# Several processes and killed processes (subprocess + the real CLI with a fake experiment)
# --------------------------------------------------------------------------------------------

FAKE_MODULE = '''
import os, time
from pathlib import Path

class Result:
    def __init__(self, acc):
        self.snn_accuracy = acc
    def metrics(self):
        return {"snn_accuracy": self.snn_accuracy}

class SlowFake:
    passed_barrier = False

    def __init__(self, delay=0.0, barrier_dir=None, barrier_n=0, hang_file=None, **kwargs):
        self.delay, self.kwargs, self.hang_file = delay, kwargs, hang_file
        self.barrier_dir, self.barrier_n = barrier_dir, barrier_n

    def run(self):
        if self.barrier_dir and not SlowFake.passed_barrier:  # wait for barrier_n processes
            d = Path(self.barrier_dir)
            (d / str(os.getpid())).touch()
            t0 = time.time()
            while len(list(d.iterdir())) < self.barrier_n and time.time() - t0 < 30:
                time.sleep(0.05)
            SlowFake.passed_barrier = True
        time.sleep(self.delay)
        if self.hang_file and os.path.exists(self.hang_file):  # stay RUNNING until killed
            time.sleep(600)
        return Result(1.0 - abs(self.kwargs["timesteps"] - 30) / 100)
'''


def _write_fake_config(tmp_path, delay, barrier_n=0, hang_file=None, **options):
    (tmp_path / "fake_sweep_exp.py").write_text(FAKE_MODULE)
    experiment = {"delay": delay, "hang_file": hang_file}
    if barrier_n:
        (tmp_path / "barrier").mkdir()
        experiment.update(barrier_dir=str(tmp_path / "barrier"), barrier_n=barrier_n)
    cfg = {"study": "fake", "experiment_factory": "fake_sweep_exp:SlowFake", "logdir": None,
           "heartbeat_interval": 1, "grace_period": 3, "experiment": experiment,
           "search": {"timesteps": {"DiscreteInterval": [10, 60, 10]}}, **options}
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(cfg))
    return path


def _cli(tmp_path, config, n, db):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    return subprocess.Popen([sys.executable, "-m", "tfsnn.cli", "sweep", str(config),
                             "--trials", str(n), "--storage", f"sqlite:///{db}"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _states(db) -> dict:
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(db, timeout=30) as con:
            return dict(con.execute("SELECT state, COUNT(*) FROM trials GROUP BY state"))
    except sqlite3.OperationalError:  # tables not created yet
        return {}


def _finish(proc, timeout=120):
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"sweep did not finish in {timeout} s:\n{out}")
    assert proc.returncode == 0, out
    return out


def _load(db):
    return optuna.load_study(study_name="fake", storage=f"sqlite:///{db}")


def test_killed_sweep_resumes_to_exactly_n_complete_trials(tmp_path):
    hang = tmp_path / "hang"
    config = _write_fake_config(tmp_path, delay=0.3, hang_file=str(hang))
    db, n = tmp_path / "s.db", 8
    proc = _cli(tmp_path, config, n, db)
    try:
        t0 = time.time()
        while _states(db).get("COMPLETE", 0) < 3:
            assert proc.poll() is None, proc.communicate()[0]
            assert time.time() - t0 < 60, "first trials did not complete in 60 s"
            time.sleep(0.05)
        hang.touch()  # the trial running now (or the next one) hangs until the kill
        time.sleep(1.0)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    hang.unlink()
    before = {t.number: t.value for t in _load(db).trials if t.state == TrialState.COMPLETE}
    assert 3 <= len(before) < n
    stale = [t.number for t in _load(db).trials if t.state == TrialState.RUNNING]
    assert stale, "the killed process left no RUNNING trial"

    out = _finish(_cli(tmp_path, config, n, db))
    study = _load(db)
    complete = {t.number: t.value for t in study.trials if t.state == TrialState.COMPLETE}
    assert len(complete) == n, out
    assert {k: complete[k] for k in before} == before          # no finished trial lost
    assert all(study.trials[i].state == TrialState.FAIL for i in stale)  # stale trial failed
    assert not [t for t in study.trials if t.state == TrialState.RUNNING]
    assert f"{n} complete" in out


def test_two_processes_share_one_study(tmp_path):
    config, db, n = _write_fake_config(tmp_path, delay=0.3, barrier_n=2), tmp_path / "s.db", 10
    procs = [_cli(tmp_path, config, n, db) for _ in range(2)]
    outs = [_finish(p) for p in procs]
    study = _load(db)
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(complete) == n, outs
    workers = {t.user_attrs["worker"] for t in complete}
    assert {f"{p.pid}" for p in procs} == {w.rsplit(":", 1)[1] for w in workers}
    assert not [t for t in study.trials if t.state in (TrialState.RUNNING, TrialState.FAIL)]
    assert all(f"{n} complete" in o for o in outs)


# --------------------------------------------------------------------------------------------
# End to end: the real Experiment through the CLI
# --------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_cli_sweep_example_end_to_end(tmp_path):
    if importlib.util.find_spec("tfsnn.experiment") is None:
        pytest.skip("tfsnn.experiment does not exist yet: this end-to-end sweep test runs "
                    "once the Experiment class lands")
    db = tmp_path / "e2e.db"
    proc = subprocess.run(
        [sys.executable, "-m", "tfsnn.cli", "sweep", str(REPO / "experiments/sweep_example.yaml"),
         "--trials", "2", "--storage", f"sqlite:///{db}", "--study", "e2e"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    study = optuna.load_study(study_name="e2e", storage=f"sqlite:///{db}")
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(complete) == 2, proc.stdout + proc.stderr
    assert all(0.0 <= t.values[0] <= 1.0 for t in complete)
    root = tmp_path / "tblogs" / "e2e"
    assert "_hparams_/experiment" in _plugin_tags(root)["hparams"]
    assert "_hparams_/session_start_info" in _plugin_tags(root / "trial_0000")["hparams"]
    assert "2 complete" in proc.stdout


def test_sweep_from_config_with_factory_string(tmp_path, monkeypatch):
    config = _write_fake_config(tmp_path, delay=0.0)
    monkeypatch.syspath_prepend(str(tmp_path))
    study = sweep_from_config(config, 3, storage=f"sqlite:///{tmp_path / 'x.db'}",
                              study_name="override")
    assert study.study_name == "override" and len(_complete(study)) == 3
    assert textwrap.dedent(describe_study(study)).startswith("study 'override': 3 complete")
