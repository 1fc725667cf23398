"""Synapse graph of the depthwise, separable and 1-D window kinds against brute-force loops
written straight from the layer definitions (Keras/TensorFlow), and the pickle round trip of
a separable convolution."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tfsnn.analysis.synapse_graph import StoredLayer, SynapseGraph, build_synapse_graph
from tfsnn.ir.geometry import output_length


def _input(name, shape):
    return StoredLayer(name, "input", [], tuple(shape), tuple(shape))


def _out_pad(n, k, s, padding):
    """Output length and padding before the input, as Keras defines them."""
    if padding == "valid":
        return math.ceil((n - k + 1) / s), 0
    if padding == "causal":
        return math.ceil(n / s), k - 1
    out = math.ceil(n / s)
    return out, max((out - 1) * s + k - n, 0) // 2


def _edge_dict(graph: SynapseGraph) -> dict:
    out, n = {}, 0
    for c in graph.iter_chunks(7):  # small chunks: block boundaries inside windows
        for sg, sn, dg, dn, e in zip(c.source_group, c.source_neuron, c.dest_group,
                                     c.dest_neuron, c.edge):
            key = ((graph.group_names[sg], tuple(int(v) for v in graph.neuron_index(sg, sn))),
                   (graph.group_names[dg], tuple(int(v) for v in graph.neuron_index(dg, dn))))
            out[key] = float(e)
            n += 1
    assert n == len(out), "duplicate (source, destination) pairs"
    return out


def _assert_same_edges(graph, want):
    got = _edge_dict(graph)
    assert got.keys() == want.keys()
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-6, abs=1e-12), k
    assert graph.num_synapses == len(want) == graph.summary()["total"]


def _brute_2d(rates, window, strides, padding, weight):
    """``weight(a, b, c) -> {filter: w}``: the synapses of input channel ``c`` at kernel
    position ``(a, b)`` (pooling: ``{c: 1}``)."""
    hin, win, _ = rates.shape
    hout, ph = _out_pad(hin, window[0], strides[0], padding)
    wout, pw = _out_pad(win, window[1], strides[1], padding)
    edges = {}
    for y in range(hout):
        for x in range(wout):
            for a in range(window[0]):
                for b in range(window[1]):
                    i, j = y * strides[0] - ph + a, x * strides[1] - pw + b
                    if not (0 <= i < hin and 0 <= j < win):
                        continue
                    for c in range(rates.shape[2]):
                        for f, w in weight(a, b, c).items():
                            edges[(("in", (i, j, c)), ("out", (y, x, f)))] = rates[i, j, c] * w
    return edges, (hout, wout)


def _brute_1d(rates, k, s, padding, weight):
    n_in = rates.shape[0]
    n_out, p = _out_pad(n_in, k, s, padding)
    edges = {}
    for o in range(n_out):
        for a in range(k):
            i = o * s - p + a
            if 0 <= i < n_in:
                for c in range(rates.shape[1]):
                    for f, w in weight(a, c).items():
                        edges[(("in", (i, c)), ("out", (o, f)))] = rates[i, c] * w
    return edges, n_out


def _configs(n, seed, paddings=("valid", "same")):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        k, s, size = rng.integers(1, 5, 2), rng.integers(1, 4, 2), rng.integers(1, 9, 2)
        padding = str(rng.choice(paddings))
        if padding == "valid" and np.any(size < k):
            continue
        out.append({"k": tuple(int(v) for v in k), "s": tuple(int(v) for v in s),
                    "size": tuple(int(v) for v in size), "padding": padding,
                    "c": int(rng.integers(1, 4)), "m": int(rng.integers(1, 3)),
                    "f": int(rng.integers(1, 4))})
    return out


def _graph(spec, in_shape, rng):
    specs = [_input("in", in_shape), spec]
    rates = rng.random(in_shape)
    return build_synapse_graph(specs, {"in": rates, "out": rng.random(spec.output_shape)}), rates


def _out2d(cfg, channels):
    return tuple(output_length(n, k, s, cfg["padding"])
                 for n, k, s in zip(cfg["size"], cfg["k"], cfg["s"])) + (channels,)


@pytest.mark.parametrize("cfg", _configs(12, seed=1), ids=str)
def test_depthwise_matches_brute_force(cfg):
    rng = np.random.default_rng(0)
    c, m = cfg["c"], cfg["m"]
    in_shape = cfg["size"] + (c,)
    kernel = rng.normal(size=cfg["k"] + (c, m)).astype(np.float32)
    spec = StoredLayer("out", "depthwise_conv2d", ["in"], in_shape, _out2d(cfg, c * m),
                       kernel=kernel, config={"strides": cfg["s"], "padding": cfg["padding"]})
    graph, rates = _graph(spec, in_shape, rng)
    want, _ = _brute_2d(rates, cfg["k"], cfg["s"], cfg["padding"],
                        lambda a, b, ch: {ch * m + j: kernel[a, b, ch, j] for j in range(m)})
    _assert_same_edges(graph, want)


@pytest.mark.parametrize("cfg", _configs(8, seed=2), ids=str)
def test_separable_matches_brute_force(cfg):
    """Depthwise then pointwise: input channel c reaches every filter f with the weight
    ``sum_j D[a, b, c, j] P[c m + j, f]`` (no neurons in between)."""
    rng = np.random.default_rng(1)
    c, m, f = cfg["c"], cfg["m"], cfg["f"]
    in_shape = cfg["size"] + (c,)
    dw = rng.normal(size=cfg["k"] + (c, m)).astype(np.float32)
    pw = rng.normal(size=(1, 1, c * m, f)).astype(np.float32)
    spec = StoredLayer("out", "separable_conv2d", ["in"], in_shape, _out2d(cfg, f), kernel=pw,
                       config={"strides": cfg["s"], "padding": cfg["padding"]},
                       depthwise_kernel=dw, bias=np.zeros(f, np.float32))

    def weight(a, b, ch):
        return {o: sum(float(dw[a, b, ch, j]) * float(pw[0, 0, ch * m + j, o])
                       for j in range(m)) for o in range(f)}

    graph, rates = _graph(spec, in_shape, rng)
    want, _ = _brute_2d(rates, cfg["k"], cfg["s"], cfg["padding"], weight)
    _assert_same_edges(graph, want)


def test_separable_survives_the_pickle(tmp_path):
    rng = np.random.default_rng(3)
    dw = rng.normal(size=(3, 3, 2, 2)).astype(np.float32)
    spec = StoredLayer("out", "separable_conv2d", ["in"], (5, 5, 2), (5, 5, 3),
                       kernel=rng.normal(size=(1, 1, 4, 3)).astype(np.float32),
                       config={"strides": (1, 1), "padding": "same"}, depthwise_kernel=dw)
    graph, _ = _graph(spec, (5, 5, 2), rng)
    graph.to_pickle(tmp_path / "g.pkl")
    again = SynapseGraph.from_pickle(tmp_path / "g.pkl")
    assert _edge_dict(again) == _edge_dict(graph)


@pytest.mark.parametrize("cfg", _configs(12, seed=3, paddings=("valid", "same", "causal")),
                         ids=str)
def test_conv1d_matches_brute_force(cfg):
    rng = np.random.default_rng(2)
    (k, _), (s, _), (n, _) = cfg["k"], cfg["s"], cfg["size"]
    c, f = cfg["c"], cfg["f"]
    kernel = rng.normal(size=(k, c, f)).astype(np.float32)
    spec = StoredLayer("out", "conv1d", ["in"], (n, c),
                       (output_length(n, k, s, cfg["padding"]), f), kernel=kernel,
                       config={"strides": (s,), "padding": cfg["padding"]})
    graph, rates = _graph(spec, (n, c), rng)
    want, _ = _brute_1d(rates, k, s, cfg["padding"],
                        lambda a, ch: {o: kernel[a, ch, o] for o in range(f)})
    _assert_same_edges(graph, want)


@pytest.mark.parametrize("kind", ["avgpool1d", "maxpool1d"])
@pytest.mark.parametrize("cfg", _configs(6, seed=4), ids=str)
def test_pooling1d_matches_brute_force(cfg, kind):
    rng = np.random.default_rng(4)
    (k, _), (s, _), (n, _), c = cfg["k"], cfg["s"], cfg["size"], cfg["c"]
    spec = StoredLayer("out", kind, ["in"], (n, c), (output_length(n, k, s, cfg["padding"]), c),
                       config={"pool_size": (k,), "strides": (s,), "padding": cfg["padding"]})
    graph, rates = _graph(spec, (n, c), rng)
    want, _ = _brute_1d(rates, k, s, cfg["padding"], lambda a, ch: {ch: 1.0})
    _assert_same_edges(graph, want)


def test_causal_padding_only_for_conv1d():
    spec = StoredLayer("out", "avgpool1d", ["in"], (6, 1), (6, 1),
                       config={"pool_size": (2,), "strides": (1,), "padding": "causal"})
    with pytest.raises(ValueError, match="padding 'causal' is not supported"):
        _graph(spec, (6, 1), np.random.default_rng(0))
