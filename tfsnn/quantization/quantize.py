"""``quantize``: a Keras model -> the same model with quantized weights and activations.

As BrainChip's ``cnn2snn.quantize``: Dense and Conv2D layers become ``QuantizedDense`` /
``QuantizedConv2D`` (``weight_bits``; the first of them, which sees the images,
``input_bits``), and every ReLU (a ``ReLU`` or ``Activation("relu")`` layer, or the fused
``activation="relu"`` of a Dense/Conv2D, which becomes a layer ``<name>_relu`` of its own)
becomes a ``QuantizedReLU`` of ``activation_bits`` bits. Already quantized layers are
re-quantized to the new bits. Everything else is copied as it is, weights included.

The result is trained with plain ``model.fit`` (quantization-aware training) or used as it is
(post-training quantization). Clip values start from the original model's activations on
``calibration_data`` (a ReLU's ``max_value``, else ``clip_value``, without it): at the clip
value that minimizes the quantization error of the ``L``-level activation (``clip_init="mse"``,
the default: for few levels the large activations are rare, and a high clip rounds most of
the others to 0; Banner et al., "Post training 4-bit quantization of convolutional networks
for rapid-deployment", NeurIPS 2019, choose clips the same way), or at their ``percentile``
(``clip_init="percentile"``).
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
import numpy as np

from tfsnn.checks import check_number
from tfsnn.quantization.layers import QuantizedConv2D, QuantizedDense, QuantizedReLU
from tfsnn.quantization.quantizers import check_bits

#: Keras classes whose weights ``quantize`` quantizes -> the quantized class
WEIGHT_LAYERS = {"Dense": QuantizedDense, "QuantizedDense": QuantizedDense,
                 "Conv2D": QuantizedConv2D, "QuantizedConv2D": QuantizedConv2D}
#: values of calibration activations kept per batch and site (a uniform sample)
SAMPLE_PER_BATCH = 100_000
#: how ``quantize`` initialises clip values from calibration data
CLIP_INITS = ("mse", "percentile")
#: candidate clip values of ``clip_init="mse"``, as fractions of the largest activation
#: (refined between the best one's neighbours)
MSE_GRID = np.geomspace(0.02, 1.0, 100)


def _activation_name(act) -> str:
    return getattr(act, "__name__", None) or str(act)


def is_relu(layer) -> bool:
    """A plain ReLU activation layer (a ``ReLU`` without slope/threshold, or
    ``Activation("relu")``), or an activation quantized already."""
    if isinstance(layer, QuantizedReLU):
        return True
    if type(layer).__name__ == "ReLU":
        return (float(layer.negative_slope or 0.0) == 0.0
                and float(layer.threshold or 0.0) == 0.0)
    return (type(layer).__name__ == "Activation"
            and _activation_name(layer.activation) == "relu")


def _fused_relu(layer) -> bool:
    return (type(layer).__name__ in WEIGHT_LAYERS
            and _activation_name(getattr(layer, "activation", None)) == "relu")


def _per_layer(bits, names: list[str], what: str) -> dict:
    """``{layer name: bits or None}`` from one value for all or a dict (others: None)."""
    if not isinstance(bits, Mapping):
        b = check_bits(bits, what)
        return {n: b for n in names}
    unknown = sorted(set(bits) - set(names), key=str)
    if unknown:
        raise ValueError(f"{what} names unknown layers {unknown}; layers it can set: {names}")
    return {n: check_bits(bits.get(n), f"{what}[{n!r}]") for n in names}


def _functional(model) -> keras.Model:
    if not isinstance(model, keras.Model):
        raise TypeError(f"quantize expects a keras.Model, got {type(model).__name__}")
    if not model.built or not model.inputs:
        raise ValueError("quantize: the model has no defined input shape; build it with an "
                         "Input")
    if isinstance(model, keras.Sequential):  # the same layers as a functional graph
        return keras.Model(model.inputs[0], model.outputs[0], name=model.name)
    return model


def quantize(model, weight_bits=4, activation_bits=4, input_bits=8, calibration_data=None,
             percentile=99.9, clip_value=1.0, batch_size=256,
             clip_init="mse") -> keras.Model:
    """A quantized copy of ``model`` (see the module docstring).

    Args:
        model: a built Keras model (Sequential or Functional).
        weight_bits: bits of the Dense/Conv2D weights (1..16, None: float), or
            ``{layer name: bits}`` (layers left out stay float).
        activation_bits: bits of the ReLUs (``L = 2^b - 1`` levels, None: float ReLU), or
            ``{name: bits}``, the name of a ReLU layer or of a layer with a fused ReLU.
        input_bits: weight bits of the first Dense/Conv2D (the one that sees the input);
            None: ``weight_bits``.
        calibration_data: images to initialise the clip values from (optional).
        percentile: with ``clip_init="percentile"``, the percentile of the activations
            taken as clip value (0, 100].
        clip_init: "mse" (the clip minimizing the activation's quantization error on the
            calibration data) or "percentile".
        clip_value: the clip value without calibration data or ``max_value``.
        batch_size: batch size of the calibration pass.
    """
    model = _functional(model)
    check_number(percentile, "percentile", positive=True, high=100.0)
    check_number(clip_value, "clip_value", positive=True)
    if clip_init not in CLIP_INITS:
        raise ValueError(f"clip_init must be one of {CLIP_INITS}, got {clip_init!r}")
    weighted = [ly.name for ly in model.layers if type(ly).__name__ in WEIGHT_LAYERS]
    sites = [ly.name for ly in model.layers if is_relu(ly) or _fused_relu(ly)]
    wbits = _per_layer(weight_bits, weighted, "weight_bits")
    abits = _per_layer(activation_bits, sites, "activation_bits")
    if input_bits is not None and weighted:
        wbits[weighted[0]] = check_bits(input_bits, "input_bits")
    after = {}  # name of a layer with a fused ReLU -> the QuantizedReLU called after it

    def clone(layer):
        name = layer.name
        cfg = layer.get_config()
        if type(layer).__name__ in WEIGHT_LAYERS:
            cfg.pop("quantization_config", None)
            cfg["weight_bits"] = wbits[name]
            if abits.get(name) is not None and _fused_relu(layer):
                cfg["activation"] = None
                after[name] = QuantizedReLU(bits=abits[name], clip_value=clip_value,
                                            name=f"{name}_relu")
            return WEIGHT_LAYERS[type(layer).__name__].from_config(cfg)
        if name in abits and abits[name] is not None:
            init = getattr(layer, "max_value", None) or clip_value
            if isinstance(layer, QuantizedReLU):
                init = layer.clip_value
            return QuantizedReLU(bits=abits[name], clip_value=float(init), name=name)
        return type(layer).from_config(cfg)

    def call(layer, *args, **kwargs):
        out = layer(*args, **kwargs)
        return after[layer.name](out) if layer.name in after else out

    source = model.inputs[0]._keras_history.operation
    inputs = keras.Input(batch_shape=model.inputs[0].shape, name=source.name)
    if isinstance(model.input, (list, tuple)):
        inputs = [inputs]
    q = keras.models.clone_model(model, input_tensors=inputs, clone_function=clone,
                                 call_function=call)
    _copy_weights(model, q)
    if calibration_data is not None:
        chosen = [n for n in sites if abits[n] is not None]
        levels = {n: 2 ** abits[n] - 1 for n in chosen} if clip_init == "mse" else None
        clips = calibrate(model, calibration_data, chosen, percentile, batch_size, levels)
        for name, value in clips.items():
            layer = after.get(name) or q.get_layer(name)
            layer.clip.assign(value)
    return q


def _copy_weights(src, dst) -> None:
    for layer in src.layers:
        values = layer.get_weights()
        if values:
            dst.get_layer(layer.name).set_weights(values)


def calibrate(model, x, sites, percentile=99.9, batch_size=256,
              levels=None) -> dict[str, float]:
    """``{site: clip}`` from the positive activations of each site on ``x`` (a uniform
    sample of at most ``SAMPLE_PER_BATCH`` values per batch and site): their ``percentile``,
    or with ``levels`` (``{site: L}``) the clip ``mse_clip`` finds for ``L`` levels."""
    x = np.asarray(x, np.float32)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"calibration_data must be a non-empty batch of inputs, got shape "
                         f"{x.shape}")
    if not sites:
        return {}
    # a ReLU layer's output; a layer's own output for a fused ReLU
    probe = keras.Model(model.inputs[0], [model.get_layer(n).output for n in sites])
    rng = np.random.default_rng(0)
    samples = {n: [] for n in sites}
    for i in range(0, len(x), batch_size):
        acts = probe(x[i:i + batch_size], training=False)
        for n, a in zip(sites, acts if isinstance(acts, (list, tuple)) else [acts]):
            a = np.asarray(keras.ops.convert_to_numpy(a)).ravel()
            a = a[a > 0]
            if a.size > SAMPLE_PER_BATCH:
                a = rng.choice(a, SAMPLE_PER_BATCH, replace=False)
            samples[n].append(a)
    clips = {}
    for n in sites:
        a = np.concatenate(samples[n])
        if not a.size:
            clips[n] = 1.0
        elif levels is not None:
            clips[n] = mse_clip(a, levels[n])
        else:
            clips[n] = float(np.percentile(a, percentile))
    return clips


def mse_clip(a: np.ndarray, levels: int) -> float:
    """The clip ``c`` (searched on ``MSE_GRID`` x max, then finer) minimizing ``sum (a - h_c(a))^2`` over the
    positive activations ``a``, with ``h_c`` the QCFS activation of ``levels`` levels,
    ``h_c(a) = c / L clip(floor(a L / c + 1/2), 0, L)`` (zeros are quantized exactly)."""
    a = np.asarray(a, np.float64)

    def best(clips):
        errs = [np.square(a - c / levels * np.clip(np.floor(a * levels / c + 0.5), 0,
                                                   levels)).sum() for c in clips]
        return int(np.argmin(errs))

    clips = MSE_GRID * float(a.max())
    k = best(clips)  # then a finer search between the neighbours of the best
    fine = np.linspace(clips[max(k - 1, 0)], clips[min(k + 1, len(clips) - 1)], 41)
    return float(fine[best(fine)])
