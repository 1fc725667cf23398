"""A hand-written numpy reference that steps a NIR graph with the conventions of
docs/interop.md ("NIR"), independent of tfsnn: it reads only the ``nir.NIRGraph``'s nodes and
edges and works channels first (NCHW), in float64.

One step is ``dt = 1``; linear nodes act within the step; a node with several incoming edges
gets their sum. ``IF``: ``v += r x``; ``LIF``: ``v = (1 - 1/tau) v + (r/tau) x + v_leak/tau``;
both spike when ``v >= v_threshold`` and then subtract ``v_threshold`` (the reset written in
their metadata); they start at ``metadata["v_initial"]`` (0 if absent). ``I``: ``v += r x``,
its output is ``v``.
"""

import nir
import numpy as np


def _order(graph):
    preds = {n: [a for a, b in graph.edges if b == n] for n in graph.nodes}
    order, seen = [], set()
    while len(order) < len(graph.nodes):
        for n in graph.nodes:
            if n not in seen and all(p in seen for p in preds[n]):
                order.append(n)
                seen.add(n)
    return order, preds


def _windows(x, kh, kw, stride, pad):
    """Yield ``(u, v, patch)``: the input under kernel offset (u, v) for every output."""
    x = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    ho = (x.shape[2] - kh) // stride[0] + 1
    wo = (x.shape[3] - kw) // stride[1] + 1
    for u in range(kh):
        for v in range(kw):
            yield u, v, x[:, :, u:u + stride[0] * (ho - 1) + 1:stride[0],
                          v:v + stride[1] * (wo - 1) + 1:stride[1]]


def _conv(node, x):
    """Conv2d, and Conv1d as a Conv2d of height 1; ``groups``: output channel ``o`` sees the
    input channels of its group, ``o // (C_out / groups)``."""
    w = np.asarray(node.weight, np.float64)
    stride, pad = tuple(np.atleast_1d(node.stride)), tuple(np.atleast_1d(node.padding))
    if isinstance(node, nir.Conv1d):
        x, w = x[:, :, None], w[:, :, None]
        stride, pad = (1,) + stride, (0,) + pad
    g = int(node.groups)
    per_in, per_out = x.shape[1] // g, w.shape[0] // g
    out = np.concatenate([
        sum(np.einsum("bchw,oc->bohw", patch[:, k * per_in:(k + 1) * per_in],
                      w[k * per_out:(k + 1) * per_out, :, u, v])
            for u, v, patch in _windows(x, w.shape[2], w.shape[3], stride, pad))
        for k in range(g)], axis=1)
    out = out + np.asarray(node.bias, np.float64)[None, :, None, None]
    return out[:, :, 0] if isinstance(node, nir.Conv1d) else out


def _sum_pool(node, x):
    kh, kw = (int(k) for k in node.kernel_size)
    return sum(p for _, _, p in _windows(x, kh, kw, tuple(node.stride), tuple(node.padding)))


def _linear(node, x):
    if isinstance(node, nir.Affine):
        return x @ np.asarray(node.weight, np.float64).T + np.asarray(node.bias, np.float64)
    if isinstance(node, nir.Linear):
        return x @ np.asarray(node.weight, np.float64).T
    if isinstance(node, (nir.Conv2d, nir.Conv1d)):
        return _conv(node, x)
    if isinstance(node, nir.SumPool2d):
        return _sum_pool(node, x)
    if isinstance(node, nir.AvgPool2d):
        assert not np.any(node.padding), "a padded AvgPool2d is ambiguous"
        return _sum_pool(node, x) / np.prod(node.kernel_size)
    if isinstance(node, nir.Scale):
        return x * np.asarray(node.scale, np.float64)
    if isinstance(node, nir.Flatten):
        return x.reshape(len(x), -1)
    if isinstance(node, nir.Output):
        return x
    raise NotImplementedError(type(node).__name__)


def _neuron(node, x, v):
    r = np.asarray(node.r, np.float64)
    if isinstance(node, nir.I):
        v = v + r * x
        return v, v
    if isinstance(node, nir.IF):
        v = v + r * x
    else:
        tau = np.asarray(node.tau, np.float64)
        v = (1 - 1 / tau) * v + (r / tau) * x + np.asarray(node.v_leak, np.float64) / tau
    theta = np.asarray(node.v_threshold, np.float64)
    spikes = (v >= theta).astype(np.float64)
    return spikes, v - theta * spikes


def run_graph(graph, inputs):
    """Step ``graph`` over ``inputs`` ``(T, B) + input shape`` (NCHW); returns every node's
    output per step, ``{node: (T, B, ...)}``."""
    order, preds = _order(graph)
    state, out = {}, {n: [] for n in order}
    for x_t in inputs:
        values = {}
        for n in order:
            node = graph.nodes[n]
            if isinstance(node, nir.Input):
                values[n] = np.asarray(x_t, np.float64)
                out[n].append(values[n])
                continue
            x = sum(values[p] for p in preds[n])
            if isinstance(node, (nir.IF, nir.LIF, nir.I)):
                if n not in state:
                    v0 = 0.0 if isinstance(node, nir.I) else node.metadata.get("v_initial", 0.0)
                    state[n] = np.full(x.shape, float(v0))
                values[n], state[n] = _neuron(node, x, state[n])
            else:
                values[n] = _linear(node, x)
            out[n].append(values[n])
    return {n: np.stack(v) for n, v in out.items()}
