"""Time-to-first-spike neurons in layer-synchronous windows (one spike at most).

    Time is cut into windows of ``tau = params.window`` steps. A layer at depth ``d``
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

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from keras import ops

from tfsnn.backend import add
from tfsnn.neurons.base import Dynamics
from tfsnn.neurons.params import NeuronParams
from tfsnn.neurons.spike import heaviside

INF = float("inf")
CODES = ("linear", "exp", "clamped")


def _cut_value(cut):
    if cut is None or isinstance(cut, (int, float)):
        return None if cut is None else float(cut)
    return tuple(float(c) for c in cut)


@dataclass(frozen=True)
class TTFSParams(NeuronParams):
    """TTFS neuron parameters: ``window`` (steps per layer window), ``depth`` (the window
    index the layer fires in), ``first`` (its input is not TTFS-coded), ``cut`` (clamped-ReLU
    cut-off, units of V, scalar or per channel), ``in_cut`` (the presynaptic layer's cut) and
    ``tau_theta`` (threshold time constant of the ``exp`` code, a fraction of the window).
    A standalone cell (depth 1) integrates during steps ``[0, window)`` and fires during
    ``[window, 2 window)``."""

    window: int = 10
    depth: int = 1
    first: bool = True
    cut: float | tuple | None = None
    in_cut: float | tuple | None = None
    tau_theta: float | None = None

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "cut", _cut_value(self.cut))
        object.__setattr__(self, "in_cut", _cut_value(self.in_cut))


class TTFSDynamics(Dynamics):
    """Time-to-first-spike neurons in layer-synchronous windows (see the module docstring);
    ``code`` is the code ``g``: "linear", "exp" or "clamped"."""

    name = "ttfs"
    temporal_code = True
    Params = TTFSParams
    defaults = TTFSParams()
    state_names = ("v", "bias", "t")
    maxpool_state_names = ("fired",)
    maxpool_state_on_input = False
    CODES = CODES

    #: default ``tau_theta`` of the ``exp`` code (a fraction of the window)
    TAU_THETA = 0.4

    def __init__(self, code="linear"):
        if code not in CODES:
            raise ValueError(f"unknown TTFS code {code!r}; supported: {CODES}")
        self.code = code
        if code == "exp":
            self.defaults = TTFSParams(tau_theta=self.TAU_THETA)
        self.readout_dynamics = TTFSReadout(self)

    # -- parameters
    def check_params(self, params):
        if params.tau is not None:
            raise ValueError(f"the {self.name} encodings have no leak: tau must be None, got "
                             f"{params.tau} (a TTFS neuron integrates only inside its "
                             "window, then holds its potential)")
        w = params.window
        if w is None or int(w) != w or int(w) < 1:
            raise ValueError(f"TTFS window must be an integer >= 1 timesteps, got {w!r}")
        if self.code == "exp" and not float(params.tau_theta or 0) > 0:
            raise ValueError("tau_theta (threshold time constant as a fraction of the window) "
                             f"must be > 0, got {params.tau_theta!r}")

    def _lo(self, cut, params):
        """Lower end of the clamped code (normalized clamp), 0 for the other codes."""
        if self.code != "clamped" or cut is None:
            return 0.0
        lo = float(min(cut)) if isinstance(cut, tuple) else float(cut)
        return min(max(lo / params.threshold, 0.0), 1.0)

    def g(self, k, lo, params):
        """Code value of a spike ``k`` steps into a window (``k`` may be a tensor)."""
        tau = int(params.window)
        if self.code == "exp":
            return ops.exp(ops.multiply(k, -1.0 / (float(params.tau_theta) * tau)))
        steps = max(tau - 1, 1) if lo > 0 else tau
        return ops.subtract(1.0, ops.multiply(k, (1.0 - lo) / steps))

    def spike_values(self, timesteps, params):
        """The value a spike at step ``t = 0..T-1`` carries, ``g(t - depth * window)`` in
        units of theta (0 outside the layer's firing window): ``sum_t s_t spike_values[t]``
        decodes a spike train to the normalized activation the next layer receives."""
        tau = int(params.window)
        k = np.arange(int(timesteps), dtype=np.float32) - float(int(params.depth) * tau)
        lo = self._lo(params.cut, params)
        g = np.asarray(ops.convert_to_numpy(self.g(ops.convert_to_tensor(k), lo, params)))
        return np.where((k >= 0) & (k < tau), g, 0.0).astype(np.float64)

    # -- state
    def state_shapes(self, shape, params=None):
        shape = tuple(shape)
        return [shape, shape, (1,) * len(shape)]

    def initial_state(self, batch_size, shape, params, dtype="float32"):
        shape = tuple(shape)
        return [ops.full((batch_size,) + shape, params.v0, dtype=dtype),
                ops.zeros((batch_size,) + shape, dtype=dtype),
                ops.zeros((batch_size,) + (1,) * len(shape), dtype=dtype)]

    def integrate(self, current, v, b, t, params):
        """Integration window of the layer: returns the new ``v`` and ``bias``."""
        tau = int(params.window)
        k = ops.subtract(t, float((int(params.depth) - 1) * tau))  # step in the window
        inside = ops.logical_and(ops.greater_equal(k, 0.0), ops.less(k, float(tau)))
        if params.first:  # analog (or Poisson) input: mean current
            return add(v, ops.multiply(current, ops.where(inside, 1.0 / tau, 0.0))), b
        lo_in = self._lo(params.in_cut, params)
        diff = ops.subtract(current, b)  # = W s (b is 0 before the capture step)
        capture = ops.cast(ops.equal(k, -1.0), current.dtype)  # no presynaptic spikes yet
        weight = ops.add(ops.where(inside, self.g(k, lo_in, params), 0.0), capture)
        return add(v, ops.multiply(diff, weight)), add(b, ops.multiply(diff, capture))

    def thresholds(self, v, t, params):
        """``(theta_k, theta_{k-1})`` of the firing window at step ``t`` (inf outside)."""
        tau = int(params.window)
        theta = params.threshold
        cut = params.cut
        lo = self._lo(cut, params)
        kf = ops.subtract(t, float(int(params.depth) * tau))  # step in the firing window
        firing = ops.logical_and(ops.greater_equal(kf, 0.0), ops.less(kf, float(tau)))
        pos = ops.add(kf, 0.5)
        if lo > 0:  # clamped code: the last threshold is the clamp itself
            pos = ops.minimum(pos, float(tau - 1))
        thr = ops.where(firing, ops.multiply(self.g(pos, lo, params), theta), INF)
        prev = ops.where(ops.greater_equal(kf, 1.0),
                         ops.multiply(self.g(ops.subtract(kf, 0.5), lo, params), theta), INF)
        if cut:
            thr = ops.maximum(thr, ops.convert_to_tensor(cut, dtype=v.dtype))
        return thr, prev

    def step(self, current, state, params, spike=heaviside):
        v, b, t = state
        v, b = self.integrate(current, v, b, t, params)
        thr, prev = self.thresholds(v, t, params)
        spikes = ops.multiply(spike(v, thr), ops.cast(ops.less(v, prev), v.dtype))
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

    def state_shapes(self, shape, params=None):
        return self.dynamics.state_shapes(shape)

    def initial_state(self, batch_size, shape, params, dtype="float32"):
        return self.dynamics.initial_state(batch_size, shape, params.replace(v_init=0.0),
                                           dtype)

    def step(self, current, state, params, spike=None):
        v, b, t = state
        v, b = self.dynamics.integrate(current, v, b, t, params)
        return ops.multiply(v, ops.add(t, 1.0)), [v, b, ops.add(t, 1.0)]

    @staticmethod
    def has_constant_counts(params, timesteps) -> bool:
        return False
