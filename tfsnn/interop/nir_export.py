"""A converted (rate-coded) SNN as a NIR graph: ``to_nir`` and ``export_nir``.

Every layer becomes a chain of NIR nodes, named after the layer:

    input    -> Input (C, H, W)
    dense    -> Affine (weight = kernel.T, bias) -> IF / LIF   (the readout: -> I)
    conv2d   -> Conv2d (C_out, C_in, kh, kw), explicit padding -> IF / LIF   (readout: -> I)
    depthwise_conv2d -> Conv2d (C_in m, C_in, kh, kw), zero outside each channel's maps
    separable_conv2d -> Conv2d (depthwise as above, no bias; ``<layer>_depthwise``)
                        -> Conv2d (1x1, bias) -> IF / LIF
    conv1d   -> Conv1d (C_out, C_in, k) (causal: k - 1 trailing kernel zeros, k - 1 padding)
    avgpool1d -> Conv1d (C, C, k), weight scale / k on the diagonal (NIR has no 1-D pooling;
                 no padding, or an error) [-> I as readout]
    avgpool  -> AvgPool2d [-> Scale]  (padded: SumPool2d -> Scale); the readout adds -> I
    flatten  -> Flatten (start_dim 0: the whole (C, H, W) map)
    add      -> IF / LIF with one edge per input (NIR sums them): from a branch's Conv2d /
                Affine (its ``<layer>_neurons``-less chain), from an identity input through
                ``<layer>_scale<k>`` (Scale, lambda_in / lambda_add) where that is not 1
    output   -> Output

Neuron nodes are ``<layer>_neurons``, scales ``<layer>_scale`` (see ``nir_neurons`` for the
neuron conventions, ``nir_layout`` for layouts and padding). Edges run from the last node of
each input layer to the first node of the layer. A layer's output is a *list* of nodes whose
outputs NIR adds up, so a layer that sums its inputs (a sum without neurons)
needs no node of its own: ``sum_fragment`` hands its inputs' nodes on, and every consumer gets
one edge from each (several edges into one node are a sum in NIR); tfsnn's residual sum has
neurons, whose node takes those edges. A concatenation is not a sum and NIR has no node for
it, so it raises ``NIRError``, as do the spiking max pool, zero padding, cropping and
reshapes other than a flatten (no NIR nodes), and the TTFS encodings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import nir
import numpy as np

from tfsnn import __version__
from tfsnn.fileio import atomic_path
from tfsnn.interop.errors import NIRError
from tfsnn.interop.nir_layout import (
    conv_to_nir,
    conv_weight_to_nir,
    dense_weight_to_nir,
    nchw_order,
    pool_to_nir,
    to_chw,
    window_counts,
)
from tfsnn.interop.nir_neurons import (
    RESET_KEY,
    SPIKE_CONDITION,
    SPIKE_KEY,
    SUBTRACT,
    readout_node,
    spiking_node,
    warn_v_init,
)
from tfsnn.ir import LayerSpec, by_name, output_spec, pair
from tfsnn.ir.geometry import ntuple, pad_total
from tfsnn.ir.kernels import scale_kernels
from tfsnn.simulation import SpikingModel

#: why an encoding other than rate cannot be written as NIR's fixed-threshold IF/LIF neurons
UNEXPORTABLE_ENCODINGS = {
    "ttfs": "its neurons spike at most once, in per-layer time windows, against a threshold "
            "that decays within each window",
    "ttfs_dyn_thresh": "its neurons spike at most once, in per-layer time windows, against "
                       "an exponentially decaying (dynamic) threshold",
    "ttfs_clamped": "its neurons spike at most once, in per-layer time windows, against a "
                    "decaying threshold with a clamp cut-off",
}


@dataclass
class Fragment:
    """The NIR nodes of one layer: ``chain`` is connected in order (the inputs' edges go to its
    first node); ``exits`` are the nodes whose outputs sum to the layer's output (default: the
    chain's last); ``flat_map`` is the ``(H, W, C)`` map a vector output is a flattening of."""

    chain: list = field(default_factory=list)
    exits: list | None = None
    flat_map: tuple | None = None


