"""Window geometry along one axis, with TensorFlow/Keras padding arithmetic (defined once).

"valid": no padding, ``n_out = (n_in - k) // s + 1``. "same": ``n_out = ceil(n_in / s)``,
padded by ``max((n_out - 1) s + k - n_in, 0)`` in total, the smaller half before the input.
"causal" (``Conv1D`` only): ``k - 1`` zeros before the input, none after, so
``n_out = ceil(n_in / s)`` and output ``o`` sees inputs up to ``o * s``.
A window op of rank ``r`` (1-D signals ``(steps, c)``, 2-D maps ``(h, w, c)``) applies these
formulas per spatial axis (``output_shape``).
"""

from __future__ import annotations

import numpy as np

PADDINGS = ("valid", "same")
#: paddings of a 1-D convolution (``"causal"``: all padding before the input)
CAUSAL_PADDINGS = PADDINGS + ("causal",)


def check_padding(padding, causal: bool = False) -> str:
    """The lower-case padding; ``causal``: ``"causal"`` is allowed too (1-D convolution)."""
    p = str(padding).lower()
    ok = CAUSAL_PADDINGS if causal else PADDINGS
    if p not in ok:
        raise ValueError(f"unsupported padding {padding!r}; supported: {ok}")
    return p


def ntuple(value, n: int, what: str = "value", layer: str | None = None) -> tuple:
    """``(a,) * n`` for an int ``a``, else the ``n`` ints of a sequence."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    try:
        values = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        values = ()
    if len(values) != n:
        where = f"layer {layer!r}: " if layer else ""
        kind = "a pair of ints" if n == 2 else f"{n} int(s)"
        raise ValueError(f"{where}{what} must be an int or {kind}, got {value!r}") from None
    return values


def pair(value, what: str = "value", layer: str | None = None) -> tuple[int, int]:
    """``(a, a)`` for an int ``a``, else the two ints of a pair."""
    return ntuple(value, 2, what, layer)


def output_length(n_in: int, k: int, s: int, padding: str) -> int:
    """Output length along one axis: valid ``(n - k) // s + 1`` (0 if ``n < k``), same and
    causal ``ceil(n / s)``."""
    if check_padding(padding, causal=True) == "valid":
        return (n_in - k) // s + 1 if n_in >= k else 0
    return -(-n_in // s)


def output_shape(spatial_in, window, strides, padding) -> tuple:
    """Output sizes of a window op along each spatial axis (``output_length`` per axis)."""
    return tuple(output_length(int(n), int(k), int(s), padding)
                 for n, k, s in zip(spatial_in, window, strides))


def pad_before(n_in: int, k: int, s: int, padding: str) -> int:
    """Padding before the first input position along one axis (see module docstring)."""
    padding = check_padding(padding, causal=True)
    if padding == "valid":
        return 0
    if padding == "causal":
        return k - 1
    return pad_total(n_in, k, s, padding) // 2


def pad_total(n_in: int, k: int, s: int, padding: str) -> int:
    """Zeros padded along one axis in all: 0 for valid, ``max((n_out - 1) s + k - n_in, 0)``
    for same, ``k - 1`` for causal."""
    padding = check_padding(padding, causal=True)
    if padding == "valid":
        return 0
    if padding == "causal":
        return k - 1
    return max((output_length(n_in, k, s, padding) - 1) * s + k - n_in, 0)


def window_connectivity(n_in: int, n_out: int, k: int, s: int, padding: str) -> np.ndarray:
    """``C[o, i]``: input ``i`` lies in the window of output ``o`` (in bounds)."""
    start = np.arange(n_out)[:, None] * s - pad_before(n_in, k, s, padding)
    off = np.arange(n_in)[None, :] - start
    return (off >= 0) & (off < k)
