"""``sweep``: search hyperparameters with Optuna until a study has ``n_trials`` COMPLETE
trials, in a storage that several processes and machines can share and that survives kills."""

from __future__ import annotations

import contextlib
import importlib
import time
from collections.abc import Callable, Mapping, Sequence

import optuna
from optuna.trial import TrialState

from tfsnn.experiment import Experiment
from tfsnn.sweeps.distributions import DISTRIBUTIONS, Distribution, OptimizableValue, is_int
from tfsnn.sweeps.hparams import HParamsWriter
from tfsnn.sweeps.objectives import normalize_objectives
from tfsnn.sweeps.report import format_value
from tfsnn.sweeps.sampler import PerTrialSeededTPESampler
from tfsnn.sweeps.settings import check_experiment_settings
from tfsnn.sweeps.storage import fail_stale_trials, heartbeat_enabled, open_study
from tfsnn.sweeps.trial import SweepObjective

__all__ = ["sweep", "SweepError", "normalize_search", "resolve_factory"]

_RESERVED = ("name", "run", "logdir")  # Experiment arguments the sweep sets itself


class SweepError(ValueError):
    """The sweep cannot go on (e.g. every trial fails: the configuration is probably wrong)."""


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

    Before the study is opened, the experiment settings are checked (for the default factory:
    unknown names and bad values raise a ValueError naming the setting), so that a wrong
    configuration records no trial at all.
    """
    experiment_kwargs, search, objectives, directions = _check_arguments(
        experiment_kwargs, search, n_trials, objectives, directions, max_failures_in_a_row)
    study_name = study_name or "tfsnn_sweep"
    factory = resolve_factory(experiment_factory)
    check_experiment_settings(
        factory, experiment_kwargs, search, _set_by_sweep(study_name, logdir),
        lambda k: f"experiment_kwargs[{k!r}]", lambda k: f"search[{k!r}]")
    _check_heartbeat(heartbeat_interval, grace_period)
    with _optuna_verbosity(verbose):
        study = open_study(storage, study_name, sampler or PerTrialSeededTPESampler(seed),
                           objectives, directions, heartbeat_interval, grace_period)
        tensorboard = HParamsWriter(logdir, study_name, search, objectives)
        tensorboard.write_config()
        objective = SweepObjective(
            study, search, experiment_kwargs, factory, objectives, n_trials, study_name,
            logdir, cache_ann, reserve=heartbeat_enabled(study._storage),
            tensorboard=tensorboard)
        _run_trials(study, objective, progress, poll_interval, max_failures_in_a_row)
        return study


def _check_arguments(experiment_kwargs, search, n_trials, objectives, directions,
                     max_failures_in_a_row):
    """The sweep's arguments checked and normalized (clear ValueErrors otherwise)."""
    if not is_int(n_trials) or n_trials < 1:
        raise ValueError(f"n_trials must be a positive integer, got {n_trials!r}")
    if not isinstance(experiment_kwargs, Mapping):
        raise ValueError(f"experiment_kwargs must be a dict, "
                         f"got {type(experiment_kwargs).__name__}")
    experiment_kwargs = dict(experiment_kwargs)
    search = normalize_search(search)
    objectives, directions = normalize_objectives(objectives, directions)
    for what, keys in (("experiment_kwargs", experiment_kwargs), ("search", search)):
        bad = sorted(set(_RESERVED) & set(keys))
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
    return experiment_kwargs, search, objectives, directions


def _set_by_sweep(study_name: str, logdir) -> dict:
    """The Experiment settings the sweep sets itself (those of its first trial)."""
    return {"name": study_name, "run": "trial_0000", "logdir": logdir}


def _check_heartbeat(heartbeat_interval, grace_period) -> None:
    if grace_period is not None and grace_period <= heartbeat_interval:
        raise ValueError(f"grace_period ({grace_period}) must exceed heartbeat_interval "
                         f"({heartbeat_interval})")


