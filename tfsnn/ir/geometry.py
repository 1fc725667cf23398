"""Window geometry along one axis, with TensorFlow/Keras padding arithmetic (defined once).

"valid": no padding, ``n_out = (n_in - k) // s + 1``. "same": ``n_out = ceil(n_in / s)``,
padded by ``max((n_out - 1) s + k - n_in, 0)`` in total, the smaller half before the input.
"""

from __future__ import annotations

import numpy as np

PADDINGS = ("valid", "same")


def check_padding(padding) -> str:
    p = str(padding).lower()
    if p not in PADDINGS:
        raise ValueError(f"unsupported padding {padding!r}; supported: {PADDINGS}")
    return p


def pair(value, what: str = "value", layer: str | None = None) -> tuple[int, int]:
    """``(a, a)`` for an int ``a``, else the two ints of a pair."""
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    try:
        a, b = value
    except (TypeError, ValueError):
        where = f"layer {layer!r}: " if layer else ""
        raise ValueError(f"{where}{what} must be an int or a pair of ints, "
                         f"got {value!r}") from None
    return int(a), int(b)


def output_length(n_in: int, k: int, s: int, padding: str) -> int:
    """Output length along one axis: valid ``(n - k) // s + 1`` (0 if ``n < k``), same
    ``ceil(n / s)``."""
    if check_padding(padding) == "valid":
        return (n_in - k) // s + 1 if n_in >= k else 0
    return -(-n_in // s)


def pad_before(n_in: int, k: int, s: int, padding: str) -> int:
    """Padding before the first input position along one axis (see module docstring)."""
    if check_padding(padding) == "valid":
        return 0
    n_out = output_length(n_in, k, s, padding)
    return max((n_out - 1) * s + k - n_in, 0) // 2


def window_connectivity(n_in: int, n_out: int, k: int, s: int, padding: str) -> np.ndarray:
    """``C[o, i]``: input ``i`` lies in the window of output ``o`` (in bounds)."""
    start = np.arange(n_out)[:, None] * s - pad_before(n_in, k, s, padding)
    off = np.arange(n_in)[None, :] - start
    return (off >= 0) & (off < k)
