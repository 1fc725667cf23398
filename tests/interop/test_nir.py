"""NIR export and import (tfsnn.interop): round trips give the very same spikes, a numpy
reference stepping the exported graph agrees with tfsnn, and what NIR cannot express raises.

The networks have weights that are multiples of powers of two and inputs that are multiples
of 1/16 (as in tests/simulation/test_engine_paths.py), so every sum is exact in float32 and
float64 whatever the order: tfsnn and the reference must give identical spikes, ties included.
"""

import warnings

import keras
import nir
import numpy as np
import pytest
from nir_reference import run_graph

import tfsnn
from tfsnn.interop import NIRError, export_nir, import_nir, nir_export, to_nir
from tfsnn.ir import LayerSpec
from tfsnn.simulation import SpikingModel

T = 17


def _exact(model, seed=0):
    """Dyadic weights scaled down with the fan-in (most neurons neither silent nor
    saturated, so a wrong weight layout changes spikes) and dyadic biases."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            kernel, bias = ws
            div = 64 * 2 ** max(int(np.log2(np.prod(kernel.shape[:-1]))) - 2, 0)
            layer.set_weights([rng.integers(-32, 40, kernel.shape).astype("float32") / div,
                               rng.integers(-16, 24, bias.shape).astype("float32") / 64])
    return model


def _lenet(pool="avg"):
    """conv same -> avg pool -> conv valid -> conv stride 2 'same' (asymmetric padding) ->
    flatten -> dense -> dense."""
    pooling = (keras.layers.AveragePooling2D if pool == "avg" else keras.layers.MaxPooling2D)
    return _exact(keras.Sequential([
        keras.Input((12, 12, 1)),
        keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1"),
        pooling(2, name="pool1"),
        keras.layers.Conv2D(6, 3, padding="valid", activation="relu", name="conv2"),
        keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="conv3"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(12, activation="relu", name="fc1"),
        keras.layers.Dense(5, activation="softmax", name="out"),
    ]))


def _images(n=6, shape=(12, 12, 1), seed=0):
    return (np.random.default_rng(seed).integers(0, 17, (n,) + shape) / 16).astype("float32")


def _with_pool_scale(snn, scale=(0.5, 1.0, 1.5, 2.0), pool="pool1"):
    """The same SNN with a (dyadic) per-channel scale on ``pool``, rebuilt."""
    specs = [s.copy() for s in snn.specs]
    next(s for s in specs if s.name == pool).config["scale"] = np.array(scale, "float32")
    p = snn.params
    return SpikingModel(specs, "rate", p["threshold"], p["v_init"], p["tau"])


@pytest.fixture(scope="module")
def lenet_snn():
    snn = tfsnn.convert(_lenet(), normalization=None, v_init=0.5)
    return _with_pool_scale(snn)


def _run(snn, x):
    return snn.simulate(x, T, batch_size=len(x), record_spikes=len(x))


def _assert_same_run(a, b):
    assert set(a.spike_trains) == set(b.spike_trains)
    for name in a.spike_trains:
        np.testing.assert_array_equal(a.spike_trains[name], b.spike_trains[name],
                                      err_msg=name)
    np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(a.predictions_per_step, b.predictions_per_step)


def _export_read(snn, path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # v_init warning: tested on its own
        export_nir(snn, path, **kw)
    return nir.read(path)


# -- round trips ---------------------------------------------------------------------------

def test_round_trip_gives_identical_spikes_and_scores(lenet_snn, tmp_path):
    graph = _export_read(lenet_snn, tmp_path / "lenet.nir")
    types = {n: type(v).__name__ for n, v in graph.nodes.items()}
    assert types["conv1"] == "Conv2d" and types["conv1_neurons"] == "IF"
    assert types["pool1"] == "AvgPool2d" and types["pool1_scale"] == "Scale"
    assert types["fc1"] == "Affine" and types["out_neurons"] == "I"
    assert types["flatten"] == "Flatten" and types["output"] == "Output"
    back = import_nir(graph)
    assert [s.name for s in back.specs] == [s.name for s in lenet_snn.specs]
    assert back.params == lenet_snn.params
    x = _images()
    res = _run(lenet_snn, x)
    assert res.spike_counts["conv3"] > 0 and res.spike_counts["fc1"] > 0
    _assert_same_run(res, _run(back, x))


def test_round_trip_from_file_path(lenet_snn, tmp_path):
    path = tmp_path / "lenet.nir"
    _export_read(lenet_snn, path)
    x = _images(3)
    _assert_same_run(_run(lenet_snn, x), _run(import_nir(path), x))
    _assert_same_run(_run(lenet_snn, x), _run(import_nir(str(path)), x))


def test_asymmetric_same_padding_maps_exactly(lenet_snn, tmp_path):
    """conv3 (3x3, stride 2, 'same' on 4x4): TensorFlow pads 0 before, 1 after. NIR gets a
    4x4 kernel with a leading zero row/column and padding 1; the import strips it again."""
    graph = _export_read(lenet_snn, tmp_path / "lenet.nir")
    conv3 = graph.nodes["conv3"]
    assert conv3.weight.shape == (8, 6, 4, 4) and tuple(conv3.padding) == (1, 1)
    assert not conv3.weight[:, :, 0, :].any() and not conv3.weight[:, :, :, 0].any()
    back = {s.name: s for s in import_nir(graph).specs}["conv3"]
    orig = {s.name: s for s in lenet_snn.specs}["conv3"]
    assert back.config["padding"] == "same" and back.kernel.shape == (3, 3, 6, 8)
    np.testing.assert_array_equal(back.kernel, orig.kernel)


def test_round_trip_with_normalized_float_weights(tmp_path):
    """Data-normalized weights and biases (arbitrary floats)."""
    x = _images(8, seed=1)
    snn = tfsnn.convert(_lenet(), x, normalization="max")
    assert np.any(snn.specs[1].kernel * 64 % 1)
    back = import_nir(_export_read(snn, tmp_path / "norm.nir"))
    _assert_same_run(_run(snn, x), _run(back, x))


def test_lif_round_trip_and_discretisation(tmp_path):
    snn = tfsnn.convert(_lenet(), normalization=None, v_init=0.0, tau=4.0)
    graph = _export_read(snn, tmp_path / "lif.nir")
    lif = graph.nodes["conv1_neurons"]
    assert isinstance(lif, nir.LIF)
    # forward Euler with dt = 1: 1 - 1/tau_nir = exp(-1/4), gain r/tau_nir = 1
    np.testing.assert_allclose(1 - 1 / lif.tau, np.exp(-1 / 4.0), rtol=1e-12)
    np.testing.assert_allclose(lif.r / lif.tau, 1.0, rtol=1e-12)
    back = import_nir(graph)
    assert back.params["tau"] == pytest.approx(4.0, rel=1e-12)
    x = _images(4)
    res = _run(snn, x)
    _assert_same_run(res, _run(back, x))
    # the reference (float64, Euler form) agrees up to float rounding near the threshold
    ref = run_graph(graph, np.repeat(x.transpose(0, 3, 1, 2)[None], T, axis=0))
    mine = np.moveaxis(res.spike_trains["conv1"], -1, 2)  # (T, B, C, H, W)
    assert np.mean(ref["conv1_neurons"] != mine) < 1e-3


def test_fold_scales_writes_no_scale_nodes(lenet_snn, tmp_path):
    """Folding the (power-of-two) pool scales into conv2's weights is exact here."""
    snn = _with_pool_scale(lenet_snn, (0.5, 1.0, 2.0, 4.0))
    graph = _export_read(snn, tmp_path / "folded.nir", fold_scales=True)
    assert not any(isinstance(n, nir.Scale) for n in graph.nodes.values())
    x = _images(4)
    _assert_same_run(_run(snn, x), _run(import_nir(graph), x))


