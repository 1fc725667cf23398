"""Pooling cells: average pooling (a linear synapse) and spiking max pooling (a gate), on 2-D
maps and (``...1DCell``) 1-D signals."""

from __future__ import annotations

import numpy as np
from keras import ops

from tfsnn.cells import synapse
from tfsnn.cells.base import SpikingCell
from tfsnn.ir.geometry import check_padding, ntuple, output_shape


class PoolCell(SpikingCell):
    """Common arguments of the pooling cells (``pool_size``, ``strides`` (default: the pool
    size), ``padding``) over ``rank`` spatial axes; the output size is inferred in
    ``build``."""

    has_threshold = False
    rank = 2

    def __init__(self, pool_size=2, strides=None, padding="valid", **kwargs):
        super().__init__(**kwargs)
        self.pool_size = ntuple(pool_size, self.rank, "pool_size")
        self.strides = (ntuple(strides, self.rank, "strides") if strides is not None
                        else self.pool_size)
        self.padding = check_padding(padding)

    def unbuilt_shape(self):
        return (None,) * (self.rank + 1)

    def _infer_shape(self, input_shape):
        *spatial, c = (int(d) for d in input_shape[-self.rank - 1:])
        self.in_shape = tuple(spatial) + (c,)
        self._set_neuron_shape(output_shape(spatial, self.pool_size, self.strides,
                                            self.padding) + (c,))

    def pool(self, x):
        """Plain max pooling with this cell's geometry."""
        return synapse.maxpool2d(x, self.pool_size, self.strides, self.padding)

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size),
                "strides": list(self.strides), "padding": self.padding}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("input_shape_", None)  # written by files of format 1; build infers it
        return cls(**config)


class AvgPool2DCell(PoolCell):
    """Average pooling is linear: its output is the window average of the input spikes
    (times a per-channel ``scale``, ``lambda_in / lambda_out`` after normalization), passed
    on without neurons of its own, so it adds no quantization error and no latency. Only as
    the readout (global average pooling at the end of a network) do its neurons integrate.
    """

    kind = "avgpool"

    @property
    def state_size(self):
        return super().state_size if self.readout else [(1,)]

    def get_initial_state(self, batch_size=None):
        if self.readout:
            return super().get_initial_state(batch_size)
        return [ops.zeros((batch_size, 1))]

    def neuron_step(self, current, states, training=False):
        if self.readout:
            return super().neuron_step(current, states, training)
        return current, states  # linear: no dynamics

    def build(self, input_shape):
        self._infer_shape(input_shape)
        self.scale = self.add_weight(shape=(self.in_shape[-1],), initializer="ones",
                                     name="scale", trainable=False)
        self.built = True

    def has_unit_scale(self) -> bool:
        """Whether the per-channel scale is all ones (the multiplication can be skipped)."""
        return bool(np.all(ops.convert_to_numpy(self.scale) == 1.0))

    def synapse(self, x, scaled=True):
        return synapse.avgpool2d(x, self.pool_size, self.strides, self.padding,
                                 self.scale if scaled else None)


class MaxPool2DCell(PoolCell):
    """Spiking max pooling: no membrane; the encoding's gate decides which spikes pass."""

    kind = "maxpool"

    def build(self, input_shape):
        self._infer_shape(input_shape)
        self.built = True

    @property
    def state_size(self):
        if not self.dynamics.maxpool_state_on_input:
            shape = self.shape
        else:
            shape = getattr(self, "in_shape", self.unbuilt_shape())
        return [shape for _ in self.dynamics.maxpool_state_names]

    def get_initial_state(self, batch_size=None):
        return self.dynamics.maxpool_initial_state(batch_size, self.in_shape, self.neuron_shape)

    def synapse(self, x):
        return x  # the gate works on the input spikes themselves

    def has_constant_counts(self, timesteps) -> bool:
        return False  # a gate, not IF neurons: its counts are counted

    def neuron_step(self, current, states, training=False):
        if self.readout:
            raise ValueError("a max-pooling layer cannot be the readout layer")
        return self.dynamics.maxpool_step(current, states, self.pool)


class AvgPool1DCell(AvgPool2DCell):
    """Average pooling of 1-D signals ``(steps, c)`` (as ``AvgPool2DCell``)."""

    kind = "avgpool1d"
    rank = 1


class MaxPool1DCell(MaxPool2DCell):
    """Spiking max pooling of 1-D signals ``(steps, c)`` (as ``MaxPool2DCell``)."""

    kind = "maxpool1d"
    rank = 1