class _Builder:
    """Collects nodes and edges layer by layer (``HANDLERS`` maps a kind to its fragment)."""

    def __init__(self, specs: list[LayerSpec], readout: str, params: dict):
        self.specs, self.readout, self.params = specs, readout, params
        self.layers = by_name(specs)
        self.nodes, self.edges = {}, []
        self.exits, self.flat_maps = {}, {}
        self._taken = set(self.layers)

    def name(self, base: str) -> str:
        """A node name not used by any layer or node yet."""
        name, i = base, 1
        while name in self._taken:
            name, i = f"{base}_{i}", i + 1
        self._taken.add(name)
        return name

    def neurons(self, spec: LayerSpec, shape) -> tuple | None:
        """The neuron node of ``spec``; None for a branch into a residual sum (no neurons:
        its synapses' node feeds the sum's neurons)."""
        if spec.is_branch:
            return None
        node = readout_node(shape) if spec.name == self.readout else spiking_node(shape,
                                                                                   self.params)
        return self.name(f"{spec.name}_neurons"), node

    def add(self, spec: LayerSpec) -> None:
        handler = HANDLERS.get(spec.kind)
        if handler is None:
            raise NIRError(f"layer {spec.name!r} ({spec.kind}) has no NIR equivalent; "
                           f"exportable kinds: {sorted(HANDLERS)}")
        frag = handler(spec, self)
        frag.chain = [c for c in frag.chain if c is not None]  # a branch: no neurons
        for i, (name, node) in enumerate(frag.chain):
            self.nodes[name] = node
            if i:
                self.edges.append((frag.chain[i - 1][0], name))
        if frag.chain:
            for src in spec.inputs:
                self.edges += [(e, frag.chain[0][0]) for e in self.exits[src]]
        self.exits[spec.name] = frag.exits if frag.exits is not None else [frag.chain[-1][0]]
        self.flat_maps[spec.name] = frag.flat_map

    def add_output(self, spec: LayerSpec) -> None:
        flat = self.flat_maps[spec.name]
        if flat is not None and np.any(nchw_order(flat) != np.arange(int(np.prod(flat)))):
            raise NIRError(f"the output {spec.name!r} flattens a {flat} map: NIR flattens it "
                           "channels first, which would reorder the classes; end the model "
                           "with a Dense layer or a global average pooling")
        name = self.name("output")
        self.nodes[name] = nir.Output(np.array(to_chw(spec.output_shape)))
        self.edges += [(e, name) for e in self.exits[spec.name]]

    def flat_map(self, spec: LayerSpec):
        maps = {self.flat_maps[i] for i in spec.inputs}
        if len(maps) > 1:
            raise NIRError(f"layer {spec.name!r}: its inputs are flattened differently {maps}")
        return maps.pop()


def _input(s, g) -> Fragment:
    return Fragment([(s.name, nir.Input(np.array(to_chw(s.output_shape))))])


def _dense(s, g) -> Fragment:
    weight = dense_weight_to_nir(np.asarray(s.kernel, np.float32), g.flat_map(s))
    bias = np.zeros(weight.shape[0], np.float32) if s.bias is None else s.bias
    syn = nir.Affine(weight=weight, bias=np.asarray(bias, np.float32))
    return Fragment([(s.name, syn), g.neurons(s, to_chw(s.output_shape))])


