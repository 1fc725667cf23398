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

import numpy as np
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
        v = ops.subtract(v, spikes if theta == 1.0 else ops.multiply(spikes, theta))
        return spikes, [v]

    #: longest run for which ``constant_counts`` is exact (float error < theta / 4)
    MAX_CLOSED_FORM_T = 100_000

    def has_constant_counts(self, params, timesteps) -> bool:
        """Whether ``constant_counts`` is exact: no leak, ``V_0`` in ``[0, theta)``, ``T``
        at most ``MAX_CLOSED_FORM_T`` (else the simulator counts the spikes)."""
        return (leak_factor(params) == 1.0 and 0.0 <= float(params.get("v_init", 0.0)) < 1.0
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
        v_init = float(params.get("v_init", 0.0))
        theta = float(params.get("threshold", 1.0))
        drive = ops.add(ops.multiply(current, float(timesteps)), v_init * theta)
        n = ops.round(ops.divide(ops.subtract(drive, state[0]), theta))
        n = ops.where(ops.greater_equal(current, theta), float(timesteps), n)
        return ops.where(ops.less_equal(current, 0.0), 0.0, n)

    def maxpool_step(self, x, state, pool):
        count = ops.add(state[0], x)
        # the running maximum of the input counts rises by at most one per step
        return ops.subtract(pool(count), pool(state[0])), [count]


# ----------------------------------------------------------------------------- TTFS
INF = float("inf")


class TTFSDynamics(Dynamics):
    """Time-to-first-spike neurons in layer-synchronous windows (one spike at most).

    Time is cut into windows of ``tau = params["window"]`` steps. A layer at depth ``d``
    (``d``-th layer with neurons on its path from the input) *integrates* during window
    ``d - 1`` (steps ``[(d-1) tau, d tau)``) and *fires* during window ``d``, when its
    presynaptic layer has finished firing. With ``k`` the step inside a window:

    - integration (first layer, analog/Poisson input): ``V += I_t / tau``, so ``V = z``, the
      mean input current (the ANN pre-activation for constant input);
    - integration (deeper layers, input = TTFS spikes): a spike at ``k`` carries the value
      ``g(k)`` of the presynaptic code, ``V = b + sum_k g_in(k) (I_k - b)`` with ``I = W s + b``;
      the bias ``b`` is the current of the step before the window (no presynaptic spikes
      then). For the linear code this equals integrating the held input ``W H_t + b``
      (``H_t`` = presynaptic neurons that have spiked) over the window, divided by ``tau``;
    - firing: ``V`` is frozen; the threshold decays, ``theta_k = theta * g(k + 1/2)``, and the
      neuron spikes once, at the first ``k`` with ``V >= theta_k`` (``V >= max(theta_k,
      cut)`` with a clamped-ReLU cut-off ``cut``, in units of ``V``). Because ``V`` is frozen
      and ``theta_k`` strictly decreases, the spike is the single ``k`` with
      ``theta_k <= V < theta_{k-1}``: no refractory state is needed.

    So a neuron spikes at ``k`` iff ``g(k)`` is the code value nearest to ``V / theta`` (the
    ANN activation rounded to the code's grid, clipped to ``g(0) = 1``; below ``g(tau - 1/2)``
    it stays silent), and the next layer decodes exactly that value. Codes ``g``:

    - ``"linear"``: ``g(k) = 1 - k / tau`` (grid ``1, 1 - 1/tau, ..., 1/tau``);
    - ``"exp"``: ``g(k) = exp(-k / (tau_theta * tau))`` (exponentially decaying threshold);
    - ``"clamped"``: ``g(k) = 1 - (1 - lo) k / (tau - 1)`` maps the window onto
      ``[lo, 1]`` with ``lo = min(cut) / theta`` (the normalized clamp), and the last
      threshold is ``lo`` itself (every activation >= the clamp spikes).

    State: ``v``, ``bias`` (the captured ``b``) and the step counter ``t`` (shape
    ``(batch, 1, ...)``, broadcast over the neurons). Per-layer params (set by the encoding's
    ``prepare``): ``depth``, ``first`` (input is not TTFS-coded), ``cut``, ``in_cut`` (the
    presynaptic layer's cut, which fixes its code for ``"clamped"``).

    Max pooling: the pooled neuron passes the first spike in its window (the earliest is the
    largest value) and is silent afterwards.
    """

    name = "ttfs"
    state_names = ("v", "bias", "t")
    maxpool_state_names = ("fired",)
    maxpool_state_on_input = False
    CODES = ("linear", "exp", "clamped")

    def __init__(self, code="linear"):
        if code not in self.CODES:
            raise ValueError(f"unknown TTFS code {code!r}; supported: {self.CODES}")
        self.code = code
        self.readout_dynamics = TTFSReadout(self)

    # -- parameters
    def check_params(self, params):
        if params.get("tau") is not None:
            raise ValueError(f"the {self.name} encodings have no leak: tau must be None, got "
                             f"{params['tau']} (a TTFS neuron integrates only inside its "
                             "window, then holds its potential)")
        w = params.get("window")
        if w is None or int(w) != w or int(w) < 1:
            raise ValueError(f"TTFS window must be an integer >= 1 timesteps, got {w!r}")
        if self.code == "exp" and not float(params.get("tau_theta", 0)) > 0:
            raise ValueError("tau_theta (threshold time constant as a fraction of the window) "
                             f"must be > 0, got {params.get('tau_theta')!r}")

    def _lo(self, cut, params):
        """Lower end of the clamped code (normalized clamp), 0 for the other codes."""
        if self.code != "clamped" or cut is None:
            return 0.0
        lo = float(min(cut)) if isinstance(cut, (list, tuple)) else float(cut)
        return min(max(lo / float(params.get("threshold", 1.0)), 0.0), 1.0)

    def g(self, k, lo, params):
        """Code value of a spike ``k`` steps into a window (``k`` may be a tensor)."""
        tau = int(params["window"])
        if self.code == "exp":
            return ops.exp(ops.multiply(k, -1.0 / (float(params["tau_theta"]) * tau)))
        steps = max(tau - 1, 1) if lo > 0 else tau
        return ops.subtract(1.0, ops.multiply(k, (1.0 - lo) / steps))

    def spike_values(self, timesteps, params):
        """The value a spike at step ``t = 0..T-1`` carries, ``g(t - depth * window)`` in
        units of theta (0 outside the layer's firing window): ``sum_t s_t spike_values[t]``
        decodes a spike train to the normalized activation the next layer receives."""
        tau = int(params["window"])
        k = np.arange(int(timesteps), dtype=np.float32) - float(int(params["depth"]) * tau)
        lo = self._lo(params.get("cut"), params)
        g = np.asarray(ops.convert_to_numpy(self.g(ops.convert_to_tensor(k), lo, params)))
        return np.where((k >= 0) & (k < tau), g, 0.0).astype(np.float64)

    # -- state
    def state_shapes(self, shape):
        shape = tuple(shape)
        return [shape, shape, (1,) * len(shape)]

    def initial_state(self, batch_size, shape, params, dtype="float32"):
        shape = tuple(shape)
        v0 = float(params.get("v_init", 0.0)) * float(params.get("threshold", 1.0))
        return [ops.full((batch_size,) + shape, v0, dtype=dtype),
                ops.zeros((batch_size,) + shape, dtype=dtype),
                ops.zeros((batch_size,) + (1,) * len(shape), dtype=dtype)]

    def integrate(self, current, v, b, t, params):
        """Integration window of the layer: returns the new ``v`` and ``bias``."""
        tau = int(params["window"])
        k = ops.subtract(t, float((int(params["depth"]) - 1) * tau))  # step in the window
        inside = ops.logical_and(ops.greater_equal(k, 0.0), ops.less(k, float(tau)))
        if params.get("first", True):  # analog (or Poisson) input: mean current
            return ops.add(v, ops.multiply(current, ops.where(inside, 1.0 / tau, 0.0))), b
        lo_in = self._lo(params.get("in_cut"), params)
        diff = ops.subtract(current, b)  # = W s (b is 0 before the capture step)
        capture = ops.cast(ops.equal(k, -1.0), current.dtype)  # no presynaptic spikes yet
        weight = ops.add(ops.where(inside, self.g(k, lo_in, params), 0.0), capture)
        return ops.add(v, ops.multiply(diff, weight)), ops.add(b, ops.multiply(diff, capture))

    def step(self, current, state, params):
        v, b, t = state
        v, b = self.integrate(current, v, b, t, params)
        tau = int(params["window"])
        theta = float(params.get("threshold", 1.0))
        cut = params.get("cut")
        lo = self._lo(cut, params)
        kf = ops.subtract(t, float(int(params["depth"]) * tau))  # step in the firing window
        firing = ops.logical_and(ops.greater_equal(kf, 0.0), ops.less(kf, float(tau)))
        pos = ops.add(kf, 0.5)
        if lo > 0:  # clamped code: the last threshold is the clamp itself
            pos = ops.minimum(pos, float(tau - 1))
        thr = ops.where(firing, ops.multiply(self.g(pos, lo, params), theta), INF)
        prev = ops.where(ops.greater_equal(kf, 1.0),
                         ops.multiply(self.g(ops.subtract(kf, 0.5), lo, params), theta), INF)
        if cut:
            thr = ops.maximum(thr, ops.convert_to_tensor(cut, dtype=v.dtype))
        spikes = ops.cast(ops.logical_and(ops.greater_equal(v, thr), ops.less(v, prev)),
                          v.dtype)
        return spikes, [v, b, ops.add(t, 1.0)]

    def maxpool_step(self, x, state, pool):
        p = pool(x)
        fired = state[0]
        spikes = ops.multiply(p, ops.subtract(1.0, fired))
        return spikes, [ops.maximum(fired, ops.cast(ops.greater(p, 0.0), p.dtype))]


class TTFSReadout:
    """Readout of a TTFS network: decodes its input like a TTFS layer, never spikes.

    During its integration window it builds ``V = b + sum_k g_in(k) (I_k - b)`` (the ANN's
    pre-softmax output, up to the code's rounding), then holds it. Its output at step ``t``
    (0-based) is ``(t + 1) V_t``, so the simulator's score ``out_T / T`` is ``V_T`` and the
    class decision at every step is ``argmax V_t``.
    """

    state_names = ("v", "bias", "t")

    def __init__(self, dynamics: TTFSDynamics):
        self.dynamics = dynamics

    def state_shapes(self, shape):
        return self.dynamics.state_shapes(shape)

    def initial_state(self, batch_size, shape, params, dtype="float32"):
        return self.dynamics.initial_state(batch_size, shape, {**params, "v_init": 0.0}, dtype)

    def step(self, current, state, params):
        v, b, t = state
        v, b = self.dynamics.integrate(current, v, b, t, params)
        return ops.multiply(v, ops.add(t, 1.0)), [v, b, ops.add(t, 1.0)]
