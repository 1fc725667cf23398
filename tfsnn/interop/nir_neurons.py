"""tfsnn's rate-coded neurons as NIR nodes and back: the time discretisation and reset
convention (docs/interop.md, "NIR").

tfsnn steps time in units of one step (``dt = 1``); a spiking layer does, per step,

    V_t = lambda V_{t-1} + I_t     (lambda = exp(-1 / tau), 1 without leak: an IF neuron)
    s_t = [V_t >= theta];  V_t <- V_t - theta s_t      (reset by subtraction)
    V_0 = v_init * theta

and the readout integrates without spiking, ``V_t = V_{t-1} + I_t``, ``V_0 = 0``.

NIR's neurons are continuous-time: ``IF``: ``dv/dt = R I``; ``LIF``: ``tau dv/dt = (v_leak -
v) + R I``; ``I``: ``dv/dt = R I``. One tfsnn step is one unit of NIR time, discretised with
forward Euler as snnTorch and Norse do (``v_t = (1 - dt/tau) v_{t-1} + (dt R / tau) I_t``):

- ``IF(r=1, v_threshold=theta, v_reset=0)``: ``v_t = v_{t-1} + I_t``;
- ``LIF(tau=1 / (1 - lambda), r=tau, v_leak=0, ...)``: ``1 - 1/tau = lambda`` and gain
  ``r / tau = 1``, so ``v_t = lambda v_{t-1} + I_t`` as in tfsnn;
- the readout: ``I(r=1)``.

What NIR (1.0) cannot say is written into each spiking node's ``metadata`` (and tfsnn's
importer reads it back): ``"reset": "subtract"`` (NIR's IF/LIF reset to ``v_reset``; NIR has
no reset-by-subtraction flag), ``"spike_condition": "v >= v_threshold"`` (NIR writes
``v > v_threshold``; the two differ only when ``v`` equals the threshold exactly) and
``"v_initial"``, the initial potential ``v_init * theta`` (NIR nodes carry no initial state;
other tools start at 0, see ``V_INIT_WARNING``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import nir
import numpy as np

from tfsnn.interop.errors import NIRError

#: node metadata: the reset (NIR's own is reset to ``v_reset``)
RESET_KEY, SUBTRACT = "reset", "subtract"
#: node metadata: when a neuron spikes (NIR's own is ``v > v_threshold``)
SPIKE_KEY, SPIKE_CONDITION = "spike_condition", "v >= v_threshold"
#: node metadata: the initial membrane potential (absolute, ``v_init * theta``)
V0_KEY = "v_initial"
#: the NIR node types tfsnn can import as neurons
NEURON_TYPES = (nir.IF, nir.LIF, nir.I)

V_INIT_WARNING = (
    "the SNN's neurons start at V_0 = v_init * theta = {v0:g} (v_init = {v_init:g}), but NIR "
    "nodes carry no initial state: other tools start them at 0, so their spikes differ from "
    "tfsnn's in the first steps. The value is kept in each node's metadata['v_initial'] (tfsnn's "
    "import_nir restores it); convert with v_init=0 for an exact match elsewhere")


def lif_tau(tau_steps: float) -> float:
    """NIR's LIF time constant for tfsnn's leak ``exp(-1 / tau_steps)`` (forward Euler,
    ``dt = 1``): ``1 / (1 - exp(-1 / tau_steps))``."""
    return 1.0 / -math.expm1(-1.0 / float(tau_steps))


def spiking_node(shape, params: dict):
    """The IF (no leak) or LIF node of a spiking layer of ``shape`` (NIR layout)."""
    theta, tau = float(params["threshold"]), params["tau"]
    v0 = float(params["v_init"]) * theta
    meta = {RESET_KEY: SUBTRACT, SPIKE_KEY: SPIKE_CONDITION, V0_KEY: v0}
    full = np.full(shape, theta, np.float32)
    zeros = np.zeros(shape, np.float32)
    if tau is None:
        return nir.IF(r=np.ones(shape, np.float32), v_threshold=full, v_reset=zeros,
                      metadata=meta)
    tau_nir = np.full(shape, lif_tau(tau))
    return nir.LIF(tau=tau_nir, r=tau_nir.copy(), v_leak=zeros, v_threshold=full,
                   v_reset=zeros, metadata=meta)


def readout_node(shape):
    """The readout: a leak-free integrator."""
    return nir.I(r=np.ones(shape, np.float32))


def warn_v_init(params: dict) -> None:
    """Warn that other tools will not start the neurons at ``v_init * theta`` (no-op for 0)."""
    if float(params["v_init"]) != 0.0:
        v0 = float(params["v_init"]) * float(params["threshold"])
        warnings.warn(V_INIT_WARNING.format(v0=v0, v_init=float(params["v_init"])),
                      stacklevel=3)


@dataclass(frozen=True)
class Neurons:
    """What tfsnn needs of an imported neuron node (one value for all its neurons)."""

    readout: bool
    threshold: float | None = None
    v0: float = 0.0
    tau: float | None = None


def _uniform(name, node, field, values) -> float:
    values = np.asarray(values, np.float64)
    if values.size == 0 or np.any(values != values.flat[0]):
        raise NIRError(f"node {name!r} ({type(node).__name__}): {field} differs between its "
                       "neurons; tfsnn uses one value per network")
    return float(values.flat[0])


def _gain_is_one(name, node, gain, what) -> None:
    if not np.allclose(gain, 1.0, rtol=1e-6, atol=0):
        raise NIRError(f"node {name!r} ({type(node).__name__}): its input gain {what} is "
                       f"{np.mean(gain):g}, tfsnn's neurons add their input current with gain "
                       "1; fold the gain into the weights before importing (for a LIF, or "
                       "pass the graph's time step as dt=)")


def _check_reset(name, node, reset) -> None:
    marked = node.metadata.get(RESET_KEY) == SUBTRACT
    if not (marked or reset == SUBTRACT):
        raise NIRError(
            f"node {name!r} ({type(node).__name__}) resets its neurons to v_reset (NIR's "
            "convention); tfsnn's rate neurons reset by subtracting the threshold. Pass "
            "reset='subtract' to simulate it so (as snnTorch and Sinabs do with IF nodes)")
    if np.any(np.asarray(node.v_reset) != 0):
        raise NIRError(f"node {name!r} ({type(node).__name__}): v_reset is not 0; tfsnn "
                       "resets by subtraction and cannot reset to a value")


def read_neurons(name: str, node, dt: float, reset: str | None) -> Neurons:
    """The tfsnn meaning of an IF, LIF or I node (``NIRError`` where there is none).

    IF and I are read per step, ``v += r I`` (as snnTorch and Sinabs read them); ``dt`` (one
    step in the graph's time unit) enters only the LIF: ``v = (1 - dt/tau) v + (dt r/tau) I``.
    """
    if isinstance(node, nir.I):
        _gain_is_one(name, node, np.asarray(node.r, np.float64), "r")
        return Neurons(readout=True)
    _check_reset(name, node, reset)
    theta = _uniform(name, node, "v_threshold", node.v_threshold)
    if not theta > 0:
        raise NIRError(f"node {name!r}: v_threshold must be > 0, got {theta:g}")
    v0 = float(node.metadata.get(V0_KEY, 0.0))
    if isinstance(node, nir.IF):
        _gain_is_one(name, node, np.asarray(node.r, np.float64), "r")
        return Neurons(readout=False, threshold=theta, v0=v0)
    if np.any(np.asarray(node.v_leak) != 0):
        raise NIRError(f"node {name!r} (LIF): v_leak is not 0; tfsnn's neurons leak to 0")
    tau = np.asarray(node.tau, np.float64)
    _gain_is_one(name, node, dt * np.asarray(node.r, np.float64) / tau, "dt * r / tau")
    decay = _uniform(name, node, "tau", 1.0 - dt / tau)
    if not 0.0 < decay <= 1.0:
        raise NIRError(f"node {name!r} (LIF): tau = {np.mean(tau):g} with dt = {dt:g} gives "
                       f"the per-step decay 1 - dt/tau = {decay:g}; tfsnn needs it in (0, 1] "
                       "(tau >= dt; pass the graph's time step as dt=)")
    return Neurons(readout=False, threshold=theta, v0=v0,
                   tau=None if decay == 1.0 else -1.0 / math.log(decay))


def network_params(neurons: dict[str, Neurons]) -> dict:
    """``threshold``, ``v_init`` and ``tau`` for ``SpikingModel``: the same in every spiking
    node (``NIRError`` naming two nodes that differ)."""
    spiking = {n: p for n, p in neurons.items() if not p.readout}
    if not spiking:
        return {"threshold": 1.0, "v_init": 0.0, "tau": None}
    first, ref = next(iter(spiking.items()))
    for name, p in spiking.items():
        for field in ("threshold", "v0", "tau"):
            a, b = getattr(ref, field), getattr(p, field)
            if a != b and not (a is not None and b is not None and math.isclose(a, b,
                                                                               rel_tol=1e-9)):
                raise NIRError(f"nodes {first!r} and {name!r} differ in {field} ({a} vs {b}); "
                               "tfsnn simulates one set of neuron parameters per network")
    return {"threshold": ref.threshold, "v_init": ref.v0 / ref.threshold, "tau": ref.tau}
