"""Calibration of a converted rate-coded SNN for short simulations (no training).

At small T a deep SNN's rates fall short of its ANN's activations: quantization to 1/T,
the steps each layer waits for its inputs' first spikes, and clipping add up layer by layer.
``convert(ann, x_norm, calibrate=T)`` applies two remedies of Li et al. 2021 ("A free lunch
from ANN: towards efficient, accurate spiking neural networks calibration", ICML):

1. ``mse_scales``: per layer (and channel) the scale ``lambda`` that minimizes the error of
   the rate code at T on the ANN's activations ``a``, ``sum (a - lambda clip(round(T a /
   lambda) / T, 0, 1))^2`` (a lower scale clips more but quantizes more finely); it replaces
   the percentile normalization.
2. ``calibrate_biases``: the mean error of every channel is moved into its bias. Simulate the
   calibration images for T steps, and for each layer ``l`` with neurons (rates
   ``r = N_T theta / T``) compare them with what the ANN layer makes of the SNN's actual
   input rates,

       e_l = mean over images and positions of ( clip(f_l(r_{l-1}), 0, theta) - r_l )

   (per channel), then ``b_l <- b_l + e_l / p_l`` (``p_l``: the channel's fraction of live
   neurons, see ``calibration_errors``). Taking the target from the SNN's own input rates
   makes ``e_l`` the error of layer ``l`` alone, so all layers are corrected from one
   simulation; ``rounds`` repeats this. A residual sum (``add``) has no bias of its own: its
   correction goes into the bias of the input branch with weights and no activation
   (``b += e / scale`` of that branch), when there is one. The readout integrates its
   current exactly and is not corrected.

Measured (docs/deep.md): on VGG-11 both steps together raise the accuracy at T; on
ResNet-20 the all-at-once bias step compounds along the identity paths and lowers it, while
the scales alone help.

``V_0 = theta / 2`` (the rate default, Bu et al. 2022) already removes the mean rounding
error under constant input; what is left at small T is corrected here.
"""

from __future__ import annotations

import numpy as np
from keras import ops

from tfsnn.checks import check_number
from tfsnn.conversion.forward import analog_forward, layer_forward
from tfsnn.conversion.normalize import stat_layers
from tfsnn.ir import readout_spec, walk
from tfsnn.simulation import SpikingModel

#: images of the normalization set used by ``convert(..., calibrate=T)``
CALIBRATION_SAMPLES = 256
#: the smallest fraction of live neurons ``calibration_errors`` divides by
MIN_LIVE = 0.25
#: candidate scales of ``mse_scales``, as fractions of the largest activation
SCALE_GRID = np.geomspace(0.02, 1.0, 48).astype(np.float32)


def _quantization_error(v, lam, timesteps):
    """Squared error per channel of ``v`` (values, channels) against its rate code at the
    scales ``lam`` (channels): ``lam * clip(round(T v / lam) / T, 0, 1)``."""
    u = np.clip(np.round(v * (timesteps / lam)), 0, timesteps)
    return ((u * (lam / timesteps) - v) ** 2).sum(axis=0)


def mse_scales(specs, x, timesteps: int, channelwise: bool = True) -> dict:
    """Per-layer scales ``lambda`` that minimize the rate code's error at ``timesteps``:
    ``sum (a - lambda clip(round(T a / lambda) / T, 0, 1))^2`` over the ANN activations
    ``a`` on ``x`` (Li et al. 2021, section 4.1), searched over ``SCALE_GRID`` x max.
    Returns ``{name: lambda per channel}`` for ``normalization="scale"``."""
    by_name = {s.name: s for s in specs}
    names = [n for n in stat_layers(specs) if by_name[n].activation != "qcfs"]  # qcfs: clip
    acts = analog_forward(specs, ops.convert_to_tensor(np.asarray(x, np.float32)), names)
    out = {}
    for name in names:
        a = ops.convert_to_numpy(acts[name])
        v = a.reshape(-1, a.shape[-1] if channelwise else 1).astype(np.float32)
        top = np.maximum(v.max(axis=0), 1e-12)
        errs = np.stack([_quantization_error(v, f * top, timesteps) for f in SCALE_GRID])
        best = SCALE_GRID[np.argmin(errs, axis=0)] * top
        out[name] = np.broadcast_to(best, (a.shape[-1],)).astype(np.float32)
    return out


