"""Array layouts and window geometry between tfsnn and NIR (defined once, for both ways).

tfsnn works channels last (maps ``(H, W, C)``, conv kernels ``(kh, kw, C_in, C_out)``, dense
kernels ``(n_in, n_out)``, flatten in ``H, W, C`` order) with TensorFlow's ``"valid"`` /
``"same"`` padding. NIR, like PyTorch, works channels first (maps ``(C, H, W)``, ``Conv2d``
weights ``(C_out, C_in, kh, kw)``, ``Affine`` weights ``(n_out, n_in)``, ``Flatten`` in
``C, H, W`` order) with explicit, symmetric padding: ``p`` zeros on both sides of an axis,
``n_out = (n + 2 p - k) // s + 1``.

- A dense layer after a flatten sees its inputs in another order in NIR: the columns of its
  ``Affine`` weight are permuted (``nchw_order``) so that the graph computes the same function.
- TensorFlow's ``"same"`` pads ``total = max((n_out - 1) s + k - n, 0)`` zeros, the smaller
  half before the input; when ``total`` is odd the padding is asymmetric (one more zero after),
  which NIR cannot write. For a convolution it maps exactly: the kernel gets one leading zero
  row (or column) and the padding grows by one on both sides (``nir_padding``); the window
  starts and the output size stay TensorFlow's. Pools cannot be mapped so (``NIRError``).
"""

from __future__ import annotations

import numpy as np

from tfsnn.interop.errors import NIRError
from tfsnn.ir.geometry import output_length, pad_before, window_connectivity

PADDINGS = ("valid", "same")


def to_chw(shape) -> tuple:
    """A tfsnn shape in NIR's layout: ``(H, W, C) -> (C, H, W)``, ``(L, C) -> (C, L)``;
    vectors unchanged."""
    shape = tuple(int(d) for d in shape)
    return (shape[-1],) + shape[:-1] if len(shape) >= 2 else shape


def to_hwc(shape) -> tuple:
    """A NIR shape in tfsnn's layout: ``(C, H, W) -> (H, W, C)``, ``(C, L) -> (L, C)``;
    vectors unchanged."""
    shape = tuple(int(d) for d in shape)
    return shape[1:] + (shape[0],) if len(shape) >= 2 else shape


def conv_weight_to_nir(kernel) -> np.ndarray:
    """``(kh, kw, C_in, C_out) -> (C_out, C_in, kh, kw)``."""
    return np.ascontiguousarray(np.transpose(kernel, (3, 2, 0, 1)))


def conv_weight_from_nir(weight) -> np.ndarray:
    """``(C_out, C_in, kh, kw) -> (kh, kw, C_in, C_out)``."""
    return np.ascontiguousarray(np.transpose(weight, (2, 3, 1, 0)))


def nchw_order(map_shape) -> np.ndarray:
    """``order[j]``: the tfsnn (``H, W, C``) flat index of the element at NIR (``C, H, W``)
    flat index ``j`` of a flattened ``(H, W, C)`` map (likewise ``(L, C)`` and ``(C, L)``)."""
    shape = tuple(int(d) for d in map_shape)
    axes = (len(shape) - 1,) + tuple(range(len(shape) - 1))
    return np.arange(int(np.prod(shape))).reshape(shape).transpose(axes).ravel()


def dense_weight_to_nir(kernel, map_shape=None) -> np.ndarray:
    """tfsnn ``(n_in, n_out)`` -> NIR ``(n_out, n_in)``; ``map_shape``: the ``(H, W, C)`` map
    whose flattening is the input (its columns are put in NIR's flatten order)."""
    weight = np.asarray(kernel).T
    if map_shape is not None:
        weight = weight[:, nchw_order(map_shape)]
    return np.ascontiguousarray(weight)


def dense_weight_from_nir(weight, map_shape=None) -> np.ndarray:
    """The inverse of ``dense_weight_to_nir``."""
    weight = np.asarray(weight)
    if map_shape is None:
        return np.ascontiguousarray(weight.T)
    kernel = np.empty(weight.shape[::-1], weight.dtype)
    kernel[nchw_order(map_shape)] = weight.T
    return kernel


def nir_length(n: int, k: int, s: int, pad: int) -> int:
    """Output length along one axis with NIR's (PyTorch's) symmetric padding ``pad``."""
    return (n + 2 * pad - k) // s + 1 if n + 2 * pad >= k else 0


def nir_padding(n: int, k: int, s: int, padding: str) -> tuple[int, bool]:
    """``(pad, extend)``: NIR's symmetric padding for TensorFlow's ``padding`` along one axis,
    and whether the kernel needs one leading zero for it (odd total padding, see module
    docstring)."""
    pad = pad_before(n, k, s, padding)
    n_out = output_length(n, k, s, padding)
    if nir_length(n, k, s, pad) == n_out:
        return pad, False
    assert nir_length(n, k + 1, s, pad + 1) == n_out  # one more zero after: see docstring
    return pad + 1, True


