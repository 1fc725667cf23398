"""A NIR graph as a rate-coded tfsnn ``SpikingModel``: ``import_nir``.

The subset tfsnn can simulate, read in topological order:

    Input (C, H, W) or (N,)                     -> the input layer (channels last)
    Conv2d | Affine | Linear -> IF | LIF        -> conv2d / dense layer of spiking neurons
    Conv2d | Affine | Linear -> I               -> the readout layer (integrates, no spikes)
    AvgPool2d | SumPool2d [-> Scale] [-> I]     -> average pooling with a per-channel scale
    Flatten (the whole map)                     -> flatten
    Output                                      -> marks the output layer

A layer is named after its synapse (or pooling) node. The neuron conventions (one step is
``dt`` of NIR time, forward Euler, reset by subtraction) are those of ``nir_neurons``; a graph
whose IF/LIF nodes do not say ``metadata["reset"] == "subtract"`` (as tfsnn writes it) needs
``reset="subtract"``, since NIR's own neurons reset to ``v_reset``. Anything else (a node type,
a parameter, a node that sums several edges) raises ``NIRError`` naming the node.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import nir
import numpy as np
from nir.ir.utils import calc_flatten_output

from tfsnn.interop.errors import NIRError
from tfsnn.interop.nir_layout import (
    conv_weight_from_nir,
    dense_weight_from_nir,
    nchw_order,
    strip_leading_zeros,
    tf_padding,
    to_chw,
    to_hwc,
    window_counts,
)
from tfsnn.interop.nir_neurons import NEURON_TYPES, SUBTRACT, network_params, read_neurons
from tfsnn.ir import LayerSpec, output_length, pair
from tfsnn.simulation import SpikingModel

SYNAPSES = (nir.Conv2d, nir.Affine, nir.Linear)
POOLS = (nir.AvgPool2d, nir.SumPool2d)
#: node types ``import_nir`` reads
SUPPORTED = ("Input", "Output", "Affine", "Linear", "Conv2d", "AvgPool2d", "SumPool2d",
             "Scale (after a pool)", "Flatten", "IF", "LIF", "I")


@dataclass(frozen=True)
class _Value:
    """What a node's output is in tfsnn: layer ``spec``'s output, shape (channels last), and
    the ``(H, W, C)`` map it is a NIR-ordered flattening of (or None)."""

    spec: str
    shape: tuple
    flat_map: tuple | None = None


class _Importer:
    def __init__(self, graph: nir.NIRGraph, dt: float, reset: str | None):
        self.graph, self.dt, self.reset = graph, float(dt), reset
        self.nodes = graph.nodes
        self.preds = {n: [] for n in self.nodes}
        self.succs = {n: [] for n in self.nodes}
        for a, b in graph.edges:
            self.preds[b].append(a)
            self.succs[a].append(b)
        self.specs, self.values, self.neurons, self.done = [], {}, {}, set()
        #: the layers whose neurons are an integrator (I)
        self.readouts = []

    # -- graph structure
    def order(self) -> list[str]:
        """Kahn's topological order; ``NIRError`` for a cycle (recurrence)."""
        indeg = {n: len(p) for n, p in self.preds.items()}
        ready = [n for n in self.nodes if indeg[n] == 0]
        order = []
        while ready:
            n = ready.pop(0)
            order.append(n)
            for m in self.succs[n]:
                indeg[m] -= 1
                if indeg[m] == 0:
                    ready.append(m)
        if len(order) < len(self.nodes):
            rest = sorted(set(self.nodes) - set(order))
            raise NIRError(f"the graph has a cycle through {rest}: recurrent connections are "
                           "not supported (tfsnn's networks are feed-forward)")
        return order

    def source(self, name: str) -> _Value:
        """The value of the one node feeding ``name``."""
        preds = self.preds[name]
        if len(preds) != 1:
            what = "no input" if not preds else (
                f"{len(preds)} edges {preds} (NIR adds them up; importing such sums, e.g. "
                "residual blocks, is not supported: export them from Keras instead)")
            raise NIRError(f"node {name!r} ({type(self.nodes[name]).__name__}) has {what}")
        if preds[0] not in self.values:
            raise NIRError(f"node {name!r} follows {preds[0]!r} "
                           f"({type(self.nodes[preds[0]]).__name__}), whose output tfsnn "
                           "has no layer for")
        return self.values[preds[0]]

    def only_next(self, name: str, types) -> str | None:
        """The single successor of ``name`` if it is of ``types`` (else None)."""
        succs = self.succs[name]
        if len(succs) == 1 and isinstance(self.nodes[succs[0]], types):
            return succs[0]
        return None

    # -- layers
    def add(self, spec: LayerSpec, value_nodes, flat_map=None) -> None:
        self.specs.append(spec)
        for n in value_nodes:
            self.values[n] = _Value(spec.name, tuple(spec.output_shape), flat_map)
            self.done.add(n)

    def run(self) -> tuple[list[LayerSpec], dict]:
        self._check_ends()
        for name in self.order():
            if name in self.done:
                continue
            node = self.nodes[name]
            handler = _HANDLERS.get(type(node))
            if handler is None:
                raise NIRError(self._unsupported(name, node))
            handler(self, name, node)
        return self.specs, self.neurons

    def _check_ends(self) -> None:
        for kind in (nir.Input, nir.Output):
            found = [n for n, v in self.nodes.items() if isinstance(v, kind)]
            if len(found) != 1:
                raise NIRError(f"the graph has {len(found)} {kind.__name__} nodes {found}; "
                               f"tfsnn needs exactly one")

    def _unsupported(self, name, node) -> str:
        kind = type(node).__name__
        why = {"NIRGraph": "a subgraph (e.g. a recurrent layer)",
               "Scale": "a Scale not directly after a pooling node",
               "LI": "a leaky readout (tfsnn's readout integrates without leak: use I)",
               "Threshold": "a bare threshold without membrane (not a tfsnn neuron)"}.get(kind)
        extra = f": {why}" if why else ""
        return (f"node {name!r} ({kind}) is not supported{extra}; tfsnn imports "
                f"{', '.join(SUPPORTED)}")

    def neuron_after(self, name: str) -> tuple[str, bool]:
        """The neuron node after synapse or pool ``name``; registers its parameters."""
        succs = self.succs[name]
        if len(succs) == 1 and type(self.nodes[succs[0]]) not in _HANDLERS:
            raise NIRError(self._unsupported(succs[0], self.nodes[succs[0]]))
        nxt = self.only_next(name, NEURON_TYPES)
        if nxt is None or len(self.preds[nxt]) != 1:
            raise NIRError(f"node {name!r} ({type(self.nodes[name]).__name__}) must feed "
                           "exactly one neuron node (IF, LIF or I) and nothing else; tfsnn's "
                           "layers are a synapse followed by neurons")
        params = read_neurons(nxt, self.nodes[nxt], self.dt, self.reset)
        self.neurons[nxt] = params
        return nxt, params.readout


