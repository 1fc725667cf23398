"""Synapse graph export: one edge per synapse of a converted SNN.

Every synapse becomes a row ``source_group, source_neuron, dest_group, dest_neuron, edge`` with

    edge = rate(pre-synaptic neuron) * w

where ``rate`` is the neuron's average firing rate (spikes per simulated timestep, averaged over
the simulated samples) and ``w`` the synaptic weight of the SNN (the normalized kernel; ``1`` for
pooling synapses). Neuron groups are the specs of kind ``input``, ``dense``, ``conv2d``,
``avgpool`` and ``maxpool``; ``flatten`` and ``concat`` only re-index (no neurons, no synapses).

Mappings (per sample, channels last; ``s`` stride, ``k`` kernel/pool size, ``p`` padding before,
all per spatial axis):

- Dense, kernel ``K (n_in, n_out)``: ``i -> j`` for every pair, ``w = K[i, j]``.
- Conv2D, kernel ``K (kh, kw, c_in, c_out)``: ``i(y*sy - py + a, x*sx - px + b, c) -> o(y, x, f)``
  for every kernel position ``(a, b)``, channel ``c`` and filter ``f``, ``w = K[a, b, c, f]``.
- Average and max pooling, pool ``(ph, pw)``: ``i(y*sy - py + a, x*sx - px + b, c) -> o(y, x, c)``
  for ``a < ph, b < pw``, ``w = 1``. A pre-neuron inside several windows gets one synapse per
  window.
- Padding follows TensorFlow: ``valid``: ``out = (n - k) // s + 1``, ``p = 0``; ``same``:
  ``out = ceil(n / s)``, ``p = max(k - s, 0) // 2`` if ``n % s == 0`` else
  ``max(k - n % s, 0) // 2``. Positions that fall into the padding create no synapse.
- Zero weights are kept: a synapse exists for every (valid) kernel position, whatever its weight.
- Flatten: a layer after a Flatten connects to the group before it; the flat index is
  un-flattened to that group's ``(h, w, c)`` index (C order, as Keras flattens NHWC).
- Concatenate: the concatenated tensor's positions map back to the groups they came from.

Edges are generated lazily per projection (destination layer) in vectorized chunks, so a graph
never needs all its edges in memory; the CSV writer formats each chunk to bytes with numpy
(edge values with 7 significant digits, relative error <= 5e-7).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:  # importing tfsnn.conversion would load Keras; the graph needs numpy only
    from tfsnn.conversion.graph import LayerSpec

#: spec kinds that are neuron groups in the graph
GROUP_KINDS = ("input", "dense", "conv2d", "avgpool", "maxpool")
#: spec kinds whose neurons receive synapses
PROJECTION_KINDS = ("dense", "conv2d", "avgpool", "maxpool")
#: spec kinds that only re-index their input (no neurons)
RESHAPE_KINDS = ("flatten", "concat")
SUPPORTED_KINDS = GROUP_KINDS + RESHAPE_KINDS

CSV_HEADER = "source_group,source_neuron,dest_group,dest_neuron,edge"
#: significant digits of the edge values written to CSV
CSV_DIGITS = 7

_PICKLE_FORMAT = "tfsnn.synapse_graph"
_PICKLE_VERSION = 1


@dataclass
class StoredLayer:
    """The part of a ``LayerSpec`` the synapse graph needs (what ``to_pickle`` stores)."""

    name: str
    kind: str
    inputs: list
    input_shape: tuple
    output_shape: tuple
    kernel: np.ndarray | None = None
    config: dict = field(default_factory=dict)


class EdgeChunk(NamedTuple):
    """A block of synapses as columns. Groups are ids into ``SynapseGraph.group_names``;
    neurons are flat (C order) indices into the group's shape."""

    source_group: np.ndarray  # int32
    source_neuron: np.ndarray  # int64
    dest_group: np.ndarray  # int32
    dest_neuron: np.ndarray  # int64
    edge: np.ndarray  # float64

    def __len__(self) -> int:  # number of synapses, not number of columns
        return len(self.edge)


# --------------------------------------------------------------------------------------------
# padding arithmetic


