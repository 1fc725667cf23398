"""Convolutional spiking cells (1-D and 2-D): ``I_t = conv(x_t, K) + b`` into the encoding's
neurons."""

from __future__ import annotations

from tfsnn.cells import synapse
from tfsnn.cells.base import SpikingCell
from tfsnn.cells.weights import WeightOptions
from tfsnn.ir.geometry import check_padding, ntuple, output_shape


class ConvCell(SpikingCell):
    """``filters`` feature maps of neurons over ``rank`` spatial axes; the map size is
    inferred from the input in ``build`` (channels last; TensorFlow padding arithmetic,
    ``tfsnn.ir.geometry``)."""

    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        if self.filters < 1:
            raise ValueError(f"filters must be >= 1, got {filters!r}")
        self.kernel_size = ntuple(kernel_size, self.rank, "kernel_size")
        self.strides = ntuple(strides, self.rank, "strides")
        self.padding = check_padding(padding, causal=self.rank == 1)
        self.use_bias = bool(use_bias)
        self.weight_options = WeightOptions(kernel_initializer, bias_initializer,
                                            kernel_regularizer, bias_regularizer,
                                            kernel_constraint, bias_constraint)

    def unbuilt_shape(self):
        return (None,) * self.rank + (self.filters,)

    def build(self, input_shape):
        *spatial, c_in = (int(d) for d in input_shape[-self.rank - 1:])
        self._set_neuron_shape(output_shape(spatial, self.kernel_size, self.strides,
                                            self.padding) + (self.filters,))
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


class Conv2DCell(ConvCell):
    """A 2-D convolution (``(h, w, c)`` maps)."""

    kind = "conv2d"


class Conv1DCell(ConvCell):
    """A 1-D convolution over ``(steps, c)`` signals; ``padding`` may be ``"causal"``."""

    kind = "conv1d"
    rank = 1

    def synapse(self, x):
        return synapse.conv1d(x, self.kernel, self.bias, self.strides, self.padding)
