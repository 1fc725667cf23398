"""Neuron dynamics: the elementwise, stateful part of a spiking layer.

A ``Dynamics`` object holds pure functions of ``(current, state, params)``; one object serves
all cells of an encoding, which differ only in their synaptic operation. Every encoding also
defines how its spiking max-pool gates spikes, and shares the readout integrator.

``params`` is a plain dict: ``threshold`` (theta), ``v_init`` (initial membrane potential as a
fraction of theta), ``tau`` (leak time constant in timesteps, ``None`` = no leak) and whatever
an encoding adds (e.g. ``timesteps`` for the TTFS windows).
"""

from __future__ import annotations

import math

from keras import ops


def leak_factor(params) -> float:
    """``exp(-1 / tau)`` for a LIF neuron; 1.0 (no leak, an IF neuron) when ``tau`` is None."""
    tau = params.get("tau")
    return 1.0 if tau is None else math.exp(-1.0 / float(tau))


class Dynamics:
    """Base class; subclasses implement ``initial_state``, ``step`` and the max-pool rule."""

    name = "base"
    #: names of the per-neuron state tensors, in the order of the state list
    state_names: tuple = ("v",)
    #: names of the max-pool gate's state tensors
    maxpool_state_names: tuple = ()
    #: whether a max-pool gate's state is shaped like its input (else like its output)
    maxpool_state_on_input: bool = True

    def initial_state(self, batch_size, shape, params, dtype="float32"):
        raise NotImplementedError

    def step(self, current, state, params):
        """One timestep: ``(spikes, new_state)`` from the input current and the old state."""
        raise NotImplementedError

    def maxpool_initial_state(self, batch_size, in_shape, out_shape, dtype="float32"):
        shape = in_shape if self.maxpool_state_on_input else out_shape
        return [ops.zeros((batch_size,) + tuple(shape), dtype=dtype)
                for _ in self.maxpool_state_names]

    def maxpool_step(self, x, state, pool):
        """One timestep of the spiking max-pool; ``pool`` is the plain max-pool function."""
        raise NotImplementedError


class Integrator:
    """Readout neurons: integrate the current, never spike (``V_t = V_{t-1} + I_t``).

    The output at step t is the accumulated potential, so class scores (``V_t / t`` estimates
    the ANN's pre-softmax output) exist at every timestep.
    """

    state_names = ("v",)

    @staticmethod
    def initial_state(batch_size, shape, params, dtype="float32"):
        return [ops.zeros((batch_size,) + tuple(shape), dtype=dtype)]

    @staticmethod
    def step(current, state, params):
        v = ops.add(state[0], current)
        return v, [v]


class RateDynamics(Dynamics):
    """Integrate-and-fire with reset by subtraction (Rueckauer et al. 2017).

        V_t = lambda * V_{t-1} + I_t          (lambda = exp(-1/tau), 1 without leak)
        s_t = [V_t >= theta]
        V_t <- V_t - theta * s_t

    ``V_0 = v_init * theta`` (``v_init = 0.5`` is Bu et al., ICLR 2022). With constant input
    ``I`` the rate ``N_T / T`` converges to ``clip(I / theta, 0, 1)`` with error below ``1/T``.

    Max pooling (spike-count gating): a pooled neuron spikes whenever the highest accumulated
    spike count in its window rises, ``s_t = max_i N_i(t) - max_i N_i(t-1)``, so its count is
    always the count of the leading input and its rate is the maximum input rate.
    """

    name = "rate"
    state_names = ("v",)
    maxpool_state_names = ("count",)
    maxpool_state_on_input = True

    def initial_state(self, batch_size, shape, params, dtype="float32"):
        v0 = float(params.get("v_init", 0.0)) * float(params.get("threshold", 1.0))
        return [ops.full((batch_size,) + tuple(shape), v0, dtype=dtype)]

    def step(self, current, state, params):
        theta = float(params.get("threshold", 1.0))
        decay = leak_factor(params)
        v = state[0] if decay == 1.0 else ops.multiply(state[0], decay)
        v = ops.add(v, current)
        spikes = ops.cast(ops.greater_equal(v, theta), v.dtype)
        v = ops.subtract(v, ops.multiply(spikes, theta))
        return spikes, [v]

    def maxpool_step(self, x, state, pool):
        count = ops.add(state[0], x)
        # the running maximum of the input counts rises by at most one per step
        return ops.subtract(pool(count), pool(state[0])), [count]
