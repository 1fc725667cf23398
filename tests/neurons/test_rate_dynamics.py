"""Rate neuron dynamics: closed-form spike counts under a constant current."""

import numpy as np
import pytest
from keras import ops

from tfsnn.neurons import NeuronParams, RateDynamics


@pytest.mark.jax
@pytest.mark.parametrize("v_init,theta", [(0.0, 1.0), (0.5, 1.0), (0.5, 0.37), (0.9, 2.0)])
@pytest.mark.parametrize("T", [1, 7, 100, 1000])
def test_closed_form_counts_equal_stepped_counts(v_init, theta, T):
    """N_T from the final state equals the counted spikes, bit for bit, at the edges too."""
    rng = np.random.default_rng(T)
    cur = np.concatenate([
        rng.uniform(-3, 3, 2000), rng.integers(-255, 2 * 255, 2000) / 255.0,
        [0.0, -0.0, 1e-7, -1e-7, theta, theta * (1 - 1e-7), theta * (1 + 1e-7), 1e3, -1e3],
        theta / np.arange(1, 200)]).astype("float32") * np.float32(theta)
    dyn, params = RateDynamics(), NeuronParams(threshold=theta, v_init=v_init)
    assert dyn.has_constant_counts(params, T)
    state = dyn.initial_state(1, cur.shape, params)
    i, n = ops.convert_to_tensor(cur[None]), 0.0
    for _ in range(T):
        s, state = dyn.step(i, state, params)
        n = n + s
    closed = dyn.constant_counts(i, state, T, params)
    np.testing.assert_array_equal(ops.convert_to_numpy(closed), ops.convert_to_numpy(n))


def test_closed_form_counts_only_where_exact():
    dyn = RateDynamics()
    assert not dyn.has_constant_counts(NeuronParams(tau=20.0), 100)  # leak
    assert not dyn.has_constant_counts(NeuronParams(v_init=1.0), 100)  # V_0 = theta
    assert not dyn.has_constant_counts(NeuronParams(v_init=-0.5), 100)
    assert not dyn.has_constant_counts(NeuronParams(), dyn.MAX_CLOSED_FORM_T + 1)
