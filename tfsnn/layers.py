"""Keras layers for training ANNs that convert well.

``ClampedReLU`` (for the ``ttfs_clamped`` encoding): ``f(x) = x if x >= clamp else 0``; weak
activations, which a time-to-first-spike neuron would only signal by a late spike, are cut to
zero during training so the converted network never needs them.

    model = build_model("lenet", ds.input_shape, ds.num_classes,
                        activation=clamped_relu_factory(0.1))
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


class clamped_relu_factory:  # noqa: N801 - used like a function
    """Zero-argument factory of fresh ``ClampedReLU(clamp)`` layers, for ``build_model``'s
    ``activation=`` (every hidden layer needs its own layer instance)."""

    def __init__(self, clamp=0.1):
        if not float(clamp) >= 0:
            raise ValueError(f"clamp must be >= 0, got {clamp!r}")
        self.clamp = float(clamp)

    def __call__(self):
        return ClampedReLU(self.clamp)

    def __repr__(self):
        return f"clamped_relu_factory({self.clamp})"