def _snn_values(snn: SpikingModel, x, timesteps: int, batch_size: int,
                reference) -> tuple[dict, dict]:
    """Rates of the layers with neurons (``N_T theta / T``) and, through the layers without
    neurons (computed by the ``reference`` specs), the values every spec passes on."""
    res = snn.simulate(x, timesteps, batch_size=batch_size, return_counts=True,
                       return_predictions=False)
    theta = float(snn.params["threshold"])
    ro = snn.readout
    rates = {k: np.asarray(v, np.float32) * np.float32(theta / timesteps)
             for k, v in res.sample_counts.items()
             if k != snn.input_spec.name and k != ro.name}
    values = walk(reference, lambda s, ins: layer_forward(s, ins),
                  {snn.input_spec.name: x, **rates})
    return rates, values


def _bias_target(specs, spec):
    """The spec whose bias carries ``spec``'s correction, and the factor on the correction:
    the layer itself, or for a residual sum its input branch with weights and no
    activation (divided by that branch's scale in the sum)."""
    if spec.row.weights and spec.bias is not None:
        return spec, None
    if spec.row.sums:
        by_name = {s.name: s for s in specs}
        scales = np.asarray(spec.config["scales"], np.float32)
        for k, name in enumerate(spec.inputs):
            src = by_name[name]
            if src.row.weights and src.activation is None and src.bias is not None:
                return src, scales[:, k]
    return None, None


def calibration_errors(snn: SpikingModel, x, timesteps: int, batch_size: int = 128,
                       reference=None) -> dict:
    """``{layer name: e_l / p_l}`` (one value per channel, see module doc) from one
    simulation. ``p_l`` is the fraction of the channel's neurons that are live (target or
    rate above 0; at least ``MIN_LIVE``): a silent neuron's rate does not follow its bias, so
    the mean rate moves by only ``p_l`` per unit of bias.

    The targets ``f_l`` are the layers of ``reference`` (specs of the uncalibrated SNN;
    default ``snn.specs``): a calibrated bias must not move its own target."""
    reference = snn.specs if reference is None else reference
    rates, values = _snn_values(snn, x, timesteps, batch_size, reference)
    theta = float(snn.params["threshold"])
    errors = {}
    for s in reference:
        if s.name not in rates or not (s.row.weights or s.row.sums):
            continue
        target = ops.convert_to_numpy(layer_forward(s, [values[i] for i in s.inputs]))
        target = np.clip(target, 0.0, theta).reshape(-1, s.output_shape[-1])
        rate = rates[s.name].reshape(-1, s.output_shape[-1])
        live = np.maximum(((target > 0) | (rate > 0)).mean(axis=0), MIN_LIVE)
        errors[s.name] = ((target - rate).mean(axis=0) / live).astype(np.float32)
    return errors


def calibrate_biases(snn: SpikingModel, x, timesteps: int, rounds: int = 2,
                     batch_size: int = 128) -> SpikingModel:
    """A copy of the rate-coded ``snn`` with biases calibrated for ``timesteps`` steps on the
    images ``x`` (see module doc); ``snn`` itself is not changed."""
    if snn.encoding != "rate":
        raise ValueError(f"bias calibration applies to rate coding, not {snn.encoding!r}")
    timesteps = int(check_number(timesteps, "calibrate (timesteps)", positive=True))
    rounds = int(check_number(rounds, "rounds", positive=True))
    x = np.asarray(x, np.float32)
    ro = readout_spec(snn.specs)
    model = snn
    for _ in range(rounds):
        errors = calibration_errors(model, x, timesteps, batch_size, snn.specs)
        specs = [s.copy() for s in model.specs]
        by_name = {s.name: s for s in specs}
        for name, e in errors.items():
            if name == ro.name:
                continue
            target, scale = _bias_target(specs, by_name[name])
            if target is None:
                continue
            shift = e if scale is None else e / np.where(scale != 0, scale, 1.0)
            target.bias = (np.asarray(target.bias, np.float32) + shift).astype(np.float32)
        p = model.params
        meta = {**model.meta, "calibration": {"method": "bias", "timesteps": timesteps,
                                              "rounds": rounds, "samples": len(x)}}
        model = SpikingModel(specs, model.encoding, p["threshold"], p["v_init"], p["tau"],
                             model.dyn_params, meta=meta)
    return model
