"""Quantization-aware Keras layers (arithmetic: ``tfsnn.quantization.quantizers``).

- ``QuantizedDense`` / ``QuantizedConv2D``: the Keras layer with its kernel fake-quantized to
  ``weight_bits`` bits (per-output-channel scales) in the forward pass; the float kernel is
  what trains (straight-through gradient). ``weight_bits=None``: the plain layer.
- ``QuantizedReLU``: the QCFS activation with ``levels`` levels (``bits``: ``2^b - 1``) and a
  trainable clip value ``lambda``.

All train with plain ``model.fit`` and save/load as ``.keras`` files.
"""

from __future__ import annotations

import keras
from keras import ops

from tfsnn.quantization.quantizers import (
    check_bits,
    check_levels,
    fake_quantize_weights,
    levels_from_bits,
    qcfs,
    quantize_weights,
)


class _QuantizedKernel:
    """The part Dense and Conv2D share: ``weight_bits`` and the quantized kernel."""

    def _init_bits(self, weight_bits):
        self.weight_bits = check_bits(weight_bits, "weight_bits")

    @property
    def quantized_kernel(self):
        """The kernel the layer computes with: ``W_int * s`` (the float kernel when
        ``weight_bits`` is None)."""
        return fake_quantize_weights(self.kernel, self.weight_bits)

    def integer_kernel(self):
        """``(W_int, s)``: the integer kernel and its per-output-channel scales."""
        if self.weight_bits is None:
            raise ValueError(f"layer {self.name!r} has float weights (weight_bits=None)")
        return quantize_weights(self.kernel, self.weight_bits)

    def _finish(self, y):
        if self.use_bias:
            y = ops.add(y, self.bias)
        return y if self.activation is None else self.activation(y)

    def get_config(self):
        return {**super().get_config(), "weight_bits": self.weight_bits}


@keras.saving.register_keras_serializable(package="tfsnn")
class QuantizedDense(_QuantizedKernel, keras.layers.Dense):
    """``keras.layers.Dense`` with ``weight_bits``-bit weights (see module docstring)."""

    def __init__(self, units, weight_bits=4, **kwargs):
        super().__init__(units, **kwargs)
        self._init_bits(weight_bits)

    def call(self, inputs, training=None):
        return self._finish(ops.matmul(inputs, self.quantized_kernel))


@keras.saving.register_keras_serializable(package="tfsnn")
class QuantizedConv2D(_QuantizedKernel, keras.layers.Conv2D):
    """``keras.layers.Conv2D`` with ``weight_bits``-bit weights (see module docstring)."""

    def __init__(self, filters, kernel_size, weight_bits=4, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        self._init_bits(weight_bits)
        if self.data_format != "channels_last":
            raise ValueError(f"QuantizedConv2D {self.name!r} supports data_format="
                             f"'channels_last' only, got {self.data_format!r}")

    def call(self, inputs):
        return self._finish(self.convolution_op(inputs, self.quantized_kernel))


@keras.saving.register_keras_serializable(package="tfsnn")
class QuantizedReLU(keras.layers.Layer):
    """QCFS activation ``lambda / L * clip(floor(x L / lambda + 1/2), 0, L)``.

    Args:
        bits: activation bits (``L = 2^bits - 1``), or give ``levels`` instead.
        levels: ``L``, the number of nonzero output levels.
        clip_value: initial ``lambda`` (> 0).
        trainable_clip: train ``lambda`` with the rest (default True).
    """

    def __init__(self, bits=None, levels=None, clip_value=1.0, trainable_clip=True, **kwargs):
        super().__init__(**kwargs)
        if (bits is None) == (levels is None):
            raise ValueError(f"QuantizedReLU needs exactly one of bits and levels, got "
                             f"bits={bits!r}, levels={levels!r}")
        self.bits = check_bits(bits, "activation bits")
        self.levels = levels_from_bits(self.bits) if levels is None else check_levels(levels)
        clip_value = float(clip_value)
        if not clip_value > 0 or clip_value == float("inf"):
            raise ValueError(f"clip_value must be a finite number > 0, got {clip_value!r}")
        self.initial_clip = clip_value
        self.trainable_clip = bool(trainable_clip)

    def build(self, input_shape):
        self.clip = self.add_weight(shape=(), name="clip", trainable=self.trainable_clip,
                                    initializer=keras.initializers.Constant(self.initial_clip))
        self.built = True

    @property
    def clip_value(self) -> float:
        """The current clip value ``lambda``."""
        return float(ops.convert_to_numpy(self.clip))

    def call(self, x):
        return qcfs(x, self.clip, self.levels)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "bits": self.bits,
                "levels": None if self.bits is not None else self.levels,
                "clip_value": self.initial_clip, "trainable_clip": self.trainable_clip}


class quantized_relu_factory:  # noqa: N801 - used like a function
    """Zero-argument factory of fresh ``QuantizedReLU(levels=L)`` layers, for
    ``build_model``'s ``activation=`` (``activation="quant", activation_levels=L``)."""

    def __init__(self, levels, clip_value=1.0):
        self.levels = check_levels(levels, "activation_levels")
        self.clip_value = float(clip_value)

    def __call__(self):
        return QuantizedReLU(levels=self.levels, clip_value=self.clip_value)

    def __repr__(self):
        return f"quantized_relu_factory({self.levels})"
