"""Optuna storage for sweeps: a study in an RDB shared by processes and machines.

``open_study`` makes the storage from a URL (default ``sqlite:///<study>.db``), with heartbeats
so that trials of killed processes are failed after ``grace_period`` seconds and retried once,
and retries the races of processes that create a fresh database together.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import optuna
import sqlalchemy.engine
import sqlalchemy.exc

__all__ = ["open_study", "make_storage", "retry_on_db_race", "heartbeat_enabled",
           "fail_stale_trials", "check_study", "sqlite_path", "check_storage_url",
           "StorageError", "URL_EXAMPLES"]


#: Storage URLs to suggest in error messages.
URL_EXAMPLES = "sqlite:///study.db or postgresql+psycopg2://user:password@host:5432/database"

# Messages of errors that say the database cannot be reached at all (not worth retrying).
_UNREACHABLE = ("unable to open database file", "connection to server", "could not connect",
                "could not translate host name", "authentication failed", "does not exist",
                "connection refused")


class StorageError(ValueError):
    """The storage (``storage=``, ``tfsnn sweep --storage``) cannot be used: not a database
    URL, an in-memory database (it would save nothing), a missing database driver, or a
    database that cannot be opened."""


def sqlite_path(url: str) -> Path | None:
    """The database file of a ``sqlite:///PATH`` URL (None for other URLs and in-memory)."""
    if url.startswith("sqlite:///") and ":memory:" not in url:
        return Path(url[len("sqlite:///"):])
    return None


def check_storage_url(url: str) -> str:
    """Raise StorageError unless ``url`` is a database URL that keeps the study (not an
    in-memory SQLite database); returns the URL with its password hidden, for messages."""
    try:
        parsed = sqlalchemy.engine.make_url(url)
    except sqlalchemy.exc.ArgumentError:
        raise StorageError(f"storage (--storage) {url!r} is not a database URL; expected e.g. "
                           f"{URL_EXAMPLES}") from None
    shown = parsed.render_as_string(hide_password=True)
    in_memory = parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory"
    if parsed.get_backend_name() == "sqlite" and in_memory:
        raise StorageError(
            f"storage (--storage) {shown!r} is an in-memory SQLite database: the study would be "
            "lost when the process ends and no other process could share it; give a file, "
            "e.g. sqlite:///study.db")
    path = sqlite_path(url)
    if path is not None and path.is_dir():
        raise StorageError(f"storage (--storage) {shown!r}: {path} is a directory; give a "
                           "database file, e.g. sqlite:///study.db")
    return shown


def make_storage(storage, study_name: str, heartbeat_interval: int, grace_period: int):
    """An Optuna ``RDBStorage`` for the URL ``storage`` (default ``sqlite:///<study_name>.db``)
    with heartbeats and one retry of stale trials; a storage object is returned as given.
    A URL that cannot be used raises :class:`StorageError`."""
    if storage is None:
        storage = f"sqlite:///{study_name}.db"
    if not isinstance(storage, str):
        return storage  # an Optuna storage object: used as given
    shown = check_storage_url(storage)
    engine_kwargs = {}
    if storage.startswith("sqlite"):
        engine_kwargs = {"connect_args": {"timeout": 30}}
        path = sqlite_path(storage)
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
        return _open(shown, lambda: retry_on_db_race(lambda: optuna.storages.RDBStorage(
            storage, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat_interval,
            grace_period=grace_period, **callback)))


def _open(shown: str, make):
    """``make()``, with the errors of a storage URL that cannot be used as StorageError."""
    try:
        return make()
    except sqlalchemy.exc.NoSuchModuleError:
        raise StorageError(f"storage (--storage) {shown!r}: unknown database type; expected "
                           f"e.g. {URL_EXAMPLES}") from None
    except ImportError as e:
        raise StorageError(
            f"storage (--storage) {shown!r}: its database driver is not installed "
            f"({e.__cause__ or e}); for PostgreSQL use postgresql+psycopg2://... "
            "(pip install psycopg2-binary)") from None
    except sqlalchemy.exc.OperationalError as e:
        first = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        raise StorageError(f"storage (--storage) {shown!r}: cannot open the database: "
                           f"{first}") from None


def _unreachable(error: Exception) -> bool:
    text = str(getattr(error, "orig", None) or error).lower()
    return any(s in text for s in _UNREACHABLE)


def retry_on_db_race(make, attempts: int = 8):
    """Processes that open a fresh database together race to create its tables (Optuna raises
    an IntegrityError/OperationalError in the loser on SQLite; on PostgreSQL a
    ProgrammingError, DuplicateTable "relation ... already exists"): try again once the
    winner is done. A database that cannot be reached at all is not retried."""
    rng = np.random.default_rng()
    for attempt in range(attempts):
        try:
            return make()
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.OperationalError,
                sqlalchemy.exc.ProgrammingError) as e:
            lost_race = not isinstance(e, sqlalchemy.exc.ProgrammingError) or (
                "already exists" in str(e))
            if attempt == attempts - 1 or _unreachable(e) or not lost_race:
                raise
            time.sleep(0.2 + 0.5 * rng.random())


def heartbeat_enabled(storage) -> bool:
    """Whether ``storage`` records heartbeats (then RUNNING trials of live processes hold
    their slot and stale ones can be failed)."""
    get = getattr(storage, "get_heartbeat_interval", None)
    return get is not None and get() is not None


def fail_stale_trials(study) -> None:
    """Fail (and so retry once) the RUNNING trials whose heartbeat is older than the grace
    period: their process stopped."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optuna.storages.fail_stale_trials(study)


def check_study(study, objectives: list[str], directions: list[str]) -> None:
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


def open_study(storage, study_name: str, sampler, objectives: list[str],
               directions: list[str], heartbeat_interval: int, grace_period: int | None):
    """Create or load (``load_if_exists``) the study ``study_name`` in ``storage`` and check
    that it optimizes ``objectives`` in ``directions``."""
    storage_obj = make_storage(storage, study_name, heartbeat_interval, grace_period)
    study = retry_on_db_race(lambda: optuna.create_study(
        study_name=study_name, storage=storage_obj, sampler=sampler, directions=directions,
        load_if_exists=True))
    check_study(study, objectives, directions)
    return study
