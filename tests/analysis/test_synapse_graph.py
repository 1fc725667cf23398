"""Synapse graph export: mappings against a brute-force reference, CSV/pickle/networkx output,
summary counts and errors."""

from __future__ import annotations

import csv
import math
import pickle
from types import SimpleNamespace

import numpy as np
import pytest

from tfsnn.analysis.synapse_graph import (
    CSV_HEADER,
    StoredLayer,
    SynapseGraph,
    build_synapse_graph,
    format_floats,
    pickle_to_csv,
    synapse_graph,
)
from tfsnn.ir import LayerSpec
from tfsnn.ir.geometry import output_length, pad_before

# --------------------------------------------------------------------------------------------
# helpers


def _input(name, shape):
    return StoredLayer(name, "input", [], tuple(shape), tuple(shape))


def _ref_out_pad(n, k, s, padding):
    """Output length and padding as written in the reference (valid: ceil((n - k + 1) / s))."""
    if padding == "valid":
        return math.ceil((n - k + 1) / s), 0
    out = math.ceil(n / s)
    pad = max(k - s, 0) // 2 if n % s == 0 else max(k - n % s, 0) // 2
    return out, pad


def _edge_dict(graph: SynapseGraph, chunk_size=1_000_000) -> dict:
    """{((src group, src index), (dst group, dst index)): edge}; fails on duplicate pairs."""
    out = {}
    n = 0
    for c in graph.iter_chunks(chunk_size):
        for sg, sn, dg, dn, e in zip(c.source_group, c.source_neuron, c.dest_group,
                                     c.dest_neuron, c.edge):
            key = ((graph.group_names[sg], tuple(int(v) for v in graph.neuron_index(sg, sn))),
                   (graph.group_names[dg], tuple(int(v) for v in graph.neuron_index(dg, dn))))
            out[key] = float(e)
            n += 1
    assert n == len(out), "duplicate (source, destination) pairs"
    return out


def _brute_conv(rates, kernel, strides, padding, src="in", dst="out"):
    """Straight from the reference pseudocode (rows, columns, kernel rows/cols, channels,
    filters), with per-axis kernel size, stride and padding."""
    hin, win, cin = rates.shape
    kh, kw, _, cout = kernel.shape
    hout, ph = _ref_out_pad(hin, kh, strides[0], padding)
    wout, pw = _ref_out_pad(win, kw, strides[1], padding)
    edges = {}
    for row in range(hout):
        for col in range(wout):
            for k_row in range(kh):
                for k_col in range(kw):
                    pre_row = row * strides[0] + k_row - ph
                    pre_col = col * strides[1] + k_col - pw
                    if not (0 <= pre_row < hin and 0 <= pre_col < win):
                        continue
                    for c in range(cin):
                        for f in range(cout):
                            key = ((src, (pre_row, pre_col, c)), (dst, (row, col, f)))
                            assert key not in edges
                            edges[key] = float(rates[pre_row, pre_col, c] * kernel[k_row, k_col,
                                                                                    c, f])
    return edges, (hout, wout, cout)


def _brute_pool(rates, pool, strides, padding, src="in", dst="out"):
    """Window loops: every input position inside the window of o(y, x, c) connects to it."""
    hin, win, ch = rates.shape
    hout, ph = _ref_out_pad(hin, pool[0], strides[0], padding)
    wout, pw = _ref_out_pad(win, pool[1], strides[1], padding)
    edges = {}
    for y in range(hout):
        for x in range(wout):
            for a in range(pool[0]):
                for b in range(pool[1]):
                    i, j = y * strides[0] - ph + a, x * strides[1] - pw + b
                    if 0 <= i < hin and 0 <= j < win:
                        for c in range(ch):
                            edges[((src, (i, j, c)), (dst, (y, x, c)))] = float(rates[i, j, c])
    return edges, (hout, wout, ch)


def _assert_same_edges(got: dict, want: dict):
    assert got.keys() == want.keys()
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-12, abs=1e-300), k


