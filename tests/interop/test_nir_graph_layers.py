"""NIR export of the graph layers: a residual sum's neurons take one edge per input (a
branch's conv, an identity shortcut through a Scale), checked by stepping the exported graph
with the numpy reference; zero padding, cropping and reshapes raise ``NIRError``."""

import warnings

import keras
import numpy as np
import pytest
from nir_reference import run_graph

import tfsnn
from tfsnn.interop import NIRError, import_nir, to_nir
from tfsnn.simulation import SpikingModel

T = 9


def _residual_snn():
    """conv -> [conv (branch), identity with scale 0.5] -> Add + ReLU -> [1x1 projection
    (branch) + dense branch...] -> GAP -> Dense; dyadic weights, no normalization."""
    L = keras.layers
    inp = keras.Input((6, 6, 1))
    x = L.Conv2D(3, 3, padding="same", activation="relu", name="c1")(inp)
    y = L.Conv2D(3, 3, padding="same", name="branch")(x)
    s = L.ReLU(name="s_relu")(L.Add(name="s")([y, x]))
    p = L.Conv2D(4, 1, strides=2, name="proj")(s)
    q = L.Conv2D(4, 3, strides=2, padding="same", name="main")(s)
    s2 = L.Activation("relu", name="s2_act")(L.Add(name="s2")([q, p]))
    out = L.Dense(3, name="out")(L.GlobalAveragePooling2D(name="gap")(s2))
    model = keras.Model(inp, out)
    rng = np.random.default_rng(0)
    model.set_weights([rng.integers(-24, 40, w.shape).astype("float32") / 64
                       for w in model.get_weights()])
    snn = tfsnn.convert(model, normalization=None, v_init=0.5)
    specs = [s.copy() for s in snn.specs]
    add = next(s for s in specs if s.name == "s")
    add.config["scales"] = np.stack([np.ones(3), [0.5, 1.0, 2.0]], -1).astype("float32")
    p = snn.params
    return SpikingModel(specs, "rate", p["threshold"], p["v_init"], p["tau"])


def test_residual_sums_export_as_edges_into_their_neurons():
    snn = _residual_snn()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the v_init note
        graph = to_nir(snn)
    edges = set(graph.edges)
    assert {("branch", "s_neurons"), ("s_scale1", "s_neurons"), ("c1_neurons", "s_scale1"),
            ("main", "s2_neurons"), ("proj", "s2_neurons")} <= edges
    assert "branch_neurons" not in graph.nodes and "proj_neurons" not in graph.nodes
    x = (np.random.default_rng(1).integers(0, 17, (3, 6, 6, 1)) / 16).astype("float32")
    ref = run_graph(graph, np.repeat(x.transpose(0, 3, 1, 2)[None], T, axis=0))
    cells = snn.run_cells(x, T)
    for name in ("c1", "s", "s2"):
        mine = np.moveaxis(np.moveaxis(cells[name], 1, 0), -1, 2)  # (T, B, C, H, W)
        np.testing.assert_array_equal(ref[f"{name}_neurons"], mine, err_msg=name)
        assert mine.sum() > 0
    with pytest.raises(NIRError, match="'branch'.*exactly one neuron node"):
        import_nir(graph)


@pytest.mark.parametrize("layer", [keras.layers.ZeroPadding2D(1, name="pad"),
                                   keras.layers.Cropping2D(1, name="crop"),
                                   keras.layers.Reshape((16, 2), name="rs")])
def test_padding_cropping_reshape_raise(layer):
    model = keras.Sequential([keras.Input((4, 4, 2)), layer, keras.layers.Flatten(),
                              keras.layers.Dense(2, name="out")])
    snn = tfsnn.convert(model, normalization=None)
    with pytest.raises(NIRError, match=f"'{layer.name}'.*NIR has no node"):
        to_nir(snn)