@pytest.mark.parametrize("head", ["pool_readout", "conv_readout"])
def test_global_average_pooling_heads(head, tmp_path):
    """ReLU conv -> GAP: the pool integrates (AvgPool2d -> I); linear conv -> GAP: the conv
    integrates (Conv2d -> I) and the pool and flatten act on the potentials."""
    act = "relu" if head == "pool_readout" else None
    ann = _exact(keras.Sequential([
        keras.Input((8, 8, 1)),  # GAP divides by 64: exact
        keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1"),
        keras.layers.Conv2D(3, 3, padding="same", activation=act, name="conv2"),
        keras.layers.GlobalAveragePooling2D(name="gap"),
        keras.layers.Activation("softmax", name="softmax")]), seed=4)
    snn = _with_pool_scale(tfsnn.convert(ann, normalization=None, v_init=0.0),
                           (0.5, 2.0, 1.0), pool="gap_pool")
    readout = "gap_pool" if head == "pool_readout" else "conv2"
    assert snn.readout.name == readout
    graph = _export_read(snn, tmp_path / "gap.nir")
    assert isinstance(graph.nodes[f"{readout}_neurons"], nir.I)
    assert isinstance(graph.nodes["gap_pool_scale"], nir.Scale)
    x = _images(4, (8, 8, 1))
    res = _run(snn, x)
    _assert_same_run(res, _run(import_nir(graph), x))
    _assert_matches_reference(snn, graph, x)