def _random_conv_configs(n, seed):
    rng = np.random.default_rng(seed)
    configs = []
    while len(configs) < n:
        kh, kw = rng.integers(1, 6, size=2)
        sh, sw = rng.integers(1, 4, size=2)
        h, w = rng.integers(1, 10, size=2)
        padding = str(rng.choice(["valid", "same"]))
        if padding == "valid" and (h < kh or w < kw):
            continue
        cin, cout = rng.integers(1, 5, size=2)
        configs.append(dict(kh=int(kh), kw=int(kw), sh=int(sh), sw=int(sw), h=int(h), w=int(w),
                            padding=padding, cin=int(cin), cout=int(cout)))
    return configs


def _random_pool_configs(n, seed):
    rng = np.random.default_rng(seed)
    configs = []
    while len(configs) < n:
        ph, pw = rng.integers(1, 5, size=2)
        sh, sw = rng.integers(1, 4, size=2)
        h, w = rng.integers(1, 10, size=2)
        padding = str(rng.choice(["valid", "same"]))
        if padding == "valid" and (h < ph or w < pw):
            continue
        configs.append(dict(ph=int(ph), pw=int(pw), sh=int(sh), sw=int(sw), h=int(h), w=int(w),
                            padding=padding, c=int(rng.integers(1, 5)),
                            kind=str(rng.choice(["avgpool", "maxpool"]))))
    return configs


def _conv_graph(cfg, rng, zero_frac=0.0):
    in_shape = (cfg["h"], cfg["w"], cfg["cin"])
    kernel = rng.normal(size=(cfg["kh"], cfg["kw"], cfg["cin"], cfg["cout"])).astype(np.float32)
    if zero_frac:
        kernel[rng.random(kernel.shape) < zero_frac] = 0.0
    rates = rng.random(in_shape)
    out_shape = tuple(output_length(n, k, s, cfg["padding"]) for n, k, s in
                      ((cfg["h"], cfg["kh"], cfg["sh"]), (cfg["w"], cfg["kw"], cfg["sw"])))
    out_shape += (cfg["cout"],)
    specs = [_input("in", in_shape),
             StoredLayer("out", "conv2d", ["in"], in_shape, out_shape, kernel=kernel,
                         config={"strides": (cfg["sh"], cfg["sw"]), "padding": cfg["padding"]})]
    graph = build_synapse_graph(specs, {"in": rates, "out": rng.random(out_shape)})
    return graph, rates, kernel


def _pool_graph(cfg, rng):
    in_shape = (cfg["h"], cfg["w"], cfg["c"])
    rates = rng.random(in_shape)
    out_shape = tuple(output_length(n, k, s, cfg["padding"]) for n, k, s in
                      ((cfg["h"], cfg["ph"], cfg["sh"]), (cfg["w"], cfg["pw"], cfg["sw"])))
    out_shape += (cfg["c"],)
    specs = [_input("in", in_shape),
             StoredLayer("out", cfg["kind"], ["in"], in_shape, out_shape,
                         config={"pool_size": (cfg["ph"], cfg["pw"]),
                                 "strides": (cfg["sh"], cfg["sw"]), "padding": cfg["padding"]})]
    graph = build_synapse_graph(specs, {"in": rates, "out": rng.random(out_shape)})
    return graph, rates


def _dest_sums(graph, dest_shape, reduce=np.add):
    """Per destination neuron: reduce over incoming edges (and the number of edges)."""
    init = -np.inf if reduce is np.maximum else 0.0
    acc = np.full(int(np.prod(dest_shape)), init)
    count = np.zeros(int(np.prod(dest_shape)), np.int64)
    for c in graph.iter_chunks():
        reduce.at(acc, c.dest_neuron, c.edge)
        np.add.at(count, c.dest_neuron, 1)
    return acc.reshape(dest_shape), count.reshape(dest_shape)


# --------------------------------------------------------------------------------------------
# mappings against the brute-force reference