def output_length(n_in: int, k: int, s: int, padding: str) -> int:
    """Output length along one axis (TensorFlow): valid ``(n - k) // s + 1``, same
    ``ceil(n / s)``."""
    if padding == "valid":
        return (n_in - k) // s + 1 if n_in >= k else 0
    return -(-n_in // s)


def pad_before(n_in: int, k: int, s: int, padding: str) -> int:
    """Padding before the first input position along one axis (TensorFlow ``same``: half the
    total padding, rounded down; ``valid``: 0)."""
    if padding == "valid":
        return 0
    if n_in % s == 0:
        return max(k - s, 0) // 2
    return max(k - n_in % s, 0) // 2


def _axis_pairs(n_in: int, n_out: int, k: int, s: int, pad: int):
    """All valid (output position, kernel offset, input position) triples along one axis,
    ordered by output position then kernel offset: ``i = o * s - pad + a``, ``0 <= i < n_in``."""
    o = np.repeat(np.arange(n_out, dtype=np.int64), k)
    a = np.tile(np.arange(k, dtype=np.int64), n_out)
    i = o * s - pad + a
    ok = (i >= 0) & (i < n_in)
    return o[ok], a[ok], i[ok]


def _pair(value, what: str, layer: str) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    try:
        a, b = value
    except (TypeError, ValueError):
        raise ValueError(f"layer {layer!r}: {what} must be an int or a pair of ints, "
                         f"got {value!r}") from None
    return int(a), int(b)


# --------------------------------------------------------------------------------------------
# projections: the synapses into one destination group


class _Projection:
    """Synapses into one destination group from its input tensor.

    ``edges(g0, g1)`` returns the synapses with ordinal numbers ``g0 <= g < g1`` as
    ``(pre, dst, w)``: ``pre`` a flat index into the destination's input tensor, ``dst`` a flat
    index into the destination group, ``w`` the weights (``None`` means 1)."""

    total: int
    n_in: int

    def edges(self, g0: int, g1: int):
        raise NotImplementedError

    def fanout(self) -> np.ndarray:
        """Number of synapses leaving each position of the input tensor (flat)."""
        raise NotImplementedError


def _divmod(a: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """``divmod`` by a scalar; ``//`` uses numpy's fast scalar division, ``np.divmod`` does not."""
    q = a // d
    return q, a - q * d


def _blocks(g0: int, g1: int, m: int):
    """Split synapses ``g0 <= g < g1`` with ``g = q * m + r`` into whole blocks of ``m``.

    Returns ``(q, cut)``: ``q`` the block numbers covering the range and the slice of the flattened ``(len(q), m)`` block grid that is the range."""
    q0, q1 = g0 // m, -(-g1 // m)
    return np.arange(q0, q1, dtype=np.int64), slice(g0 - q0 * m, g1 - q0 * m)


def _grid(base: np.ndarray, inner: np.ndarray, cut: slice) -> np.ndarray:
    """``(base[:, None] + inner[None, :]).ravel()[cut]``."""
    return np.add.outer(base, inner).reshape(-1)[cut]


class _DenseProjection(_Projection):
    """Order ``(i, j)``: ``g = i * n_out + j``, so the weight is ``K.flat[g]``."""

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


class _WindowProjection(_Projection):
    """Conv2D (``kernel`` given) or pooling (``kernel`` None, channel-preserving).

    Order ``(row pair, column pair, c, f)`` where a row pair is a valid (output row, kernel row)
    combination (likewise columns): ``g = ((hp * nW + wp) * C_in + c) * C_out + f``."""

    def __init__(self, in_shape, out_shape, ksize, strides, pads, kernel=None):
        hin, win, cin = in_shape
        hout, wout, cout = out_shape
        kh, kw = ksize
        oh, ah, ih = _axis_pairs(hin, hout, kh, strides[0], pads[0])
        ow, aw, iw = _axis_pairs(win, wout, kw, strides[1], pads[1])
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        self.n_in = hin * win * cin
        self.nW = len(ow)
        self.cin, self.cout = cin, cout
        self.conv = kernel is not None
        self.m = cin * cout if self.conv else cin  # synapses per (row pair, column pair)
        self.total = len(oh) * len(ow) * self.m
        self.pre_h, self.pre_w = ih * (win * cin), iw * cin
        self.dst_h, self.dst_w = oh * (wout * cout), ow * cout
        self.cnt_h = np.bincount(ih, minlength=hin)
        self.cnt_w = np.bincount(iw, minlength=win)
        r = np.arange(self.m, dtype=np.int64)
        if self.conv:
            self.kflat = kernel.reshape(-1)
            self.k_h, self.k_w = ah * (kw * self.m), aw * self.m
            self.c_r, self.f_r = np.divmod(r, cout)  # channel and filter of r = c * C_out + f
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
        per_pos = np.multiply.outer(self.cnt_h, self.cnt_w)
        if self.conv:
            per_pos = per_pos * self.cout
        return np.repeat(per_pos.reshape(-1), self.cin)


# --------------------------------------------------------------------------------------------
# vectorized CSV formatting
#
# A CSV chunk is built as a (rows, words) uint64 array: per row the source field
# ``group,index,``, the destination field and the edge value, each zero padded; removing all
# zero bytes (``bytes.translate``) then yields the CSV text. Field bytes are looked up in small
# tables and combined with integer arithmetic, so no Python code runs per row.


def _text_table(texts: list[bytes]) -> np.ndarray:
    """Texts of up to 8 bytes as little-endian integers (byte ``i`` in bits ``8i .. 8i+7``)."""
    buf = np.zeros((len(texts), 8), np.uint8)
    for i, t in enumerate(texts):
        buf[i, : len(t)] = np.frombuffer(t, np.uint8)
    return buf.view("<i8").reshape(-1).astype(np.int64)


# three fraction digits: [0, 1000) all of them, [1000, 2000) with trailing zeros dropped
# ("500" -> "5", "000" -> ""), used when no digits follow
_FRAC3 = _text_table([f"{i:03d}".encode() for i in range(1000)]
                     + [f"{i:03d}".rstrip("0").encode() for i in range(1000)])
_EXP_OFFSET = 400
# exponent and the row's newline: "e-05\n", "e+00\n", "e-100\n"
_EXP_NL = _text_table([f"e{k:+03d}\n".encode() for k in range(-_EXP_OFFSET, _EXP_OFFSET + 1)])
_POW10_OFFSET = 340
_POW10 = np.array([float(f"1e{k}") for k in range(-_POW10_OFFSET, _POW10_OFFSET + 1)])
_FLOAT_WORDS = 2  # 16 bytes per formatted value, the newline included
_ZERO_W0 = ord("0") << 8
_NL_W1 = ord("\n") << 8


def _scale_to_mantissa(a: np.ndarray, e: np.ndarray) -> np.ndarray:
    """``a * 10**(6 - e)`` (in two steps where one power of ten would overflow)."""
    k = 6 - e
    if len(k) and (k.max() > 300 or k.min() < -300):
        k1 = k // 2
        return a * _POW10.take(k1 + _POW10_OFFSET) * _POW10.take(k - k1 + _POW10_OFFSET)
    return a * _POW10.take(k + _POW10_OFFSET)


def format_float_words(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Format values with 7 significant digits as ``(n, 2)`` uint64 words of zero-padded text.

    Text: ``[-]d[.dddddd]e(+|-)dd[d]`` and a newline, trailing fraction zeros dropped; zero is
    written ``0``, non-finite values ``nan``, ``inf``, ``-inf``. With ``e = floor(log10|x|)``
    the mantissa is the integer ``m = round(|x| * 10**(6 - e))`` in ``[10**6, 10**7)``, so a
    value reads back with a relative error of at most 5e-7. Byte layout (zeros are removed
    later): word 0 = sign, lead digit, dot, fraction digits 1-5; word 1 = fraction digit 6,
    exponent, newline. ``out``: an ``(n, 2)`` uint64 array (or view) to write into."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    a = np.abs(x)
    finite = np.isfinite(a)
    all_finite = bool(finite.all())
    nz = a != 0
    if not all_finite:
        nz &= finite
    all_nz = bool(nz.all())
    safe = a
    if not all_nz:
        zero = ~nz
        safe = a + zero if all_finite else np.where(nz, a, 1.0)  # 1.0 where no digits
    e = np.floor(np.log10(safe)).astype(np.int64)
    m = np.rint(_scale_to_mantissa(safe, e)).astype(np.int64)
    if len(m) and (m.max() >= 10_000_000 or m.min() < 1_000_000):
        # log10 off by one near powers of ten, or rounded up to 10.000000
        idx = np.flatnonzero((m >= 10_000_000) | (m < 1_000_000))
        e[idx] += (m[idx] >= 10_000_000) * 2 - 1
        m[idx] = np.rint(_scale_to_mantissa(safe[idx], e[idx])).astype(np.int64)
        over = idx[m[idx] >= 10_000_000]  # only a round-up to 10**7 can still overflow
        e[over] += 1
        m[over] = 1_000_000
    lead, frac = _divmod(m, 1_000_000)
    hi, lo = _divmod(frac, 1000)
    hi_text = _FRAC3.take(hi + (lo == 0) * 1000)
    lo_text = _FRAC3.take(lo + 1000)
    w0 = (x < 0) * ord("-")
    w0 |= (lead + ord("0")) << 8
    w0 |= (frac != 0) * (ord(".") << 16)
    w0 |= hi_text << 24
    w0 |= (lo_text & 0xFFFF) << 48
    w1 = _EXP_NL.take(e + _EXP_OFFSET) << 8
    w1 |= lo_text >> 16
    if not all_nz:  # zero: "0" (arithmetic, not masked stores: those are slow on random masks)
        w0 *= nz
        w0 += zero * _ZERO_W0
        w1 *= nz
        w1 += zero * _NL_W1
    words = np.empty((len(x), _FLOAT_WORDS), np.uint64) if out is None else out
    view = words.view(np.int64)
    view[:, 0] = w0
    view[:, 1] = w1
    if not all_finite:
        for i in np.flatnonzero(~finite):
            text = repr(float(x[i])).encode()  # 'nan', 'inf', '-inf'
            view[i] = _text_table([text + b"\n"])[0], 0
    return words


def format_floats(x: np.ndarray) -> list[str]:
    """The CSV text of each value (for inspection and tests)."""
    words = format_float_words(x)
    text = words.tobytes().translate(None, b"\0").decode()
    return text.split("\n")[:-1]


def _pad8(n: int) -> int:
    return -(-n // 8) * 8


def _csv_quote(name: str) -> str:
    if any(ch in name for ch in ',"\n\r'):
        return '"' + name.replace('"', '""') + '"'
    return name


def _index_table(name: str, shape: tuple) -> np.ndarray:
    """Per neuron of a group the zero-padded bytes ``name,i_j_k,`` as ``(n, words)`` uint64."""
    n = int(np.prod(shape))
    label = np.frombuffer(_csv_quote(name).encode() + b",", np.uint8)
    comps = np.unravel_index(np.arange(n), shape)
    fields = [np.broadcast_to(label, (n, len(label)))]
    for d, (size, comp) in enumerate(zip(shape, comps)):
        texts = [str(v).encode() for v in range(size)]
        tab = np.zeros((size, max(len(t) for t in texts)), np.uint8)
        for v, t in enumerate(texts):
            tab[v, : len(t)] = np.frombuffer(t, np.uint8)
        fields.append(tab[comp])
        fields.append(np.full((n, 1), ord("_" if d < len(shape) - 1 else ","), np.uint8))
    width = sum(f.shape[1] for f in fields)
    table = np.zeros((n, _pad8(width)), np.uint8)
    table[:, :width] = np.concatenate(fields, axis=1)
    return table.view(np.uint64)


# --------------------------------------------------------------------------------------------
# the graph


def _check_chunk_size(chunk_size) -> int:
    if int(chunk_size) != chunk_size or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    return int(chunk_size)


class _Source:
    """Where the positions of a tensor come from: one group directly (``gid``, identity index)
    or per position ``gids`` / ``index`` arrays (after a concat)."""

    def __init__(self, shape, gid=None, gids=None, index=None):
        self.shape = tuple(shape)
        self.gid, self.gids, self.index = gid, gids, index

    def full(self) -> tuple[np.ndarray, np.ndarray]:
        if self.gid is None:
            return self.gids, self.index
        n = int(np.prod(self.shape))
        return np.full(n, self.gid, np.int32), np.arange(n, dtype=np.int64)


class SynapseGraph:
    """The synapse graph of a converted network: groups, their firing rates and the projections
    between them. Edges are generated on demand (``iter_chunks``, ``to_csv``, ...).

    ``specs``: the converted network (``LayerSpec`` list, topological order); ``rates``: group
    name -> firing rate per neuron (spikes per timestep), shaped like the group's output. Rates
    are required for every group with outgoing synapses; the others (e.g. a readout layer that
    integrates without spiking) may be left out."""

    def __init__(self, specs: list[LayerSpec], rates: dict):
        self.specs = list(specs)
        self._check_kinds()
        self._by_name = {s.name: s for s in self.specs}
        if len(self._by_name) != len(self.specs):
            names = [s.name for s in self.specs]
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"layer names must be unique; duplicated: {dup}")
        groups = [s for s in self.specs if s.kind in GROUP_KINDS]
        self.group_names = [s.name for s in groups]
        self.group_shapes = [tuple(int(d) for d in s.output_shape) for s in groups]
        self._gid = {name: i for i, name in enumerate(self.group_names)}
        self._sources: dict[str, _Source] = {}
        # (dest spec, dest gid, source of its input, projection)
        self._projections = []
        for spec in self.specs:
            if spec.kind in PROJECTION_KINDS:
                src = self._source(self._single_input(spec))
                proj = self._make_projection(spec, src.shape)
                self._projections.append((spec, self._gid[spec.name], src, proj))
            elif spec.kind in RESHAPE_KINDS:
                self._source(spec.name)  # validates shapes early
        #: group ids with outgoing synapses: their rates weight the edges
        self._presynaptic = sorted({g for *_, src, _p in self._projections
                                    for g in ([src.gid] if src.gid is not None
                                              else np.unique(src.gids).tolist())})
        self.rates = self._check_rates(rates)
        self._rate_flat = [self.rates[n].reshape(-1) if n in self.rates else None
                           for n in self.group_names]

    # ---- construction and validation

    def _check_kinds(self):
        for s in self.specs:
            if s.kind not in SUPPORTED_KINDS:
                raise ValueError(
                    f"layer {s.name!r} has kind {s.kind!r}, which the synapse graph does not "
                    f"support; supported kinds: {', '.join(SUPPORTED_KINDS)}")

    def _check_rates(self, rates) -> dict[str, np.ndarray]:
        if not isinstance(rates, dict):
            raise TypeError(f"rates must be a dict group name -> array, got {type(rates).__name__}")
        unknown = sorted(set(rates) - set(self._by_name))
        if unknown:
            raise ValueError(f"rates given for layers that are not in the network: {unknown}; "
                             f"groups: {self.group_names}")
        no_neurons = sorted(set(rates) - set(self.group_names))
        if no_neurons:
            raise ValueError(f"rates given for layers without neurons ({'/'.join(RESHAPE_KINDS)}"
                             f"): {no_neurons}; give rates for the groups {self.group_names}")
        needed = [self.group_names[g] for g in self._presynaptic]
        missing = [n for n in needed if n not in rates]
        if missing:
            raise ValueError(f"no firing rates for group(s) {missing}; every group with outgoing "
                             f"synapses needs rates (needed: {needed})")
        out = {}
        for name, shape in zip(self.group_names, self.group_shapes):
            if name not in rates:  # a group without outgoing synapses, e.g. the readout
                continue
            r = np.asarray(rates[name], dtype=np.float64)
            if r.shape != shape:
                raise ValueError(f"rates for group {name!r} have shape {r.shape}, expected the "
                                 f"group's output shape {shape}")
            if not np.isfinite(r).all():
                raise ValueError(f"rates for group {name!r} contain NaN or infinite values")
            out[name] = r
        return out

    def _single_input(self, spec) -> str:
        if len(spec.inputs) != 1:
            raise ValueError(f"layer {spec.name!r} ({spec.kind}) must have exactly one input, "
                             f"got {spec.inputs}")
        return spec.inputs[0]

    def _source(self, name: str) -> _Source:
        if name in self._sources:
            return self._sources[name]
        if name not in self._by_name:
            raise ValueError(f"unknown input layer {name!r}; layers: {list(self._by_name)}")
        spec = self._by_name[name]
        if spec.kind in GROUP_KINDS:
            src = _Source(self.group_shapes[self._gid[name]], gid=self._gid[name])
        elif spec.kind == "flatten":
            inner = self._source(self._single_input(spec))
            n = int(np.prod(inner.shape))
            out = tuple(spec.output_shape)
            if out != (n,):
                raise ValueError(f"flatten layer {name!r}: output shape {out} does not match its "
                                 f"input shape {inner.shape} flattened ({n},)")
            src = _Source((n,), gid=inner.gid, gids=inner.gids, index=inner.index)
        else:  # concat
            parts = [self._source(i) for i in spec.inputs]
            rank = len(parts[0].shape)
            axis = int(spec.config.get("axis", -1))
            if axis >= 0:
                axis -= 1  # Keras counts the batch axis
            if axis < 0:
                axis += rank
            if not 0 <= axis < rank or any(len(p.shape) != rank for p in parts):
                raise ValueError(f"concat layer {name!r}: axis {spec.config.get('axis', -1)} "
                                 f"does not fit input shapes {[p.shape for p in parts]}")
            gids, index = [], []
            for p in parts:
                g, ix = p.full()
                gids.append(g.reshape(p.shape))
                index.append(ix.reshape(p.shape))
            try:
                gids = np.concatenate(gids, axis=axis)
                index = np.concatenate(index, axis=axis)
            except ValueError:
                raise ValueError(f"concat layer {name!r}: input shapes "
                                 f"{[p.shape for p in parts]} cannot be concatenated along axis "
                                 f"{axis} (per sample)") from None
            if gids.shape != tuple(spec.output_shape):
                raise ValueError(f"concat layer {name!r}: output shape {tuple(spec.output_shape)} "
                                 f"does not match the concatenated inputs {gids.shape}")
            src = _Source(gids.shape, gids=gids.reshape(-1), index=index.reshape(-1))
        self._sources[name] = src
        return src

    def _make_projection(self, spec, in_shape) -> _Projection:
        out_shape = tuple(int(d) for d in spec.output_shape)
        where = f"layer {spec.name!r} ({spec.kind})"
        if spec.kind == "dense":
            k = np.asarray(spec.kernel)
            if len(in_shape) != 1:
                raise ValueError(f"{where}: input shape {in_shape} is not 1-D; a Dense layer on a "
                                 f"multi-dimensional input needs a Flatten before it")
            if k.ndim != 2 or k.shape != (in_shape[0], out_shape[-1]) or len(out_shape) != 1:
                raise ValueError(f"{where}: kernel shape {k.shape} does not fit input "
                                 f"{in_shape} -> output {out_shape}")
            return _DenseProjection(k)
        if len(in_shape) != 3 or len(out_shape) != 3:
            raise ValueError(f"{where}: needs 3-D (h, w, c) input and output, got {in_shape} -> "
                             f"{out_shape}")
        cfg = spec.config
        padding = str(cfg.get("padding", "valid")).lower()
        if padding not in ("valid", "same"):
            raise ValueError(f"{where}: padding {cfg.get('padding')!r} is not supported; "
                             f"use 'valid' or 'same'")
        if _pair(cfg.get("dilation_rate", 1), "dilation_rate", spec.name) != (1, 1):
            raise ValueError(f"{where}: dilation_rate {cfg['dilation_rate']} is not supported")
        if cfg.get("data_format", "channels_last") != "channels_last":
            raise ValueError(f"{where}: only channels_last is supported")
        if spec.kind == "conv2d":
            kernel = np.asarray(spec.kernel)
            if kernel.ndim != 4 or kernel.shape[2] != in_shape[2]:
                raise ValueError(f"{where}: kernel shape {kernel.shape} does not fit input "
                                 f"channels {in_shape[2]} (expected (kh, kw, c_in, c_out))")
            ksize = kernel.shape[:2]
            cout = kernel.shape[3]
            default_strides = 1
        else:
            kernel = None
            ksize = _pair(cfg.get("pool_size", 2), "pool_size", spec.name)
            cout = in_shape[2]
            default_strides = ksize
        strides = _pair(cfg.get("strides") or default_strides, "strides", spec.name)
        if min(strides) < 1 or min(ksize) < 1:
            raise ValueError(f"{where}: strides {strides} and window {ksize} must be >= 1")
        expected = tuple(output_length(n, k, s, padding)
                         for n, k, s in zip(in_shape[:2], ksize, strides)) + (cout,)
        if expected != out_shape:
            raise ValueError(f"{where}: output shape {out_shape} does not match input {in_shape} "
                             f"with window {ksize}, strides {strides}, padding {padding!r} "
                             f"(expected {expected})")
        pads = tuple(pad_before(n, k, s, padding) for n, k, s in zip(in_shape[:2], ksize, strides))
        return _WindowProjection(in_shape, out_shape, ksize, strides, pads, kernel)

    # ---- basic properties

    @property
    def num_synapses(self) -> int:
        return sum(p.total for *_, p in self._projections)

    def __len__(self) -> int:
        return self.num_synapses

    def neuron_index(self, group: str | int, flat) -> tuple:
        """Multi-dimensional index of flat neuron index(es) ``flat`` in ``group``."""
        gid = self._gid[group] if isinstance(group, str) else int(group)
        return np.unravel_index(flat, self.group_shapes[gid])

    def _input_rates(self, src: _Source) -> np.ndarray:
        if src.gid is not None:
            return self._rate_flat[src.gid]
        out = np.empty(len(src.gids), dtype=np.float64)
        for g in np.unique(src.gids):
            sel = src.gids == g
            out[sel] = self._rate_flat[g][src.index[sel]]
        return out

    # ---- edges

    def _iter_raw(self, chunk_size: int):
        chunk_size = _check_chunk_size(chunk_size)
        for spec, dgid, src, proj in self._projections:
            in_rate = self._input_rates(src)
            for g0 in range(0, proj.total, chunk_size):
                pre, dst, w = proj.edges(g0, min(g0 + chunk_size, proj.total))
                edge = in_rate[pre] if w is None else in_rate[pre] * w
                yield spec, dgid, src, pre, dst, edge

    def iter_chunks(self, chunk_size: int = 1_000_000) -> Iterator[EdgeChunk]:
        """Yield all synapses as ``EdgeChunk`` columns, at most ``chunk_size`` per chunk.

        Order: projection by projection in network order; within a Conv2D/pooling projection by
        (output row, kernel row), (output column, kernel column), input channel, filter; within
        a Dense projection by (input, output). The concatenation of the chunks does not depend
        on ``chunk_size``."""
        for _spec, dgid, src, pre, dst, edge in self._iter_raw(chunk_size):
            n = len(pre)
            if src.gid is not None:
                sg, sn = np.full(n, src.gid, np.int32), pre
            else:
                sg, sn = src.gids[pre], src.index[pre]
            yield EdgeChunk(sg, sn, np.full(n, dgid, np.int32), dst, np.asarray(edge, np.float64))

    def to_csv(self, path, chunk_size: int = 1 << 16) -> int:
        """Write ``source_group,source_neuron,dest_group,dest_neuron,edge`` rows; neuron indices
        as their components joined by ``_`` (``3_14_0``; ``17`` for a 1-D group), edge values
        with 7 significant digits. Memory grows with ``chunk_size`` and the largest group, not
        with the number of synapses. Returns the number of synapses written."""
        chunk_size = _check_chunk_size(chunk_size)
        tables: dict[int, tuple] = {}
        last_use: dict[int, int] = {}
        for p, (_spec, dgid, src, _proj) in enumerate(self._projections):
            last_use[dgid] = p
            gids = [src.gid] if src.gid is not None else np.unique(src.gids).tolist()
            for g in gids:
                last_use[g] = p

        def table(gid):
            if gid not in tables:
                tables[gid] = _index_table(self.group_names[gid], self.group_shapes[gid])
            return tables[gid]

        written = 0
        with open(path, "wb") as f:
            f.write((CSV_HEADER + "\n").encode())
            for p, (_spec, dgid, src, proj) in enumerate(self._projections):
                if proj.total == 0:
                    continue
                in_rate = self._input_rates(src)
                if src.gid is not None:
                    src_tab = table(src.gid)
                else:  # after a concat: one table over the concatenated positions
                    parts = {g: table(g) for g in np.unique(src.gids).tolist()}
                    width = max(t.shape[1] for t in parts.values())
                    src_tab = np.zeros((len(src.gids), width), np.uint64)
                    for g, t in parts.items():
                        sel = np.flatnonzero(src.gids == g)
                        src_tab[sel, : t.shape[1]] = t[src.index[sel]]
                dst_tab = table(dgid)
                ws, wd = src_tab.shape[1], dst_tab.shape[1]
                # whole table rows as single items: one fast 1-D take per field
                src_items = src_tab.view(f"V{8 * ws}").reshape(-1)
                dst_items = dst_tab.view(f"V{8 * wd}").reshape(-1)
                row_type = np.dtype([("s", f"V{8 * ws}"), ("d", f"V{8 * wd}"),
                                     ("f", f"V{8 * _FLOAT_WORDS}")])
                for g0 in range(0, proj.total, chunk_size):
                    pre, dst, w = proj.edges(g0, min(g0 + chunk_size, proj.total))
                    edge = in_rate[pre] if w is None else in_rate[pre] * w
                    rows = np.empty(len(pre), row_type)
                    rows["s"] = src_items.take(pre)
                    rows["d"] = dst_items.take(dst)
                    words = rows.view(np.uint64).reshape(len(pre), -1)
                    format_float_words(edge, out=words[:, ws + wd:])
                    f.write(rows.tobytes().translate(None, b"\0"))
                    written += len(pre)
                for g in [g for g, last in last_use.items() if last <= p]:
                    tables.pop(g, None)
                    last_use.pop(g)
        return written

    def to_networkx(self, max_edges: int = 1_000_000, multigraph: bool = False):
        """A ``networkx.DiGraph``: nodes ``(group name, index tuple)`` with attributes ``group``,
        ``index`` and ``rate`` (all neurons of all groups; rate ``None`` where none was given);
        edges with attribute ``edge``.
        Raises ``ValueError`` when the graph has more than ``max_edges`` synapses."""
        import networkx as nx

        n = self.num_synapses
        if n > max_edges:
            raise ValueError(f"the synapse graph has {n:,} synapses, more than max_edges="
                             f"{max_edges:,}; raise max_edges if you have the memory (networkx "
                             f"needs roughly 0.5 kB per edge), or use to_csv / iter_chunks")
        graph = nx.MultiDiGraph() if multigraph else nx.DiGraph()
        keys = []  # per group: node key of each neuron (flat index order)
        for name, shape, rate in zip(self.group_names, self.group_shapes, self._rate_flat):
            n_neurons = int(np.prod(shape))
            index = list(zip(*(c.tolist() for c in np.unravel_index(np.arange(n_neurons),
                                                                    shape))))
            keys.append([(name, ix) for ix in index])
            rate = [None] * n_neurons if rate is None else rate.tolist()
            graph.add_nodes_from((key, {"group": name, "index": key[1], "rate": r})
                                 for key, r in zip(keys[-1], rate))
        for c in self.iter_chunks():
            graph.add_edges_from(
                (keys[sg][sn], keys[dg][dn], {"edge": e})
                for sg, sn, dg, dn, e in zip(c.source_group.tolist(), c.source_neuron.tolist(),
                                             c.dest_group.tolist(), c.dest_neuron.tolist(),
                                             c.edge.tolist()))
        if graph.number_of_edges() != n:
            raise ValueError(f"{n - graph.number_of_edges()} synapses connect a pair of neurons "
                             f"that is already connected (e.g. a group concatenated with "
                             f"itself); use to_networkx(multigraph=True)")
        return graph

    # ---- summary

    def summary(self) -> dict:
        """Synapse counts, computed from the layer geometry (no edges generated):
        ``{"pairs": {(source group, dest group): count}, "total": count,
        "neurons": {group: count}}``."""
        pairs: dict[tuple[str, str], int] = {}
        for spec, _dgid, src, proj in self._projections:
            if src.gid is not None:
                counts = {src.gid: proj.total}
            else:
                per = np.bincount(src.gids, weights=proj.fanout(), minlength=len(self.group_names))
                counts = {g: int(round(c)) for g, c in enumerate(per) if c}
            for g, c in counts.items():
                key = (self.group_names[g], spec.name)
                pairs[key] = pairs.get(key, 0) + int(c)
        return {
            "pairs": pairs,
            "total": self.num_synapses,
            "neurons": {n: int(np.prod(s)) for n, s in zip(self.group_names, self.group_shapes)},
        }

    def summary_table(self) -> str:
        s = self.summary()
        rows = [(src, dst, f"{c:,}") for (src, dst), c in s["pairs"].items()]
        rows.append(("total", "", f"{s['total']:,}"))
        head = ("source group", "dest group", "synapses")
        widths = [max(len(r[i]) for r in rows + [head]) for i in range(3)]

        def line(r):
            return f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}"

        sep = "-" * (sum(widths) + 4)
        return "\n".join([line(head), sep] + [line(r) for r in rows[:-1]] + [sep, line(rows[-1])])

    def __str__(self) -> str:
        return self.summary_table()

    def __repr__(self) -> str:
        return (f"SynapseGraph({len(self.group_names)} groups, "
                f"{self.num_synapses:,} synapses)")

    # ---- persistence

    def to_pickle(self, path) -> None:
        """Pickle the layer specs (shapes, weights, config) and the firing rates; the edges are
        regenerated on load (``SynapseGraph.from_pickle``)."""
        payload = {
            "format": _PICKLE_FORMAT,
            "version": _PICKLE_VERSION,
            "edge": "rate(pre) * weight; pooling weight 1",
            "specs": [
                {"name": s.name, "kind": s.kind, "inputs": list(s.inputs),
                 "input_shape": tuple(s.input_shape), "output_shape": tuple(s.output_shape),
                 "kernel": None if s.kernel is None else np.asarray(s.kernel),
                 "config": dict(s.config)}
                for s in self.specs
            ],
            "rates": {n: r for n, r in self.rates.items()},
        }
        with open(path, "wb") as f:
            pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def from_pickle(cls, path) -> SynapseGraph:
        """Load a graph written by ``to_pickle`` (only load files you trust: pickle runs code)."""
        with open(path, "rb") as f:
            payload = pickle.load(f)
        if not isinstance(payload, dict) or payload.get("format") != _PICKLE_FORMAT:
            raise ValueError(f"{path} is not a tfsnn synapse graph pickle "
                             f"(write one with SynapseGraph.to_pickle)")
        if payload.get("version") != _PICKLE_VERSION:
            raise ValueError(f"{path}: synapse graph pickle version {payload.get('version')} is "
                             f"not supported (this tfsnn reads version {_PICKLE_VERSION})")
        specs = [StoredLayer(name=d["name"], kind=d["kind"], inputs=list(d["inputs"]),
                             input_shape=tuple(d["input_shape"]),
                             output_shape=tuple(d["output_shape"]), kernel=d["kernel"],
                             config=dict(d["config"]))
                 for d in payload["specs"]]
        return cls(specs, payload["rates"])


# --------------------------------------------------------------------------------------------
# entry points


def build_synapse_graph(specs: list[LayerSpec], rates: dict) -> SynapseGraph:
    """Synapse graph of ``specs`` with ``rates`` (group name -> firing rate per neuron, spikes
    per timestep, shaped like the group's output)."""
    return SynapseGraph(specs, rates)


def rates_from_result(result) -> dict[str, np.ndarray]:
    """Firing rates from a simulation result: ``neuron_spike_counts / (num_samples *
    timesteps)``."""
    denom = int(result.num_samples) * int(result.timesteps)
    if denom <= 0:
        raise ValueError(f"cannot compute firing rates from a result with num_samples="
                         f"{result.num_samples} and timesteps={result.timesteps}")
    counts = result.neuron_spike_counts
    return {name: np.asarray(c, dtype=np.float64) / denom for name, c in counts.items()}


def synapse_graph(snn, x=None, timesteps: int = 100, batch_size: int = 256,
                  input_mode: str = "constant", result=None) -> SynapseGraph:
    """Synapse graph of a converted SNN. Rates come from ``result`` (an earlier
    ``snn.evaluate`` result) or from simulating ``x`` for ``timesteps`` steps."""
    if result is None:
        if x is None:
            raise ValueError("synapse_graph needs data to simulate (x) or an evaluation result "
                             "(result=snn.evaluate(...)) to take the firing rates from")
        result = snn.evaluate(x, None, timesteps=timesteps, batch_size=batch_size,
                              input_mode=input_mode)
    counts = getattr(result, "neuron_spike_counts", None)
    if counts is None:
        raise ValueError("the evaluation result has no neuron_spike_counts; the synapse graph "
                         "needs the spike count of every neuron")
    specs = snn.specs
    rates = rates_from_result(result)
    kinds = {s.name: s.kind for s in specs}
    rates = {n: r for n, r in rates.items() if kinds.get(n) not in RESHAPE_KINDS}
    return SynapseGraph(specs, rates)


def pickle_to_csv(in_path, out_path, chunk_size: int = 1 << 16) -> int:
    """Convert a pickled synapse graph (``SynapseGraph.to_pickle``) to CSV; returns the number
    of synapses written."""
    return SynapseGraph.from_pickle(in_path).to_csv(out_path, chunk_size=chunk_size)
