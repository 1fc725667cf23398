"""SNN files written before the restructure (tests/fixtures/snn_*_v0.keras) still load and
give the same scores, predictions and spike counts."""

from pathlib import Path

import numpy as np
import pytest

import tfsnn

FIX = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("encoding", ["rate", "ttfs"])
def test_v0_file_loads_and_predicts_the_same(encoding):
    exp = np.load(FIX / "snn_v0_expected.npz")
    snn = tfsnn.load_snn(FIX / f"snn_{encoding}_v0.keras")
    res = snn.evaluate(exp["x"], None, timesteps=30, batch_size=8)
    np.testing.assert_array_equal(res.predictions_per_step, exp[f"{encoding}_preds"])
    np.testing.assert_allclose(res.scores, exp[f"{encoding}_scores"], rtol=1e-5, atol=1e-6)
    spikes = np.array([res.spike_counts[k] for k in sorted(res.spike_counts)])
    np.testing.assert_array_equal(spikes, exp[f"{encoding}_spikes"])
