"""Text reports of a sweep's study: trial counts, objectives, best trials, last failures."""

from __future__ import annotations

from optuna.trial import TrialState

__all__ = ["describe_study", "format_value"]


def format_value(v) -> str:
    """A float with 4 significant digits, anything else as ``str``."""
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _trial_params(t) -> str:
    hps = t.user_attrs.get("hparams") or t.params
    return ", ".join(f"{k}={format_value(v)}" for k, v in hps.items())


def _counts_line(study, trials) -> str:
    count = {s: sum(t.state == s for t in trials) for s in TrialState}
    skipped = sum(t.state == TrialState.PRUNED and "skipped" in t.user_attrs for t in trials)
    interrupted = sum(t.state == TrialState.FAIL and "error" not in t.user_attrs for t in trials)
    return (f"study {study.study_name!r}: {count[TrialState.COMPLETE]} complete, "
            f"{count[TrialState.FAIL]} failed, {count[TrialState.RUNNING]} running, "
            f"{count[TrialState.WAITING]} waiting"
            + (f", {skipped} skipped (n_trials already claimed)" if skipped else "")
            + (f", {count[TrialState.PRUNED] - skipped} pruned"
               if count[TrialState.PRUNED] > skipped else "")
            + (f" ({interrupted} of the failed were interrupted: their process stopped)"
               if interrupted else ""))


def _best_lines(study, names: list[str], dirs: list[str]) -> list[str]:
    best = study.best_trials if len(dirs) > 1 else [study.best_trial]
    lines = [f"Pareto front ({len(best)} trial(s)):"] if len(dirs) > 1 else []
    for t in sorted(best, key=lambda t: t.number)[:20]:
        scores = ", ".join(f"{n}={format_value(v)}" for n, v in zip(names, t.values))
        lines.append(f"  {'best ' if len(dirs) == 1 else ''}trial {t.number}: {scores}")
        lines.append(f"    {_trial_params(t)}")
    return lines


def describe_study(study) -> str:
    """Trial counts, objectives, best trial(s) and their hyperparameters, as text."""
    trials = study.get_trials(deepcopy=False)
    names = study.user_attrs.get("tfsnn_objectives") or \
        [f"value{i}" for i in range(len(study.directions))]
    dirs = [d.name.lower() for d in study.directions]
    lines = [_counts_line(study, trials),
             "objectives: " + ", ".join(f"{n} ({d})" for n, d in zip(names, dirs))]
    if any(t.state == TrialState.COMPLETE for t in trials):
        lines += _best_lines(study, names, dirs)
    else:
        lines.append("no complete trial yet")
    failed = [t for t in trials if t.state == TrialState.FAIL and "error" in t.user_attrs]
    if failed:
        lines.append("last failures:")
        for t in failed[-3:]:
            lines.append(f"  trial {t.number}: {t.user_attrs['error']}")
    return "\n".join(lines)
