"""Time-to-first-spike (TTFS) coding: every neuron spikes at most once; earlier = stronger.

After Rueckauer & Liu, "Conversion of analog to spiking neural networks using sparse temporal
coding" (ISCAS 2018): a neuron's first spike time encodes its activation, and a presynaptic
spike switches on a persistent input ``W_ij`` (the postsynaptic potential ramps up), so a
stronger input reaches threshold earlier. The paper decodes ``a ~ 1/t_spike`` with all layers
running at once (accuracy loss < 1% on MNIST). Here the layers run in synchronous windows
with a linear code, which makes the SNN compute the ANN's activations exactly up to a rounding
to ``window`` levels:

Time is cut into windows of ``tau`` steps. A layer at depth ``d`` integrates in window ``d-1``
and fires in window ``d`` (``k`` = step inside the window; ``I = W s + b``)::

    integrate:  V = b + sum_k g(k) (I_k - b)          (first layer: V = mean_k I_k = z)
                = (1/tau) sum_k (W H_k + b)            H_k = presynaptic neurons spiked by k
    fire:       s_k = [theta g(k + 1/2) <= V < theta g(k - 1/2)],   g(k) = 1 - k / tau

i.e. the held input ramps the potential up during the presynaptic window, and while the
neuron fires its threshold falls linearly (equivalently: a constant ramp current ``theta/tau``
per step against a fixed threshold). A neuron with ``V / theta = a`` spikes once at
``k = round(tau (1 - a))``; ``a >= 1 - 1/(2 tau)`` spikes at ``k = 0``, ``a < 1/(2 tau)`` never.
The next layer decodes ``g(k)``, so each layer passes ``round(tau a) / tau`` of its ReLU
activation ``a = z / theta`` (after normalization, ``z`` in units of the layer scale).
Clamped-ReLU layers of the ANN are cut off exactly: a neuron with ``V < clamp / lambda``
does not spike.

The readout integrates its decoded input over its window and holds it; its output at step
``t`` is ``(t+1) V_t``, so ``predict`` returns ``V_T``, the ANN's pre-softmax output.
Max pooling passes the first spike in each pooling window (the largest value). Average
pooling is linear. Max latency: ``(L + 1) tau`` steps for ``L`` layers of spiking neurons
(``snn.dyn_params["latency"]``); simulate at least that long.

Parameters (``convert(..., encoding="ttfs", **params)``):

- ``timesteps`` (default 100): the simulation length the SNN is built for; the window is
  ``timesteps // (L + 1)``.
- ``window``: steps per layer window, overrides ``timesteps``.
- ``v_init``: initial potential offset, as a fraction of theta (default 0).
- ``min_activation`` (default 0: off; all TTFS encodings): a hidden neuron whose normalized
  activation ``a = z / lambda`` is below it does not spike, ``cut = max(clamp / lambda,
  min_activation)`` (in units of V, i.e. of theta = 1). Weak activations cost one spike each
  like strong ones; cutting them trades accuracy for spikes (docs/encodings.md).

Supported layers: Dense, Conv2D, Conv1D, DepthwiseConv2D, SeparableConv2D, max and average
pooling (1-D and 2-D), Flatten (no Concatenate).
"""

from __future__ import annotations

import numpy as np

from tfsnn.cells.add import AddCell
from tfsnn.cells.binding import encoding_cell
from tfsnn.cells.conv import Conv1DCell, Conv2DCell
from tfsnn.cells.dense import DenseCell
from tfsnn.cells.depthwise import DepthwiseConv2DCell, SeparableConv2DCell
from tfsnn.cells.pooling import AvgPool1DCell, AvgPool2DCell, MaxPool1DCell, MaxPool2DCell
from tfsnn.ir import readout_spec
from tfsnn.neurons import TTFSDynamics

DYNAMICS = TTFSDynamics("linear")
DEFAULTS = {"v_init": 0.0, "timesteps": 100, "window": None, "min_activation": 0.0}
SUPPORTED_KINDS = ("input", "dense", "conv2d", "avgpool", "maxpool", "flatten",
                   "conv1d", "avgpool1d", "maxpool1d", "depthwise_conv2d", "separable_conv2d",
                   "zeropad", "crop", "reshape")

__all__ = ["IntegratorNeuronCell", "LifNeuronCell", "LifNeuronCellConv2D", "LifNeuronCellAdd",
           "LifNeuronCellAvgPool2D", "LifNeuronCellMaxPool2D",
           "LifNeuronCellConv1D", "LifNeuronCellAvgPool1D", "LifNeuronCellMaxPool1D",
           "LifNeuronCellDepthwiseConv2D", "LifNeuronCellSeparableConv2D", "prepare", "prepare_windows"]

_bind = encoding_cell("ttfs", DYNAMICS)


@_bind
class IntegratorNeuronCell(DenseCell):
    """Readout: a dense layer of integrating (non-spiking) neurons (time-to-first-spike (linear code))."""

    readout_default = True


@_bind
class LifNeuronCell(DenseCell):
    """A dense layer of time-to-first-spike (linear code) neurons."""


