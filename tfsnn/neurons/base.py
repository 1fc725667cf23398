"""The interface every encoding's neuron dynamics implement.

A ``Dynamics`` object holds pure functions of ``(current, state, params)``; one object serves
all cells of an encoding, which differ only in their synaptic operation. ``params`` is an
instance of the dynamics' ``Params`` dataclass; ``state`` is a list of tensors named by
``state_names``. Every encoding also defines how its spiking max-pool gates spikes, and which
dynamics its readout layer runs (default: the shared ``Integrator``).
"""

from __future__ import annotations

from keras import ops

from tfsnn.neurons.integrator import Integrator
from tfsnn.neurons.params import NeuronParams
from tfsnn.neurons.spike import heaviside


class Dynamics:
    """Base class; subclasses implement ``initial_state``, ``step`` and the max-pool rule."""

    name = "base"
    Params = NeuronParams
    #: the parameters an encoding's cells get unless told otherwise
    defaults = NeuronParams()
    #: names of the per-neuron state tensors, in the order of the state list
    state_names: tuple = ("v",)
    #: names of the max-pool gate's state tensors
    maxpool_state_names: tuple = ()
    #: whether a max-pool gate's state is shaped like its input (else like its output)
    maxpool_state_on_input: bool = True
    #: the dynamics of the readout layer (integrating, non-spiking neurons)
    readout_dynamics = Integrator

    def make_params(self, **values) -> NeuronParams:
        """Typed parameters: ``defaults`` with the given values (those the ``Params`` class
        has), validated (``check_params``)."""
        names = self.Params.field_names()
        given = {k: v for k, v in values.items()
                 if k in names and (v is not None or k == "tau")}  # tau None: no leak
        params = self.defaults.replace(**given)
        self.check_params(params)
        return params

    def check_params(self, params) -> None:
        """Encoding-specific validation (raises ValueError)."""

    def state_shapes(self, shape, params=None) -> list:
        """The shapes of the state tensors of neurons shaped ``shape`` (``params``: the
        layer's parameters, where they change the state)."""
        return [tuple(shape) for _ in self.state_names]

    def initial_state(self, batch_size, shape, params, dtype="float32"):
        raise NotImplementedError

    def step(self, current, state, params, spike=heaviside):
        """One timestep: ``(spikes, new_state)`` from the input current and the old state.
        ``spike(v, theta)`` is the spike nonlinearity (a surrogate one when training)."""
        raise NotImplementedError

    def maxpool_initial_state(self, batch_size, in_shape, out_shape, dtype="float32"):
        shape = in_shape if self.maxpool_state_on_input else out_shape
        return [ops.zeros((batch_size,) + tuple(shape), dtype=dtype)
                for _ in self.maxpool_state_names]

    def maxpool_step(self, x, state, pool):
        """One timestep of the spiking max-pool; ``pool`` is the plain max-pool function."""
        raise NotImplementedError

    def has_constant_counts(self, params, timesteps) -> bool:
        """Whether ``constant_counts`` gives exact spike counts under a constant current."""
        return False

    #: whether a spike's time carries its value (``spike_values``); else the rate does
    temporal_code: bool = False

    def spike_values(self, timesteps, params):
        """The value a spike at each step ``t = 0..T-1`` carries (temporal codes only)."""
        raise NotImplementedError(f"the {self.name} code is a rate code: decode by counting")
