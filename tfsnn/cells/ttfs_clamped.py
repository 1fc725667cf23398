"""TTFS for ANNs trained with a clamped ReLU (``tfsnn.layers.ClampedReLU``).

The ANN sets activations below a bound ``clamp`` to zero, so the SNN never needs to signal
them: they are the ones that would spike last. With the normalized clamp
``lo = clamp / (lambda theta)`` (``lambda`` = the layer's normalization scale) each layer's
window covers only ``[lo, 1]``:

    g(k) = 1 - (1 - lo) k / (window - 1)          g(0) = 1, g(window - 1) = lo
    s_k  = [max(theta g(k + 1/2), cut) <= V < theta g(k - 1/2)],  last threshold theta lo

(same layer-synchronous windows as ``tfsnn.cells.ttfs``). Neurons below the clamp
(``V < cut = clamp / lambda``, per channel) never spike, and the ``window`` levels of the
code are spent on ``[lo, 1]`` instead of ``[0, 1]``: a resolution of ``(1 - lo) / (window - 1)``.
Layers without a clamp (plain ReLU) use ``lo = 0``.

Parameters: ``timesteps`` / ``window`` as for ``ttfs``; ``clamp`` (ANN units, optional)
overrides the clamp of every hidden layer, e.g. to convert a plain-ReLU ANN as if clamped;
``min_activation`` (normalized units, see ``tfsnn.cells.ttfs``) raises every layer's cut to
at least that fraction of its scale, ``lo = max(clamp / lambda, min_activation)``, so the code
then spans ``[min_activation, 1]``. Conversion fails if the ANN has no ClampedReLU and neither
``clamp`` nor ``min_activation`` is given.
"""

from tfsnn.cells.add import AddCell
from tfsnn.cells.binding import encoding_cell
from tfsnn.cells.conv import Conv1DCell, Conv2DCell
from tfsnn.cells.dense import DenseCell
from tfsnn.cells.depthwise import DepthwiseConv2DCell, SeparableConv2DCell
from tfsnn.cells.pooling import AvgPool1DCell, AvgPool2DCell, MaxPool1DCell, MaxPool2DCell
from tfsnn.cells.ttfs import SUPPORTED_KINDS, prepare_windows
from tfsnn.neurons import TTFSDynamics

DYNAMICS = TTFSDynamics("clamped")
DEFAULTS = {"v_init": 0.0, "timesteps": 100, "window": None, "min_activation": 0.0,
            "clamp": None}

__all__ = ["IntegratorNeuronCell", "LifNeuronCell", "LifNeuronCellConv2D", "LifNeuronCellAdd",
           "LifNeuronCellAvgPool2D", "LifNeuronCellMaxPool2D",
           "LifNeuronCellConv1D", "LifNeuronCellAvgPool1D", "LifNeuronCellMaxPool1D",
           "LifNeuronCellDepthwiseConv2D", "LifNeuronCellSeparableConv2D", "SUPPORTED_KINDS", "prepare"]

_bind = encoding_cell("ttfs_clamped", DYNAMICS)


@_bind
class IntegratorNeuronCell(DenseCell):
    """Readout: a dense layer of integrating (non-spiking) neurons (TTFS clamped-ReLU (code on [clamp, 1]))."""

    readout_default = True


@_bind
class LifNeuronCell(DenseCell):
    """A dense layer of TTFS clamped-ReLU (code on [clamp, 1]) neurons."""


@_bind
class LifNeuronCellConv2D(Conv2DCell):
    """A 2-D convolutional layer of TTFS clamped-ReLU (code on [clamp, 1]) neurons."""


@_bind
class LifNeuronCellAvgPool2D(AvgPool2DCell):
    """Average pooling (linear; integrating neurons as the readout), TTFS clamped-ReLU (code on [clamp, 1]) encoding."""


@_bind
class LifNeuronCellMaxPool2D(MaxPool2DCell):
    """Spiking max pooling with the TTFS clamped-ReLU (code on [clamp, 1]) gate."""


@_bind
class LifNeuronCellConv1D(Conv1DCell):
    """A 1-D convolutional layer of TTFS clamped-ReLU (code on [clamp, 1]) neurons."""


@_bind
class LifNeuronCellAvgPool1D(AvgPool1DCell):
    """1-D average pooling (linear; integrating neurons as the readout), TTFS clamped-ReLU (code on [clamp, 1]) encoding."""


@_bind
class LifNeuronCellMaxPool1D(MaxPool1DCell):
    """1-D spiking max pooling with the TTFS clamped-ReLU (code on [clamp, 1]) gate."""


@_bind
class LifNeuronCellDepthwiseConv2D(DepthwiseConv2DCell):
    """A depthwise 2-D convolutional layer of TTFS clamped-ReLU (code on [clamp, 1]) neurons."""


@_bind
class LifNeuronCellSeparableConv2D(SeparableConv2DCell):
    """A separable 2-D convolution (depthwise, pointwise) into TTFS clamped-ReLU (code on [clamp, 1]) neurons."""


@_bind
class LifNeuronCellAdd(AddCell):
    """A residual sum (Keras Add + ReLU) into TTFS clamped-ReLU (code on [clamp, 1]) neurons."""


def prepare(specs, dyn_params):
    """Called by ``convert`` after normalization (see ``tfsnn.cells.ttfs.prepare_windows``)."""
    dyn = dict(dyn_params)
    clamp = dyn.pop("clamp", None)
    if clamp is not None and not float(clamp) > 0:
        raise ValueError(f"clamp must be > 0 (ANN units), got {clamp!r}")
    if (clamp is None and not dyn.get("min_activation")
            and not any(s.activation == "clamped_relu" for s in specs)):
        raise ValueError(
            "the 'ttfs_clamped' encoding needs an ANN trained with tfsnn.layers.ClampedReLU "
            "(e.g. build_model(..., activation=tfsnn.layers.clamped_relu_factory(0.1))) or an "
            "explicit clamp=<value in ANN units> or min_activation=<fraction>; for a plain ReLU "
            "network use 'ttfs'")
    specs, dyn = prepare_windows(specs, dyn, "ttfs_clamped",
                                 {k: v for k, v in DEFAULTS.items() if k != "clamp"},
                                 None if clamp is None else float(clamp))
    dyn["clamp"] = clamp
    return specs, dyn
