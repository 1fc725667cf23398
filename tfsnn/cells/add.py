"""Residual-sum cell: ``I_t = sum_i scale_i * x_i,t`` into the encoding's neurons.

The inputs arrive stacked on a last axis, ``(B, ..., C, n)`` (``keras.layers.RNN`` steps one
tensor): identity shortcuts (spikes, times ``lambda_in / lambda_add`` per channel) and the
currents of branch layers (a conv + BatchNorm without ReLU, ``SpikingCell(linear=True)``,
scale 1). The neurons are those of the ReLU after a Keras ``Add``.
"""

from __future__ import annotations

from tfsnn.cells import synapse
from tfsnn.cells.base import SpikingCell


class AddCell(SpikingCell):
    """Neurons driven by the sum of ``n`` inputs of one shape; shapes inferred in ``build``
    from the stacked input ``(..., C, n)``; ``scales (C, n)`` (non-trainable, ones until
    normalization sets them)."""

    kind = "add"

    def unbuilt_shape(self):
        return self.declared_shape or (None, None, None)

    def build(self, input_shape):
        shape = tuple(int(d) for d in input_shape[1:])
        self._set_neuron_shape(shape[:-1])
        self.scales = self.add_weight(shape=shape[-2:], initializer="ones", name="scales",
                                      trainable=False)
        self.built = True

    def synapse(self, x):
        return synapse.add(x, self.scales)