def _input(imp, name, node) -> None:
    shape = to_hwc(np.asarray(node.input_type["input"]).ravel())
    if len(shape) not in (1, 3):
        raise NIRError(f"Input {name!r} has shape {to_chw(shape)}; tfsnn reads (C, H, W) "
                       "images or (N,) vectors")
    imp.add(LayerSpec(name, "input", [], shape, shape), [name])


def _synapse(imp, name, node) -> None:
    src = imp.source(name)
    kind, shape, kernel, bias, config = (_conv(name, node, src) if isinstance(node, nir.Conv2d)
                                         else _dense(name, node, src))
    neuron, readout = imp.neuron_after(name)
    spec = LayerSpec(name, kind, [src.spec], src.shape, shape, kernel=kernel, bias=bias,
                     activation="linear" if readout else "relu", config=config)
    imp.add(spec, [name, neuron])
    if readout:
        imp.readouts.append(name)


def _dense(name, node, src):
    weight = np.asarray(node.weight, np.float32)
    if weight.ndim != 2 or len(src.shape) != 1 or weight.shape[1] != src.shape[0]:
        raise NIRError(f"node {name!r} ({type(node).__name__}): weight {weight.shape} does "
                       f"not take its input of shape {to_chw(src.shape)} (a vector of "
                       f"{weight.shape[-1]} needed; flatten maps first)")
    bias = (np.asarray(node.bias, np.float32) if isinstance(node, nir.Affine)
            else np.zeros(weight.shape[0], np.float32))
    return "dense", (weight.shape[0],), dense_weight_from_nir(weight, src.flat_map), bias, {}


