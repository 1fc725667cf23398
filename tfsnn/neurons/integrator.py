"""Readout neurons: integrate the current, never spike (``V_t = V_{t-1} + I_t``).

The output at step t is the accumulated potential, so class scores (``V_t / t`` estimates
the ANN's pre-softmax output) exist at every timestep.
"""

from __future__ import annotations

from keras import ops

from tfsnn.backend import add


class Integrator:
    state_names = ("v",)

    @staticmethod
    def state_shapes(shape, params=None):
        return [tuple(shape)]

    @staticmethod
    def initial_state(batch_size, shape, params, dtype="float32"):
        return [ops.zeros((batch_size,) + tuple(shape), dtype=dtype)]

    @staticmethod
    def step(current, state, params, spike=None):
        v = add(state[0], current)
        return v, [v]

    @staticmethod
    def has_constant_counts(params, timesteps) -> bool:
        return False
