"""The spike nonlinearity: a Heaviside step forward, a surrogate derivative backward.

``spike(v, theta) = [v >= theta]`` exactly (0/1 in the dtype of ``v``). Its true derivative is
zero almost everywhere, so training through time (BPTT) replaces it by a surrogate
(Neftci, Mostafa & Zenke, IEEE Signal Processing Magazine 2019), with ``x = v - theta`` and
``w = width * theta``:

- ``"triangle"`` (piecewise linear, Bellec et al. 2018; Esser et al. 2016):
  ``ds/dv = max(0, 1 - |x| / w) / w``;
- ``"exponential"`` (the spike-time-dependent form of STDB, Rathi et al. ICLR 2020):
  ``ds/dv = exp(-|x| / w) / (2 w)``.

Both integrate to 1 over ``v``.

``d s / d theta = -d s / d v``. The forward value never depends on the surrogate.
"""

from __future__ import annotations

from keras import ops

SURROGATES = ("triangle", "exponential")


def heaviside(v, theta):
    """``[v >= theta]`` as floats (no gradient): what inference runs."""
    return ops.cast(ops.greater_equal(v, theta), v.dtype)


def _derivative(x, w, shape):
    a = ops.divide(ops.abs(x), w)
    if shape == "triangle":
        return ops.divide(ops.relu(ops.subtract(1.0, a)), w)
    return ops.divide(ops.exp(ops.negative(a)), ops.multiply(w, 2.0))


def surrogate_spike(shape: str = "triangle", width: float = 1.0):
    """A spike function ``(v, theta) -> [v >= theta]`` whose gradient is the surrogate
    ``shape`` of half-width ``width`` (in units of theta), see module docstring."""
    if shape not in SURROGATES:
        raise ValueError(f"unknown surrogate {shape!r}; supported: {SURROGATES}")
    if not float(width) > 0:
        raise ValueError(f"surrogate width must be > 0, got {width!r}")
    width = float(width)

    @ops.custom_gradient
    def spike(v, theta):
        out = ops.cast(ops.greater_equal(v, theta), v.dtype)

        def grad(*args, upstream=None):
            up = args[0] if upstream is None else upstream
            w = ops.multiply(ops.abs(theta), width)
            d = ops.multiply(up, _derivative(ops.subtract(v, theta), w, shape))
            return d, ops.negative(d)

        return out, grad

    def fn(v, theta):
        return spike(v, ops.cast(ops.broadcast_to(theta, ops.shape(v)), v.dtype))

    return fn