def normalize_search(search) -> dict[str, OptimizableValue]:
    """``search`` (a list of OptimizableValues, or a dict name -> OptimizableValue or
    distribution) as a dict name -> OptimizableValue."""
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
                             f"{', '.join(DISTRIBUTIONS)}, got {v!r}")
        elif v.name != name:
            raise ValueError(f"search[{name!r}] holds OptimizableValue named {v.name!r}; "
                             "use the same name")
        out[name] = v
    return out


def resolve_factory(factory) -> Callable:
    """The experiment factory: ``Experiment`` for None, the object named by a
    ``"package.module:Name"`` string, or the callable itself."""
    if factory is None:
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


@contextlib.contextmanager
def _optuna_verbosity(verbose: bool):
    """Optuna's log at ERROR inside the block unless ``verbose``; restored afterwards. (Its
    warnings are mostly "trial N failed" with a traceback: the sweep prints one line per failed
    trial itself and keeps the traceback in the trial's user attributes.)"""
    old_verbosity = optuna.logging.get_verbosity()
    if not verbose:
        optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(old_verbosity)


def _slots(study, reserve: bool) -> tuple[int, int]:
    """(COMPLETE trials, RUNNING trials that hold a slot) in the study now."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING))
    n_complete = sum(t.state == TrialState.COMPLETE for t in trials)
    return n_complete, (len(trials) - n_complete if reserve else 0)


def _run_one(study, objective: SweepObjective):
    """Run one trial of ``objective`` (failures recorded, not raised); the frozen trial."""
    done: list = []
    study.optimize(objective, n_trials=1, catch=(Exception,),
                   callbacks=[lambda _study, frozen: done.append(frozen)], gc_after_trial=True)
    return done[-1]


def _run_trials(study, objective: SweepObjective, progress: bool, poll_interval: float,
                max_failures_in_a_row: int | None) -> None:
    """Run trials until the study has ``objective.n_trials`` COMPLETE ones, waiting while
    other processes' RUNNING trials hold the remaining slots."""
    n_trials, name = objective.n_trials, objective.study_name
    failures, waiting_said = 0, False
    while True:
        if objective.reserve:
            fail_stale_trials(study)
        n_complete, n_running = _slots(study, objective.reserve)
        if n_complete >= n_trials:
            return
        if n_complete + n_running >= n_trials:  # others' trials may still finish or fail
            if progress and not waiting_said:
                print(f"[{name}] {n_complete}/{n_trials} complete; waiting for "
                      f"{n_running} running trial(s)", flush=True)
                waiting_said = True
            time.sleep(poll_interval)
            continue
        t = _run_one(study, objective)
        if t.state == TrialState.COMPLETE:
            failures = 0
            if progress:
                _print_complete(objective, t, n_complete)
        elif t.state == TrialState.FAIL:
            failures += 1
            _on_failure(objective, t, failures, progress, max_failures_in_a_row)


def _print_complete(objective: SweepObjective, t, n_complete: int) -> None:
    scores = ", ".join(f"{o}={format_value(v)}" for o, v in zip(objective.objectives, t.values))
    hps = ", ".join(f"{k}={format_value(v)}" for k, v in t.user_attrs.get("hparams", {}).items())
    print(f"[{objective.study_name}] trial {t.number}: {scores}  ({hps})  "
          f"[{n_complete + 1}/{objective.n_trials}]", flush=True)


def _on_failure(objective: SweepObjective, t, failures: int, progress: bool,
                max_failures_in_a_row: int | None) -> None:
    """Report a failed trial; raise SweepError after ``max_failures_in_a_row`` in a row."""
    last_error = t.user_attrs.get("error", "unknown error")
    if progress:
        print(f"[{objective.study_name}] trial {t.number} FAILED: {last_error}", flush=True)
    if max_failures_in_a_row is not None and failures >= max_failures_in_a_row:
        raise SweepError(
            f"study {objective.study_name!r}: {failures} trials in a row failed; the last "
            f"error was: {last_error} (see the trials' 'traceback' user "
            "attribute); check the experiment configuration")
