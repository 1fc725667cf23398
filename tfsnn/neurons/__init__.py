"""Pure neuron dynamics per encoding: typed parameters and state, step functions.

``step(current, state, params, spike) -> (output, new_state)`` for one timestep; the cells
(``tfsnn.cells``) put a synaptic operation in front of these, and the simulator calls them
directly. Nothing here knows about layers, Keras models or conversion.
"""

from tfsnn.neurons.base import Dynamics
from tfsnn.neurons.integrator import Integrator
from tfsnn.neurons.params import NeuronParams, RateParams, TensorParams
from tfsnn.neurons.rate import RateDynamics, is_signed
from tfsnn.neurons.spike import SURROGATES, TIMED_SURROGATES, heaviside, surrogate_spike
from tfsnn.neurons.ttfs import TTFSDynamics, TTFSParams, TTFSReadout

__all__ = ["Dynamics", "Integrator", "NeuronParams", "RateDynamics", "RateParams", "TTFSDynamics",
           "TTFSParams", "TTFSReadout", "TensorParams", "SURROGATES", "TIMED_SURROGATES",
           "heaviside", "is_signed", "surrogate_spike"]