@pytest.mark.parametrize("cfg", _random_conv_configs(60, seed=1), ids=lambda c: str(c))
def test_conv_matches_brute_force(cfg):
    rng = np.random.default_rng(abs(hash(str(cfg))) % 2**32)
    graph, rates, kernel = _conv_graph(cfg, rng, zero_frac=0.2)
    want, out_shape = _brute_conv(rates, kernel, (cfg["sh"], cfg["sw"]), cfg["padding"])
    assert graph.group_shapes[1] == out_shape
    _assert_same_edges(_edge_dict(graph), want)
    assert graph.num_synapses == len(want) == graph.summary()["total"]


@pytest.mark.parametrize("cfg", _random_pool_configs(60, seed=2), ids=lambda c: str(c))
def test_pooling_matches_brute_force(cfg):
    rng = np.random.default_rng(abs(hash(str(cfg))) % 2**32)
    graph, rates = _pool_graph(cfg, rng)
    want, out_shape = _brute_pool(rates, (cfg["ph"], cfg["pw"]), (cfg["sh"], cfg["sw"]),
                                  cfg["padding"])
    assert graph.group_shapes[1] == out_shape
    _assert_same_edges(_edge_dict(graph), want)
    assert graph.num_synapses == len(want)


def test_zero_weights_are_kept_as_synapses():
    specs = [_input("in", (3, 3, 1)),
             StoredLayer("out", "conv2d", ["in"], (3, 3, 1), (1, 1, 2),
                         kernel=np.zeros((3, 3, 1, 2), np.float32), config={"padding": "valid"})]
    graph = build_synapse_graph(specs, {"in": np.ones((3, 3, 1)), "out": np.zeros((1, 1, 2))})
    edges = _edge_dict(graph)
    assert len(edges) == 18 and set(edges.values()) == {0.0}


def test_padding_arithmetic_matches_reference_formulas():
    for n in range(1, 12):
        for k in range(1, 7):
            for s in range(1, 5):
                for padding in ("valid", "same"):
                    if padding == "valid" and n < k:
                        continue
                    out, pad = _ref_out_pad(n, k, s, padding)
                    assert output_length(n, k, s, padding) == out
                    assert pad_before(n, k, s, padding) == pad
                    if padding == "same":  # TF: half of the total padding, rounded down
                        assert pad == max((out - 1) * s + k - n, 0) // 2


# --------------------------------------------------------------------------------------------
# against Keras: output shapes and the convolution / pooling the edges implement


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


def test_conv_shapes_and_sums_match_keras(keras):
    rng = np.random.default_rng(3)
    for cfg in _random_conv_configs(16, seed=4):
        graph, rates, kernel = _conv_graph(cfg, rng)
        layer = keras.layers.Conv2D(cfg["cout"], (cfg["kh"], cfg["kw"]),
                                    strides=(cfg["sh"], cfg["sw"]), padding=cfg["padding"])
        keras_shape = tuple(layer.compute_output_shape((1, cfg["h"], cfg["w"], cfg["cin"])))[1:]
        assert graph.group_shapes[1] == keras_shape, cfg
        want = keras.ops.convert_to_numpy(keras.ops.conv(
            rates[None].astype(np.float32), kernel, strides=(cfg["sh"], cfg["sw"]),
            padding=cfg["padding"]))[0]
        got, _ = _dest_sums(graph, keras_shape)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=str(cfg))