def _conv_node(s, kernel, bias, padding=None):
    """The NIR ``Conv1d`` / ``Conv2d`` of a tfsnn kernel ``(..., c_in, c_out)`` on ``s``'s
    input with its strides and padding."""
    rank = s.rank
    in_size = tuple(s.input_shape[:-1])
    strides = ntuple(s.config.get("strides", 1), rank, "strides", s.name)
    weight, pads = conv_to_nir(np.asarray(kernel, np.float32), in_size, strides,
                               padding or s.config.get("padding", "valid"))
    if bias is None:
        bias = np.zeros(weight.shape[0], np.float32)
    bias = np.asarray(bias, np.float32)
    if rank == 1:
        return nir.Conv1d(input_shape=in_size[0], weight=weight, stride=strides[0],
                          padding=pads[0], dilation=1, groups=1, bias=bias)
    return nir.Conv2d(input_shape=in_size, weight=weight, stride=strides, padding=pads,
                      dilation=(1, 1), groups=1, bias=bias)


def _conv(s, g) -> Fragment:
    """conv2d and conv1d."""
    return Fragment([(s.name, _conv_node(s, s.kernel, s.bias)),
                     g.neurons(s, to_chw(s.output_shape))])


def _add(s, g) -> Fragment:
    """A residual sum: its neurons take one edge per input (see the module docstring); the
    edges are made here, since an identity input may pass a ``Scale`` on its way."""
    out = to_chw(s.output_shape)
    name, node = g.neurons(s, out)
    g.nodes[name] = node
    scales = np.asarray(s.config.get("scales", np.ones((out[0], len(s.inputs)))), np.float32)
    for k, i in enumerate(s.inputs):
        exits = g.exits[i]
        if not g.layers[i].is_branch and not np.all(scales[:, k] == 1.0):
            factor = scales[:, k].reshape((-1,) + (1,) * (len(out) - 1))
            scale = g.name(f"{s.name}_scale{k}")
            g.nodes[scale] = nir.Scale(scale=np.broadcast_to(factor, out).astype(np.float32))
            g.edges += [(e, scale) for e in exits]
            exits = [scale]
        g.edges += [(e, name) for e in exits]
    return Fragment(exits=[name], flat_map=None)


def _no_node(s, g):
    raise NIRError(f"layer {s.name!r} ({s.kind}): NIR has no node for it (zero padding and "
                   "cropping only in a convolution's padding, reshapes only as Flatten); "
                   "export a model without it")


def _per_channel(kernel) -> np.ndarray:
    """A depthwise kernel ``(..., C, m)`` as the full kernel ``(..., C, C m)`` that is zero
    outside each channel's own maps ``c m + j``. NIR's ``groups`` would say the same with
    fewer weights, but NIR 1.0 infers a grouped node's input channels as ``C / groups``, so
    such a file fails its own type check when read back."""
    kernel = np.asarray(kernel, np.float32)
    *window, c, m = kernel.shape
    full = np.zeros(tuple(window) + (c, c, m), np.float32)
    idx = np.arange(c)
    full[..., idx, idx, :] = kernel
    return full.reshape(tuple(window) + (c, c * m))


def _depthwise_conv2d(s, g) -> Fragment:
    return Fragment([(s.name, _conv_node(s, _per_channel(s.kernel), s.bias)),
                     g.neurons(s, to_chw(s.output_shape))])


def _separable_conv2d(s, g) -> Fragment:
    dw = _conv_node(s, _per_channel(s.depthwise_kernel), None)
    pw = nir.Conv2d(input_shape=tuple(s.output_shape[:2]),
                    weight=conv_weight_to_nir(np.asarray(s.kernel, np.float32)),
                    stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1,
                    bias=np.asarray(s.bias, np.float32))
    return Fragment([(g.name(f"{s.name}_depthwise"), dw), (s.name, pw),
                     g.neurons(s, to_chw(s.output_shape))])


def _avgpool1d(s, g) -> Fragment:
    (k,), c = s.window, s.input_shape[-1]
    strides = ntuple(s.config.get("strides") or k, 1, "strides", s.name)
    if pad_total(s.input_shape[0], k, strides[0], s.config.get("padding", "valid")):
        raise NIRError(f"layer {s.name!r} (avgpool1d): NIR has no 1-D pooling node and tfsnn "
                       "writes it as a Conv1d, which cannot divide padded windows by their "
                       "in-bounds size; use 'valid' padding or a length the pool divides")
    scale = np.asarray(s.config.get("scale", np.ones(c)), np.float32)
    kernel = np.broadcast_to((scale / k)[None, :, None], (k, c, 1))
    chain = [(s.name, _conv_node(s, _per_channel(kernel), None, padding="valid"))]
    if s.name == g.readout:
        chain.append(g.neurons(s, to_chw(s.output_shape)))
    return Fragment(chain)


