"""The quantizers: the arithmetic of quantized weights and of the clip-floor-shift activation.

**Weights** (symmetric, one scale per output channel, the last axis of a Dense or Conv2D
kernel): with ``q = 2^(b-1) - 1`` (``q = 1`` for ``b = 1``) and ``m_c = max |W[..., c]|``,

    W_int = round(W / s_c) in [-q, q],      s_c = m_c / q,      W_q = W_int * s_c

(Keras's ``keras.quantizers.abs_max_quantize``). One bit gives binary weights
``sign(W) * m_c``. The largest integer of every channel is ``+-q``, so a kernel that was only
rescaled per output channel afterwards (BatchNorm folded in, weight normalization with one
scale per input layer) still has ``W_q = W_int * s'_c`` with the same integers:
``integer_weights`` recovers them.

**Activations** (QCFS, Bu et al., "Optimal ANN-SNN conversion for high-accuracy and
ultra-low-latency spiking neural networks", ICLR 2022): ``L`` levels of a trainable clip value
``lambda``,

    h(x) = lambda / L * clip(floor(x L / lambda + 1/2), 0, L)

(``b`` bits: ``L = 2^b - 1``). An IF neuron with threshold ``lambda``, reset by subtraction and
``V_0 = lambda / 2`` that receives the constant current ``x`` spikes exactly
``clip(floor(x L / lambda + 1/2), 0, L)`` times in ``L`` steps (docs/quantization.md).

Both use straight-through gradients: ``round``/``floor`` pass the gradient unchanged; the clip
passes none outside ``[0, lambda]`` and gives ``lambda`` its gradient (as the QCFS code does:
``lambda * floor_st(clip(x / lambda, 0, 1) L + 1/2) / L``).
"""

from __future__ import annotations

import numbers

import keras
import numpy as np
from keras import ops

#: the bit widths ``quantize`` accepts (weights and activations)
MAX_BITS = 16


def check_bits(bits, what: str = "bits", allow_none: bool = True):
    """``bits`` as an int in ``1..MAX_BITS`` (or None where allowed); a ValueError naming
    ``what`` otherwise."""
    if bits is None and allow_none:
        return None
    if (isinstance(bits, (bool, np.bool_)) or not isinstance(bits, numbers.Integral)
            or not 1 <= int(bits) <= MAX_BITS):
        allowed = "an integer from 1 to 16" + (" or None (float)" if allow_none else "")
        raise ValueError(f"{what} must be {allowed}, got {bits!r}")
    return int(bits)


def check_levels(levels, what: str = "levels") -> int:
    """``levels`` (the ``L`` of a QCFS activation) as an int >= 1."""
    if (isinstance(levels, (bool, np.bool_)) or not isinstance(levels, numbers.Integral)
            or int(levels) < 1):
        raise ValueError(f"{what} must be an integer >= 1, got {levels!r}")
    return int(levels)


def levels_from_bits(bits: int) -> int:
    """``L = 2^b - 1``: the number of nonzero levels of a ``b``-bit activation."""
    return 2 ** check_bits(bits, allow_none=False) - 1


def weight_qmax(bits: int) -> int:
    """The largest weight integer ``q = 2^(b-1) - 1`` (1 for binary weights)."""
    return max(2 ** (check_bits(bits, allow_none=False) - 1) - 1, 1)


def _straight_through(x, y):
    """``y`` forward, the gradient of ``x`` backward."""
    return ops.add(x, ops.stop_gradient(ops.subtract(y, x)))


def quantize_weights(kernel, bits: int):
    """``(W_int, s)``: integer-valued kernel (float dtype) and per-output-channel scales
    (shape ``(1, ..., 1, c_out)``), ``W_int * s`` the quantized kernel. No gradient."""
    q = weight_qmax(bits)
    axes = tuple(range(len(kernel.shape) - 1))
    if bits == 1:
        w = ops.convert_to_tensor(kernel)
        w_int = ops.where(ops.greater_equal(w, 0.0), 1.0, -1.0)
        return ops.cast(w_int, w.dtype), ops.max(ops.abs(w), axis=axes, keepdims=True)
    w_int, inv_scale = keras.quantizers.abs_max_quantize(kernel, axis=axes,
                                                         value_range=(-q, q), dtype="float32")
    return w_int, ops.divide(1.0, inv_scale)


def fake_quantize_weights(kernel, bits):
    """The quantized kernel ``W_int * s`` with a straight-through gradient (``bits`` None:
    ``kernel`` unchanged)."""
    if bits is None:
        return kernel
    w_int, scale = quantize_weights(ops.stop_gradient(kernel), bits)
    return _straight_through(kernel, ops.multiply(w_int, scale))


def qcfs(x, clip, levels: int):
    """``clip / L * clip(floor(x L / clip + 1/2), 0, L)`` with the straight-through gradient
    of the module docstring."""
    u = ops.clip(ops.divide(x, clip), 0.0, 1.0)
    steps = ops.add(ops.multiply(u, float(levels)), 0.5)
    steps = _straight_through(steps, ops.floor(steps))
    return ops.multiply(ops.divide(steps, float(levels)), clip)


def integer_weights(kernel: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """``(W_int, s)`` of a quantized kernel that may have been rescaled per output channel
    since (see the module docstring): ``W_int`` int32 in ``[-q, q]``, ``s`` per channel."""
    kernel = np.asarray(kernel, np.float64)
    q = weight_qmax(bits)
    m = np.abs(kernel).reshape(-1, kernel.shape[-1]).max(axis=0)
    scale = np.where(m > 0, m / q, 1.0)
    return np.rint(kernel / scale).astype(np.int32), scale.astype(np.float32)
