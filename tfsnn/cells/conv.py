"""2-D convolutional spiking cell: ``I_t = conv(x_t, K) + b`` into the encoding's neurons."""

from __future__ import annotations

from tfsnn.cells import synapse
from tfsnn.cells.base import SpikingCell
from tfsnn.cells.weights import WeightOptions
from tfsnn.ir.geometry import check_padding, output_length, pair


class Conv2DCell(SpikingCell):
    """``filters`` feature maps of neurons; the map size is inferred from the input in
    ``build`` (channels last; TensorFlow padding arithmetic, ``tfsnn.ir.geometry``)."""

    kind = "conv2d"

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        if self.filters < 1:
            raise ValueError(f"filters must be >= 1, got {filters!r}")
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.strides = pair(strides, "strides")
        self.padding = check_padding(padding)
        self.use_bias = bool(use_bias)
        self.weight_options = WeightOptions(kernel_initializer, bias_initializer,
                                            kernel_regularizer, bias_regularizer,
                                            kernel_constraint, bias_constraint)

    def unbuilt_shape(self):
        return (None, None, self.filters)

    def build(self, input_shape):
        h, w, c_in = (int(d) for d in input_shape[-3:])
        self._set_neuron_shape(
            tuple(output_length(n, k, s, self.padding)
                  for n, k, s in zip((h, w), self.kernel_size, self.strides)) + (self.filters,))
        self.kernel, self.bias = self.weight_options.add_weights(
            self, self.kernel_size + (c_in, self.filters), self.filters, self.use_bias)
        self.built = True

    def synapse(self, x):
        return synapse.conv2d(x, self.kernel, self.bias, self.strides, self.padding)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "use_bias": self.use_bias,
                **self.weight_options.get_config()}
