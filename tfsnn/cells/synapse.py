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
    """``I = conv(x, K) + b`` (NHWC, TensorFlow padding arithmetic; also 1-D: NWC with a
    ``(k, c_in, c_out)`` kernel)."""
    y = ops.conv(x, kernel, strides=tuple(strides), padding=padding, data_format="channels_last")
    return y if bias is None else ops.add(y, bias)


def conv1d(x, kernel, bias, strides, padding):
    """``I = conv(x, K) + b`` on ``(B, steps, c)``; ``"causal"``: ``k - 1`` zeros before the
    signal, then a valid convolution (``tfsnn.ir.geometry``)."""
    if padding == "causal":
        x = ops.pad(x, ((0, 0), (int(kernel.shape[0]) - 1, 0), (0, 0)))
        padding = "valid"
    return conv2d(x, kernel, bias, strides, padding)


def depthwise_conv2d(x, kernel, bias, strides, padding):
    """``I[..., c m + j] = conv(x[..., c], K[:, :, c, j]) + b`` (``kernel (kh, kw, c_in, m)``)."""
    y = ops.depthwise_conv(x, kernel, strides=tuple(strides), padding=padding,
                           data_format="channels_last")
    return y if bias is None else ops.add(y, bias)


def separable_conv2d(x, depthwise_kernel, kernel, bias, strides, padding):
    """``I = pointwise(depthwise(x, D), P) + b``: the depthwise convolution, then the 1x1
    ``kernel (1, 1, c_in m, c_out)``, no activation in between."""
    y = ops.separable_conv(x, depthwise_kernel, kernel, strides=tuple(strides),
                           padding=padding, data_format="channels_last")
    return y if bias is None else ops.add(y, bias)


def avgpool2d(x, pool_size, strides, padding, scale=None):
    """``I = scale * avgpool(x)``; ``scale`` (per channel) is ``lambda_in / lambda_out``
    (``None``: 1, no multiplication). 1-D or 2-D: the length of ``pool_size``."""
    y = ops.average_pool(x, tuple(pool_size), strides=tuple(strides), padding=padding,
                         data_format="channels_last")
    return y if scale is None else ops.multiply(y, scale)


def maxpool2d(x, pool_size, strides, padding):
    """Plain max pooling (used by the gating rules of the spiking max-pool cells); 1-D or
    2-D: the length of ``pool_size``."""
    return ops.max_pool(x, tuple(pool_size), strides=tuple(strides), padding=padding,
                        data_format="channels_last")


def add(x, scales):
    """The residual sum ``I = sum_i scales[:, i] * x[..., i]`` of the inputs stacked on a last
    axis (``x (..., C, n)``, ``scales (C, n)``), summed in input order."""
    y = ops.multiply(x[..., 0], scales[:, 0])
    for i in range(1, int(x.shape[-1])):
        y = ops.add(y, ops.multiply(x[..., i], scales[:, i]))
    return y


def zero_pad2d(x, padding):
    """Zeros around a 2-D map, ``padding ((top, bottom), (left, right))``."""
    (t, b), (left, r) = padding
    lead = ((0, 0),) * (len(x.shape) - 3)
    return ops.pad(x, lead + ((int(t), int(b)), (int(left), int(r)), (0, 0)))


def crop2d(x, cropping):
    """A 2-D map cropped by ``cropping ((top, bottom), (left, right))``."""
    (t, b), (left, r) = cropping
    h, w = int(x.shape[-3]), int(x.shape[-2])
    return x[..., int(t):h - int(b), int(left):w - int(r), :]


def rearrange(spec, inputs):
    """The kinds that only rearrange values (``reshape`` rows of the kind table: flatten,
    reshape, concat, zeropad, crop) on batched inputs (one leading batch axis); the one
    implementation the ANN forward pass and the engine share."""
    if spec.kind in ("flatten", "reshape"):
        return ops.reshape(inputs[0], (-1,) + tuple(spec.output_shape))
    if spec.kind == "concat":
        return ops.concatenate(inputs, axis=-1)
    if spec.kind == "zeropad":
        return zero_pad2d(inputs[0], spec.config["padding"])
    if spec.kind == "crop":
        return crop2d(inputs[0], spec.config["cropping"])
    raise ValueError(f"layer {spec.name!r} of kind {spec.kind!r} is not a rearranging kind")
