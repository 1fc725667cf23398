"""Input encoders: how an image becomes the input of the first layer at every step.

``"constant"`` feeds the image as an analog current at every step; ``"poisson"`` feeds
Bernoulli spike trains with rate = intensity, drawn from a counter-based hash of
``(seed, sample index, timestep, pixel)``: identical on every backend, batch size and
chunking.
"""

from __future__ import annotations

import numpy as np
from keras import ops

INPUT_MODES = ("constant", "poisson")


def check_input_mode(input_mode) -> str:
    if input_mode not in INPUT_MODES:
        raise ValueError(f"unknown input_mode {input_mode!r}; supported: {INPUT_MODES}")
    return input_mode


def _mix32(h):
    """lowbias32 integer hash (C. Wellons), on uint32 tensors."""
    h = ops.bitwise_xor(h, ops.right_shift(h, 16))
    h = ops.multiply(h, ops.convert_to_tensor(np.uint32(0x7FEB352D)))
    h = ops.bitwise_xor(h, ops.right_shift(h, 15))
    h = ops.multiply(h, ops.convert_to_tensor(np.uint32(0x846CA68B)))
    return ops.bitwise_xor(h, ops.right_shift(h, 16))


def poisson_spikes(x, t0, steps, seed, sample_offset):
    """Spike trains ``(steps, B, ...)``: ``s[t, n, i] = [u(seed, n, t, i) < x[n, i]]``.

    ``u`` is a uniform number in [0, 1) from a hash of (seed, global sample index, global step,
    flat pixel index), so the trains do not depend on backend, batching or chunking.
    """
    shape = ops.shape(x)
    n_pix = int(np.prod(x.shape[1:]))
    b = shape[0]
    t = ops.reshape(ops.cast(ops.arange(steps), "uint32") + ops.cast(t0, "uint32"),
                    (steps, 1, 1))
    n = ops.reshape(ops.cast(ops.arange(b), "uint32") + ops.cast(sample_offset, "uint32"),
                    (1, -1, 1))
    i = ops.reshape(ops.cast(ops.arange(n_pix), "uint32"), (1, 1, n_pix))
    h = _mix32(ops.cast(seed, "uint32") + ops.convert_to_tensor(np.uint32(0x9E3779B9)))
    h = _mix32(h + t)
    h = _mix32(h + n)
    h = _mix32(h + i)
    u = ops.multiply(ops.cast(ops.right_shift(h, 8), "float32"), 1.0 / 16777216.0)
    xf = ops.reshape(ops.cast(x, "float32"), (1, -1, n_pix))
    s = ops.cast(ops.less(u, xf), "float32")
    return ops.reshape(s, (steps, -1) + tuple(x.shape[1:]))


def input_sequence(x, timesteps, input_mode, seed=0):
    """The input at every step as a numpy array ``(B, T, ...)`` (for the cell path)."""
    if check_input_mode(input_mode) == "constant":
        return np.repeat(x[:, None], timesteps, axis=1)
    s = poisson_spikes(ops.convert_to_tensor(x), 0, timesteps, seed, 0)
    return np.moveaxis(ops.convert_to_numpy(s), 0, 1)
