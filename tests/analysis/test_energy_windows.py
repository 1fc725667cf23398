"""Energy counts of the depthwise, separable and 1-D kinds against brute force: the ANN's
operations and the SNN's per-neuron fan-outs are the nonzeros of the layers' maps computed
with all-ones kernels on one-hot inputs (``keras.ops``, independent of ``tfsnn.ir``'s
geometry), and the accumulates of a simulation are its spike counts times those fan-outs."""

import keras
import numpy as np
import pytest
from keras import ops

import tfsnn
from tfsnn.analysis.energy import ann_operations, energy_estimate, synaptic_fanout
from tfsnn.cells import synapse

L = keras.layers


def _ones_map(s):
    """The map of spec ``s`` with every weight 1 (no bias, scale 1)."""
    c = s.config
    if s.kind == "dense":
        return lambda x: synapse.dense(x, np.ones(s.kernel.shape, "float32"), None)
    if s.kind == "flatten":
        return lambda x: ops.reshape(x, (x.shape[0], -1))
    if s.row.pool == "avg":
        return lambda x: synapse.avgpool2d(x, c["pool_size"], c["strides"], c["padding"])
    if s.kind == "conv1d":
        return lambda x: synapse.conv1d(x, np.ones(s.kernel.shape, "float32"), None,
                                        c["strides"], c["padding"])
    if s.kind == "depthwise_conv2d":
        return lambda x: synapse.depthwise_conv2d(x, np.ones(s.kernel.shape, "float32"), None,
                                                  c["strides"], c["padding"])
    if s.kind == "separable_conv2d":
        return lambda x: synapse.separable_conv2d(
            x, np.ones(s.depthwise_kernel.shape, "float32"), np.ones(s.kernel.shape, "float32"),
            None, c["strides"], c["padding"])
    return lambda x: synapse.conv2d(x, np.ones(s.kernel.shape, "float32"), None,
                                    c["strides"], c["padding"])


def _nonzeros(fns, in_shape) -> np.ndarray:
    """Per input element: how many outputs of ``fns`` (composed) it reaches."""
    n = int(np.prod(in_shape))
    y = np.eye(n, dtype="float32").reshape((n,) + tuple(in_shape))
    for fn in fns:
        y = fn(ops.convert_to_tensor(y))
    y = ops.convert_to_numpy(y).reshape(n, -1)
    return (np.abs(y) > 0).sum(1).reshape(in_shape)


def _mobile():
    return keras.Sequential([
        keras.Input((7, 7, 2)),
        L.DepthwiseConv2D(3, depth_multiplier=2, strides=2, padding="same", activation="relu",
                          name="dw"),
        L.SeparableConv2D(3, 3, depth_multiplier=2, padding="same", activation="relu",
                          name="sep"),
        L.GlobalAveragePooling2D(name="gap"),
        L.Dense(3, name="out"),
    ])


def _signal():
    return keras.Sequential([
        keras.Input((12, 2)),
        L.Conv1D(3, 3, padding="causal", activation="relu", name="c1"),
        L.AveragePooling1D(2, strides=1, padding="same", name="avg"),
        L.Conv1D(2, 3, strides=2, padding="same", activation="relu", name="c2"),
        L.Flatten(name="flatten"),
        L.Dense(3, name="out"),
    ])


#: receiver -> (source, the specs between them, receiver last)
PATHS = {_mobile: {"dw": ("input_layer", ["dw"]), "sep": ("dw", ["sep"]),
                   "out": ("sep", ["gap_pool", "gap", "out"])},
         _signal: {"c1": ("input_layer", ["c1"]), "c2": ("c1", ["avg", "c2"]),
                   "out": ("c2", ["flatten", "out"])}}


@pytest.mark.parametrize("net", [_mobile, _signal])
def test_operations_and_fanouts_match_brute_force(net):
    keras.utils.set_random_seed(0)
    model = net()
    snn = tfsnn.convert(model, normalization=None)
    named = {s.name: s for s in snn.specs}
    inp = snn.specs[0].name
    ann = ann_operations(snn.specs)
    for s in snn.specs:
        if s.name not in ann:
            continue
        if s.kind == "separable_conv2d":  # depthwise MACs, then pointwise ones
            def dw(x, s=s):
                return ops.depthwise_conv(x, np.ones(s.depthwise_kernel.shape, "float32"),
                                          s.config["strides"], s.config["padding"])

            def pw(x, s=s):
                return ops.conv(x, np.ones(s.kernel.shape, "float32"))

            mid = tuple(s.output_shape[:2]) + (s.kernel.shape[2],)
            want = _nonzeros([dw], s.input_shape).sum() + _nonzeros([pw], mid).sum()
        else:
            want = _nonzeros([_ones_map(s)], s.input_shape).sum()
        got = ann[s.name]["macs"] + ann[s.name]["acs"]
        assert got == want, s.name
    fan = synaptic_fanout(snn.specs)
    for receiver, (src, path) in PATHS[net].items():
        src = inp if src == "input_layer" else src
        want = _nonzeros([_ones_map(named[n]) for n in path], named[src].output_shape)
        np.testing.assert_array_equal(fan[receiver][src], want, err_msg=receiver)


def test_accumulates_are_spike_counts_times_fanouts():
    keras.utils.set_random_seed(1)
    snn = tfsnn.convert(_signal(), normalization=None, v_init=0.5)
    x = np.random.default_rng(0).uniform(0, 1, (4, 12, 2)).astype("float32")
    res = snn.evaluate(x, timesteps=10, input_mode="poisson")
    e = energy_estimate(snn, res)
    counts = res.neuron_spike_counts
    fan = synaptic_fanout(snn.specs)
    assert counts["c1"].sum() > 0
    want = float((counts["c1"] * fan["c2"]["c1"]).sum()) / 4
    assert e["layers"]["c2"]["sources"]["c1"] == pytest.approx(want)
    inp = snn.specs[0].name
    assert e["layers"]["c1"]["snn_acs"] == pytest.approx(
        float((counts[inp] * fan["c1"][inp]).sum()) / 4)
