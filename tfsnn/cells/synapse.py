"""Synaptic operations: the linear, stateless part of a spiking layer.

Every function works on any leading batch size, so the simulator can apply it once to all
timesteps of a chunk folded into the batch (``(T*B, ...)``) and get the same numbers as the
step-by-step cell path. All arithmetic is ``keras.ops`` (TensorFlow, JAX, ...).
"""

from __future__ import annotations

from keras import ops


def dense(x, kernel, bias):
    """``I = x W + b`` (``bias`` None: no bias)."""
    y = ops.matmul(x, kernel)
    return y if bias is None else ops.add(y, bias)


def conv2d(x, kernel, bias, strides, padding):
    """``I = conv(x, K) + b`` (NHWC, TensorFlow padding arithmetic)."""
    y = ops.conv(x, kernel, strides=tuple(strides), padding=padding, data_format="channels_last")
    return y if bias is None else ops.add(y, bias)


def avgpool2d(x, pool_size, strides, padding, scale=None):
    """``I = scale * avgpool(x)``; ``scale`` (per channel) is ``lambda_in / lambda_out``
    (``None``: 1, no multiplication)."""
    y = ops.average_pool(x, tuple(pool_size), strides=tuple(strides), padding=padding,
                         data_format="channels_last")
    return y if scale is None else ops.multiply(y, scale)


def maxpool2d(x, pool_size, strides, padding):
    """Plain max pooling (used by the gating rules of the spiking max-pool cells)."""
    return ops.max_pool(x, tuple(pool_size), strides=tuple(strides), padding=padding,
                        data_format="channels_last")
