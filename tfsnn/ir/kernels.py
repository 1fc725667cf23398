"""Kernel layouts of the kinds with weights, and the channel scalings every stage applies.

- ``dense`` ``(n_in, n_out)``, ``conv1d`` ``(k, c_in, c_out)``, ``conv2d``
  ``(kh, kw, c_in, c_out)``: input channel on axis -2, output channel on axis -1.
- ``depthwise_conv2d`` ``(kh, kw, c_in, m)`` (``m`` the depth multiplier): input channel
  ``c`` feeds the output channels ``c * m + j`` with ``K[:, :, c, j]`` (TensorFlow's order).
- ``separable_conv2d``: ``depthwise_kernel`` ``(kh, kw, c_in, m)``, then ``kernel``
  ``(1, 1, c_in * m, c_out)`` (pointwise) and the bias (of the pointwise output). No
  activation in between, so the layer is the full convolution with the composed kernel
  ``K[a, b, c, o] = sum_j D[a, b, c, j] P[c * m + j, o]`` (``composed_kernel``).

The bias is always one value per output channel.
"""

from __future__ import annotations

import numpy as np


def scale_kernels(spec, in_scale=None, out_scale=None, divide: bool = False) -> None:
    """Scale ``spec``'s kernels in place so that the layer computes
    ``out_scale[o] * (W (in_scale * x))[o]`` (``divide``: ``/ out_scale[o]``); ``None``
    leaves that side alone. The bias is not touched. Arithmetic in the scales' dtype."""
    k = spec.kernel
    if in_scale is not None:
        in_scale = np.asarray(in_scale)
        if spec.kind == "separable_conv2d":
            spec.depthwise_kernel = (spec.depthwise_kernel * in_scale[:, None]).astype(
                np.float32)
        else:
            k = k * in_scale[:, None]
    if out_scale is not None:
        out_scale = np.asarray(out_scale)
        if spec.kind == "depthwise_conv2d":
            out_scale = out_scale.reshape(k.shape[-2:])
        k = k / out_scale if divide else k * out_scale
    spec.kernel = np.asarray(k).astype(np.float32)


def composed_kernel(spec) -> np.ndarray:
    """The ``(kh, kw, c_in, c_out)`` kernel of a separable convolution (module docstring)."""
    dw = np.asarray(spec.depthwise_kernel, np.float64)
    kh, kw, c_in, m = dw.shape
    pw = np.asarray(spec.kernel, np.float64).reshape(c_in, m, -1)
    return np.einsum("abcj,cjo->abco", dw, pw).astype(np.float32)


def window_size(spec) -> tuple:
    """The spatial window of a window kind with weights (the kernel's spatial axes)."""
    k = spec.depthwise_kernel if spec.kind == "separable_conv2d" else spec.kernel
    return tuple(int(v) for v in k.shape[:-2])
