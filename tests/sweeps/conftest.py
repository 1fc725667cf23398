"""Fixtures of the sweep tests."""

import pytest
from sweep_fakes import FakeExperiment

from tfsnn.sweeps import clear_ann_cache


@pytest.fixture
def fake(monkeypatch):
    FakeExperiment.calls = []
    FakeExperiment.fail = staticmethod(lambda kw: False)
    clear_ann_cache()
    yield FakeExperiment
    clear_ann_cache()

