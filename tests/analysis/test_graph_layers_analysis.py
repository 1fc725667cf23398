"""The synapse graph and the energy counts of the graph layers (residual sums, zero padding,
cropping, reshape) against brute-force references: each group's current as a function of
every group's output (the Jacobian, from the layers' own ANN ops), summed over the synapses
between them; and the SNN's accumulates as spike counts times those synapses."""

import keras
import numpy as np
from keras import ops

import tfsnn
from tfsnn.analysis.energy import energy_estimate
from tfsnn.analysis.synapse_graph import SynapseGraph, synapse_graph
from tfsnn.cells import synapse
from tfsnn.conversion.forward import layer_forward
from tfsnn.conversion.normalize import normalize
from tfsnn.conversion.parse import parse


def _model():
    L = keras.layers
    inp = keras.Input((5, 5, 1), name="input")
    c1 = L.Conv2D(2, 3, padding="same", activation="relu", name="c1")(inp)
    a = L.Conv2D(2, 2, activation="relu", name="a")(L.ZeroPadding2D(((1, 0), (0, 1)),
                                                                    name="pad")(c1))
    b = L.BatchNormalization(name="b_bn")(L.Conv2D(2, 3, padding="same", name="b")(a))
    s = L.ReLU(name="s_relu")(L.Add(name="s")([b, c1]))
    x = L.Reshape((8, 4), name="rs")(L.Cropping2D(((1, 0), (0, 1)), name="crop")(s))
    out = L.Dense(3, name="out")(L.Flatten(name="flat")(x))
    model = keras.Model(inp, out)
    rng = np.random.default_rng(0)
    model.set_weights([rng.uniform(-1, 1, w.shape).astype("float32") + (w.ndim == 1) * 0.5
                       for w in model.get_weights()])
    return model, rng.uniform(0, 1, (8, 5, 5, 1)).astype("float32")


def _specs():
    model, x = _model()
    return normalize(parse(model), x, mode="max", channelwise=True)[0]


def _current(specs, dst, groups):
    """The current into ``dst`` from the groups' outputs ``groups`` (name -> (B, ...))."""
    vals = dict(groups)
    for s in specs:
        if s.name in vals or s.name == dst.name:
            continue
        if s.is_linear and all(i in vals for i in s.inputs):
            vals[s.name] = layer_forward(s, [vals[i] for i in s.inputs])
    ins = [vals[i] for i in dst.inputs]
    if dst.row.sums:
        return synapse.add(ops.stack(ins, -1), np.asarray(dst.config["scales"], np.float32))
    lin = dst.copy()
    lin.activation = None
    return layer_forward(lin, ins)


def _jacobians(specs, graph):
    """``{(source group, dest group): J (n_src, n_dst)}`` of every nonzero dependence."""
    named = {s.name: s for s in specs}
    out = {}
    for dst in graph.group_names:
        d = named[dst]
        if d.kind == "input":
            continue
        zeros = {g: np.zeros((1,) + named[g].output_shape, "float32")
                 for g in graph.group_names if g != dst}
        base = np.asarray(ops.convert_to_numpy(_current(specs, d, zeros)), np.float64)
        for g in zeros:
            n = named[g].num_neurons
            eye = np.eye(n, dtype="float32").reshape((n,) + named[g].output_shape)
            vals = {k: np.repeat(v, n, 0) for k, v in zeros.items()}
            vals[g] = eye
            cur = np.asarray(ops.convert_to_numpy(_current(specs, d, vals)), np.float64)
            jac = (cur - base).reshape(n, -1)
            if np.any(jac != 0):
                out[(g, dst)] = jac
    return out


def test_residual_padding_cropping_reshape_match_brute_force():
    specs = _specs()
    named = {s.name: s for s in specs}
    groups = [s.name for s in specs if s.row.group and not s.is_branch]
    assert groups == ["input", "c1", "a", "s", "out"]  # the branch b has no group
    rates = {g: np.ones(named[g].output_shape) for g in groups if g != "out"}
    graph = SynapseGraph(specs, rates)
    got = {}
    for ch in graph.iter_chunks(chunk_size=7):  # runs of kept blocks cut by the chunks
        for sg, sn, dg, dn, e in zip(*ch):
            key = (graph.group_names[sg], graph.group_names[dg])
            if key not in got:
                got[key] = np.zeros((named[key[0]].num_neurons, named[key[1]].num_neurons))
            got[key][sn, dn] += e
    want = _jacobians(specs, graph)
    assert set(got) == set(want) == {("input", "c1"), ("c1", "a"), ("a", "s"), ("c1", "s"),
                                     ("s", "out")}
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-6, err_msg=key)
    # no synapse leaves a padded position: 'a' (2x2 valid on the padded 6x6 map, 5x5
    # outputs) has 25 x 4 window positions of 2 x 2 synapses; 10 of them lie in the top
    # row of padding, 10 in the right column, one in both
    summary = graph.summary()
    n_edges = sum(len(ch) for ch in graph.iter_chunks())
    assert summary["total"] == graph.num_synapses == n_edges == sum(summary["pairs"].values())
    assert summary["pairs"][("c1", "a")] == (25 * 4 - (10 + 10 - 1)) * 4
    # the sum's neurons: identity weights lambda_c1 / lambda_s, bias = the branch's
    np.testing.assert_allclose(graph.biases["s"], named["b"].bias)
    ident = want[("c1", "s")]
    np.testing.assert_allclose(np.diag(ident), np.tile(named["s"].config["scales"][:, 1], 25),
                               rtol=1e-6)


def test_energy_counts_each_spike_once_per_synapse():
    """Under Poisson input every layer's AC per image is the sum over its synapses of the
    presynaptic spikes per image (the synapse graph's fan-outs), the identity shortcut
    counted in the sum's row, the branch's synapses in the branch's; ANN adds of the sum."""
    model, x = _model()
    snn = tfsnn.convert(model, x, normalization="max")
    res = snn.evaluate(x, None, timesteps=6, input_mode="poisson")
    est = energy_estimate(snn, res)
    graph = synapse_graph(snn, result=res)
    named = {s.name: s for s in snn.specs}
    want = {}
    for link in graph.links:
        row = link.spec.name
        if row == "s" and link.projection.total != named["s"].num_neurons:
            row = "b"  # the branch's synapses into the sum
        spikes = graph.input_rates(link.source) * res.timesteps  # per image
        want[row] = want.get(row, 0.0) + float((spikes * link.projection.fanout()).sum())
    got = {n: r["snn_acs"] for n, r in est["layers"].items() if r["snn_acs"]}
    assert set(got) == set(want) == {"c1", "a", "b", "s", "out"}
    for name in want:
        assert got[name] == np.float64(want[name]) or np.isclose(got[name], want[name],
                                                                  rtol=1e-9), name
    layers = est["layers"]
    assert layers["s"]["ann_acs"] == named["s"].num_neurons  # two inputs: one add each
    assert layers["b"]["neuron_updates"] == 0 and layers["s"]["neuron_updates"] > 0
    assert "pad" not in layers and "crop" not in layers and "rs" not in layers
