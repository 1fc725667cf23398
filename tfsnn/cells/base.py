"""The base of every spiking cell: a synaptic operation followed by neuron dynamics.

``call(x_t, states) -> (out_t, new_states)`` with ``out_t = dynamics(synapse(x_t), states)``,
so every cell can be wrapped in ``keras.layers.RNN`` and stepped by Keras (one layer per
file, as in Keras's own ``layers/rnn/``). The simulator (``tfsnn.simulation.engine``) calls
the same two halves, ``synapse`` and ``neuron_step``, but may apply the synapse to all
timesteps of a chunk at once.

Subclasses per synaptic op (``DenseCell``, ``Conv2DCell``, ``AvgPool2DCell``,
``MaxPool2DCell``) create their weights and infer their output shape in ``build``; each
encoding module (``tfsnn.cells.rate``, ...) binds them to its neuron dynamics in thin named
subclasses (``LifNeuronCell``, ``LifNeuronCellConv2D``, ...).

Training: the spike is a Heaviside step forward; with ``training=True`` (Keras ``fit``) its
gradient is the surrogate ``surrogate`` of half-width ``surrogate_width`` (in units of the
threshold, see ``tfsnn.neurons.spike``). Inference and training give the same spikes.
"""

from __future__ import annotations

import keras

from tfsnn.neurons import Dynamics, heaviside, surrogate_spike

#: neuron parameters every cell takes (the encoding's dynamics may add more in ``dyn_params``)
PARAM_KEYS = ("threshold", "v_init", "tau")


class SpikingCell(keras.layers.Layer):
    """Base of all cells. ``readout=True`` makes the neurons integrate instead of spike.

    Args:
        threshold, v_init, tau: neuron parameters (theta; initial potential as a fraction of
            theta, ``None``: the encoding's default; leak time constant in steps or ``None``).
        readout: integrate and never spike (the network's output layer).
        dyn_params: further parameters of the encoding's dynamics (e.g. a TTFS ``window``).
        surrogate, surrogate_width: the spike's gradient when training.
        output_shape: optional; checked against the shape inferred in ``build``.
    """

    dynamics: Dynamics = None  # bound by each encoding's subclasses
    encoding: str = None
    #: the LayerSpec kind this cell implements (a row of ``tfsnn.ir.KINDS``)
    kind: str = None
    #: default of ``readout`` (True for ``IntegratorNeuronCell``)
    readout_default = False

    def __init__(self, threshold=1.0, v_init=None, tau=None, readout=None, dyn_params=None,
                 surrogate="triangle", surrogate_width=1.0, output_shape=None, **kwargs):
        super().__init__(**kwargs)
        self.readout = self.readout_default if readout is None else bool(readout)
        self.dyn_params = dict(dyn_params or {})
        if v_init is None:
            v_init = self.dynamics.defaults.v_init
        self.params = self.dynamics.make_params(threshold=threshold, v_init=v_init, tau=tau,
                                                **self.dyn_params)
        self.surrogate, self.surrogate_width = surrogate, float(surrogate_width)
        self._train_spike = surrogate_spike(surrogate, surrogate_width)
        self.declared_shape = None if output_shape is None else tuple(int(d) for d in
                                                                      output_shape)
        self.neuron_shape = None  # set by build (dense cells: at once)

    def _set_neuron_shape(self, shape):
        shape = tuple(int(d) for d in shape)
        if self.declared_shape is not None and self.declared_shape != shape:
            raise ValueError(f"cell {self.name!r}: output_shape {self.declared_shape} does not "
                             f"match the shape {shape} computed from its input")
        self.neuron_shape = shape

    # --- RNN-cell protocol -------------------------------------------------------------
    @property
    def neuron_dynamics(self):
        """The dynamics this cell runs: its encoding's, or as readout the encoding's
        ``readout_dynamics``."""
        return self.dynamics.readout_dynamics if self.readout else self.dynamics

    @property
    def shape(self) -> tuple:
        """The neurons' shape; before ``build`` (when ``keras.layers.RNN`` first asks)
        unknown map sizes are None."""
        return self.neuron_shape if self.neuron_shape is not None else self.unbuilt_shape()

    def unbuilt_shape(self) -> tuple:
        return (None, None, None)

    @property
    def output_size(self):
        """As Keras's RNN wants it: an int for a vector of neurons, else the shape."""
        shape = self.shape
        return shape[0] if len(shape) == 1 else shape

    @property
    def state_size(self):
        return self.neuron_dynamics.state_shapes(self.shape)

    def get_initial_state(self, batch_size=None):
        return self.neuron_dynamics.initial_state(batch_size, self.neuron_shape, self.params)

    def call(self, inputs, states, training=False):
        return self.neuron_step(self.synapse(inputs), list(states), training=training)

    # --- the two halves ----------------------------------------------------------------
    def synapse(self, x):
        raise NotImplementedError

    def neuron_step(self, current, states, training=False):
        spike = self._train_spike if training else heaviside
        return self.neuron_dynamics.step(current, states, self.params, spike)

    # --- closed forms the simulator may use ----------------------------------------------
    def has_constant_counts(self, timesteps) -> bool:
        """Whether ``constant_counts`` is exact for a run of ``timesteps``."""
        return self.neuron_dynamics.has_constant_counts(self.params, timesteps)

    def constant_counts(self, current, states, timesteps):
        """Spike counts after ``timesteps`` steps of the constant ``current``, from the final
        ``states`` (only where ``has_constant_counts``)."""
        return self.neuron_dynamics.constant_counts(current, states, timesteps, self.params)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(readout=self.readout, dyn_params=self.dyn_params,
                   surrogate=self.surrogate, surrogate_width=self.surrogate_width,
                   **{k: getattr(self.params, k) for k in PARAM_KEYS})
        return cfg
