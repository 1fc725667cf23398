"""Shared, resumable storage: stale trials of dead processes, killed processes, two processes
sharing one study (subprocesses running the real CLI with a fake experiment), each on SQLite
and on a throwaway PostgreSQL server (the ``storage_url`` fixture); storage URLs that cannot
be used."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import sqlalchemy
from optuna.trial import TrialState
from sweep_fakes import REPO, run_sweep, write_fake_config

from tfsnn.sweeps import StorageError, describe_study
from tfsnn.sweeps.storage import make_storage


def test_waits_for_running_trials_and_fails_stale_ones(tmp_path, fake, storage_url):
    """A RUNNING trial of another (here: dead) process holds its slot until its heartbeat is
    stale; then it is failed, retried once, and the study still ends at n_trials."""
    storage = make_storage(storage_url, "s", heartbeat_interval=1, grace_period=2)
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    with pytest.warns(UserWarning):  # asking outside optimize() with a heartbeat storage
        orphan = study.ask()
    storage.record_heartbeat(orphan._trial_id)
    t0 = time.time()
    study = run_sweep(tmp_path, 2, storage=storage_url, heartbeat_interval=1, grace_period=2,
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

def _cli(tmp_path, config, n, url):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    return subprocess.Popen([sys.executable, "-m", "tfsnn.cli", "sweep", str(config),
                             "--trials", str(n), "--storage", url],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _states(url) -> dict:
    """Trial counts by state, read with SQL while sweeps write (no Optuna storage opened)."""
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        return {}
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as con:
            rows = con.execute(sqlalchemy.text(
                "SELECT state, COUNT(*) FROM trials GROUP BY state"))
            return {str(state).rsplit(".", 1)[-1]: n for state, n in rows}
    except sqlalchemy.exc.DBAPIError:  # tables not created yet
        return {}
    finally:
        engine.dispose()


def _wait(condition, proc, what, timeout=90):
    t0 = time.time()
    while not condition():
        assert proc.poll() is None, proc.communicate()[0]
        assert time.time() - t0 < timeout, f"{what} did not happen in {timeout} s"
        time.sleep(0.05)


def _finish(proc, timeout=180):
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"sweep did not finish in {timeout} s:\n{out}")
    assert proc.returncode == 0, out
    return out


def _load(url):
    return optuna.load_study(study_name="fake", storage=url)


def _complete(study) -> dict:
    return {t.number: t.value for t in study.trials if t.state == TrialState.COMPLETE}


def test_killed_sweep_resumes_to_exactly_n_complete_trials(tmp_path, storage_url):
    hang = tmp_path / "hang"
    config = write_fake_config(tmp_path, delay=0.3, hang_file=str(hang))
    n = 8
    proc = _cli(tmp_path, config, n, storage_url)
    try:
        _wait(lambda: _states(storage_url).get("COMPLETE", 0) >= 3, proc, "3 complete trials")
        hang.touch()  # the trial running now (or the next one) hangs until the kill
        _wait(Path(f"{hang}.{proc.pid}.hanging").exists, proc, "a hanging trial")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    hang.unlink()
    before = _complete(_load(storage_url))
    assert 3 <= len(before) < n
    stale = [t.number for t in _load(storage_url).trials if t.state == TrialState.RUNNING]
    assert stale, "the killed process left no RUNNING trial"

    out = _finish(_cli(tmp_path, config, n, storage_url))
    study = _load(storage_url)
    complete = _complete(study)
    assert len(complete) == n, out
    assert {k: complete[k] for k in before} == before          # no finished trial lost
    assert all(study.trials[i].state == TrialState.FAIL for i in stale)  # stale trial failed
    assert not [t for t in study.trials if t.state == TrialState.RUNNING]
    assert f"{n} complete" in out


def test_two_processes_share_one_study(tmp_path, storage_url):
    config, n = write_fake_config(tmp_path, delay=0.3, barrier_n=2), 10
    procs = [_cli(tmp_path, config, n, storage_url) for _ in range(2)]
    outs = [_finish(p) for p in procs]
    study = _load(storage_url)
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(complete) == n, outs
    workers = {t.user_attrs["worker"] for t in complete}
    assert {f"{p.pid}" for p in procs} == {w.rsplit(":", 1)[1] for w in workers}
    assert not [t for t in study.trials if t.state in (TrialState.RUNNING, TrialState.FAIL)]
    assert all(f"{n} complete" in o for o in outs)


def test_sigkill_of_one_worker_mid_trial(tmp_path, storage_url):
    """Two workers share a study; one is killed with SIGKILL while a trial of it runs. The
    other finishes the study: every trial that was COMPLETE before the kill is kept with its
    value, the killed trial is failed after the grace period (and retried), and the study
    ends at exactly n COMPLETE trials."""
    hang = tmp_path / "hang"
    config = write_fake_config(tmp_path, delay=0.3, barrier_n=2, hang_file=str(hang))
    n = 12
    victim, survivor = (_cli(tmp_path, config, n, storage_url) for _ in range(2))
    try:
        _wait(lambda: _states(storage_url).get("COMPLETE", 0) >= 3, victim, "3 complete trials")
        Path(f"{hang}.{victim.pid}").touch()  # the victim's next trial hangs until the kill
        _wait(Path(f"{hang}.{victim.pid}.hanging").exists, victim, "the victim's hanging trial")
        before = _complete(_load(storage_url))
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=30)
    killed = [t for t in _load(storage_url).trials if t.state == TrialState.RUNNING
              and t.user_attrs["worker"].endswith(f":{victim.pid}")]
    assert len(killed) == 1, "the killed worker left no RUNNING trial"

    out = _finish(survivor)
    study = _load(storage_url)
    complete = _complete(study)
    assert len(complete) == n, out
    assert {k: complete[k] for k in before} == before          # no finished trial lost
    assert study.trials[killed[0].number].state == TrialState.FAIL
    retried = [t for t in study.trials if t.system_attrs.get("failed_trial") == killed[0].number]
    assert retried and retried[0].state == TrialState.COMPLETE
    assert not [t for t in study.trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    workers = {t.user_attrs["worker"].rsplit(":", 1)[1] for t in study.trials
               if t.state == TrialState.COMPLETE}
    assert workers == {str(victim.pid), str(survivor.pid)}
    assert f"{n} complete" in out


# --------------------------------------------------------------------------------------------
# Storage URLs that cannot be used
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url, message", [
    ("sqlite://", "is an in-memory SQLite database"),
    ("sqlite:///", "is an in-memory SQLite database"),
    ("sqlite:///:memory:", "is an in-memory SQLite database"),
    ("sqlite:///x.db?mode=memory", "is an in-memory SQLite database"),
    ("not a url", "is not a database URL; expected e.g. sqlite:///study.db"),
    ("nosuchdb://host/x", "unknown database type"),
])
def test_unusable_storage_urls_are_refused(tmp_path, url, message):
    with pytest.raises(StorageError, match="storage \\(--storage\\) .*" + message.replace(
            "?", "\\?")):
        make_storage(url, "s", heartbeat_interval=1, grace_period=2)
    with pytest.raises(StorageError):  # through sweep(), before any trial
        run_sweep(tmp_path, 1, storage=url)


def test_storage_that_cannot_be_opened(tmp_path):
    with pytest.raises(StorageError, match="is a directory"):
        make_storage(f"sqlite:///{tmp_path}", "s", heartbeat_interval=1, grace_period=2)
    t0 = time.time()
    with pytest.raises(StorageError, match="cannot open the database: .*127.0.0.1"):
        make_storage("postgresql+psycopg2://u:secret@127.0.0.1:1/db", "s",
                     heartbeat_interval=1, grace_period=2)
    assert time.time() - t0 < 3, "an unreachable server is not worth retrying"
    with pytest.raises(StorageError) as e:
        make_storage("postgresql+psycopg2://u:secret@127.0.0.1:1/db", "s", 1, 2)
    assert "secret" not in str(e.value) and "***" in str(e.value)


def test_table_creation_race_is_retried_on_postgresql_too():
    """The loser of the race to create the tables gets DuplicateTable (a ProgrammingError)
    on PostgreSQL: retried like SQLite's errors; other programming errors are not."""
    from tfsnn.sweeps.storage import retry_on_db_race

    calls = []

    def make(message):
        def attempt():
            calls.append(message)
            if len(calls) == 1:
                raise sqlalchemy.exc.ProgrammingError("CREATE TABLE studies", {},
                                                      Exception(message))
            return "storage"
        return attempt

    assert retry_on_db_race(make('relation "studies" already exists')) == "storage"
    assert len(calls) == 2
    calls.clear()
    with pytest.raises(sqlalchemy.exc.ProgrammingError):
        retry_on_db_race(make('syntax error at or near "CREAT"'))
    assert len(calls) == 1
