"""Helpers of the simulation tests: exactly representable weights and surrogate gradients."""

import keras
import numpy as np
from keras import ops


def exact_weights(model, seed=0, low=-24, high=40):
    """Weights and biases ``k / 64`` for integers ``k`` in ``[low, high)``: with inputs that
    are multiples of 1/16 every float sum is exact in any order."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            layer.set_weights([rng.integers(low, high, w.shape).astype("float32") / 64
                               for w in ws])
    return model


def grads(fn, v, theta):
    """``(d sum(fn(v, theta)) / dv, ... / dtheta)`` on the active backend."""
    v, theta = ops.convert_to_tensor(v), ops.convert_to_tensor(theta)
    if keras.backend.backend() == "jax":
        import jax

        return jax.grad(lambda a, b: fn(a, b).sum(), argnums=(0, 1))(v, theta)
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch([v, theta])
        out = ops.sum(fn(v, theta))
    return tape.gradient(out, [v, theta])
