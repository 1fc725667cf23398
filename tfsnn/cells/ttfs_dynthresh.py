"""TTFS with an exponentially decaying threshold (logarithmic time code).

Same layer-synchronous windows as ``tfsnn.cells.ttfs`` (see there), with the code

    g(k) = exp(-k / (c * window))          c = params["tau_theta"] (default 0.4)

While a layer fires, its threshold decays exponentially, ``theta_k = theta g(k + 1/2)``,
so late, weak inputs still produce a spike before the window ends: a neuron with
``V / theta = a`` spikes once at ``k = round(-c window ln a)``, for activations down to
``g(window - 1/2) ~ exp(-1/c)`` (8% with c = 0.4; the linear code reaches down to
``1/(2 window)``). The next layer decodes with the matching exponentially decaying synaptic
kernel:

    V = b + sum_k g_in(k) (I_k - b),     s_k = [theta g(k + 1/2) <= V < theta g(k - 1/2)]

The grid is geometric: the relative error ``exp(1/(2 c window))`` is the same for large and
small activations, and activations below the smallest level stay silent, which saves spikes
(mnist5k LeNet: about 30% fewer than ``ttfs`` at the same accuracy). c = 0.2 loses accuracy
at short windows, c >= 0.5 cuts off too much (docs/encodings.md).

The window length is fixed at conversion, like for ``ttfs``: ``timesteps`` (default 100,
window = timesteps // (L + 1)) or ``window``.
"""

from tfsnn.cells.add import AddCell
from tfsnn.cells.binding import encoding_cell
from tfsnn.cells.conv import Conv1DCell, Conv2DCell
from tfsnn.cells.dense import DenseCell
from tfsnn.cells.depthwise import DepthwiseConv2DCell, SeparableConv2DCell
from tfsnn.cells.pooling import AvgPool1DCell, AvgPool2DCell, MaxPool1DCell, MaxPool2DCell
from tfsnn.cells.ttfs import SUPPORTED_KINDS, prepare_windows
from tfsnn.neurons import TTFSDynamics

DYNAMICS = TTFSDynamics("exp")
DEFAULTS = {"v_init": 0.0, "timesteps": 100, "window": None, "min_activation": 0.0,
            "tau_theta": DYNAMICS.defaults.tau_theta}

__all__ = ["IntegratorNeuronCell", "LifNeuronCell", "LifNeuronCellConv2D", "LifNeuronCellAdd",
           "LifNeuronCellAvgPool2D", "LifNeuronCellMaxPool2D",
           "LifNeuronCellConv1D", "LifNeuronCellAvgPool1D", "LifNeuronCellMaxPool1D",
           "LifNeuronCellDepthwiseConv2D", "LifNeuronCellSeparableConv2D", "SUPPORTED_KINDS", "prepare"]

_bind = encoding_cell("ttfs_dyn_thresh", DYNAMICS)


@_bind
class IntegratorNeuronCell(DenseCell):
    """Readout: a dense layer of integrating (non-spiking) neurons (TTFS dynamic-threshold (exponential code))."""

    readout_default = True


@_bind
class LifNeuronCell(DenseCell):
    """A dense layer of TTFS dynamic-threshold (exponential code) neurons."""


@_bind
class LifNeuronCellConv2D(Conv2DCell):
    """A 2-D convolutional layer of TTFS dynamic-threshold (exponential code) neurons."""


@_bind
class LifNeuronCellAvgPool2D(AvgPool2DCell):
    """Average pooling (linear; integrating neurons as the readout), TTFS dynamic-threshold (exponential code) encoding."""


@_bind
class LifNeuronCellMaxPool2D(MaxPool2DCell):
    """Spiking max pooling with the TTFS dynamic-threshold (exponential code) gate."""


@_bind
class LifNeuronCellConv1D(Conv1DCell):
    """A 1-D convolutional layer of TTFS dynamic-threshold (exponential code) neurons."""


@_bind
class LifNeuronCellAvgPool1D(AvgPool1DCell):
    """1-D average pooling (linear; integrating neurons as the readout), TTFS dynamic-threshold (exponential code) encoding."""


@_bind
class LifNeuronCellMaxPool1D(MaxPool1DCell):
    """1-D spiking max pooling with the TTFS dynamic-threshold (exponential code) gate."""


@_bind
class LifNeuronCellDepthwiseConv2D(DepthwiseConv2DCell):
    """A depthwise 2-D convolutional layer of TTFS dynamic-threshold (exponential code) neurons."""


@_bind
class LifNeuronCellSeparableConv2D(SeparableConv2DCell):
    """A separable 2-D convolution (depthwise, pointwise) into TTFS dynamic-threshold (exponential code) neurons."""


@_bind
class LifNeuronCellAdd(AddCell):
    """A residual sum (Keras Add + ReLU) into TTFS dynamic-threshold neurons."""


def prepare(specs, dyn_params):
    """Called by ``convert`` after normalization (see ``tfsnn.cells.ttfs.prepare_windows``)."""
    specs, dyn = prepare_windows(specs, dyn_params, "ttfs_dyn_thresh", DEFAULTS)
    dyn["tau_theta"] = float(dyn["tau_theta"])
    return specs, dyn
