"""NIR export of the depthwise, separable and 1-D kinds: a numpy reference stepping the
exported graph (grouped Conv2d, Conv1d) gives tfsnn's very spikes; what NIR cannot express
raises. Dyadic weights and inputs: every sum is exact (see test_nir.py)."""

import warnings

import keras
import nir
import numpy as np
import pytest
from nir_reference import run_graph

import tfsnn
from tfsnn.interop import NIRError, to_nir

T = 13
L = keras.layers


def _exact(model, seed=0):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            div = [64 if w.ndim == 1 else 16 * 2 ** int(np.ceil(np.log2(np.prod(w.shape[:-1]))))
                   for w in ws]  # powers of two: dyadic weights
            layer.set_weights([rng.integers(-32, 40, w.shape).astype("float32") / d
                               for w, d in zip(ws, div)])
    return model


def _mobile():
    return _exact(keras.Sequential([
        keras.Input((7, 7, 2)),
        L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu",
                          name="dw"),
        L.SeparableConv2D(3, 3, strides=2, padding="same", activation="relu", name="sep"),
        L.Flatten(name="flatten"),
        L.Dense(4, name="out"),
    ]))


def _signal():
    return _exact(keras.Sequential([
        keras.Input((12, 2)),
        L.Conv1D(3, 3, padding="causal", activation="relu", name="c1"),
        L.AveragePooling1D(2, name="pool"),
        L.Conv1D(4, 4, strides=2, padding="same", activation="relu", name="c2"),
        L.Flatten(name="flatten"),
        L.Dense(3, name="out"),
    ]), seed=1)


def _images(shape, n=5, seed=0):
    return (np.random.default_rng(seed).integers(0, 17, (n,) + shape) / 16).astype("float32")


@pytest.mark.parametrize("net,layers", [(_mobile, ("dw", "sep")), (_signal, ("c1", "c2"))])
def test_reference_steps_exported_graph_like_tfsnn(net, layers, tmp_path):
    snn = tfsnn.convert(net(), normalization=None, v_init=0.5)
    if net is _signal:  # a per-channel scale on the pool: written into the grouped conv
        pool = next(s for s in snn.specs if s.name == "pool")
        pool.config["scale"] = np.array([0.5, 2.0, 1.0], "float32")
        snn = tfsnn.SpikingModel(snn.specs, "rate", v_init=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # v_init warning: tested in test_nir.py
        graph = to_nir(snn)
    x = _images(snn.input_shape)
    chw = np.moveaxis(x, -1, 1)
    ref = run_graph(graph, np.repeat(chw[None], T, axis=0))
    cells = snn.run_cells(x, T)
    for name in layers:
        mine = np.moveaxis(np.moveaxis(cells[name], 1, 0), -1, 2)  # (T, B, C, ...)
        assert mine.sum() > 0
        np.testing.assert_array_equal(ref[f"{name}_neurons"], mine, err_msg=name)
    scores = snn.simulate(x, T).scores
    np.testing.assert_array_equal(ref["output"][-1].astype("float32") / np.float32(T), scores)
    kinds = {n: type(v).__name__ for n, v in graph.nodes.items()}
    if net is _mobile:  # channel c feeds only its maps 2c, 2c + 1
        assert kinds["sep_depthwise"] == "Conv2d" and graph.nodes["dw"].weight.shape[:2] == (4, 2)
        assert not graph.nodes["dw"].weight[2:, 0].any() and not graph.nodes["dw"].weight[:2, 1].any()
    else:
        assert kinds["c1"] == kinds["pool"] == "Conv1d"
    path = tmp_path / "net.nir"  # the file reads back (NIR checks the types of all edges)
    nir.write(path, graph)
    assert set(nir.read(path).nodes) == set(graph.nodes)


def test_what_nir_cannot_express_raises():
    snn = tfsnn.convert(_exact(keras.Sequential([
        keras.Input((9, 1)), L.Conv1D(2, 3, activation="relu", name="c"),
        L.MaxPooling1D(2, name="mp"), L.Flatten(), L.Dense(2)])), normalization=None)
    with pytest.raises(NIRError, match=r"'mp' \(maxpool1d\).*AveragePooling1D"):
        to_nir(snn)
    snn = tfsnn.convert(_exact(keras.Sequential([
        keras.Input((9, 1)), L.Conv1D(2, 3, activation="relu", name="c"),
        L.AveragePooling1D(2, padding="same", name="ap"), L.Flatten(), L.Dense(2)])),
        normalization=None)
    with pytest.raises(NIRError, match=r"'ap' \(avgpool1d\).*'valid' padding"):
        to_nir(snn)
