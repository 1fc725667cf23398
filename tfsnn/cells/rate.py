"""Rate coding: integrate-and-fire neurons with reset by subtraction.

Equations (Rueckauer et al., "Conversion of continuous-valued deep networks to efficient
event-driven networks for image classification", Front. Neurosci. 2017):

    V_t = lambda * V_{t-1} + I_t,      I_t = W s^{l-1}_t + b     (lambda = exp(-1/tau) or 1)
    s_t = [V_t >= theta],              V_t <- V_t - theta * s_t,  V_0 = v_init * theta

After weight normalization a neuron's rate N_T / T approximates its ANN activation divided by
the layer scale, clipped to [0, 1]. A max-pooling neuron spikes when the largest spike count
in its window rises (its count is the maximum input count); average pooling is a linear synapse followed by IF neurons.
The readout (``IntegratorNeuronCell``) integrates its current and never spikes.
"""

import warnings

from tfsnn.cells.add import AddCell
from tfsnn.cells.binding import encoding_cell
from tfsnn.cells.conv import Conv1DCell, Conv2DCell
from tfsnn.cells.dense import DenseCell
from tfsnn.cells.depthwise import DepthwiseConv2DCell, SeparableConv2DCell
from tfsnn.cells.pooling import AvgPool1DCell, AvgPool2DCell, MaxPool1DCell, MaxPool2DCell
from tfsnn.neurons import RateDynamics

DYNAMICS = RateDynamics()
DEFAULTS = {"v_init": DYNAMICS.defaults.v_init, "signed": DYNAMICS.defaults.signed}
SUPPORTED_KINDS = ("input", "dense", "conv2d", "avgpool", "maxpool", "flatten", "concat",
                   "conv1d", "avgpool1d", "maxpool1d", "depthwise_conv2d", "separable_conv2d",
                   "add", "zeropad", "crop", "reshape")

__all__ = ["IntegratorNeuronCell", "LifNeuronCell", "LifNeuronCellConv2D", "LifNeuronCellAdd",
           "LifNeuronCellAvgPool2D", "LifNeuronCellMaxPool2D",
           "LifNeuronCellConv1D", "LifNeuronCellAvgPool1D", "LifNeuronCellMaxPool1D",
           "LifNeuronCellDepthwiseConv2D", "LifNeuronCellSeparableConv2D", "prepare"]

_bind = encoding_cell("rate", DYNAMICS)


@_bind
class IntegratorNeuronCell(DenseCell):
    """Readout: a dense layer of integrating (non-spiking) neurons (integrate-and-fire (reset by subtraction))."""

    readout_default = True


@_bind
class LifNeuronCell(DenseCell):
    """A dense layer of integrate-and-fire (reset by subtraction) neurons."""


@_bind
class LifNeuronCellConv2D(Conv2DCell):
    """A 2-D convolutional layer of integrate-and-fire (reset by subtraction) neurons."""


@_bind
class LifNeuronCellAvgPool2D(AvgPool2DCell):
    """Average pooling (linear; integrating neurons as the readout), integrate-and-fire (reset by subtraction) encoding."""


@_bind
class LifNeuronCellMaxPool2D(MaxPool2DCell):
    """Spiking max pooling with the integrate-and-fire (reset by subtraction) gate."""


@_bind
class LifNeuronCellConv1D(Conv1DCell):
    """A 1-D convolutional layer of integrate-and-fire (reset by subtraction) neurons."""


@_bind
class LifNeuronCellAvgPool1D(AvgPool1DCell):
    """1-D average pooling (linear; integrating neurons as the readout), integrate-and-fire (reset by subtraction) encoding."""


@_bind
class LifNeuronCellMaxPool1D(MaxPool1DCell):
    """1-D spiking max pooling with the integrate-and-fire (reset by subtraction) gate."""


@_bind
class LifNeuronCellDepthwiseConv2D(DepthwiseConv2DCell):
    """A depthwise 2-D convolutional layer of integrate-and-fire (reset by subtraction) neurons."""


@_bind
class LifNeuronCellSeparableConv2D(SeparableConv2DCell):
    """A separable 2-D convolution (depthwise, pointwise) into integrate-and-fire (reset by subtraction) neurons."""


@_bind
class LifNeuronCellAdd(AddCell):
    """A residual sum (Keras Add + ReLU) into integrate-and-fire (reset by subtraction) neurons."""


def prepare(specs, dyn_params):
    """Called by ``convert`` after normalization: warns about what rate coding cannot do.

    An IF neuron's rate is a continuous function of its current, so the cut of a
    ``ClampedReLU`` (0 below the clamp) is not reproduced: those neurons fire at the rate of
    the plain ReLU. On mnist5k's LeNet that cost 0.4 points with ClampedReLU(0.3) (ANN 0.961,
    SNN 0.957 at T=100) and 2-3 points with BatchNorm + ClampedReLU(1) (docs/encodings.md);
    ``encoding="ttfs_clamped"`` implements the clamp.
    """
    clamped = [s.name for s in specs
               if s.activation == "clamped_relu" and float(s.config.get("clamp", 0.0)) > 0]
    if clamped:
        warnings.warn(
            f"rate coding cannot reproduce the clamp of the ClampedReLU layer(s) {clamped}: "
            "their neurons fire like plain ReLU neurons (activations below the clamp give a "
            "small rate instead of 0); use encoding='ttfs_clamped' to keep the clamp",
            stacklevel=3)
    return specs, dyn_params