def _conv(name, node, src):
    weight = np.asarray(node.weight, np.float32)
    where = f"node {name!r} (Conv2d)"
    if len(src.shape) != 3 or weight.ndim != 4 or weight.shape[1] != src.shape[2]:
        raise NIRError(f"{where}: weight {weight.shape} does not take its input of shape "
                       f"{to_chw(src.shape)}")
    if np.any(np.asarray(node.dilation) != 1) or int(node.groups) != 1:
        raise NIRError(f"{where}: dilation {node.dilation} / groups {node.groups}; tfsnn's "
                       "convolutions have dilation 1 and groups 1")
    kernel, in_hw = conv_weight_from_nir(weight), src.shape[:2]
    strides = _pair(where, "stride", node.stride)
    padding = _padding(where, node.padding, in_hw, kernel.shape[:2], strides)
    if padding == "same":
        kernel = strip_leading_zeros(kernel, in_hw, strides)
    out = tuple(output_length(n, k, s, padding) for n, k, s in
                zip(in_hw, kernel.shape[:2], strides)) + (weight.shape[0],)
    bias = np.asarray(node.bias, np.float32)
    return "conv2d", out, kernel, bias, {"strides": strides, "padding": padding}


def _pair(where, what, value) -> tuple[int, int]:
    """``(a, a)`` from one int, ``(a, b)`` from two (NIR stores either)."""
    flat = np.ravel(np.asarray(value))
    if flat.size not in (1, 2) or not np.all(flat == np.round(flat)):
        raise NIRError(f"{where}: {what} {value!r} is not one or two integers")
    return pair(tuple(int(v) for v in flat) * (3 - flat.size), what)


def _padding(where, padding, in_hw, window, strides) -> str:
    if isinstance(padding, str):
        if padding == "same" and strides != (1, 1):
            raise NIRError(f"{where}: padding 'same' with stride {strides} is not defined "
                           "(PyTorch allows it for stride 1 only); give explicit numbers")
        return padding
    return tf_padding(where, in_hw, window, strides, _pair(where, "padding", padding))


def _pool(imp, name, node) -> None:
    src = imp.source(name)
    where = f"node {name!r} ({type(node).__name__})"
    if len(src.shape) != 3:
        raise NIRError(f"{where}: pools (C, H, W) maps, got {to_chw(src.shape)}")
    size = _pair(where, "kernel_size", node.kernel_size)
    strides = _pair(where, "stride", node.stride)
    pads = _pair(where, "padding", node.padding)
    if isinstance(node, nir.AvgPool2d) and any(pads):
        raise NIRError(f"{where}: a padded AvgPool2d is ambiguous (PyTorch counts the padded "
                       "zeros in the average, TensorFlow does not); write it as SumPool2d "
                       "followed by Scale")
    padding = tf_padding(where, src.shape[:2], size, strides, pads)
    c = src.shape[2]
    out = tuple(output_length(n, k, s, padding)
                for n, k, s in zip(src.shape[:2], size, strides)) + (c,)
    nodes, scale_node = [name], imp.only_next(name, nir.Scale)
    factor = np.ones((c, 1, 1))
    if scale_node is not None:
        nodes.append(scale_node)
        factor = np.asarray(imp.nodes[scale_node].scale, np.float64)
    if isinstance(node, nir.SumPool2d):
        factor = factor * window_counts(src.shape[:2], size, strides, padding)[None]
    scale = _channel_scale(where, factor, to_chw(out))
    readout = False
    if imp.only_next(nodes[-1], NEURON_TYPES) is not None:
        neuron, readout = imp.neuron_after(nodes[-1])
        if not readout:
            raise NIRError(f"{where}: spiking neurons ({neuron!r}) after a pool; tfsnn's "
                           "average pooling is linear (only the readout pool integrates)")
        nodes.append(neuron)
    config = {"pool_size": size, "strides": strides, "padding": padding, "scale": scale}
    imp.add(LayerSpec(name, "avgpool", [src.spec], src.shape, out, config=config,
                      activation="relu" if readout else None), nodes)
    if readout:
        imp.readouts.append(name)


def _channel_scale(where, factor, out_chw) -> np.ndarray:
    """The per-channel scale of an average pool from NIR's per-position factor."""
    try:
        full = np.broadcast_to(factor, out_chw)
    except ValueError:
        raise NIRError(f"{where}: Scale of shape {np.shape(factor)} does not fit the pooled "
                       f"map {out_chw}") from None
    flat = full.reshape(out_chw[0], -1)
    scale = flat[:, 0]
    if not np.allclose(flat, scale[:, None], rtol=1e-6, atol=0):
        raise NIRError(f"{where}: the pooled values are scaled differently at different "
                       "positions; tfsnn's average pool has one scale per channel")
    return scale.astype(np.float32)