def test_public_names():
    assert tfsnn.to_nir is to_nir and tfsnn.export_nir is export_nir
    assert tfsnn.import_nir is import_nir


# -- the numpy reference ---------------------------------------------------------------------

def test_reference_steps_exported_graph_like_tfsnn(lenet_snn, tmp_path):
    graph = _export_read(lenet_snn, tmp_path / "lenet.nir")
    x = _images()
    ref = run_graph(graph, np.repeat(x.transpose(0, 3, 1, 2)[None], T, axis=0))
    cells = lenet_snn.run_cells(x, T)
    for name in ("conv1", "conv2", "conv3", "fc1"):
        mine = np.moveaxis(cells[name], 1, 0)  # (T, B, ...)
        if mine.ndim == 5:
            mine = np.moveaxis(mine, -1, 2)  # NHWC -> NCHW
        np.testing.assert_array_equal(ref[f"{name}_neurons"], mine, err_msg=name)
    res = _run(lenet_snn, x)
    np.testing.assert_array_equal(ref["output"][-1].astype("float32") / np.float32(T),
                                  res.scores)
    np.testing.assert_array_equal(ref["output"].argmax(-1), res.predictions_per_step)


def test_reference_reads_the_initial_potential(lenet_snn):
    """v_init = 0.5 lives in the metadata; without it the first spikes come later."""
    with pytest.warns(UserWarning, match="v_initial"):
        graph = to_nir(lenet_snn)
    assert graph.nodes["conv1_neurons"].metadata["v_initial"] == 0.5
    x = np.repeat(_images(2).transpose(0, 3, 1, 2)[None], 3, axis=0)
    with_v0 = run_graph(graph, x)["conv1_neurons"]
    for n in graph.nodes.values():
        n.metadata.pop("v_initial", None)
    assert with_v0.sum() > run_graph(graph, x)["conv1_neurons"].sum()


