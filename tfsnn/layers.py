"""Keras layers for training ANNs that convert well.

``ClampedReLU`` (for the ``ttfs_clamped`` encoding): ``f(x) = x if x >= clamp else 0``; weak
activations, which a time-to-first-spike neuron would only signal by a late spike, are cut to
zero during training so the converted network never needs them.

Training uses a straight-through gradient by default: the forward pass is the clamped ReLU,
the backward pass that of the plain ReLU (``d f / d x = [x > 0]``), so units below the clamp
keep learning instead of dying; with the exact gradient (``straight_through=False``) LeNet on
mnist5k no longer trains for clamps of 0.3 and more.

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

    def __init__(self, clamp=0.1, straight_through=True, **kwargs):
        super().__init__(**kwargs)
        if not float(clamp) >= 0:
            raise ValueError(f"clamp must be >= 0, got {clamp}")
        self.clamp = float(clamp)
        self.straight_through = bool(straight_through)

    def call(self, x):
        y = clamped_relu(x, self.clamp)
        if not self.straight_through:
            return y
        r = ops.relu(x)  # value y, gradient of the ReLU
        return ops.add(r, ops.stop_gradient(ops.subtract(y, r)))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "clamp": self.clamp,
                "straight_through": self.straight_through}


class clamped_relu_factory:  # noqa: N801 - used like a function
    """Zero-argument factory of fresh ``ClampedReLU(clamp)`` layers, for ``build_model``'s
    ``activation=`` (every hidden layer needs its own layer instance)."""

    def __init__(self, clamp=0.1, straight_through=True):
        if not float(clamp) >= 0:
            raise ValueError(f"clamp must be >= 0, got {clamp!r}")
        self.clamp = float(clamp)
        self.straight_through = bool(straight_through)

    def __call__(self):
        return ClampedReLU(self.clamp, self.straight_through)

    def __repr__(self):
        st = "" if self.straight_through else ", straight_through=False"
        return f"clamped_relu_factory({self.clamp}{st})"
