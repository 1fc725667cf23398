"""Spiking Keras RNN cells: a synaptic operation followed by an encoding's neuron dynamics.

``call(x_t, states) -> (out_t, new_states)`` with ``out_t = dynamics(synapse(x_t), states)``,
so every cell can be wrapped in ``keras.layers.RNN`` and stepped by Keras. The simulator uses
the same two halves (``synapse`` and ``neuron_step``) but applies the synapse to all timesteps
of a chunk at once.

The classes here are encoding-agnostic; ``define_cells(encoding, dynamics)`` binds them to one
encoding's dynamics and registers them for ``.keras`` serialization under the encoding's
package, so ``tfsnn.cells.rate.LifNeuronCell`` and ``tfsnn.cells.ttfs.LifNeuronCell`` are the
same code with different dynamics.
"""

from __future__ import annotations

from collections import namedtuple

import keras
import numpy as np
from keras import ops

from tfsnn.cells import synapse
from tfsnn.cells.dynamics import Dynamics, Integrator

PARAM_KEYS = ("threshold", "v_init", "tau")


def _pair(v):
    return (int(v), int(v)) if np.isscalar(v) else tuple(int(a) for a in v)


class SpikingCell(keras.layers.Layer):
    """Base of all cells. ``readout=True`` makes the neurons integrate instead of spike."""

    dynamics: Dynamics = None  # bound by define_cells
    encoding: str = None
    #: spec kind this cell implements (dense, conv2d, avgpool, maxpool)
    kind: str = None

    def __init__(self, output_shape, threshold=1.0, v_init=0.0, tau=None, readout=False,
                 dyn_params=None, **kwargs):
        super().__init__(**kwargs)
        self.neuron_shape = tuple(int(d) for d in output_shape)
        self.readout = bool(readout)
        self.dyn_params = dict(dyn_params or {})
        self.params = {"threshold": float(threshold), "v_init": float(v_init),
                       "tau": None if tau is None else float(tau), **self.dyn_params}
        if self.params["threshold"] <= 0:
            raise ValueError(f"threshold must be > 0, got {threshold}")
        if tau is not None and float(tau) <= 0:
            raise ValueError(f"tau must be > 0 timesteps (or None for no leak), got {tau}")
        check = getattr(self.dynamics, "check_params", None)
        if check is not None:  # encoding-specific validation, at conversion time
            check(self.params)

    # --- RNN-cell protocol -------------------------------------------------------------
    @property
    def neuron_dynamics(self):
        """The dynamics this cell runs: its encoding's, or as readout the encoding's
        ``readout_dynamics`` (default: the shared ``Integrator``)."""
        if not self.readout:
            return self.dynamics
        return getattr(self.dynamics, "readout_dynamics", None) or Integrator

    @property
    def state_size(self):
        dyn = self.neuron_dynamics
        shapes = getattr(dyn, "state_shapes", None)  # e.g. a broadcastable step counter
        if shapes is not None:
            return shapes(self.neuron_shape)
        return [self.neuron_shape for _ in dyn.state_names]

    @property
    def output_size(self):
        return self.neuron_shape

    def get_initial_state(self, batch_size=None):
        return self.neuron_dynamics.initial_state(batch_size, self.neuron_shape, self.params)

    def call(self, inputs, states, training=False):
        out, new_states = self.neuron_step(self.synapse(inputs), list(states))
        return out, new_states

    # --- the two halves ----------------------------------------------------------------
    def synapse(self, x):
        raise NotImplementedError

    def neuron_step(self, current, states):
        return self.neuron_dynamics.step(current, states, self.params)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(output_shape=list(self.neuron_shape), readout=self.readout,
                   dyn_params=self.dyn_params,
                   **{k: self.params[k] for k in PARAM_KEYS})
        return cfg


class DenseCell(SpikingCell):
    kind = "dense"

    def __init__(self, units, **kwargs):
        kwargs.setdefault("output_shape", (units,))
        super().__init__(**kwargs)
        self.units = int(units)

    def build(self, input_shape):
        n_in = int(input_shape[-1])
        self.kernel = self.add_weight(shape=(n_in, self.units), initializer="zeros",
                                      name="kernel", trainable=False)
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias",
                                    trainable=False)
        self.built = True

    def synapse(self, x):
        return synapse.dense(x, self.kernel, self.bias)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(units=self.units)
        return cfg


class Conv2DCell(SpikingCell):
    kind = "conv2d"

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size)
        self.strides = _pair(strides)
        self.padding = str(padding).lower()

    def build(self, input_shape):
        c_in = int(input_shape[-1])
        self.kernel = self.add_weight(shape=self.kernel_size + (c_in, self.filters),
                                      initializer="zeros", name="kernel", trainable=False)
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias",
                                    trainable=False)
        self.built = True

    def synapse(self, x):
        return synapse.conv2d(x, self.kernel, self.bias, self.strides, self.padding)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(filters=self.filters, kernel_size=list(self.kernel_size),
                   strides=list(self.strides), padding=self.padding)
        return cfg


class _PoolCell(SpikingCell):
    def __init__(self, pool_size, strides=None, padding="valid", **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size)
        self.strides = _pair(strides) if strides is not None else self.pool_size
        self.padding = str(padding).lower()

    def get_config(self):
        cfg = super().get_config()
        cfg.update(pool_size=list(self.pool_size), strides=list(self.strides),
                   padding=self.padding)
        return cfg


