"""Data-based weight normalization (Diehl et al. 2015; Rueckauer et al. 2017).

Per layer l a scale ``lambda_l`` (a scalar, or one value per channel with ``channelwise``) is
taken from the ANN activations on a normalization set, and

    W_l <- W_l * lambda_{l-1} / lambda_l,        b_l <- b_l / lambda_l

so that the normalized activations ``a_l / lambda_l`` fit the spike rate range [0, 1].

Modes:

- ``"max"``: ``lambda`` = the maximum activation.
- ``"percentile"``: ``lambda`` = the p-th percentile (default 99.9) of the positive
  activations; robust to outliers (a few neurons saturate instead of all firing slowly).
- ``"scale"``: user scales, one float for all layers or a dict ``{layer name: lambda}``
  (a float or one per channel; layers left out keep ``lambda = 1``; every value must be a
  finite number > 0 and every name a layer with neurons).
- ``None``: no normalization (``lambda = 1``).

Statistics stream over the normalization set in batches: pass 1 takes the per-channel maxima,
pass 2 (percentile only) fills per-channel histograms of ``NUM_BINS`` bins on ``[0, max]``;
percentiles are interpolated inside a bin, exact to ``max / NUM_BINS``. Memory is bounded by
one batch of activations plus the histograms, independent of the size of the set.
Input images are in [0, 1], so the input scale is 1. Pooling layers have no neurons of their
own and keep the scale of their input. The readout layer is not normalized
(``lambda = 1``), so its integrated current estimates the ANN's output.

A quantized ReLU (``"qcfs"``, ``tfsnn.quantization``) takes ``lambda`` = its clip value in
every mode (Bu et al., ICLR 2022: threshold = the learned clip); it needs no data.

A ReLU with ``max_value`` (ReLU6) gets ``lambda = min(lambda, max_value)`` in every mode: an
IF neuron fires at most once per step, so its rate, in units of ``lambda``, is capped at
exactly ``max_value`` when ``lambda = max_value`` (and at ``lambda`` below that).

Residual sums (``add``) take a common scale ``lambda_add`` from their own (ReLU) outputs;
each input's contribution is rescaled to it: a branch (conv + BN without ReLU) gets
``lambda = lambda_add``, i.e. ``W <- W * lambda_in / lambda_add``, ``b <- b / lambda_add``;
an identity input (spikes of a group) the per-channel scale ``lambda_in / lambda_add``
(``config["scales"]``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from keras import ops

from tfsnn.backend import jit
from tfsnn.checks import check_number
from tfsnn.conversion.errors import ConversionError
from tfsnn.conversion.forward import analog_forward
from tfsnn.ir import LayerSpec, readout_spec
from tfsnn.ir.kernels import scale_kernels

NUM_BINS = 4096
MODES = ("max", "percentile", "scale", None)


def stat_layers(specs):
    """Layers with spiking neurons (average pooling is linear and keeps its input's scale;
    a branch into a residual sum takes the sum's scale)."""
    ro = readout_spec(specs)
    return [s.name for s in specs if s.row.activates and not s.is_branch and s is not ro]


def _cap(specs, stats: dict) -> dict:
    """``lambda = min(lambda, max_value)`` for the capped ReLUs (see module docstring)."""
    caps = {s.name: float(s.config["max_value"]) for s in specs if "max_value" in s.config}
    return {n: np.minimum(v, caps[n]) if n in caps else v for n, v in stats.items()}


def _batches(x, batch_size):
    for i in range(0, len(x), batch_size):
        yield x[i:i + batch_size]


def compute_scales(specs, x_norm, mode="percentile", percentile=99.9, channelwise=False,
                   scale=None, batch_size=256, progress=False) -> dict[str, np.ndarray]:
    """Per-layer output scales ``lambda`` (one value per output channel), see module doc."""
    check_normalization(mode, percentile, scale)
    chans = {s.name: s.output_shape[-1] for s in specs}
    clips = {s.name: np.full(chans[s.name], s.config["clip"], np.float64) for s in specs
             if s.activation == "qcfs"}  # quantized ReLUs: lambda = the clip value
    names = [n for n in stat_layers(specs) if n not in clips]
    stats: dict[str, np.ndarray] = {}
    if mode is None:
        stats = {n: np.ones(chans[n], np.float32) for n in names}
    elif mode == "scale":
        stats = _user_scales(names, chans, scale)
    elif names:
        if x_norm is None or len(x_norm) == 0:
            raise ValueError(f"normalization {mode!r} needs a non-empty normalization set")
        fwd = jit(lambda xb: analog_forward(specs, xb, names))
        maxima = {n: np.zeros(chans[n], np.float64) for n in names}
        for xb in _progress(_batches(x_norm, batch_size), len(x_norm), batch_size, progress,
                            "normalization (max)"):
            acts = fwd(ops.convert_to_tensor(xb))
            for n in names:
                a = ops.convert_to_numpy(acts[n]).reshape(-1, chans[n])
                maxima[n] = np.maximum(maxima[n], a.max(axis=0))
        if mode == "max":
            stats = {n: maxima[n] if channelwise else np.full(chans[n], maxima[n].max())
                     for n in names}
        else:
            hist = {n: np.zeros((chans[n], NUM_BINS), np.int64) for n in names}
            for xb in _progress(_batches(x_norm, batch_size), len(x_norm), batch_size, progress,
                                "normalization (percentile)"):
                acts = fwd(ops.convert_to_tensor(xb))
                for n in names:
                    a = ops.convert_to_numpy(acts[n]).reshape(-1, chans[n])
                    _accumulate_histogram(hist[n], a, maxima[n].max())
            stats = {}
            for n in names:
                top = maxima[n].max()
                if channelwise:
                    stats[n] = np.array([_hist_percentile(h, top, percentile, m)
                                         for h, m in zip(hist[n], maxima[n])])
                else:
                    stats[n] = np.full(chans[n], _hist_percentile(hist[n].sum(0), top,
                                                                  percentile, top))
    # a layer that never activates keeps lambda = 1 (its weights stay as they are)
    stats = {n: np.where(v > 0, v, 1.0) for n, v in {**stats, **clips}.items()}
    return {n: v.astype(np.float32) for n, v in _cap(specs, stats).items()}


def _progress(it, n, batch_size, show, title):
    if not show:
        return it
    import keras

    bar = keras.utils.Progbar(n, unit_name="images")
    print(title)

    def gen():
        for xb in it:
            yield xb
            bar.add(len(xb))
    return gen()


def check_normalization(mode, percentile=99.9, scale=None) -> None:
    """Raise a ValueError naming the argument for a bad normalization setting: an unknown
    mode, a ``percentile`` outside (0, 100] or not a number, a bad ``scale``."""
    if mode not in MODES:
        raise ValueError(f"normalization: unknown normalization {mode!r}; supported: "
                         f"{list(MODES)}")
    if mode == "percentile":
        check_number(percentile, "percentile", positive=True, high=100.0)
    if mode == "scale":
        check_scale(scale)


def check_scale(scale):
    """A user scale: one number > 0, or ``{layer name: number > 0 or one per channel}``."""
    if scale is None:
        raise ValueError("scale: normalization='scale' needs scale=<float> or "
                         "{layer name: float}")
    if isinstance(scale, Mapping):
        return {name: _layer_scale(name, v) for name, v in scale.items()}
    return check_number(scale, "scale", positive=True)


def _layer_scale(name, value) -> np.ndarray:
    try:
        ok = not isinstance(value, (str, bytes, bool, np.bool_))
        v = np.asarray(value, np.float64) if ok else None
    except (TypeError, ValueError):
        v = None
    if v is None or v.ndim > 1 or v.size == 0 or not np.all(np.isfinite(v)) or np.any(v <= 0):
        raise ValueError(f"scale[{name!r}] must be a finite number > 0 (or one per output "
                         f"channel), got {value!r}")
    return v


def _user_scales(names, chans, scale):
    values = check_scale(scale)
    if not isinstance(values, dict):
        return {n: np.full(chans[n], values) for n in names}
    unknown = set(values) - set(names)
    if unknown:
        raise ValueError(f"scale given for unknown layers {sorted(unknown)}; layers with "
                         f"neurons: {names}")
    out = {}
    for n in names:  # layers not in the dict keep lambda = 1
        v = values.get(n, np.ones(1))
        if v.size not in (1, chans[n]):
            raise ValueError(f"scale[{n!r}] has {v.size} values but layer {n!r} has "
                             f"{chans[n]} output channels")
        out[n] = np.broadcast_to(v, (chans[n],)).copy()
    return out


def _accumulate_histogram(hist, a, top):
    """Add the positive values of ``a`` (rows x channels) to per-channel histograms."""
    if top <= 0:
        return
    c = a.shape[1]
    rows, cols = np.nonzero(a > 0)
    vals = a[rows, cols]
    bins = np.minimum((vals * (NUM_BINS / top)).astype(np.int64), NUM_BINS - 1)
    hist += np.bincount(cols * NUM_BINS + bins, minlength=c * NUM_BINS).reshape(c, NUM_BINS)


def _hist_percentile(h, top, p, channel_max):
    """The p-th percentile of the values histogrammed in ``h`` (bins on [0, top])."""
    total = h.sum()
    if total == 0 or top <= 0:
        return 0.0
    if p >= 100:
        return float(channel_max)
    rank = p / 100.0 * total
    cum = np.cumsum(h)
    b = int(np.searchsorted(cum, rank, side="left"))
    before = cum[b - 1] if b > 0 else 0
    width = top / NUM_BINS
    frac = (rank - before) / h[b] if h[b] else 1.0
    return float(min(b * width + frac * width, channel_max))


def propagate_scales(specs, layer_scales) -> dict[str, np.ndarray]:
    """``lambda`` for every spec: inputs 1, layers with weights their scale (readout 1), pooling
    inherits its input's, and reshapes lay their inputs' scales out like their output
    (concatenated, then tiled over a flattened map)."""
    ro = readout_spec(specs)
    lam: dict[str, np.ndarray] = {}
    sums = {i: s.name for s in specs if s.row.sums for i in s.inputs}
    for s in specs:
        if s.kind == "input":
            lam[s.name] = np.ones(s.output_shape[-1], np.float32)
        elif s.is_branch:  # its current goes into the sum: the sum's scale
            lam[s.name] = np.asarray(layer_scales.get(sums[s.name],
                                                      np.ones(s.output_shape[-1])), np.float32)
        elif s.name in layer_scales:
            lam[s.name] = np.asarray(layer_scales[s.name], np.float32)
        elif s is ro or s.row.weights:
            lam[s.name] = np.ones(s.output_shape[-1], np.float32)
        elif s.row.window:
            lam[s.name] = lam[s.inputs[0]]
        elif s.row.reshape:
            lam[s.name] = _reshaped_scale(s, np.concatenate([lam[i] for i in s.inputs]))
        else:
            raise ValueError(f"unknown layer kind {s.kind!r}")
    return lam


def _reshaped_scale(s, prev: np.ndarray) -> np.ndarray:
    """The per-channel scale after reshape ``s`` of a tensor whose channels (last axis)
    have scales ``prev``: in C order, element ``j`` of the output's last axis is channel
    ``j % C``, as long as that axis is a multiple of ``C`` (or the scale is uniform)."""
    n = int(s.output_shape[-1])
    if n % len(prev) == 0:
        return np.tile(prev, n // len(prev))
    if np.all(prev == prev[0]):
        return np.full(n, prev[0], np.float32)
    raise ConversionError(
        f"layer {s.name!r} ({s.kind}) reshapes {len(prev)} channels with different scales "
        f"into a last axis of {n}; normalize with channelwise=False")


def apply_scales(specs, lam) -> list[LayerSpec]:
    """Copies of ``specs`` with normalized weights (see module docstring)."""
    out = []
    names = {s.name: s for s in specs}
    for s in specs:
        s = s.copy()
        lin = lam[s.inputs[0]] if s.inputs else None
        lo = lam[s.name]
        if s.row.weights:  # kernel (..., c_in, c_out)
            scale_kernels(s, lin, lo, divide=True)  # W * lambda_in / lambda (ir.kernels)
            s.bias = (s.bias / lo).astype(np.float32)
        elif s.row.window and s.row.linear:  # average pooling: a per-channel scale
            s.config["scale"] = (lin / lo).astype(np.float32)
        elif s.row.sums:  # identity inputs rescaled to the sum's scale; branches already are
            s.config["scales"] = np.stack(
                [np.ones_like(lo) if names[i].is_branch else lam[i] / lo for i in s.inputs],
                axis=-1).astype(np.float32)
        if "max_value" in s.config:
            s.config["max_value"] = (np.float32(s.config["max_value"]) / lo).astype(np.float32)
        s.config["lambda"] = lo.astype(np.float32)
        out.append(s)
    return out


def normalize(specs, x_norm, mode="percentile", percentile=99.9, channelwise=False, scale=None,
              batch_size=256, progress=False):
    """Normalized copies of ``specs``; returns ``(specs, lambdas)``."""
    layer_scales = compute_scales(specs, x_norm, mode, percentile, channelwise, scale,
                                  batch_size, progress)
    lam = propagate_scales(specs, layer_scales)
    return apply_scales(specs, lam), lam
