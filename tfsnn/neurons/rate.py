"""Rate coding: integrate-and-fire neurons with reset by subtraction (Rueckauer et al.,
"Conversion of continuous-valued deep networks to efficient event-driven networks for image
classification", Front. Neurosci. 2017).

    V_t = lambda * V_{t-1} + I_t          (lambda = exp(-1/tau), 1 without leak)
    s_t = [V_t >= theta]
    V_t <- V_t - theta * s_t

``V_0 = v_init * theta`` (``v_init = 0.5``, the default, is Bu et al., ICLR 2022). With
constant input ``I`` the rate ``N_T / T`` converges to ``clip(I / theta, 0, 1)`` with error
below ``1/T``.

Max pooling (spike-count gating): a pooled neuron spikes whenever the highest accumulated
spike count in its window rises, ``s_t = max_i N_i(t) - max_i N_i(t-1)``, so its count is
always the count of the leading input and its rate is the maximum input rate.

Signed neurons (``signed=True``; the "signed neuron with memory" of Wang et al., IJCAI 2022,
and the signed IF neuron of Hu et al., "Fast-SNN", IEEE TPAMI 2023) may also send a negative
spike, which takes back one of their earlier spikes:

    s_t = [V_t >= theta] - [V_t < 0] [N_{t-1} > 0],    N_t = N_{t-1} + s_t,
    V_t <- V_t - theta * s_t

so the net count ``N_t`` never goes below 0, and the membrane is pulled back into
``[0, theta)`` from both sides. Without leak, with ``V_0`` in ``[0, theta)`` and every step's
current in ``[-theta, theta]``, the membrane after each step is in ``[0, theta)`` or below 0
with ``N_t = 0``; since ``V_T = V_0 + T Ibar - theta N_T`` (``Ibar`` the mean current),

    N_T = clip(floor(T Ibar / theta + v_init), 0, T)

exactly, whatever the order of the inputs: the unevenness error of plain IF neurons (early
input followed by inhibition gives spikes the mean does not; Bu et al., ICLR 2022) is gone.
With ``v_init = 1/2`` that is the quantized activation of a QCFS ANN of ``L = T`` levels.
Negative spikes are events like positive ones (the simulator counts both for energy and
spike statistics; rates and decoding use the net count).
"""

from __future__ import annotations

from keras import ops

from tfsnn.backend import add
from tfsnn.neurons.base import Dynamics
from tfsnn.neurons.params import RateParams, is_one
from tfsnn.neurons.spike import below_zero, heaviside


def is_signed(params) -> bool:
    """Whether ``params`` asks for signed neurons (plain ``NeuronParams`` do not)."""
    return bool(getattr(params, "signed", False))


class RateDynamics(Dynamics):
    name = "rate"
    Params = RateParams
    defaults = RateParams(v_init=0.5)
    #: ``("v", "count")`` for signed neurons (the net spike count gates negative spikes)
    state_names = ("v",)
    maxpool_state_names = ("count",)
    maxpool_state_on_input = True
    #: longest run for which ``constant_counts`` is exact (float error < theta / 4)
    MAX_CLOSED_FORM_T = 100_000

    def state_shapes(self, shape, params=None) -> list:
        n = 2 if is_signed(params) else 1
        return [tuple(shape)] * n

    def initial_state(self, batch_size, shape, params, dtype="float32"):
        v0, full = params.v0, (batch_size,) + tuple(shape)
        if isinstance(v0, float):
            state = [ops.full(full, v0, dtype=dtype)]
        else:
            state = [ops.add(ops.zeros(full, dtype=dtype), v0)]  # a trained threshold
        if is_signed(params):
            state.append(ops.zeros(full, dtype=dtype))
        return state

    def step(self, current, state, params, spike=heaviside):
        theta = params.threshold
        decay = params.leak
        v = state[0] if is_one(decay) else ops.multiply(state[0], decay)
        v = add(v, current)
        spikes = spike(v, theta)
        signed = is_signed(params)
        if signed:  # a negative spike takes one back (module docstring)
            below = getattr(spike, "below_zero", below_zero)  # a surrogate's, when training
            back = ops.multiply(below(v, theta),
                                ops.cast(ops.greater(state[1], 0.0), v.dtype))
            spikes = ops.subtract(spikes, back)
        v = ops.subtract(v, spikes if is_one(theta) else ops.multiply(spikes, theta))
        if signed:
            return spikes, [v, add(state[1], spikes)]
        return spikes, [v]

    def has_constant_counts(self, params, timesteps) -> bool:
        """Whether ``constant_counts`` is exact: no leak, ``V_0`` in ``[0, theta)``, ``T``
        at most ``MAX_CLOSED_FORM_T`` (else the simulator counts the spikes)."""
        return (params.leak == 1.0 and 0.0 <= params.v_init < 1.0
                and timesteps <= self.MAX_CLOSED_FORM_T)

    def constant_counts(self, current, state, timesteps, params):
        """Spike counts ``N_T`` under a constant current ``I`` from the final state ``V_T``.

        Without leak, ``V_T = V_0 + T I - theta N_T`` holds exactly in real arithmetic, so

            N_T = T                                  if I >= theta (a spike every step)
            N_T = 0                                  if I <= 0
            N_T = round((V_0 + T I - V_T) / theta)   else

        For ``V_0`` in ``[0, theta)`` the simulated ``V`` stays in ``[0, theta)`` in the last
        case, so the float error of the iteration is below ``T * 2^-22 theta``, far below
        ``theta / 2``, and the count is exact. Only where ``has_constant_counts``.
        """
        theta = params.threshold
        drive = ops.add(ops.multiply(current, float(timesteps)), params.v0)
        n = ops.round(ops.divide(ops.subtract(drive, state[0]), theta))
        n = ops.where(ops.greater_equal(current, theta), float(timesteps), n)
        return ops.where(ops.less_equal(current, 0.0), 0.0, n)

    def maxpool_step(self, x, state, pool):
        count = add(state[0], x)
        # the running maximum of the input counts rises by at most one per step
        return ops.subtract(pool(count), pool(state[0])), [count]