def test_pooling_shapes_and_sums_match_keras(keras):
    rng = np.random.default_rng(5)
    for cfg in _random_pool_configs(16, seed=6):
        graph, rates = _pool_graph(cfg, rng)
        pool, strides = (cfg["ph"], cfg["pw"]), (cfg["sh"], cfg["sw"])
        layer = keras.layers.AveragePooling2D(pool, strides=strides, padding=cfg["padding"])
        keras_shape = tuple(layer.compute_output_shape((1, cfg["h"], cfg["w"], cfg["c"])))[1:]
        assert graph.group_shapes[1] == keras_shape, cfg
        x = rates[None].astype(np.float32)
        avg = keras.ops.convert_to_numpy(
            keras.ops.average_pool(x, pool, strides=strides, padding=cfg["padding"]))[0]
        mx = keras.ops.convert_to_numpy(
            keras.ops.max_pool(x, pool, strides=strides, padding=cfg["padding"]))[0]
        sums, counts = _dest_sums(graph, keras_shape)
        if cfg["padding"] == "valid":
            np.testing.assert_allclose(sums, avg * cfg["ph"] * cfg["pw"], rtol=1e-5)
        # "same": Keras averages over the in-bounds window positions only
        np.testing.assert_allclose(sums / counts, avg, rtol=1e-5, err_msg=str(cfg))
        maxes, _ = _dest_sums(graph, keras_shape, reduce=np.maximum)
        np.testing.assert_allclose(maxes, mx, rtol=1e-6, err_msg=str(cfg))


# --------------------------------------------------------------------------------------------
# dense, flatten, concat


def _flatten_dense_specs(rng):
    kernel = rng.normal(size=(24, 5)).astype(np.float32)
    specs = [_input("img", (2, 3, 4)),
             StoredLayer("flat", "flatten", ["img"], (2, 3, 4), (24,)),
             StoredLayer("fc", "dense", ["flat"], (24,), (5,), kernel=kernel)]
    rates = {"img": rng.random((2, 3, 4)), "fc": rng.random(5)}
    return specs, rates, kernel


def test_dense_after_flatten_unflattens_source_index():
    rng = np.random.default_rng(7)
    specs, rates, kernel = _flatten_dense_specs(rng)
    graph = build_synapse_graph(specs, rates)
    assert graph.group_names == ["img", "fc"]  # flatten is no group
    want = {}
    for i in range(24):
        ix = np.unravel_index(i, (2, 3, 4))  # C order, as Keras flattens NHWC
        for j in range(5):
            want[(("img", tuple(int(v) for v in ix)), ("fc", (j,)))] = float(
                rates["img"][ix] * kernel[i, j])
    _assert_same_edges(_edge_dict(graph), want)


def _concat_specs(rng, axis=-1):
    """in (4, 5, 2) -> conv b (same, 3 filters); concat [in, b] -> (4, 5, 5) -> conv c (valid,
    2 filters) and -> flatten -> dense d."""
    k_b = rng.normal(size=(3, 3, 2, 3)).astype(np.float32)
    k_c = rng.normal(size=(2, 3, 5, 2)).astype(np.float32)
    k_d = rng.normal(size=(100, 3)).astype(np.float32)
    specs = [
        _input("in", (4, 5, 2)),
        StoredLayer("b", "conv2d", ["in"], (4, 5, 2), (4, 5, 3), kernel=k_b,
                    config={"padding": "same", "strides": (1, 1)}),
        StoredLayer("cat", "concat", ["in", "b"], [(4, 5, 2), (4, 5, 3)], (4, 5, 5),
                    config={"axis": axis}),
        StoredLayer("c", "conv2d", ["cat"], (4, 5, 5), (3, 3, 2), kernel=k_c,
                    config={"padding": "valid", "strides": (1, 1)}),
        StoredLayer("flat", "flatten", ["cat"], (4, 5, 5), (100,)),
        StoredLayer("d", "dense", ["flat"], (100,), (3,), kernel=k_d),
    ]
    rates = {"in": rng.random((4, 5, 2)), "b": rng.random((4, 5, 3)),
             "c": rng.random((3, 3, 2)), "d": rng.random(3)}
    return specs, rates, (k_b, k_c, k_d)


