"""The properties a converted rate-coded SNN must have, as assertions.

``check_rates`` (the SNN against its ANN) proves, layer by layer, a bound on each layer's
spike count from what its inputs did. Notation, per sample: ``a`` the ANN value of a neuron
after normalization and with every hidden layer clipped to [0, 1] (``fuzz_nets.reference``
over lambda: an ideal rate-coded SNN's rate), ``N(t)`` the SNN's output summed over steps
1..t, and ``dev(t) = N(t) - t a``. The input's discrepancy is measured from the simulation:

    D  = max_t dev(t) - min_t dev(t)   (any window (t1, t2]: |dN - dt a| <= D)
    D0 = max_t |dev(t)|                (windows from 0: |N(t) - t a| <= D0)

An IF neuron (theta = 1, reset by subtraction, no leak, ``V_0 = v0`` in [0, 1)) with input
current ``I_t = W s_t + b`` and nominal current ``z = W a_in + b``, where each window sum of
the current is ``dt z`` within ``E = |W| D_in`` (``E0 = |W| D0_in`` from 0), has
``N_T = V_0 + sum I_t - V_T`` exactly and:

- ``0 <= z <= 1``: the potential stays in ``[-E, 1 + E)`` (below 0 only after a silent run
  whose current sum is ``>= -E``; at or above 1 only after a run of spikes every step), so
  ``|N_T - T z| <= max(v0, 1 - v0) + E + E0``;
- ``z > 1``: each silent step leaves ``V < 1``, so the steps without a spike number at most
  ``1 - v0 + E0``; ``z < 0``: each spike leaves ``V >= 0``, so there are at most ``v0 + E0``.

So ``|N_T - T clip(z, 0, 1)| <= max(v0, 1 - v0) + E + E0``: for the first layer under constant
input (``E = E0 = 0``) that is ``max(v0, 1 - v0) / T`` in rate (1/2T at ``v0 = 1/2``, 1/T
at ``v0 = 0``), the documented bound. Deeper layers get the slack their inputs' measured
deviations allow, so an error in one layer fails that layer's check, not the next one's.

Max pooling passes the running maximum of its inputs' counts, ``N(t) = max_j N_j(t)``, so
``|N_T - T max_j a_j| <= max_j D0_j``. A residual sum's neurons are IF neurons whose
current is ``sum_i scale_i x_i`` (its ``E`` takes ``|scale|``, and a branch input's measured
current deviation). Linear layers (average pooling, flatten, concat, padding, cropping,
reshape, a branch of weights into a residual sum) give
``|W| D0_in``. The readout integrates without spiking from ``V_0 = 0``: ``|V_T - T z| <= E0``,
and the layers after it carry that bound through their (non-negative) linear maps.
``tol`` absorbs float rounding (none at all for the exact networks of ``fuzz_nets``).
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from keras import ops

import tfsnn
from tfsnn.cells import synapse
from tfsnn.ir import post_readout
from tfsnn.ir.kernels import composed_kernel
from tfsnn.simulation import FastPathOptions, engine


def expected(snn, rec: dict) -> dict:
    """Per spec, the normalized clip-propagated ANN value ``(B,) + output_shape``: the Keras
    output of the spec's last source layer (``rec`` from ``fuzz_nets.reference``) over its
    lambda (the readout: its pre-softmax value)."""
    out = {}
    for s in snn.specs:
        v = np.asarray(rec[s.source_layers[-1]], np.float64)
        lam = np.asarray(s.config.get("lambda", 1.0), np.float64)
        out[s.name] = v.reshape((len(v),) + tuple(s.output_shape)) / lam
    return out


def discrepancy(seq: np.ndarray, a: np.ndarray):
    """``(D, D0)`` of the per-step outputs ``seq`` (B, T, ...) against the rates ``a``."""
    t = np.arange(seq.shape[1] + 1).reshape((1, -1) + (1,) * (a.ndim - 1))
    cum = np.concatenate([np.zeros_like(seq[:, :1]), np.cumsum(seq, axis=1)], axis=1)
    dev = cum - t * a[:, None]
    return dev.max(1) - dev.min(1), np.abs(dev).max(1)


def abs_map(s, arrays: list) -> np.ndarray:
    """The layer's synaptic map with absolute weights applied to non-negative ``arrays``
    (no bias): a bound on how far its output moves when its inputs move that far."""
    f32 = [ops.convert_to_tensor(np.asarray(a, np.float32)) for a in arrays]
    c = s.config
    if s.kind == "dense":
        y = ops.matmul(f32[0], np.abs(s.kernel))
    elif s.kind == "conv2d":
        y = ops.conv(f32[0], np.abs(s.kernel), strides=tuple(c["strides"]),
                     padding=c["padding"])
    elif s.kind == "conv1d":
        y = synapse.conv1d(f32[0], np.abs(s.kernel), None, c["strides"], c["padding"])
    elif s.kind == "depthwise_conv2d":
        y = synapse.depthwise_conv2d(f32[0], np.abs(s.kernel), None, c["strides"],
                                     c["padding"])
    elif s.kind == "separable_conv2d":  # the composed kernel's absolute values
        y = synapse.conv2d(f32[0], np.abs(composed_kernel(s)), None, c["strides"],
                           c["padding"])
    elif s.row.pool == "avg":
        y = ops.average_pool(f32[0], tuple(c["pool_size"]), tuple(c["strides"]),
                             c["padding"])
        y = ops.multiply(y, np.abs(np.asarray(c.get("scale", 1.0), np.float32)))
    elif s.row.pool == "max":
        y = ops.max_pool(f32[0], tuple(c["pool_size"]), tuple(c["strides"]), c["padding"])
    elif s.kind == "flatten":
        y = ops.reshape(f32[0], (f32[0].shape[0], -1))
    elif s.kind == "add":  # identity inputs times |scale|, branch currents as they are
        scales = np.abs(np.asarray(c["scales"], np.float32))
        y = synapse.add(ops.stack(f32, axis=-1), scales)
    elif s.kind == "zeropad":
        y = synapse.zero_pad2d(f32[0], c["padding"])
    elif s.kind == "crop":
        y = synapse.crop2d(f32[0], c["cropping"])
    elif s.kind == "reshape":
        y = ops.reshape(f32[0], (f32[0].shape[0],) + tuple(s.output_shape))
    elif s.kind == "concat":
        y = ops.concatenate(f32, axis=-1)
    else:
        raise ValueError(f"no bound for kind {s.kind!r}")
    return np.asarray(ops.convert_to_numpy(y), np.float64)


def check_weights(snn, exp: dict, tol: float):
    """The converted weights reproduce the ANN: each layer's current on the ideal input
    rates is the normalized pre-activation (clipped to [0, 1] for hidden layers)."""
    for s in snn.specs:
        if not s.row.weights:
            continue
        z = snn.cells[s.name].synapse(np.asarray(exp[s.inputs[0]], np.float32))
        z = np.asarray(ops.convert_to_numpy(z), np.float64)
        if s is not snn.readout and not s.is_branch:  # a branch's current is not clipped
            z = np.clip(z, 0.0, 1.0)
        err = np.abs(z - exp[s.name])
        assert err.max() <= tol * (1 + np.abs(exp[s.name]).max()), (
            f"{s.name}: converted weights give {z.ravel()[err.argmax()]}, the ANN "
            f"{exp[s.name].ravel()[err.argmax()]} (error {err.max():.3g})")


def check_rates(snn, outs: dict, exp: dict, timesteps: int, v0: float, tol: float) -> dict:
    """Every layer's spike count after ``timesteps`` steps of constant input within the
    bound of the module docstring of its ideal value; returns the worst error / bound."""
    T, ro, specs = timesteps, snn.readout, snn.specs
    after = set(post_readout(specs))
    zero = np.zeros_like(exp[specs[0].name])
    dev = {specs[0].name: (zero, zero)}  # constant input: no deviation at all
    bound, worst = {}, {}
    for s in specs[1:]:
        seq = np.asarray(outs[s.name], np.float64)
        if s.name in after:
            total, b = seq[:, -1], abs_map(s, [bound[i] for i in s.inputs])
        elif s is ro:
            total, b = seq[:, -1], abs_map(s, [dev[i][1] for i in s.inputs])
        else:
            total = seq.sum(1)
            d0_in = [dev[i][1] for i in s.inputs]
            if (s.row.weights and not s.is_branch) or s.row.sums:  # IF neurons
                b = (max(v0, 1 - v0) + abs_map(s, [dev[i][0] for i in s.inputs])
                     + abs_map(s, d0_in))
            else:  # max pooling (the max of the deviations) or a linear map
                b = abs_map(s, d0_in)
            dev[s.name] = discrepancy(seq, exp[s.name])
        bound[s.name] = b
        err = np.abs(total - T * exp[s.name])
        excess = err - b - tol * (1 + np.abs(T * exp[s.name]))
        i = int(np.argmax(excess))
        assert excess.flat[i] <= 0, (
            f"layer {s.name!r} ({s.kind}): count {total.flat[i]:.6g} vs T x ANN "
            f"{T * exp[s.name].flat[i]:.6g} at flat index {i}: error {err.flat[i]:.4g} > "
            f"bound {b.flat[i]:.4g}")
        worst[s.name] = float(np.max(err / np.maximum(b, 1e-9)))
    return worst


def spiking_layers(snn) -> set:
    """Layers whose spikes the engine counts: hidden neuron layers and max pooling."""
    return {s.name for s in snn.specs[1:]
            if s is not snn.readout and s.name not in post_readout(snn.specs)
            and ((s.row.weights and not s.is_branch) or s.row.sums
                 or s.row.pool == "max")}


def check_paths(snn, x, timesteps, outs, batch_size, input_mode="constant", seed=0,
                labels=None):
    """The engine (with ``snn.fast_path``) gives the spikes of the cell path ``outs``; with
    ``labels`` it runs as ``evaluate`` and scores every step like the cell path's readout."""
    T = timesteps
    res = snn.evaluate(x, labels, T, batch_size=batch_size, input_mode=input_mode, seed=seed,
                       record_spikes=len(x), return_counts=True, return_predictions=True)
    names = set(res.spike_trains) - {snn.input_spec.name}
    assert names == spiking_layers(snn), (names, spiking_layers(snn))
    n_rec = min(len(x), batch_size)
    for name in names:
        trains = np.moveaxis(outs[name], 1, 0)  # (T, B, ...)
        np.testing.assert_array_equal(res.spike_trains[name], trains[:, :n_rec],
                                      err_msg=f"spike trains of {name}")
        np.testing.assert_array_equal(res.sample_counts[name], trains.sum(0),
                                      err_msg=f"spike counts of {name}")
        np.testing.assert_array_equal(res.layer_stats[name].step_counts,
                                      trains.reshape(T, -1).sum(1),
                                      err_msg=f"step totals of {name}")
    out = outs[snn.output.name].reshape(len(x), T, -1)
    np.testing.assert_array_equal(res.scores, out[:, -1] / T, err_msg="scores")
    np.testing.assert_array_equal(res.predictions_per_step, out.argmax(-1).T,
                                  err_msg="predictions per step")
    if labels is not None:
        np.testing.assert_allclose(res.accuracy_per_step,
                                   (out.argmax(-1) == labels[:, None]).mean(0), rtol=1e-12,
                                   err_msg="accuracy per step")
    return res