class AvgPool2DCell(_PoolCell):
    """Average pooling is linear: its output is the window average of the input spikes
    (times a per-channel ``scale``), passed on without neurons of its own, so it adds no
    quantization error and no latency. Only as the readout (global average pooling at the
    end of a network) do its neurons integrate.
    """

    kind = "avgpool"

    @property
    def state_size(self):
        return super().state_size if self.readout else [(1,)]

    def get_initial_state(self, batch_size=None):
        if self.readout:
            return super().get_initial_state(batch_size)
        return [ops.zeros((batch_size, 1))]

    def neuron_step(self, current, states):
        if self.readout:
            return super().neuron_step(current, states)
        return current, states  # linear: no dynamics

    def build(self, input_shape):
        c = int(input_shape[-1])
        self.scale = self.add_weight(shape=(c,), initializer="ones", name="scale",
                                     trainable=False)
        self.built = True

    def synapse(self, x):
        return synapse.avgpool2d(x, self.pool_size, self.strides, self.padding, self.scale)


class MaxPool2DCell(_PoolCell):
    """Spiking max pooling: no membrane; the encoding's gate decides which spikes pass."""

    kind = "maxpool"

    def build(self, input_shape):
        self.in_shape = tuple(int(d) for d in input_shape[1:])
        self.built = True

    @property
    def state_size(self):
        shape = self.in_shape if self.dynamics.maxpool_state_on_input else self.neuron_shape
        return [shape for _ in self.dynamics.maxpool_state_names]

    def get_initial_state(self, batch_size=None):
        return self.dynamics.maxpool_initial_state(batch_size, self.in_shape, self.neuron_shape)

    def synapse(self, x):
        return x  # the gate works on the input spikes themselves

    def _pool(self, x):
        return synapse.maxpool2d(x, self.pool_size, self.strides, self.padding)

    def neuron_step(self, current, states):
        if self.readout:
            raise ValueError("a max-pooling layer cannot be the readout layer")
        return self.dynamics.maxpool_step(current, states, self._pool)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(input_shape_=list(self.in_shape) if hasattr(self, "in_shape") else None)
        return cfg

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        in_shape = config.pop("input_shape_", None)
        cell = cls(**config)
        if in_shape is not None:
            cell.in_shape = tuple(in_shape)
        return cell


#: public class name -> encoding-agnostic base, as exported by every encoding module
CELL_NAMES = {
    "IntegratorNeuronCell": DenseCell,
    "LifNeuronCell": DenseCell,
    "LifNeuronCellConv2D": Conv2DCell,
    "LifNeuronCellAvgPool2D": AvgPool2DCell,
    "LifNeuronCellMaxPool2D": MaxPool2DCell,
}


#: the named cells of one encoding, in the order of ``CELL_NAMES``
EncodingCells = namedtuple("EncodingCells", list(CELL_NAMES))


def define_cells(encoding: str, dynamics: Dynamics) -> EncodingCells:
    """Create the named cells of one encoding, bound to its dynamics and registered.

    An encoding module unpacks them into its public names::

        CELLS = define_cells("rate", RateDynamics())
        (IntegratorNeuronCell, LifNeuronCell, LifNeuronCellConv2D, LifNeuronCellAvgPool2D,
         LifNeuronCellMaxPool2D) = CELLS
    """
    classes = {}
    for name, base in CELL_NAMES.items():
        attrs = {"dynamics": dynamics, "encoding": encoding, "__module__": f"tfsnn.cells.{encoding}"}
        if name == "IntegratorNeuronCell":
            def __init__(self, units, **kwargs):  # noqa: N807
                kwargs["readout"] = True
                DenseCell.__init__(self, units, **kwargs)
            attrs["__init__"] = __init__
            attrs["__doc__"] = "Readout: a dense layer of integrating (non-spiking) neurons."
        else:
            attrs["__doc__"] = f"{base.__doc__ or name} ({encoding} dynamics)."
        cls = type(name, (base,), attrs)
        classes[name] = keras.saving.register_keras_serializable(
            package=f"tfsnn.{encoding}", name=name)(cls)
    return EncodingCells(**classes)


def cell_class(encoding_cells: EncodingCells, kind: str, readout: bool):
    """The named cell class of an encoding for a spec kind."""
    if kind == "dense":
        return encoding_cells.IntegratorNeuronCell if readout else encoding_cells.LifNeuronCell
    return getattr(encoding_cells, {"conv2d": "LifNeuronCellConv2D",
                                    "avgpool": "LifNeuronCellAvgPool2D",
                                    "maxpool": "LifNeuronCellMaxPool2D"}[kind])


def as_float(x):
    return ops.cast(x, "float32")


@keras.saving.register_keras_serializable(package="tfsnn")
class SpikingRNN(keras.layers.RNN):
    """``keras.layers.RNN`` for cells with multi-dimensional outputs (conv and pool maps).

    Keras's RNN infers symbolic output shapes only for 1-D cell outputs; this subclass returns
    ``(batch, T) + cell.output_size``. Stepping is Keras's own.
    """

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        out = self.cell.output_size
        out = (out,) if isinstance(out, int) else tuple(out)
        if self.return_sequences:
            return (sequences_shape[0], sequences_shape[1]) + out
        return (sequences_shape[0],) + out
