"""Dense spiking cell: ``I_t = x_t W + b`` into the encoding's neurons."""

from __future__ import annotations

from tfsnn.cells import synapse
from tfsnn.cells.base import SpikingCell
from tfsnn.cells.weights import WeightOptions


class DenseCell(SpikingCell):
    """``units`` neurons fully connected to the input (see ``SpikingCell`` for the neuron
    arguments; initializers, regularizers and constraints as for ``keras.layers.Dense``)."""

    kind = "dense"

    def __init__(self, units, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        if self.units < 1:
            raise ValueError(f"units must be >= 1, got {units!r}")
        self.use_bias = bool(use_bias)
        self.weight_options = WeightOptions(kernel_initializer, bias_initializer,
                                            kernel_regularizer, bias_regularizer,
                                            kernel_constraint, bias_constraint)
        self._set_neuron_shape((self.units,))

    def build(self, input_shape):
        n_in = int(input_shape[-1])
        self.kernel, self.bias = self.weight_options.add_weights(
            self, (n_in, self.units), self.units, self.use_bias)
        self.built = True

    def synapse(self, x):
        return synapse.dense(x, self.kernel, self.bias)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "use_bias": self.use_bias,
                **self.weight_options.get_config()}

