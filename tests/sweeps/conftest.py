"""Fixtures of the sweep tests: the fake experiment, a throwaway PostgreSQL server, and
``storage_url``, which runs a test once on SQLite and once on PostgreSQL."""

import pytest
from pg_server import PostgresServer, why_unavailable
from sweep_fakes import FakeExperiment

from tfsnn.sweeps import clear_ann_cache


@pytest.fixture
def fake(monkeypatch):
    FakeExperiment.calls = []
    FakeExperiment.fail = staticmethod(lambda kw: False)
    clear_ann_cache()
    yield FakeExperiment
    clear_ann_cache()


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server for this test session (initdb'ed as an unprivileged user, on
    127.0.0.1 and a free port, trust authentication); stopped and deleted afterwards."""
    reason = why_unavailable()
    if reason is not None:
        pytest.skip(reason)
    server = PostgresServer()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request, tmp_path):
    """An empty study storage: a SQLite file, or a fresh database on the PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'study.db'}"
    return request.getfixturevalue("postgres_server").new_database()