def _flatten(imp, name, node) -> None:
    src = imp.source(name)
    chw = to_chw(src.shape)
    try:
        out = calc_flatten_output(list(chw), int(node.start_dim), int(node.end_dim))
    except (IndexError, ValueError):
        out = None
    if out is None or len(out) != 1:
        raise NIRError(f"node {name!r} (Flatten): start_dim {node.start_dim}, end_dim "
                       f"{node.end_dim} on {chw} does not give a vector; tfsnn flattens "
                       "whole maps (start_dim 0, end_dim -1)")
    if len(src.shape) == 1:  # nothing to flatten: the node passes its input on
        imp.values[name] = src
        return
    n = int(np.prod(src.shape))
    imp.add(LayerSpec(name, "flatten", [src.spec], src.shape, (n,)), [name],
            flat_map=src.shape)


def _stray_neurons(imp, name, node) -> None:
    pred = imp.preds[name]
    after = f" (after {pred[0]!r}, {type(imp.nodes[pred[0]]).__name__})" if pred else ""
    raise NIRError(f"node {name!r} ({type(node).__name__}){after}: tfsnn's neurons follow a "
                   "synapse (Affine, Linear, Conv2d), or, for the readout I, a pool")


def _output(imp, name, node) -> None:
    src = imp.source(name)
    if src.flat_map is not None and np.any(nchw_order(src.flat_map)
                                           != np.arange(int(np.prod(src.flat_map)))):
        raise NIRError(f"Output {name!r} is a flattened {to_chw(src.flat_map)} map: tfsnn "
                       "orders it channels last, which would reorder the outputs")
    spec = next(s for s in imp.specs if s.name == src.spec)
    spec.is_output = True


_HANDLERS = {nir.Input: _input, nir.Output: _output, nir.Conv2d: _synapse,
             nir.Affine: _synapse, nir.Linear: _synapse, nir.AvgPool2d: _pool,
             nir.SumPool2d: _pool, nir.Flatten: _flatten, nir.IF: _stray_neurons,
             nir.LIF: _stray_neurons, nir.I: _stray_neurons}


def _load(graph) -> tuple[nir.NIRGraph, str]:
    if isinstance(graph, nir.NIRGraph):
        return graph, "a NIRGraph"
    if not isinstance(graph, (str, os.PathLike)):
        raise TypeError(f"import_nir takes a nir.NIRGraph or a file path, got "
                        f"{type(graph).__name__}")
    path = os.fspath(graph)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"NIR file {path!r} does not exist (or is not a file)")
    try:
        return nir.read(path), path
    except Exception as e:  # h5py, nir's own asserts and type checks: all mean a bad file
        raise NIRError(f"cannot read a NIR graph from {path!r}: {type(e).__name__}: "
                       f"{e}") from e


def import_nir(graph, reset: str | None = None, dt: float = 1.0) -> SpikingModel:
    """A rate-coded ``SpikingModel`` from a NIR graph or file (see the module docstring).

    Args:
        graph: a ``nir.NIRGraph`` or the path of a file written by ``nir.write``.
        reset: ``"subtract"`` to simulate IF/LIF nodes that do not say how they reset with
            tfsnn's reset by subtraction (NIR's own convention is reset to ``v_reset``).
        dt: one tfsnn step in the graph's time unit, for LIF time constants (1 for tfsnn's
            graphs; the time step the graph was made for otherwise, e.g. snnTorch's 1e-4).
            IF and I nodes are read per step (``v += r I``), whatever ``dt``.
    """
    if reset not in (None, SUBTRACT):
        raise ValueError(f"reset must be None or {SUBTRACT!r}, got {reset!r}")
    if not float(dt) > 0:
        raise ValueError(f"dt must be > 0, got {dt!r}")
    g, source = _load(graph)
    importer = _Importer(g, dt, reset)
    specs, neurons = importer.run()
    if len(importer.readouts) != 1:
        raise NIRError(f"the graph has {len(importer.readouts)} layers with integrator (I) "
                       f"neurons {importer.readouts}; tfsnn reads the output from exactly one")
    snn = SpikingModel(specs, "rate", meta={"source": f"NIR ({source})"},
                       **network_params(neurons))
    if snn.readout.name != importer.readouts[0]:
        raise NIRError(f"the integrator (I) neurons are in layer {importer.readouts[0]!r}, "
                       f"but tfsnn reads the output from layer {snn.readout.name!r} (the "
                       "last layer with neurons before the output); put the I there")
    return snn
