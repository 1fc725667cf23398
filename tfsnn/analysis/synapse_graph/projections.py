"""Projections: the synapses into one destination group, decoded from their ordinal numbers.

A projection numbers its ``total`` synapses ``g = 0 .. total - 1``; ``edges(g0, g1)`` decodes
``g0 <= g < g1`` into ``(pre, dst, w)``: ``pre`` a flat (C order) index into the destination's
input tensor, ``dst`` a flat index into the destination group, ``w`` the weights (``None`` means
1). Connectivity, per sample, channels last (``s`` stride, ``p`` padding before the input from
``tfsnn.ir.geometry.pad_before``, per spatial axis):

- Dense, kernel ``K (n_in, n_out)``: ``i -> j`` for every pair, ``w = K[i, j]``.
- Conv2D, kernel ``K (kh, kw, c_in, c_out)``: ``i(y*sy - py + a, x*sx - px + b, c) -> o(y, x, f)``
  for every kernel position ``(a, b)``, channel ``c`` and filter ``f``, ``w = K[a, b, c, f]``.
- DepthwiseConv2D, kernel ``K (kh, kw, c_in, m)``: as Conv2D, but channel ``c`` only reaches
  the filters ``f = c * m + j``, ``w = K[a, b, c, j]``.
- SeparableConv2D: no neurons between its depthwise and pointwise parts, so its synapses are
  those of the Conv2D with the composed kernel (``tfsnn.ir.kernels.composed_kernel``).
- The 1-D kinds (Conv1D, 1-D pooling on ``(steps, c)``): as 2-D with a map of height 1.
- Average and max pooling, pool ``(ph, pw)``: ``i(y*sy - py + a, x*sx - px + b, c) -> o(y, x, c)``
  for ``a < ph, b < pw``, ``w = 1``. A pre-neuron inside several windows gets one synapse per
  window.

Positions in the padding create no synapse; zero weights are kept.
"""

from __future__ import annotations

import numpy as np

from tfsnn.ir.geometry import CAUSAL_PADDINGS, ntuple, output_length, pad_before
from tfsnn.ir.kernels import composed_kernel
from tfsnn.ir.kinds import kind


def check_chunk_size(chunk_size) -> int:
    if int(chunk_size) != chunk_size or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    return int(chunk_size)