def _avgpool(s, g) -> Fragment:
    in_hw, out = tuple(s.input_shape[:2]), to_chw(s.output_shape)
    size = pair(s.config["pool_size"], "pool_size", s.name)
    strides = pair(s.config.get("strides") or size, "strides", s.name)
    padding = s.config.get("padding", "valid")
    pads = pool_to_nir(s.name, in_hw, size, strides, padding)
    scale = np.asarray(s.config.get("scale", np.ones(out[0])), np.float64)
    geometry = {"kernel_size": np.array(size), "stride": np.array(strides),
                "padding": np.array(pads)}
    if any(pads):  # NIR's AvgPool2d does not say whether padded zeros count: sum, then scale
        chain = [(s.name, nir.SumPool2d(**geometry))]
        factor = scale[:, None, None] / window_counts(in_hw, size, strides, padding)[None]
    else:
        chain = [(s.name, nir.AvgPool2d(**geometry))]
        factor = None if np.all(scale == 1.0) else scale[:, None, None]
    if factor is not None:
        factor = np.broadcast_to(factor, out).astype(np.float32)
        chain.append((g.name(f"{s.name}_scale"), nir.Scale(scale=factor)))
    if s.name == g.readout:
        chain.append(g.neurons(s, out))
    return Fragment(chain)


def _flatten(s, g) -> Fragment:
    shape = tuple(s.input_shape)
    node = nir.Flatten(input_type={"input": np.array(to_chw(shape))}, start_dim=0, end_dim=-1)
    return Fragment([(s.name, node)], flat_map=shape if len(shape) >= 2 else g.flat_map(s))


def sum_fragment(s, g) -> Fragment:
    """A layer whose output is the sum of its inputs (no node: its consumers get an edge from
    every summand; see the module docstring)."""
    return Fragment(exits=[e for i in s.inputs for e in g.exits[i]], flat_map=g.flat_map(s))


def _maxpool(s, g):
    raise NIRError(f"layer {s.name!r} ({s.kind}): tfsnn's spiking max pool passes the spikes "
                   "of the input with the highest accumulated spike count (a stateful gate); "
                   f"NIR has no node for it. Use AveragePooling{s.rank}D in the ANN instead")


def _concat(s, g):
    raise NIRError(f"layer {s.name!r} (concat): NIR has no concatenation node (several edges "
                   "into one node are a sum, not a concatenation)")


#: layer kind -> its NIR fragment
HANDLERS = {"input": _input, "dense": _dense, "conv2d": _conv, "avgpool": _avgpool,
            "flatten": _flatten, "maxpool": _maxpool, "concat": _concat, "conv1d": _conv,
            "depthwise_conv2d": _depthwise_conv2d, "separable_conv2d": _separable_conv2d,
            "avgpool1d": _avgpool1d, "maxpool1d": _maxpool, "add": _add, "zeropad": _no_node,
            "crop": _no_node, "reshape": _no_node}


def _check_snn(snn) -> None:
    if not isinstance(snn, SpikingModel):
        raise TypeError(f"expected a tfsnn SpikingModel, got {type(snn).__name__}")
    if snn.encoding != "rate":
        why = UNEXPORTABLE_ENCODINGS.get(snn.encoding, "it is not the rate code")
        raise NIRError(f"NIR export supports the 'rate' encoding only; the {snn.encoding!r} "
                       f"encoding cannot be written as NIR's IF/LIF neurons: {why}")
    if snn.dyn_params.get("signed"):
        raise NIRError("the SNN has signed neurons (signed=True), which send negative spikes; "
                       "NIR's IF/LIF neurons spike only when the potential rises through "
                       "the threshold: convert with signed=False to export")
    own = [n for n, c in snn.cells.items() if getattr(c, "spiking", False)
           and (c.params.threshold, c.params.tau) != (snn.params["threshold"],
                                                      snn.params["tau"])]
    if own:
        raise NIRError(f"layers {own} have their own thresholds or leaks (a fine-tuned SNN); "
                       "NIR export writes the network's common neuron parameters only")


