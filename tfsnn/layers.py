"""Keras layers for training ANNs that convert well.

``ClampedReLU`` (for the ``ttfs_clamped`` encoding): ``f(x) = x if x >= clamp else 0``; weak
activations, which a time-to-first-spike neuron would only signal by a late spike, are cut to
zero during training so the converted network never needs them.
"""

from __future__ import annotations

import keras
from keras import ops


def clamped_relu(x, clamp=0.1):
    """``x`` where ``x >= clamp``, else 0."""
    return ops.where(ops.greater_equal(x, clamp), x, ops.zeros_like(x))


@keras.saving.register_keras_serializable(package="tfsnn")
class ClampedReLU(keras.layers.Layer):
    """ReLU with activations below ``clamp`` set to zero (see module docstring)."""

    def __init__(self, clamp=0.1, **kwargs):
        super().__init__(**kwargs)
        if clamp < 0:
            raise ValueError(f"clamp must be >= 0, got {clamp}")
        self.clamp = float(clamp)

    def call(self, x):
        return clamped_relu(x, self.clamp)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "clamp": self.clamp}