@pytest.mark.parametrize("axis", [-1, 3])
def test_concat_maps_channel_ranges_back_to_sources(axis):
    rng = np.random.default_rng(8)
    specs, rates, (k_b, k_c, k_d) = _concat_specs(rng, axis)
    graph = build_synapse_graph(specs, rates)
    assert graph.group_names == ["in", "b", "c", "d"]
    cat_rates = np.concatenate([rates["in"], rates["b"]], axis=-1)

    def source(ix):  # concatenated position -> (group, index)
        y, x, ch = ix
        return ("in", (y, x, ch)) if ch < 2 else ("b", (y, x, ch - 2))

    want, _ = _brute_conv(rates["in"], k_b, (1, 1), "same", "in", "b")
    conv_c, _ = _brute_conv(cat_rates, k_c, (1, 1), "valid", "cat", "c")
    want.update({(source(s[1]), d): v for (s, d), v in conv_c.items()})
    for i in range(100):
        ix = tuple(int(v) for v in np.unravel_index(i, (4, 5, 5)))
        for j in range(3):
            want[(source(ix), ("d", (j,)))] = float(cat_rates[ix] * k_d[i, j])
    got = _edge_dict(graph)
    _assert_same_edges(got, want)

    pairs = {}
    for (s, d) in got:
        pairs[(s[0], d[0])] = pairs.get((s[0], d[0]), 0) + 1
    summary = graph.summary()
    assert summary["pairs"] == pairs
    assert summary["total"] == len(got) == graph.num_synapses


