"""The spike nonlinearity: a Heaviside step forward, a surrogate derivative backward.

``spike(v, theta) = [v >= theta]`` exactly (0/1 in the dtype of ``v``). Its true derivative is
zero almost everywhere, so training through time (BPTT) replaces it by a surrogate
(Neftci, Mostafa & Zenke, IEEE Signal Processing Magazine 2019), with ``x = v - theta`` and
``w = width * theta``:

- ``"triangle"`` (piecewise linear, Bellec et al. 2018; Esser et al. 2016):
  ``ds/dv = max(0, 1 - |x| / w) / w``;
- ``"exponential"`` (the exponential of the distance to the threshold, as in SLAYER,
  Shrestha & Orchard NeurIPS 2018, and in the hybrid conversion + STDB fine-tuning of
  Rathi et al. ICLR 2020, whose exponential is taken of the time since the neuron's last
  spike instead): ``ds/dv = exp(-|x| / w) / (2 w)``.

- ``"stdb"`` (spike-timing-dependent backpropagation, Rathi et al. ICLR 2020, Eq. 11):
  ``ds/dv = (alpha / theta) exp(-beta dt / width)`` with ``dt`` the steps since the neuron's
  last spike (since the start of the run before its first spike), ``alpha = 0.3`` and
  ``beta = 0.01`` (the paper's values): recently active neurons get larger gradients. Its
  spike function takes ``dt`` as a third argument; the cells carry ``dt`` as an extra state
  (``TIMED_SURROGATES``).

The first two integrate to 1 over ``v``; ``width`` (default 1) is their half-width in units
of theta: the triangle is zero for ``|v - theta| >= width * theta``, the exponential falls to
``1/e`` of its peak there. For ``"stdb"`` it stretches the time constant ``1 / beta``.

``d s / d theta = -d s / d v``. The forward value never depends on the surrogate.

Signed neurons (``tfsnn.neurons.rate``) also need ``[v < 0]``, their negative spike: every
spike function carries it as ``fn.below_zero(v, theta)``, exact forward, and for the first
two surrogates with the mirrored derivative ``d[v < 0]/dv = -g(v)`` (``g`` the surrogate's
shape centred at 0 instead of theta, same width ``w = width * theta``; no gradient to theta).
"""

from __future__ import annotations

from keras import ops

SURROGATES = ("triangle", "exponential", "stdb")
#: surrogates whose gradient needs the steps since each neuron's last spike (``dt``)
TIMED_SURROGATES = ("stdb",)
#: STDB's constants (Rathi et al. ICLR 2020)
STDB_ALPHA, STDB_BETA = 0.3, 0.01


def heaviside(v, theta):
    """``[v >= theta]`` as floats (no gradient): what inference runs."""
    return ops.cast(ops.greater_equal(v, theta), v.dtype)


def below_zero(v, theta=None):
    """``[v < 0]`` as floats (no gradient): a signed neuron's negative spike."""
    return ops.cast(ops.less(v, 0.0), v.dtype)


heaviside.below_zero = below_zero


def _derivative(x, w, shape):
    a = ops.divide(ops.abs(x), w)
    if shape == "triangle":
        return ops.divide(ops.relu(ops.subtract(1.0, a)), w)
    return ops.divide(ops.exp(ops.negative(a)), ops.multiply(w, 2.0))


def surrogate_spike(shape: str = "triangle", width: float = 1.0):
    """A spike function ``(v, theta) -> [v >= theta]`` whose gradient is the surrogate
    ``shape`` of half-width ``width`` (in units of theta), see module docstring; for
    ``"stdb"`` the function is ``(v, theta, dt)``."""
    if shape not in SURROGATES:
        raise ValueError(f"unknown surrogate {shape!r}; supported: {SURROGATES}")
    if not float(width) > 0:
        raise ValueError(f"surrogate width must be > 0, got {width!r}")
    width = float(width)
    if shape in TIMED_SURROGATES:
        return _stdb_spike(width)

    @ops.custom_gradient
    def spike(v, theta):
        out = ops.cast(ops.greater_equal(v, theta), v.dtype)

        def grad(*args, upstream=None):
            up = args[0] if upstream is None else upstream
            w = ops.multiply(ops.abs(theta), width)
            d = ops.multiply(up, _derivative(ops.subtract(v, theta), w, shape))
            return d, ops.negative(d)

        return out, grad

    @ops.custom_gradient
    def negative(v, theta):
        out = ops.cast(ops.less(v, 0.0), v.dtype)

        def grad(*args, upstream=None):
            up = args[0] if upstream is None else upstream
            w = ops.multiply(ops.abs(theta), width)
            return ops.negative(ops.multiply(up, _derivative(v, w, shape))), \
                ops.zeros_like(theta)

        return out, grad

    def fn(v, theta):
        return spike(v, ops.cast(ops.broadcast_to(theta, ops.shape(v)), v.dtype))

    def fn_below_zero(v, theta):
        return negative(v, ops.cast(ops.broadcast_to(theta, ops.shape(v)), v.dtype))

    fn.below_zero = fn_below_zero
    return fn


def _stdb_spike(width: float):
    """``(v, theta, dt) -> [v >= theta]`` with the STDB derivative (module docstring)."""
    rate = STDB_BETA / width

    @ops.custom_gradient
    def spike(v, theta, dt):
        out = ops.cast(ops.greater_equal(v, theta), v.dtype)

        def grad(*args, upstream=None):
            up = args[0] if upstream is None else upstream
            d = ops.multiply(up, ops.divide(ops.multiply(
                ops.exp(ops.multiply(dt, -rate)), STDB_ALPHA), ops.abs(theta)))
            return d, ops.negative(d), ops.zeros_like(dt)

        return out, grad

    def fn(v, theta, dt):
        return spike(v, ops.cast(ops.broadcast_to(theta, ops.shape(v)), v.dtype), dt)

    return fn
