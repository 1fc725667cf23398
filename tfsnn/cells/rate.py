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

from tfsnn.cells.base import define_cells
from tfsnn.cells.dynamics import RateDynamics

DYNAMICS = RateDynamics()
CELLS = define_cells("rate", DYNAMICS)
(IntegratorNeuronCell, LifNeuronCell, LifNeuronCellConv2D, LifNeuronCellAvgPool2D,
 LifNeuronCellMaxPool2D) = CELLS
DEFAULTS = {"v_init": 0.5}
SUPPORTED_KINDS = ("input", "dense", "conv2d", "avgpool", "maxpool", "flatten", "concat")

__all__ = ["IntegratorNeuronCell", "LifNeuronCell", "LifNeuronCellConv2D",
           "LifNeuronCellAvgPool2D", "LifNeuronCellMaxPool2D"]