def test_no_v_init_warning_for_zero_initial_potential():
    snn = tfsnn.convert(_lenet(), normalization=None, v_init=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        graph = to_nir(snn)
    assert graph.nodes["conv1_neurons"].metadata["v_initial"] == 0.0


def test_residual_sum_becomes_edges_into_one_node(monkeypatch):
    """The generic part of a sum (``sum_fragment``, a sum without neurons; tfsnn's residual
    ``add`` has neurons, see test_nir_graph_layers): a layer that sums its inputs has no node;
    its consumer gets one edge per summand, and NIR adds them."""
    rng = np.random.default_rng(3)
    dense = [rng.integers(-24, 40, (4, 3)) / 64, rng.integers(-24, 40, (4, 3)) / 64,
             rng.integers(-24, 40, (3, 2)) / 64]
    specs = [LayerSpec("x", "input", [], (4,), (4,)),
             LayerSpec("a", "dense", ["x"], (4,), (3,), dense[0], np.zeros(3), "relu"),
             LayerSpec("b", "dense", ["x"], (4,), (3,), dense[1], np.full(3, 0.25), "relu"),
             LayerSpec("add", "add", ["a", "b"], (3,), (3,)),
             LayerSpec("out", "dense", ["add"], (3,), (2,), dense[2], np.zeros(2), "linear",
                       is_output=True)]
    monkeypatch.setitem(nir_export.HANDLERS, "add", nir_export.sum_fragment)
    graph = nir_export.build_graph(specs, "out", {"threshold": 1.0, "v_init": 0.0,
                                                  "tau": None})
    assert {("a_neurons", "out"), ("b_neurons", "out")} <= set(graph.edges)
    assert "add" not in graph.nodes
    x = np.repeat((rng.integers(0, 17, (5, 4)) / 16)[None], 6, axis=0)
    ref = run_graph(graph, x)
    summed = ref["a_neurons"] + ref["b_neurons"]
    np.testing.assert_array_equal(np.cumsum(summed @ dense[2], axis=0), ref["out_neurons"])


# -- what NIR cannot express -----------------------------------------------------------------

def test_max_pool_raises():
    snn = tfsnn.convert(_lenet(pool="max"), normalization=None)
    with pytest.raises(NIRError, match=r"'pool1' \(maxpool\).*AveragePooling2D"):
        to_nir(snn)


@pytest.mark.parametrize("encoding, extra", [("ttfs", {}), ("ttfs_dyn_thresh", {}),
                                             ("ttfs_clamped", {"clamp": 0.1})])
def test_ttfs_encodings_raise(encoding, extra):
    snn = tfsnn.convert(_lenet(), normalization=None, encoding=encoding, timesteps=40, **extra)
    with pytest.raises(NIRError, match=f"'{encoding}' encoding.*threshold"):
        to_nir(snn)


def test_concat_raises():
    inp = keras.Input((6, 6, 1), name="input")
    a = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="conv_a")(inp)
    c = keras.layers.Concatenate(name="cat")([inp, a])
    f = keras.layers.Flatten(name="flatten")(c)
    snn = tfsnn.convert(_exact(keras.Model(inp, keras.layers.Dense(4, name="out")(f))),
                        normalization=None)
    with pytest.raises(NIRError, match=r"'cat' \(concat\).*not a concatenation"):
        to_nir(snn)


def test_asymmetric_pool_padding_raises():
    ann = _exact(keras.Sequential([
        keras.Input((5, 5, 1)),
        keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="conv"),
        keras.layers.AveragePooling2D(2, padding="same", name="pool"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(3, name="out")]))
    with pytest.raises(NIRError, match=r"'pool' \(avgpool\).*one more zero after"):
        to_nir(tfsnn.convert(ann, normalization=None))


def test_padded_avg_pool_maps_to_sum_pool_and_scale(tmp_path):
    """A 3x3 stride-1 'same' pool: TensorFlow divides by the in-bounds count (4, 6 or 9)."""
    ann = _exact(keras.Sequential([
        keras.Input((6, 6, 1)),
        keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="conv"),
        keras.layers.AveragePooling2D(3, strides=1, padding="same", name="pool"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(4, name="out")]))
    snn = tfsnn.convert(ann, normalization=None, v_init=0.0)
    graph = _export_read(snn, tmp_path / "pool.nir")
    assert isinstance(graph.nodes["pool"], nir.SumPool2d)
    np.testing.assert_allclose(graph.nodes["pool_scale"].scale[0, :2, :2],
                               [[1 / 4, 1 / 6], [1 / 6, 1 / 9]], rtol=1e-7)
    x = _images(3, (6, 6, 1))
    res = _run(snn, x)
    _assert_same_run(res, _run(import_nir(graph), x))
    ref = run_graph(graph, np.repeat(x.transpose(0, 3, 1, 2)[None], T, axis=0))
    np.testing.assert_allclose(ref["output"][-1] / T, res.scores, rtol=1e-5, atol=1e-6)


def test_output_flattening_a_map_raises():
    ann = _exact(keras.Sequential([
        keras.Input((4, 4, 1)),
        keras.layers.Conv2D(2, 3, padding="same", name="conv"),
        keras.layers.Flatten(name="out")]))
    with pytest.raises(NIRError, match="reorder the classes"):
        to_nir(tfsnn.convert(ann, normalization=None))


