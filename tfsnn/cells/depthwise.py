"""Depthwise and separable 2-D convolution cells (MobileNet): kernel layouts in
``tfsnn.ir.kernels``.

- ``DepthwiseConv2DCell``: ``I[..., c m + j] = conv(x[..., c], K[:, :, c, j]) + b``, one
  neuron map per input channel and multiplier ``j < m``.
- ``SeparableConv2DCell``: that depthwise convolution, then a 1x1 convolution to ``filters``
  maps and the bias; no neurons in between (the ANN has no activation there), so the
  neurons are those of the pointwise output.
"""

from __future__ import annotations

from tfsnn.cells import synapse
from tfsnn.cells.base import SpikingCell
from tfsnn.cells.weights import WeightOptions
from tfsnn.ir.geometry import check_padding, ntuple, output_shape


class _DepthwiseBase(SpikingCell):
    """Arguments and geometry shared by both cells (``kernel_*`` options apply to every
    kernel, ``bias_*`` to the bias)."""

    def __init__(self, kernel_size, depth_multiplier=1, strides=1, padding="valid",
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.depth_multiplier = int(depth_multiplier)
        if self.depth_multiplier < 1:
            raise ValueError(f"depth_multiplier must be >= 1, got {depth_multiplier!r}")
        self.kernel_size = ntuple(kernel_size, 2, "kernel_size")
        self.strides = ntuple(strides, 2, "strides")
        self.padding = check_padding(padding)
        self.use_bias = bool(use_bias)
        self.weight_options = WeightOptions(kernel_initializer, bias_initializer,
                                            kernel_regularizer, bias_regularizer,
                                            kernel_constraint, bias_constraint)

    def _map_size(self, input_shape):
        h, w, c_in = (int(d) for d in input_shape[-3:])
        return output_shape((h, w), self.kernel_size, self.strides, self.padding), c_in

    def get_config(self):
        return {**super().get_config(), "kernel_size": list(self.kernel_size),
                "depth_multiplier": self.depth_multiplier, "strides": list(self.strides),
                "padding": self.padding, "use_bias": self.use_bias,
                **self.weight_options.get_config()}


class DepthwiseConv2DCell(_DepthwiseBase):
    """``c_in * depth_multiplier`` maps of neurons, each fed by one input channel."""

    kind = "depthwise_conv2d"

    def build(self, input_shape):
        hw, c_in = self._map_size(input_shape)
        n_out = c_in * self.depth_multiplier
        self._set_neuron_shape(hw + (n_out,))
        self.kernel, self.bias = self.weight_options.add_weights(
            self, self.kernel_size + (c_in, self.depth_multiplier), n_out, self.use_bias)
        self.built = True

    def synapse(self, x):
        return synapse.depthwise_conv2d(x, self.kernel, self.bias, self.strides, self.padding)


class SeparableConv2DCell(_DepthwiseBase):
    """``filters`` maps of neurons behind a depthwise and a pointwise convolution; weights
    ``depthwise_kernel (kh, kw, c_in, m)``, ``kernel (1, 1, c_in m, filters)``, ``bias``."""

    kind = "separable_conv2d"

    def __init__(self, filters, kernel_size, **kwargs):
        super().__init__(kernel_size, **kwargs)
        self.filters = int(filters)
        if self.filters < 1:
            raise ValueError(f"filters must be >= 1, got {filters!r}")

    def unbuilt_shape(self):
        return (None, None, self.filters)

    def build(self, input_shape):
        hw, c_in = self._map_size(input_shape)
        self._set_neuron_shape(hw + (self.filters,))
        opts = self.weight_options
        self.depthwise_kernel = self.add_weight(
            shape=self.kernel_size + (c_in, self.depth_multiplier),
            initializer=opts.kernel_initializer, regularizer=opts.kernel_regularizer,
            constraint=opts.kernel_constraint, name="depthwise_kernel")
        self.kernel, self.bias = opts.add_weights(
            self, (1, 1, c_in * self.depth_multiplier, self.filters), self.filters,
            self.use_bias)
        self.built = True

    def synapse(self, x):
        return synapse.separable_conv2d(x, self.depthwise_kernel, self.kernel, self.bias,
                                        self.strides, self.padding)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}