def _divmod(a: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """``divmod`` by a scalar; ``//`` uses numpy's fast scalar division, ``np.divmod`` does not."""
    q = a // d
    return q, a - q * d


def _blocks(g0: int, g1: int, m: int):
    """Split synapses ``g0 <= g < g1`` with ``g = q * m + r`` into whole blocks of ``m``.

    Returns ``(q, cut)``: ``q`` the block numbers covering the range and the slice of the
    flattened ``(len(q), m)`` block grid that is the range."""
    q0, q1 = g0 // m, -(-g1 // m)
    return np.arange(q0, q1, dtype=np.int64), slice(g0 - q0 * m, g1 - q0 * m)


def _grid(base: np.ndarray, inner: np.ndarray, cut: slice) -> np.ndarray:
    """``(base[:, None] + inner[None, :]).ravel()[cut]``."""
    return np.add.outer(base, inner).reshape(-1)[cut]


def _axis_pairs(n_in: int, n_out: int, k: int, s: int, padding: str):
    """All in-bounds (output position, kernel offset, input position) triples along one axis,
    ordered by output position then kernel offset: ``i = o * s - p + a``, ``0 <= i < n_in``."""
    o = np.repeat(np.arange(n_out, dtype=np.int64), k)
    a = np.tile(np.arange(k, dtype=np.int64), n_out)
    i = o * s - pad_before(n_in, k, s, padding) + a
    ok = (i >= 0) & (i < n_in)
    return o[ok], a[ok], i[ok]


class Projection:
    """Synapses into one destination group from its input tensor (see the module docstring)."""

    total: int
    n_in: int

    def edges(self, g0: int, g1: int):
        raise NotImplementedError

    def fanout(self) -> np.ndarray:
        """Number of synapses leaving each position of the input tensor (flat)."""
        raise NotImplementedError


class DenseProjection(Projection):
    """``i -> j`` for every pair, ordered ``(i, j)``: ``g = i * n_out + j``, ``w = K.flat[g]``."""

    def __init__(self, kernel: np.ndarray):
        self.n_in, self.n_out = kernel.shape
        self.kflat = kernel.reshape(-1)
        self.total = self.n_in * self.n_out
        self.j = np.arange(self.n_out, dtype=np.int64)

    def edges(self, g0, g1):
        if self.n_out * 4 > g1 - g0:  # blocks much larger than the chunk: per-synapse decode
            pre, dst = _divmod(np.arange(g0, g1, dtype=np.int64), self.n_out)
        else:
            q, cut = _blocks(g0, g1, self.n_out)
            pre = np.repeat(q, self.n_out)[cut]
            dst = np.tile(self.j, len(q))[cut]
        return pre, dst, self.kflat[g0:g1]

    def fanout(self):
        return np.full(self.n_in, self.n_out, dtype=np.int64)


class WindowProjection(Projection):
    """Conv2D (``kernel`` given), depthwise (``depthwise``: ``kernel (kh, kw, C_in, m)``) or
    pooling (``kernel`` None, channel-preserving).

    Order ``(row pair, column pair, c, f)`` where a row pair is an in-bounds (output row,
    kernel row) combination (likewise columns): ``g = ((hp * nW + wp) * C_in + c) * C_out + f``
    (depthwise: ``g = ((hp * nW + wp) * C_in + c) * m + j``, ``f = c * m + j``; pooling:
    ``g = (hp * nW + wp) * C + c``)."""

    def __init__(self, in_shape, out_shape, ksize, strides, padding, kernel=None,
                 depthwise=False):
        hin, win, cin = in_shape
        hout, wout, cout = out_shape
        kh, kw = ksize
        oh, ah, ih = _axis_pairs(hin, hout, kh, strides[0], padding)
        ow, aw, iw = _axis_pairs(win, wout, kw, strides[1], padding)
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        self.n_in = hin * win * cin
        self.nW = len(ow)
        self.cin, self.cout = cin, cout
        self.conv = kernel is not None
        #: targets of one input channel at one window position
        self.reach = (kernel.shape[-1] if depthwise else cout) if self.conv else 1
        self.m = cin * self.reach  # synapses per (row pair, column pair)
        self.total = len(oh) * len(ow) * self.m
        self.pre_h, self.pre_w = ih * (win * cin), iw * cin
        self.dst_h, self.dst_w = oh * (wout * cout), ow * cout
        self.cnt_h = np.bincount(ih, minlength=hin)
        self.cnt_w = np.bincount(iw, minlength=win)
        r = np.arange(self.m, dtype=np.int64)
        if self.conv:
            self.kflat = kernel.reshape(-1)
            self.k_h, self.k_w = ah * (kw * self.m), aw * self.m
            if depthwise:  # r = c * m + j is the filter
                self.c_r, self.f_r = r // self.reach, r
            else:  # channel and filter of r = c * C_out + f
                self.c_r, self.f_r = np.divmod(r, cout)
        else:
            self.c_r = self.f_r = r

    def edges(self, g0, g1):
        if self.m * 4 > g1 - g0:  # blocks much larger than the chunk: per-synapse decode
            q, r = _divmod(np.arange(g0, g1, dtype=np.int64), self.m)
            hp, wp = _divmod(q, self.nW)
            pre = self.pre_h[hp] + self.pre_w[wp] + self.c_r[r]
            dst = self.dst_h[hp] + self.dst_w[wp] + self.f_r[r]
            w = self.kflat[self.k_h[hp] + self.k_w[wp] + r] if self.conv else None
            return pre, dst, w
        q, cut = _blocks(g0, g1, self.m)
        hp, wp = _divmod(q, self.nW)
        pre = _grid(self.pre_h[hp] + self.pre_w[wp], self.c_r, cut)
        dst = _grid(self.dst_h[hp] + self.dst_w[wp], self.f_r, cut)
        if not self.conv:
            return pre, dst, None
        kidx = _grid(self.k_h[hp] + self.k_w[wp], np.arange(self.m, dtype=np.int64), cut)
        return pre, dst, self.kflat[kidx]

    def fanout(self):
        per_pos = np.multiply.outer(self.cnt_h, self.cnt_w) * self.reach
        return np.repeat(per_pos.reshape(-1), self.cin)


def projection_for(spec, in_shape) -> Projection:
    """The projection into ``spec`` (a kind with weights or a window) from an input tensor of
    ``in_shape``; errors name the layer when kernel, shapes or window geometry do not fit."""
    out_shape = tuple(int(d) for d in spec.output_shape)
    where = f"layer {spec.name!r} ({spec.kind})"
    if not kind(spec.kind).window:
        k = np.asarray(spec.kernel)
        if len(in_shape) != 1:
            raise ValueError(f"{where}: input shape {in_shape} is not 1-D; a Dense layer on a "
                             f"multi-dimensional input needs a Flatten before it")
        if k.ndim != 2 or k.shape != (in_shape[0], out_shape[-1]) or len(out_shape) != 1:
            raise ValueError(f"{where}: kernel shape {k.shape} does not fit input "
                             f"{in_shape} -> output {out_shape}")
        return DenseProjection(k)
    rank = len(in_shape) - 1
    if rank not in (1, 2) or len(out_shape) != rank + 1:
        raise ValueError(f"{where}: needs 2-D (steps, c) or 3-D (h, w, c) input and output of "
                         f"one rank, got {in_shape} -> {out_shape}")
    padding = _check_window_config(spec, where, rank)
    kernel, ksize, cout, default_strides = _window_size(spec, in_shape, where, rank)
    strides = ntuple(spec.config.get("strides") or default_strides, rank, "strides", spec.name)
    if min(strides) < 1 or min(ksize) < 1:
        raise ValueError(f"{where}: strides {strides} and window {ksize} must be >= 1")
    expected = tuple(output_length(n, k, s, padding)
                     for n, k, s in zip(in_shape[:-1], ksize, strides)) + (cout,)
    if expected != out_shape:
        raise ValueError(f"{where}: output shape {out_shape} does not match input {in_shape} "
                         f"with window {ksize}, strides {strides}, padding {padding!r} "
                         f"(expected {expected})")
    if rank == 1:  # a map of height 1: same flat indices
        in_shape, out_shape = (1,) + tuple(in_shape), (1,) + tuple(out_shape)
        ksize, strides = (1,) + tuple(ksize), (1,) + tuple(strides)
        kernel = None if kernel is None else kernel[None]
    return WindowProjection(in_shape, out_shape, ksize, strides, padding, kernel,
                            depthwise=spec.kind == "depthwise_conv2d")


def _check_window_config(spec, where: str, rank: int = 2) -> str:
    """The lower-case padding of a window spec; errors for what the graph does not support."""
    cfg = spec.config
    padding = str(cfg.get("padding", "valid")).lower()
    allowed = CAUSAL_PADDINGS if spec.kind == "conv1d" else CAUSAL_PADDINGS[:2]
    if padding not in allowed:
        raise ValueError(f"{where}: padding {cfg.get('padding')!r} is not supported; "
                         f"use one of {allowed}")
    if ntuple(cfg.get("dilation_rate", 1), rank, "dilation_rate", spec.name) != (1,) * rank:
        raise ValueError(f"{where}: dilation_rate {cfg['dilation_rate']} is not supported")
    if cfg.get("data_format", "channels_last") != "channels_last":
        raise ValueError(f"{where}: only channels_last is supported")
    return padding


def _window_size(spec, in_shape, where: str, rank: int = 2):
    """``(kernel or None, window size, output channels, default strides)`` of a window spec
    (a separable convolution's kernel composed, ``tfsnn.ir.kernels``)."""
    if kind(spec.kind).weights:
        if spec.kind == "separable_conv2d":
            kernel = composed_kernel(spec)
        else:
            kernel = np.asarray(spec.kernel)
        c_out = kernel.shape[-1] * (in_shape[-1] if spec.kind == "depthwise_conv2d" else 1)
        if kernel.ndim != rank + 2 or kernel.shape[-2] != in_shape[-1]:
            raise ValueError(f"{where}: kernel shape {kernel.shape} does not fit input "
                             f"channels {in_shape[-1]} (expected a {rank}-D window, c_in, "
                             "c_out)")
        return kernel, kernel.shape[:rank], c_out, 1
    ksize = ntuple(spec.config.get("pool_size", 2), rank, "pool_size", spec.name)
    return None, ksize, in_shape[-1], ksize