@_bind
class LifNeuronCellConv2D(Conv2DCell):
    """A 2-D convolutional layer of time-to-first-spike (linear code) neurons."""


@_bind
class LifNeuronCellAvgPool2D(AvgPool2DCell):
    """Average pooling (linear; integrating neurons as the readout), time-to-first-spike (linear code) encoding."""


@_bind
class LifNeuronCellMaxPool2D(MaxPool2DCell):
    """Spiking max pooling with the time-to-first-spike (linear code) gate."""


@_bind
class LifNeuronCellConv1D(Conv1DCell):
    """A 1-D convolutional layer of time-to-first-spike (linear code) neurons."""


@_bind
class LifNeuronCellAvgPool1D(AvgPool1DCell):
    """1-D average pooling (linear; integrating neurons as the readout), time-to-first-spike (linear code) encoding."""


@_bind
class LifNeuronCellMaxPool1D(MaxPool1DCell):
    """1-D spiking max pooling with the time-to-first-spike (linear code) gate."""


@_bind
class LifNeuronCellDepthwiseConv2D(DepthwiseConv2DCell):
    """A depthwise 2-D convolutional layer of time-to-first-spike (linear code) neurons."""


@_bind
class LifNeuronCellSeparableConv2D(SeparableConv2DCell):
    """A separable 2-D convolution (depthwise, pointwise) into time-to-first-spike (linear code) neurons."""


@_bind
class LifNeuronCellAdd(AddCell):
    """A residual sum (Keras Add + ReLU) into time-to-first-spike (linear code) neurons."""


def _cut(spec, clamp=None, min_activation=0.0):
    """Cut-off in units of the normalized potential: ``max(clamp / lambda, min_activation)``
    (``clamp`` from the layer's ClampedReLU unless given)."""
    if clamp is None:
        clamp = (float(spec.config.get("clamp", 0.0)) if spec.activation == "clamped_relu"
                 else 0.0)
    if clamp <= 0 and min_activation <= 0:
        return 0.0
    lam = np.asarray(spec.config.get("lambda", np.ones(spec.output_shape[-1])), np.float64)
    cut = np.maximum(max(clamp, 0.0) / lam, min_activation)
    if np.all(cut == cut[0]):
        return float(cut[0])
    return [float(c) for c in cut]


def prepare_windows(specs, dyn_params, encoding, defaults, clamp=None):
    """Assign every layer with neurons its window (depth) and code parameters.

    Sets ``spec.config["dyn_params"] = {"depth", "first", "cut", "in_cut"}`` on layers with
    neurons, and the global ``window`` and ``latency`` (steps until the readout is final).
    ``clamp`` (ANN units) cuts every hidden layer off below it, ReLU or not; so does
    ``dyn_params["min_activation"]`` (normalized units, see the module docstring).
    """
    known = set(defaults) - {"v_init"}
    unknown = sorted(set(dyn_params) - known)
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for the {encoding!r} encoding; "
                         f"accepted: {sorted(known)} (plus threshold, v_init)")
    min_act = float(dyn_params.get("min_activation", 0.0) or 0.0)
    if not 0.0 <= min_act < 1.0:
        raise ValueError(f"min_activation must be in [0, 1) (a fraction of the layer's scale "
                         f"lambda), got {dyn_params.get('min_activation')!r}")
    ro = readout_spec(specs)
    depth, in_code = {}, {}
    for s in specs:
        if s.kind == "input":
            depth[s.name], in_code[s.name] = 0, 0.0
            continue
        if len(s.inputs) != 1:
            raise ValueError(f"layer {s.name!r} ({s.kind}) has {len(s.inputs)} inputs; the "
                             f"{encoding!r} encoding supports chains of single-input layers")
        src = s.inputs[0]
        if s.row.weights or (s.row.pool == "avg" and s is ro):
            cut = 0.0 if s is ro else _cut(s, clamp, min_act)
            depth[s.name] = depth[src] + 1
            s.config["dyn_params"] = {"depth": depth[s.name], "first": depth[src] == 0,
                                      "cut": cut, "in_cut": in_code[src]}
            in_code[s.name] = float(min(cut)) if isinstance(cut, list) else cut
        else:  # pooling and flatten pass spikes on in the same step
            depth[s.name], in_code[s.name] = depth[src], in_code[src]
    n_windows = depth[ro.name]
    dyn = dict(dyn_params)
    window = dyn.get("window")
    if window is None:
        t = dyn.get("timesteps")
        if t is None or int(t) < n_windows:
            raise ValueError(f"the {encoding!r} encoding needs timesteps >= {n_windows} (one "
                             f"window per layer with neurons), got {t!r}; pass timesteps=T "
                             "or window=steps per layer")
        window = int(t) // n_windows
    if int(window) != window or int(window) < 1:
        raise ValueError(f"window must be an integer >= 1 (steps per layer), got {window!r}")
    dyn["window"] = int(window)
    dyn["min_activation"] = min_act
    dyn["latency"] = n_windows * int(window)
    return specs, dyn


def prepare(specs, dyn_params):
    """Called by ``convert`` after normalization (see ``prepare_windows``)."""
    return prepare_windows(specs, dyn_params, "ttfs", DEFAULTS)