def fold_pool_scales(specs: list[LayerSpec], readout: str) -> list[LayerSpec]:
    """A copy of ``specs`` in which every non-readout average pool's per-channel scale is
    multiplied into the weights of the layers it feeds (through a flatten too), for tools
    without NIR's ``Scale`` node. Same function; floats rounded differently."""
    specs = [s.copy() for s in specs]
    for pool in specs:
        scale = np.asarray(pool.config.get("scale", 1.0), np.float32)
        if pool.kind != "avgpool" or pool.name == readout or np.all(scale == 1.0):
            continue
        for user in (s for s in specs if pool.name in s.inputs):
            _fold_into(pool, user, scale, specs)
        pool.config["scale"] = np.ones_like(scale)
    return specs


def _fold_into(pool, user, scale, specs) -> None:
    if user.row.weights and user.row.window:  # per input channel (tfsnn.ir.kernels)
        scale_kernels(user, in_scale=scale)
    elif user.kind == "flatten":
        rows = np.tile(scale, int(np.prod(user.input_shape[:-1])))  # H, W, C: channel fastest
        for dense in (s for s in specs if user.name in s.inputs):
            if dense.kind != "dense":
                raise NIRError(f"cannot fold the scale of {pool.name!r} through {user.name!r} "
                               f"into {dense.name!r} ({dense.kind}); export without "
                               "fold_scales")
            dense.kernel = dense.kernel * rows[:, None]
    else:
        raise NIRError(f"cannot fold the scale of {pool.name!r} into {user.name!r} "
                       f"({user.kind}): only conv2d and flatten -> dense; export without "
                       "fold_scales")


def build_graph(specs: list[LayerSpec], readout: str, params: dict,
                metadata: dict | None = None) -> nir.NIRGraph:
    """The NIR graph of ``specs`` (``readout``: the integrating layer; ``params``: the
    spiking neurons' ``threshold``, ``v_init``, ``tau``); NIR checks the shapes of all edges."""
    builder = _Builder(specs, readout, params)
    for s in specs:
        builder.add(s)
    builder.add_output(output_spec(specs))
    return nir.NIRGraph(nodes=builder.nodes, edges=builder.edges,
                        metadata=dict(metadata or {}), type_check=True)


def to_nir(snn: SpikingModel, fold_scales: bool = False) -> nir.NIRGraph:
    """The rate-coded SNN as a ``nir.NIRGraph`` (see the module docstring and
    docs/interop.md). ``fold_scales``: multiply the average pools' per-channel scales into
    the next weights instead of writing ``Scale`` nodes (for tools that lack them)."""
    _check_snn(snn)
    specs = fold_pool_scales(snn.specs, snn.readout.name) if fold_scales else snn.specs
    meta = {"generator": f"tfsnn {__version__}", "encoding": snn.encoding, "dt": 1.0,
            RESET_KEY: SUBTRACT, SPIKE_KEY: SPIKE_CONDITION}
    graph = build_graph(specs, snn.readout.name, snn.params, meta)
    warn_v_init(snn.params)
    return graph


def export_nir(snn: SpikingModel, path, fold_scales: bool = False) -> nir.NIRGraph:
    """Write ``to_nir(snn)`` to ``path`` with ``nir.write`` (HDF5; the file is replaced only
    once it is complete) and return the graph."""
    graph = to_nir(snn, fold_scales)
    with atomic_path(path) as tmp:
        nir.write(tmp, graph)
    return graph
