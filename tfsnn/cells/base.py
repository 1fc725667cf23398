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
``train_threshold`` / ``train_leak`` make the layer's threshold theta and leak factor
``lambda = exp(-1/tau)`` trainable scalar weights (one per layer, as in DIET-SNN, Rathi &
Roy, IEEE TNNLS 2021); otherwise they are fixed floats of ``params``.
"""

from __future__ import annotations

import keras
from keras import ops

from tfsnn.neurons import (
    TIMED_SURROGATES,
    Dynamics,
    TensorParams,
    heaviside,
    surrogate_spike,
)

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
        train_threshold, train_leak: the threshold / the leak factor as trainable weights
            (``threshold_weight``, ``leak_weight``; spiking layers only).
        output_shape: optional; checked against the shape inferred in ``build``.
        linear: no neurons: the cell passes its synaptic current on (a branch of weights
            into a residual sum, ``tfsnn.ir.spec``), with a dummy state.
    """

    dynamics: Dynamics = None  # bound by each encoding's subclasses
    encoding: str = None
    #: the LayerSpec kind this cell implements (a row of ``tfsnn.ir.KINDS``)
    kind: str = None
    #: default of ``readout`` (True for ``IntegratorNeuronCell``)
    readout_default = False
    #: whether the cell has thresholded neurons (pooling cells do not)
    has_threshold = True

    def __init__(self, threshold=1.0, v_init=None, tau=None, readout=None, dyn_params=None,
                 surrogate="triangle", surrogate_width=1.0, output_shape=None,
                 train_threshold=False, train_leak=False, linear=False, **kwargs):
        super().__init__(**kwargs)
        self.readout = self.readout_default if readout is None else bool(readout)
        self.linear = bool(linear)
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
        self.train_threshold, self.train_leak = bool(train_threshold), bool(train_leak)
        self.threshold_weight = self.leak_weight = None
        if self.train_threshold or self.train_leak:
            self._add_neuron_weights()

    def _add_neuron_weights(self):
        """The trainable threshold (kept >= 1e-3 of its start) and leak (kept in [0, 1])."""
        if not self.spiking:
            raise ValueError(f"cell {self.name!r}: only spiking layers have a threshold and "
                             "a leak to train (not the readout or pooling layers)")
        theta, leak = self.params.threshold, self.params.leak
        if self.train_threshold:
            floor = 1e-3 * theta
            self.threshold_weight = self.add_weight(
                shape=(), name="threshold", initializer=keras.initializers.Constant(theta),
                constraint=lambda t: ops.maximum(t, floor))
        if self.train_leak:
            self.leak_weight = self.add_weight(
                shape=(), name="leak", initializer=keras.initializers.Constant(leak),
                constraint=lambda t: ops.clip(t, 0.0, 1.0))

    @property
    def spiking(self) -> bool:
        """Whether the cell has thresholded, spiking neurons (not the readout, a pooling
        layer or a linear branch)."""
        return self.has_threshold and not self.readout and not getattr(self, "linear", False)

    @property
    def spike_time_state(self) -> bool:
        """Whether the cell carries the steps since each neuron's last spike as a last
        state (its surrogate needs it: ``tfsnn.neurons.spike.TIMED_SURROGATES``)."""
        return self.surrogate in TIMED_SURROGATES and self.spiking

    @property
    def neuron_params(self):
        """What the dynamics get: ``params``, with the trainable weights in place of the
        threshold and leak where they are trained (``TensorParams``)."""
        if self.threshold_weight is None and self.leak_weight is None:
            return self.params
        return TensorParams(self.params, self.threshold_weight, self.leak_weight)

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
        if self.linear:
            return [(1,)]
        extra = [tuple(self.shape)] if self.spike_time_state else []
        return self.neuron_dynamics.state_shapes(self.shape, self.params) + extra

    def get_initial_state(self, batch_size=None):
        if self.linear:
            return [ops.zeros((batch_size, 1))]
        state = self.neuron_dynamics.initial_state(batch_size, self.neuron_shape,
                                                   self.neuron_params)
        if self.spike_time_state:
            state = list(state) + [ops.zeros((batch_size,) + tuple(self.neuron_shape))]
        return state

    def call(self, inputs, states, training=False):
        return self.neuron_step(self.synapse(inputs), list(states), training=training)

    # --- the two halves ----------------------------------------------------------------
    def synapse(self, x):
        raise NotImplementedError

    def neuron_step(self, current, states, training=False):
        if self.linear:
            return current, states  # no neurons: the current goes on into a sum
        if self.spike_time_state:
            return self._timed_step(current, states, training)
        spike = self._train_spike if training else heaviside
        return self.neuron_dynamics.step(current, states, self.neuron_params, spike)

    def _timed_step(self, current, states, training):
        """A step that also counts the steps since each neuron's last spike (``dt``)."""
        dt = ops.add(states[-1], 1.0)
        spike = heaviside
        if training:
            def spike(v, theta):
                return self._train_spike(v, theta, dt)
        out, new = self.neuron_dynamics.step(current, states[:-1], self.neuron_params, spike)
        return out, list(new) + [ops.where(ops.greater(out, 0.0), ops.zeros_like(dt), dt)]

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
                   train_threshold=self.train_threshold, train_leak=self.train_leak,
                   linear=self.linear, **{k: getattr(self.params, k) for k in PARAM_KEYS})
        return cfg