@contextmanager
def max_unroll(steps):
    """Chunks longer than ``steps`` loop over their steps instead of being traced unrolled
    (None: the engine's default)."""
    old = engine.MAX_UNROLL
    engine.MAX_UNROLL = old if steps is None else steps
    try:
        yield
    finally:
        engine.MAX_UNROLL = old


def _same_results(a, b):
    np.testing.assert_array_equal(a.scores, b.scores, err_msg="scores")
    np.testing.assert_array_equal(a.predictions_per_step, b.predictions_per_step)
    for what in ("sample_counts", "spike_trains"):
        da, db = getattr(a, what), getattr(b, what)
        assert set(da) == set(db), (what, set(da), set(db))
        for name in da:
            np.testing.assert_array_equal(da[name], db[name], err_msg=f"{what} of {name}")


def check_save_load(snn, x, timesteps, outs):
    """``snn.save`` and ``tfsnn.load_snn`` give an SNN with the same outputs on the cell
    path (``outs``: ``snn.run_cells(x, timesteps)``) and the same scores, spike counts and
    trains from the engine (one looped chunk: quick to compile)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "snn.keras"
        snn.save(path)
        loaded = tfsnn.load_snn(path)
    again = loaded.run_cells(x, timesteps)
    assert set(again) == set(outs)
    for name, v in outs.items():
        np.testing.assert_array_equal(again[name], v, err_msg=f"cell path of {name}")
    opts = snn.fast_path
    try:
        with max_unroll(0):
            res = []
            for m in (snn, loaded):
                m.fast_path = FastPathOptions(fold=True, chunk=timesteps)
                res.append(m.simulate(x, timesteps, record_spikes=len(x), return_counts=True))
    finally:
        snn.fast_path = opts
    _same_results(*res)
