"""Shared, resumable storage: stale trials of dead processes, killed processes, two processes
sharing one study (subprocesses running the real CLI with a fake experiment)."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import optuna
import pytest
from optuna.trial import TrialState
from sweep_fakes import REPO, run_sweep, write_fake_config

from tfsnn.sweeps import describe_study
from tfsnn.sweeps.storage import make_storage


def test_waits_for_running_trials_and_fails_stale_ones(tmp_path, fake):
    """A RUNNING trial of another (here: dead) process holds its slot until its heartbeat is
    stale; then it is failed, retried once, and the study still ends at n_trials."""
    url = f"sqlite:///{tmp_path / 'stale.db'}"
    storage = make_storage(url, "s", heartbeat_interval=1, grace_period=2)
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    with pytest.warns(UserWarning):  # asking outside optimize() with a heartbeat storage
        orphan = study.ask()
    storage.record_heartbeat(orphan._trial_id)
    t0 = time.time()
    study = run_sweep(tmp_path, 2, storage=url, heartbeat_interval=1, grace_period=2,
                      poll_interval=0.1)
    assert time.time() - t0 >= 1.0, "did not wait for the running trial"
    states = [t.state for t in study.trials]
    assert states[0] == TrialState.FAIL and states.count(TrialState.COMPLETE) == 2
    assert TrialState.RUNNING not in states and TrialState.WAITING not in states
    retried = [t for t in study.trials if t.system_attrs.get("failed_trial") == 0]
    assert retried and retried[0].state == TrialState.COMPLETE
    assert "interrupted" in describe_study(study)


# --------------------------------------------------------------------------------------------
# Several processes and killed processes (subprocess + the real CLI with a fake experiment)
# --------------------------------------------------------------------------------------------

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
    config = write_fake_config(tmp_path, delay=0.3, hang_file=str(hang))
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
    config, db, n = write_fake_config(tmp_path, delay=0.3, barrier_n=2), tmp_path / "s.db", 10
    procs = [_cli(tmp_path, config, n, db) for _ in range(2)]
    outs = [_finish(p) for p in procs]
    study = _load(db)
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(complete) == n, outs
    workers = {t.user_attrs["worker"] for t in complete}
    assert {f"{p.pid}" for p in procs} == {w.rsplit(":", 1)[1] for w in workers}
    assert not [t for t in study.trials if t.state in (TrialState.RUNNING, TrialState.FAIL)]
    assert all(f"{n} complete" in o for o in outs)