def test_chunk_size_does_not_change_the_output(tmp_path):
    rng = np.random.default_rng(9)
    specs, rates, _ = _concat_specs(rng)
    specs.append(StoredLayer("p", "avgpool", ["c"], (3, 3, 2), (2, 2, 2),
                             config={"pool_size": (2, 2), "strides": (1, 1), "padding": "valid"}))
    rates["p"] = rng.random((2, 2, 2))
    graph = build_synapse_graph(specs, rates)

    def columns(chunk_size):
        chunks = list(graph.iter_chunks(chunk_size))
        assert all(len(c) <= chunk_size for c in chunks)
        return [np.concatenate(col) for col in zip(*chunks)]

    ref = columns(10**6)
    assert len(ref[0]) == graph.num_synapses
    for chunk_size in (1, 7, 64, 1000):
        for a, b in zip(columns(chunk_size), ref):
            np.testing.assert_array_equal(a, b)
    graph.to_csv(tmp_path / "a.csv", chunk_size=7)
    graph.to_csv(tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


# --------------------------------------------------------------------------------------------
# CSV


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_csv_header_and_index_format(tmp_path):
    rng = np.random.default_rng(10)
    specs, rates, kernel = _flatten_dense_specs(rng)
    graph = build_synapse_graph(specs, rates)
    n = graph.to_csv(tmp_path / "g.csv")
    assert n == 24 * 5
    text = (tmp_path / "g.csv").read_text()
    assert text.splitlines()[0] == CSV_HEADER == (
        "source_group,source_neuron,dest_group,dest_neuron,edge")
    rows = _read_csv(tmp_path / "g.csv")[1:]
    assert len(rows) == n
    # Dense order is (input, output): row 6 * 5 + 2 is img[0, 1, 2] -> fc[2]
    src_group, src_neuron, dst_group, dst_neuron, edge = rows[6 * 5 + 2]
    assert (src_group, src_neuron, dst_group, dst_neuron) == ("img", "0_1_2", "fc", "2")
    assert float(edge) == pytest.approx(rates["img"][0, 1, 2] * kernel[6, 2], rel=5e-7)
    assert rows[-1][:4] == ["img", "1_2_3", "fc", "4"]


def test_csv_round_trip_matches_iter_chunks(tmp_path):
    rng = np.random.default_rng(11)
    specs, rates, _ = _concat_specs(rng)
    rates["in"][0, 0, :] = 0.0  # zero rates give zero edges
    graph = build_synapse_graph(specs, rates)
    n = graph.to_csv(tmp_path / "g.csv", chunk_size=50)
    rows = _read_csv(tmp_path / "g.csv")
    assert rows[0] == CSV_HEADER.split(",")
    rows = rows[1:]
    assert len(rows) == n == graph.num_synapses
    i = 0
    for c in graph.iter_chunks(33):
        for sg, sn, dg, dn, e in zip(c.source_group, c.source_neuron, c.dest_group,
                                     c.dest_neuron, c.edge):
            row = rows[i]
            assert row[0] == graph.group_names[sg]
            assert row[1] == "_".join(str(int(v)) for v in graph.neuron_index(sg, sn))
            assert row[2] == graph.group_names[dg]
            assert row[3] == "_".join(str(int(v)) for v in graph.neuron_index(dg, dn))
            assert abs(float(row[4]) - e) <= 5e-7 * abs(e) * (1 + 1e-9)
            i += 1
    assert any(r[4] == "0" for r in rows)


def test_float_formatting_parses_back_within_7_digits():
    rng = np.random.default_rng(12)
    special = [1.0, -1.0, 0.5, 0.37, 1e-5, 123456.75, 9.9999996, 9.99999949, 0.099999995,
               -9.9999999e-8, 1e100, 1e-100, 1.2345678e-150, 1.7976931348623157e308,
               2.2250738585072014e-308, 1e22, 1e23, 3.0000001]
    powers = [10.0 ** k for k in range(-40, 41)]
    nearly = [np.nextafter(p, 0) for p in powers] + [np.nextafter(p, 2 * p) for p in powers]
    wide = rng.choice([-1, 1], 20000) * 10.0 ** rng.uniform(-30, 30, 20000)
    values = np.array(special + powers + nearly + list(wide) + list(rng.normal(size=5000)))
    texts = format_floats(values)
    assert len(texts) == len(values)
    for x, t in zip(values, texts):
        y = float(t)
        assert abs(y - x) <= 5e-7 * abs(x) * (1 + 1e-9), (x, t)
        mantissa = t.lstrip("-").split("e")[0].replace(".", "")
        assert 1 <= len(mantissa) <= 7 and mantissa[0] != "0", t
    assert format_floats(np.array([0.0, -0.0, 1.0, -2.5, 0.37, 1e-100, 1234567.4,
                                   float("nan"), float("inf"), -float("inf")])) == [
        "0", "0", "1e+00", "-2.5e+00", "3.7e-01", "1e-100", "1.234567e+06",
        "nan", "inf", "-inf"]


def test_group_names_with_commas_are_quoted(tmp_path):
    specs = [_input("in,put", (2,)),
             StoredLayer('fc "1"', "dense", ["in,put"], (2,), (1,),
                         kernel=np.ones((2, 1), np.float32))]
    graph = build_synapse_graph(specs, {"in,put": np.array([0.5, 0.25]), 'fc "1"': np.zeros(1)})
    graph.to_csv(tmp_path / "g.csv")
    rows = _read_csv(tmp_path / "g.csv")[1:]
    assert rows == [["in,put", "0", 'fc "1"', "0", "5e-01"],
                    ["in,put", "1", 'fc "1"', "0", "2.5e-01"]]


# --------------------------------------------------------------------------------------------
# pickle, CLI, networkx, summary


def test_pickle_round_trip_and_pickle_to_csv(tmp_path):
    rng = np.random.default_rng(13)
    specs, rates, _ = _concat_specs(rng)
    graph = build_synapse_graph(specs, rates)
    graph.to_pickle(tmp_path / "g.pkl")
    loaded = SynapseGraph.from_pickle(tmp_path / "g.pkl")
    assert loaded.group_names == graph.group_names
    assert loaded.summary() == graph.summary()
    for a, b in zip(graph.iter_chunks(), loaded.iter_chunks()):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    n = graph.to_csv(tmp_path / "direct.csv")
    assert pickle_to_csv(tmp_path / "g.pkl", tmp_path / "via_pickle.csv") == n
    assert (tmp_path / "direct.csv").read_bytes() == (tmp_path / "via_pickle.csv").read_bytes()

    from tfsnn.cli import main

    assert main(["graph-csv", str(tmp_path / "g.pkl"), str(tmp_path / "cli.csv")]) == 0
    assert (tmp_path / "cli.csv").read_bytes() == (tmp_path / "direct.csv").read_bytes()


def test_from_pickle_rejects_other_pickles(tmp_path):
    with open(tmp_path / "x.pkl", "wb") as f:
        pickle.dump({"some": "thing"}, f)
    with pytest.raises(ValueError, match="not a tfsnn synapse graph"):
        SynapseGraph.from_pickle(tmp_path / "x.pkl")


def test_networkx_graph(tmp_path):
    rng = np.random.default_rng(14)
    specs, rates, _ = _concat_specs(rng)
    graph = build_synapse_graph(specs, rates)
    g = graph.to_networkx()
    assert g.number_of_nodes() == sum(graph.summary()["neurons"].values()) == 4 * 5 * 5 + 9 * 2 + 3
    assert g.number_of_edges() == graph.num_synapses
    edges = _edge_dict(graph)
    (src, dst), value = next(iter(edges.items()))
    assert g.edges[src, dst]["edge"] == value
    assert g.nodes[("b", (1, 2, 0))]["rate"] == rates["b"][1, 2, 0]
    with pytest.raises(ValueError, match="max_edges"):
        graph.to_networkx(max_edges=10)


def test_summary_counts_are_arithmetic_and_match_edges():
    # the first conv layer of an ESCAPE-NET-sized network: counted without generating edges
    specs = [_input("in", (56, 100, 1)),
             StoredLayer("conv", "conv2d", ["in"], (56, 100, 1), (56, 100, 64),
                         kernel=np.zeros((5, 5, 1, 64), np.float32),
                         config={"padding": "same", "strides": (1, 1)})]
    graph = build_synapse_graph(specs, {"in": np.zeros((56, 100, 1)),
                                        "conv": np.zeros((56, 100, 64))})
    # rows: 56 * 5 kernel positions minus (2 + 1) * 2 out of bounds; columns likewise
    assert graph.num_synapses == (56 * 5 - 6) * (100 * 5 - 6) * 64 == 8_662_784
    summary = graph.summary()
    assert summary["pairs"] == {("in", "conv"): 8_662_784}
    assert summary["neurons"] == {"in": 5600, "conv": 358_400}
    text = str(graph)
    assert "8,662,784" in text and "total" in text and "in" in text


# --------------------------------------------------------------------------------------------
# synapse_graph(): rates from a simulation result


class _FakeSNN:
    def __init__(self, specs, counts, num_samples, timesteps):
        self.specs = specs
        self.calls = []
        self.result = SimpleNamespace(neuron_spike_counts=counts, num_samples=num_samples,
                                      timesteps=timesteps)

    def evaluate(self, x, y, timesteps=100, batch_size=256, input_mode="constant"):
        self.calls.append(dict(n=len(x), y=y, timesteps=timesteps, batch_size=batch_size,
                               input_mode=input_mode))
        return self.result


def test_synapse_graph_from_simulation_result():
    rng = np.random.default_rng(15)
    kernel = rng.normal(size=(6, 2)).astype(np.float32)
    specs = [LayerSpec("input", "input", [], (3, 2), (3, 2)),
             LayerSpec("flatten", "flatten", ["input"], (3, 2), (6,)),
             LayerSpec("dense", "dense", ["flatten"], (6,), (2,), kernel=kernel,
                       bias=np.zeros(2, np.float32), activation="softmax", is_output=True)]
    # no counts for the readout (it integrates without spiking); flatten counts are ignored
    counts = {"input": rng.integers(0, 80, (3, 2)), "flatten": rng.integers(0, 80, 6)}
    snn = _FakeSNN(specs, counts, num_samples=4, timesteps=20)
    graph = synapse_graph(snn, np.zeros((4, 3, 2)), timesteps=20, batch_size=2,
                          input_mode="poisson")
    assert snn.calls == [dict(n=4, y=None, timesteps=20, batch_size=2, input_mode="poisson")]
    np.testing.assert_allclose(graph.rates["input"], counts["input"] / 80)
    edges = _edge_dict(graph)
    assert edges[(("input", (2, 1)), ("dense", (1,)))] == pytest.approx(
        counts["input"][2, 1] / 80 * kernel[5, 1])

    again = synapse_graph(snn, result=snn.result)  # no second simulation
    assert len(snn.calls) == 1 and again.summary() == graph.summary()
    with pytest.raises(ValueError, match="needs data"):
        synapse_graph(snn)


# --------------------------------------------------------------------------------------------
# errors


def test_unknown_layer_kind_is_named():
    specs = [_input("in", (4,)), StoredLayer("lstm_1", "lstm", ["in"], (4,), (4,))]
    with pytest.raises(ValueError, match=r"'lstm_1'.*'lstm'.*supported kinds: input, dense"):
        build_synapse_graph(specs, {"in": np.zeros(4)})


def test_rates_with_wrong_shape_name_group_and_shapes():
    rng = np.random.default_rng(16)
    specs, rates, _ = _flatten_dense_specs(rng)
    rates["img"] = np.zeros((3, 2, 4))
    with pytest.raises(ValueError, match=r"'img'.*\(3, 2, 4\).*\(2, 3, 4\)"):
        build_synapse_graph(specs, rates)


def test_missing_and_unknown_rates():
    rng = np.random.default_rng(17)
    specs, rates, _ = _flatten_dense_specs(rng)
    with pytest.raises(ValueError, match=r"no firing rates for group\(s\) \['img'\]"):
        build_synapse_graph(specs, {"fc": rates["fc"]})
    with pytest.raises(ValueError, match="not in the network: .'other'"):
        build_synapse_graph(specs, {**rates, "other": np.zeros(1)})
    with pytest.raises(ValueError, match=r"without neurons.*\['flat'\]"):
        build_synapse_graph(specs, {**rates, "flat": np.zeros(24)})
    # a group without outgoing synapses (the readout) needs no rates
    graph = build_synapse_graph(specs, {"img": rates["img"]})
    assert graph.num_synapses == 24 * 5 and "fc" not in graph.rates
    assert graph.to_networkx().nodes[("fc", (0,))]["rate"] is None
    with pytest.raises(ValueError, match="'fc' contain NaN"):
        build_synapse_graph(specs, {**rates, "fc": np.full(5, np.nan)})


def test_bad_layer_geometry_errors():
    k = np.zeros((3, 3, 1, 2), np.float32)
    bad_shape = [_input("in", (5, 5, 1)),
                 StoredLayer("conv", "conv2d", ["in"], (5, 5, 1), (5, 5, 2), kernel=k,
                             config={"padding": "valid"})]
    with pytest.raises(ValueError, match=r"'conv'.*\(5, 5, 2\).*expected \(3, 3, 2\)"):
        build_synapse_graph(bad_shape, {"in": np.zeros((5, 5, 1)), "conv": np.zeros((5, 5, 2))})
    dense_3d = [_input("in", (2, 2, 1)),
                StoredLayer("fc", "dense", ["in"], (2, 2, 1), (3,), kernel=np.zeros((4, 3)))]
    with pytest.raises(ValueError, match="needs a Flatten"):
        build_synapse_graph(dense_3d, {"in": np.zeros((2, 2, 1)), "fc": np.zeros(3)})
    pad = [_input("in", (5, 5, 1)),
           StoredLayer("conv", "conv2d", ["in"], (5, 5, 1), (5, 5, 2), kernel=k,
                       config={"padding": "causal"})]
    with pytest.raises(ValueError, match="padding 'causal' is not supported"):
        build_synapse_graph(pad, {"in": np.zeros((5, 5, 1)), "conv": np.zeros((5, 5, 2))})
    rng = np.random.default_rng(18)
    specs, rates, _ = _flatten_dense_specs(rng)
    graph = build_synapse_graph(specs, rates)
    with pytest.raises(ValueError, match="chunk_size"):
        next(graph.iter_chunks(0))