def test_failed_export_leaves_the_old_file(tmp_path):
    path = tmp_path / "net.nir"
    path.write_bytes(b"old")
    with pytest.raises(NIRError, match="maxpool"):
        export_nir(tfsnn.convert(_lenet(pool="max"), normalization=None), path)
    assert path.read_bytes() == b"old"
    with pytest.raises(FileNotFoundError, match="no_such_dir"):
        export_nir(tfsnn.convert(_lenet(), normalization=None, v_init=0.0),
                   tmp_path / "no_such_dir" / "net.nir")


def test_export_rejects_what_is_not_an_snn(tmp_path):
    with pytest.raises(TypeError, match="SpikingModel"):
        to_nir(_lenet())


# -- importing graphs made elsewhere ---------------------------------------------------------

def _dyadic(shape, seed):
    return (np.random.default_rng(seed).integers(-24, 40, shape) / 64).astype("float32")


def _if(n, threshold=1.0, **meta):
    return nir.IF(r=np.ones(n), v_threshold=np.full(n, threshold), v_reset=np.zeros(n),
                  metadata=meta)


def _mlp_graph(hidden=None, readout=None, **extra_nodes):
    """Input(4) -> Affine -> IF(6) -> Affine -> I(3) -> Output, as another tool writes it."""
    nodes = {"in": nir.Input(np.array([4])),
             "fc": nir.Affine(_dyadic((6, 4), 1), _dyadic(6, 2)),
             "fc_if": hidden if hidden is not None else _if(6),
             "out": nir.Affine(_dyadic((3, 6), 3), _dyadic(3, 4)),
             "out_i": readout if readout is not None else nir.I(r=np.ones(3)),
             "o": nir.Output(np.array([3]))}
    names = list(nodes)
    return nir.NIRGraph(nodes={**nodes, **extra_nodes},
                        edges=list(zip(names[:-1], names[1:])), type_check=not extra_nodes)


def _assert_matches_reference(snn, graph, x):
    ref = run_graph(graph, np.repeat(np.moveaxis(x, -1, 1)[None] if x.ndim == 4 else x[None],
                                     T, axis=0))
    res = _run(snn, x)
    out = next(n for n, v in graph.nodes.items() if isinstance(v, nir.Output))
    np.testing.assert_array_equal(ref[out].argmax(-1), res.predictions_per_step)
    np.testing.assert_array_equal(ref[out][-1].astype("float32") / np.float32(T), res.scores)
    return res


def test_import_needs_the_reset_convention():
    graph = _mlp_graph()
    with pytest.raises(NIRError, match=r"'fc_if' \(IF\) resets .*reset='subtract'"):
        import_nir(graph)
    snn = import_nir(graph, reset="subtract")
    res = _assert_matches_reference(snn, graph, _images(5, (4,)))
    assert res.spike_counts["fc"] > 0


def test_import_sinabs_like_conv_net_with_sum_pool():
    """Conv2d -> IF -> SumPool2d (no Scale) -> Flatten -> Affine -> I: the sum pool becomes
    an average pool with scale 4; spikes and scores match the reference."""
    nodes = {"in": nir.Input(np.array([1, 6, 6])),
             "conv": nir.Conv2d((6, 6), _dyadic((3, 1, 3, 3), 5), 1, 1, 1, 1, _dyadic(3, 6)),
             "conv_if": _if((3, 6, 6)),
             "pool": nir.SumPool2d(np.array([2, 2]), np.array([2, 2]), np.array([0, 0])),
             "flat": nir.Flatten(np.array([3, 3, 3]), start_dim=0),
             "fc": nir.Affine(_dyadic((4, 27), 7), _dyadic(4, 8)),
             "fc_i": nir.I(r=np.ones(4)), "out": nir.Output(np.array([4]))}
    names = list(nodes)
    graph = nir.NIRGraph(nodes=nodes, edges=list(zip(names[:-1], names[1:])))
    snn = import_nir(graph, reset="subtract")
    pool = next(s for s in snn.specs if s.name == "pool")
    np.testing.assert_array_equal(pool.config["scale"], [4, 4, 4])
    assert next(s for s in snn.specs if s.name == "conv").config["padding"] == "same"
    _assert_matches_reference(snn, graph, _images(4, (6, 6, 1)))