def conv_to_nir(kernel, in_hw, strides, padding) -> tuple[np.ndarray, tuple]:
    """A tfsnn conv kernel (1-D or 2-D) as NIR ``(weight, pads)`` (one symmetric padding per
    spatial axis) with TensorFlow's window positions: the kernel is extended by a leading zero
    on axes with asymmetric padding, and by ``k - 1`` trailing zeros for ``"causal"`` (then
    ``k - 1`` zeros on both sides give the causal windows and output length)."""
    kernel = np.asarray(kernel)
    rank = kernel.ndim - 2
    pads, widths = [], [(0, 0)] * kernel.ndim
    for axis in range(rank):
        k = kernel.shape[axis]
        if padding == "causal":
            pads.append(k - 1)
            widths[axis] = (0, k - 1)
            continue
        pad, extend = nir_padding(in_hw[axis], k, strides[axis], padding)
        pads.append(pad)
        if extend:
            widths[axis] = (1, 0)
    if any(w != (0, 0) for w in widths):
        kernel = np.pad(kernel, widths)
    order = (rank + 1, rank) + tuple(range(rank))  # (..., C_in, C_out) -> (C_out, C_in, ...)
    return np.ascontiguousarray(np.transpose(kernel, order)), tuple(pads)


def pool_to_nir(name, in_hw, pool_size, strides, padding) -> tuple[int, int]:
    """NIR's symmetric padding of a pooling layer; ``NIRError`` where TensorFlow's padding is
    asymmetric (a pool window cannot be extended by a zero)."""
    pads = []
    for axis in range(2):
        pad, extend = nir_padding(in_hw[axis], pool_size[axis], strides[axis], padding)
        if extend:
            raise NIRError(
                f"layer {name!r} (avgpool): its {padding!r} padding on an input of "
                f"{tuple(in_hw)} with pool {tuple(pool_size)}, strides {tuple(strides)} puts "
                "one more zero after the input than before; NIR pools pad both sides "
                "equally. Use 'valid' padding or an input size the pool divides")
        pads.append(pad)
    return tuple(pads)


def padding_modes(n: int, k: int, s: int, pad: int) -> set[str]:
    """TensorFlow paddings that equal NIR's symmetric ``pad`` along one axis: same window
    starts and output length (padded zeros add nothing to a sum)."""
    return {p for p in PADDINGS
            if pad_before(n, k, s, p) == pad and output_length(n, k, s, p) == nir_length(
                n, k, s, pad)}


def tf_padding(where, in_hw, window, strides, pads) -> str:
    """The one TensorFlow padding (``"valid"`` or ``"same"``, for both axes) that equals NIR's
    ``pads``; ``NIRError`` naming ``where`` if there is none."""
    modes = set(PADDINGS)
    for axis in range(2):
        modes &= padding_modes(in_hw[axis], window[axis], strides[axis], int(pads[axis]))
    if not modes:
        raise NIRError(
            f"{where}: padding {tuple(int(p) for p in pads)} with window {tuple(window)}, "
            f"stride {tuple(strides)} on an input of {tuple(in_hw)} is neither TensorFlow's "
            "'valid' nor 'same' padding (the two tfsnn simulates)")
    return "valid" if "valid" in modes else "same"


def strip_leading_zeros(kernel, in_hw, strides) -> np.ndarray:
    """The inverse of the leading zero ``conv_to_nir`` adds: a ``"same"`` kernel whose first
    row (column) is zero and which without it has TensorFlow's ``"same"`` window positions one
    step later loses that row (column); the function stays the same."""
    for axis in range(2):
        n, k, s = in_hw[axis], kernel.shape[axis], strides[axis]
        lead = np.take(kernel, 0, axis=axis)
        if (k > 1 and not np.any(lead)
                and pad_before(n, k - 1, s, "same") == pad_before(n, k, s, "same") - 1
                and output_length(n, k - 1, s, "same") == output_length(n, k, s, "same")):
            kernel = np.delete(kernel, 0, axis=axis)
    return kernel


def window_counts(in_hw, window, strides, padding) -> np.ndarray:
    """``(H_out, W_out)``: how many in-bounds inputs each window covers (TensorFlow's divisor
    of a padded average pool)."""
    counts = []
    for axis in range(2):
        n = in_hw[axis]
        n_out = output_length(n, window[axis], strides[axis], padding)
        conn = window_connectivity(n, n_out, window[axis], strides[axis], padding)
        counts.append(conn.sum(axis=1))
    return np.outer(counts[0], counts[1])
