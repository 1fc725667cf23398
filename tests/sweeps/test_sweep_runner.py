"""``sweep`` with a fake experiment: trials, metrics, failures, resuming, objectives, errors."""

import os

import optuna
import pytest
from optuna.trial import TrialState
from sweep_fakes import BASE, SEARCH, FakeExperiment, complete_trials, run_sweep

import tfsnn
import tfsnn.sweeps as sweeps
from tfsnn import optimization
from tfsnn.experiment import Experiment
from tfsnn.sweeps import (
    DiscreteInterval,
    DiscreteValues,
    OptimizableValue,
    RealInterval,
    SweepError,
    describe_study,
    sweep,
)
from tfsnn.sweeps.settings import checks_settings


def test_sweep_runs_trials_and_records_metrics(tmp_path, fake):
    study = run_sweep(tmp_path, 4)
    done = complete_trials(study)
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
    a = run_sweep(tmp_path, 4, storage=f"sqlite:///{tmp_path / 'a.db'}", seed=3)
    b = run_sweep(tmp_path, 4, storage=f"sqlite:///{tmp_path / 'b.db'}", seed=3)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]


def test_failed_trials_are_recorded_and_do_not_count(tmp_path, fake):
    fake.fail = staticmethod(lambda kw: len(fake.calls) % 2 == 1)  # every other trial
    study = run_sweep(tmp_path, 4)
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert len(complete_trials(study)) == 4 and len(failed) == 4
    assert all("simulated failure at timesteps=" in t.user_attrs["error"] for t in failed)
    assert all("RuntimeError" in t.user_attrs["traceback"] for t in failed)
    assert "failed" in describe_study(study) and "simulated failure" in describe_study(study)


def test_all_trials_failing_stops_with_a_clear_error(tmp_path, fake):
    fake.fail = staticmethod(lambda kw: True)
    with pytest.raises(SweepError, match="3 trials in a row failed.*simulated failure"):
        run_sweep(tmp_path, 5, max_failures_in_a_row=3)
    assert len(fake.calls) == 3


def test_missing_objective_metric_fails_the_trial_clearly(tmp_path, fake):
    with pytest.raises(SweepError, match="no metric 'energy_uj'; available: .*snn_accuracy"):
        run_sweep(tmp_path, 2, objectives=("energy_uj",), max_failures_in_a_row=1)


def test_sweep_resumes_and_keeps_finished_trials(tmp_path, fake):
    first = {t.number: t.value for t in complete_trials(run_sweep(tmp_path, 3))}
    study = run_sweep(tmp_path, 5)
    assert len(complete_trials(study)) == 5
    assert {t.number: t.value for t in complete_trials(study) if t.number in first} == first
    n_calls = len(fake.calls)
    run_sweep(tmp_path, 5)   # already done: runs nothing
    assert len(fake.calls) == n_calls


def test_multi_objective_and_directions(tmp_path, fake):
    study = run_sweep(tmp_path, 4, objectives=("snn_accuracy", "spikes_per_image"))
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    assert "Pareto front" in describe_study(study)
    with pytest.raises(ValueError, match="cannot infer whether to maximize or minimize"):
        run_sweep(tmp_path, 1, objectives=("foo",), study_name="other")
    with pytest.raises(ValueError, match="optimizes .*use another study name"):
        run_sweep(tmp_path, 5, objectives=("snn_accuracy",))


def test_sweep_argument_errors(tmp_path, fake):
    with pytest.raises(ValueError, match="n_trials must be a positive integer"):
        run_sweep(tmp_path, 0)
    with pytest.raises(ValueError, match="timesteps is both a fixed experiment argument"):
        sweep({**BASE, "timesteps": 5}, SEARCH, 1, experiment_factory=FakeExperiment,
              logdir=None)
    with pytest.raises(ValueError, match="must not set run"):
        sweep({**BASE, "run": "x"}, SEARCH, 1, experiment_factory=FakeExperiment, logdir=None)
    with pytest.raises(ValueError, match="holds OptimizableValue named 'b'"):
        run_sweep(tmp_path, 1, search={"a": OptimizableValue("b", DiscreteValues([1]))})


def test_compat_module_and_package_exports_are_the_sweeps_objects():
    for name in optimization.__all__:
        assert getattr(optimization, name) is getattr(sweeps, name), name
    assert tfsnn.OptimizableValue is sweeps.OptimizableValue and tfsnn.sweep is sweeps.sweep


@pytest.mark.parametrize("fixed, search, message", [
    ({**BASE, "colour": "red"}, SEARCH,
     r"experiment_kwargs\['colour'\]: unknown experiment setting 'colour'; allowed: "),
    ({**BASE, "seed": None}, SEARCH, r"experiment_kwargs\['seed'\]: seed must be"),
    (BASE, {"colour": DiscreteValues([1, 2])}, r"search\['colour'\]: unknown experiment setting"),
    (BASE, {"percentile": DiscreteValues([99.0, "high"])},
     r"search\['percentile'\] value 'high': percentile must be"),
    (BASE, {"timesteps": DiscreteInterval(-10, 60, 10)}, r"search\['timesteps'\] value -10: "),
    (BASE, {"threshold": RealInterval("normal", loc=-5.0, scale=0.1)},
     r"search\['threshold'\] value -4\.9\d*: threshold must be"),
])
def test_bad_experiment_settings_stop_the_sweep_before_the_first_trial(tmp_path, fixed, search,
                                                                        message):
    """With the default factory (Experiment) the settings are checked before the study is
    opened: nothing is written, no trial fails."""
    db = tmp_path / "bad.db"
    with pytest.raises(ValueError, match=message):
        sweep(fixed, search, 2, storage=f"sqlite:///{db}", logdir=None, progress=False)
    assert not db.exists()


def test_only_experiments_settings_are_checked():
    class Sub(Experiment):
        pass

    class Own(Experiment):
        def __init__(self, extra=0, **kwargs):
            super().__init__(**kwargs)

    assert checks_settings(Experiment) and checks_settings(Sub)
    assert not checks_settings(Own) and not checks_settings(FakeExperiment)