def test_import_snntorch_like_lif_with_its_time_step():
    """snnTorch writes LIF with tau = dt / (1 - beta), r = tau / dt for dt = 1e-4."""
    beta, dt = 0.875, 1e-4
    tau = np.full(6, dt / (1 - beta))
    lif = nir.LIF(tau=tau, r=tau / dt, v_leak=np.zeros(6), v_threshold=np.ones(6))
    with pytest.raises(NIRError, match=r"'fc_if'.*gain dt \* r / tau"):
        import_nir(_mlp_graph(lif), reset="subtract")
    snn = import_nir(_mlp_graph(lif), reset="subtract", dt=dt)
    assert np.exp(-1 / snn.params["tau"]) == pytest.approx(beta, rel=1e-9)


@pytest.mark.parametrize("node, match", [
    (nir.CubaLIF(tau_syn=np.ones(6) * 4, tau_mem=np.ones(6) * 4, r=np.ones(6) * 4,
                 v_leak=np.zeros(6), v_threshold=np.ones(6)), r"'fc_if' \(CubaLIF\) is not"),
    (nir.Threshold(threshold=np.ones(6)), r"'fc_if' \(Threshold\).*bare threshold"),
    (nir.Delay(delay=np.ones(6)), r"'fc_if' \(Delay\) is not supported"),
])
def test_import_names_unsupported_nodes(node, match):
    with pytest.raises(NIRError, match=match):
        import_nir(_mlp_graph(node), reset="subtract")


def test_import_rejects_a_leaky_readout():
    li = nir.LI(tau=np.full(3, 4.0), r=np.full(3, 4.0), v_leak=np.zeros(3))
    with pytest.raises(NIRError, match=r"'out_i' \(LI\).*leaky readout.*use I"):
        import_nir(_mlp_graph(readout=li), reset="subtract")


def test_import_rejects_a_sum_of_edges():
    graph = _mlp_graph()
    graph.nodes["fc2"] = nir.Affine(_dyadic((6, 4), 9), np.zeros(6, "float32"))
    graph.nodes["fc2_if"] = _if(6)
    graph.edges += [("in", "fc2"), ("fc2", "fc2_if"), ("fc2_if", "out")]
    with pytest.raises(NIRError, match=r"'out' \(Affine\) has 2 edges.*importing such sums"):
        import_nir(graph, reset="subtract")


def test_import_rejects_differing_thresholds():
    graph = _mlp_graph()
    graph.nodes["fc2"] = nir.Affine(_dyadic((6, 6), 9), np.zeros(6, "float32"))
    graph.nodes["fc2_if"] = _if(6, threshold=2.0)
    graph.edges.remove(("fc_if", "out"))
    graph.edges += [("fc_if", "fc2"), ("fc2", "fc2_if"), ("fc2_if", "out")]
    with pytest.raises(NIRError, match="differ in threshold"):
        import_nir(graph, reset="subtract")


def test_import_rejects_a_cycle():
    graph = _mlp_graph()
    graph.edges.append(("fc_if", "fc_if"))
    with pytest.raises(NIRError, match="cycle through"):
        import_nir(graph, reset="subtract")


def test_import_rejects_a_partial_flatten():
    graph = _mlp_graph()
    nodes = {"in": nir.Input(np.array([2, 2, 2])),
             "flat": nir.Flatten(np.array([2, 2, 2]), start_dim=1),
             "o": nir.Output(np.array([2, 4]))}
    graph = nir.NIRGraph(nodes=nodes, edges=[("in", "flat"), ("flat", "o")])
    with pytest.raises(NIRError, match=r"'flat' \(Flatten\).*start_dim 0, end_dim -1"):
        import_nir(graph)


def test_import_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.nir"):
        import_nir(tmp_path / "missing.nir")
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"not an HDF5 file")
    with pytest.raises(NIRError, match="cannot read a NIR graph from .*bad.nir"):
        import_nir(bad)
    with pytest.raises(TypeError, match="NIRGraph or a file path"):
        import_nir(42)
    with pytest.raises(ValueError, match="reset must be"):
        import_nir(_mlp_graph(), reset="zero")
