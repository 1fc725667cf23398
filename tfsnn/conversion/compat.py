"""``check_compatibility``: every reason a Keras model cannot be converted, or does not meet
the constraints of a target (as BrainChip's ``cnn2snn.check_model_compatibility``).

Always checked (what ``convert`` needs): layers ``parse`` has no rule for, hidden layers
whose activation is not a ReLU (or that have no activation at all), ``BatchNormalization``
that does not directly follow a Dense/Conv2D without activation (e.g. after the ReLU), and
whatever else ``parse`` rejects. Optional constraints (keyword arguments, or a ``preset``):

- ``weight_bits``: allowed weight bits of every Dense/Conv2D (float weights fail);
- ``input_weight_bits``: the same for the first of them (the one that sees the input);
- ``activation_bits``: allowed bits of every hidden activation (a float ReLU fails);
- ``layers``: the Keras classes allowed;
- ``feedforward``: no branches (every layer has one input and feeds one layer);
- ``pool_padding``: a pooling layer has the padding of the convolution before it.

``PRESETS["akida"]``: BrainChip Akida (cnn2snn toolkit): weights of 1, 2, 4 or 8 bits,
activations of 1, 2 or 4 bits, serial feed-forward models of Conv2D, SeparableConv2D, Dense,
ReLU, BatchNormalization, MaxPooling2D, GlobalAveragePooling2D, Dropout, Flatten, Reshape
(and their quantized versions), pooling with its convolution's padding.
"""

from __future__ import annotations

import math

from tfsnn.conversion.errors import ConversionError
from tfsnn.conversion.parse import SUPPORTED_LAYERS, _model_layers, parse

WEIGHT_CLASSES = ("Dense", "Conv2D", "QuantizedDense", "QuantizedConv2D", "Conv1D",
                  "DepthwiseConv2D", "SeparableConv2D")
ACTIVATION_CLASSES = ("ReLU", "Activation", "QuantizedReLU", "ClampedReLU", "Softmax")
#: layers an activation or BatchNormalization may sit behind without changing what it acts on
PASS_THROUGH = ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise",
                "GaussianDropout")
HIDDEN_OK = ("relu", "relu6", "qcfs", "clamped_relu")

PRESETS = {
    "akida": {
        "weight_bits": (1, 2, 4, 8),
        "input_weight_bits": (1, 2, 4, 8),
        "activation_bits": (1, 2, 4),
        "layers": ("InputLayer", "Conv2D", "SeparableConv2D", "Dense", "ReLU",
                   "BatchNormalization", "MaxPooling2D", "GlobalAveragePooling2D", "Dropout",
                   "Flatten", "Reshape", "QuantizedConv2D", "QuantizedDense",
                   "QuantizedReLU"),
        "feedforward": True,
        "pool_padding": True,
    },
}
CONSTRAINTS = ("weight_bits", "input_weight_bits", "activation_bits", "layers",
               "feedforward", "pool_padding")


def _act_name(act) -> str:
    name = getattr(act, "__name__", None) or getattr(act, "name", None) or str(act)
    return {"softmax_v2": "softmax"}.get(name, name)


def _layer_activation(layer) -> str | None:
    """What an activation layer computes (``None`` for other layers)."""
    cls = type(layer).__name__
    if cls == "QuantizedReLU":
        return "qcfs"
    if cls == "ClampedReLU":
        return "clamped_relu"
    if cls == "Softmax":
        return "softmax"
    if cls == "ReLU":
        plain = (float(layer.negative_slope or 0.0) == 0.0
                 and float(layer.threshold or 0.0) == 0.0)
        return "relu" if plain else "leaky/thresholded relu"
    if cls == "Activation":
        return _act_name(layer.activation)
    return None


def _activation_bits(layer) -> int | None:
    if type(layer).__name__ != "QuantizedReLU":
        return None
    bits = math.log2(layer.levels + 1)
    return int(bits) if bits.is_integer() else layer.levels  # odd level counts: as given


def check_constraints(preset=None, **constraints) -> dict:
    """The constraints of ``preset`` updated by ``constraints``; unknown names raise."""
    unknown = sorted(set(constraints) - set(CONSTRAINTS))
    if unknown:
        raise ValueError(f"unknown constraint(s) {unknown}; accepted: {list(CONSTRAINTS)}")
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; presets: {sorted(PRESETS)}")
    return {**(PRESETS[preset] if preset else {}), **constraints}


def check_compatibility(model, preset=None, **constraints) -> list[str]:
    """All problems of ``model`` (see the module docstring), one message per problem, each
    naming its layer (first what ``convert`` needs, then the constraints); ``[]`` when the
    model converts and meets the constraints."""
    c = check_constraints(preset, **constraints)
    try:
        layers = _model_layers(model)
    except ConversionError as e:  # no graph to look into (no input shape, several inputs)
        return [str(e)]
    by_name = {n: layer for n, layer, _ in layers}
    inputs = {n: ins for n, _, ins in layers}
    consumers: dict[str, list[str]] = {n: [] for n in by_name}
    for n, ins in inputs.items():
        for i in ins:
            consumers[i].append(n)
    output = model.outputs[0]._keras_history.operation.name
    problems, limits = [], []  # what convert needs; what the constraints add
    for name, layer, ins in layers:
        p, lim = _layer_problems(name, layer, ins, by_name, inputs, consumers, output, c)
        problems += p
        limits += lim
    if not problems:  # whatever else parse rejects
        try:
            parse(model)
        except ConversionError as e:
            problems.append(str(e))
    weighted = [n for n, layer, _ in layers if type(layer).__name__ in WEIGHT_CLASSES]
    for i, n in enumerate(weighted):
        allowed = c.get("input_weight_bits" if i == 0 else "weight_bits")
        if allowed is None and i == 0:
            allowed = c.get("weight_bits")
        bits = getattr(by_name[n], "weight_bits", None)
        if allowed is not None and bits not in allowed:
            what = "float weights" if bits is None else f"{bits}-bit weights"
            role = " (the input layer)" if i == 0 else ""
            limits.append(f"layer {n!r}{role} has {what}; allowed weight bits: "
                          f"{list(allowed)}")
    if c.get("feedforward"):
        limits += [f"layer {n!r} ({type(by_name[n]).__name__}) has {len(ins)} inputs; only "
                     "serial feed-forward models are allowed" for n, ins in inputs.items()
                     if len(ins) > 1]
        limits += [f"the output of layer {n!r} feeds {len(v)} layers {v}; only serial "
                     "feed-forward models are allowed" for n, v in consumers.items()
                     if len(v) > 1]
    return problems + limits


def _hidden(name, output, consumers) -> bool:
    """``name``'s output reaches the model output only through further layers."""
    return name != output and bool(consumers[name])


def _next(name, by_name, consumers):
    """The single layer after ``name`` skipping dropout-like layers (None if it branches)."""
    while len(consumers[name]) == 1:
        name = consumers[name][0]
        if type(by_name[name]).__name__ not in PASS_THROUGH:
            return name
    return None


def _prev(name, by_name, inputs, skip=PASS_THROUGH):
    """The layer before ``name`` skipping ``skip`` classes (None at the input)."""
    ins = inputs[name]
    while len(ins) == 1:
        name = ins[0]
        if type(by_name[name]).__name__ not in skip:
            return name
        ins = inputs[name]
    return None


def _layer_problems(name, layer, ins, by_name, inputs, consumers, output, c):
    """``(problems for convert, problems with the constraints c)`` of one layer."""
    cls = type(layer).__name__
    out, lim = [], []
    if cls not in SUPPORTED_LAYERS:
        out.append(f"layer {name!r} of class {cls} is not supported (supported: "
                   f"{', '.join(SUPPORTED_LAYERS)})")
    allowed = c.get("layers")
    if allowed is not None and cls not in allowed:
        lim.append(f"layer {name!r} of class {cls} is not allowed by the constraints "
                   f"(allowed: {', '.join(allowed)})")
    hidden = _hidden(name, output, consumers)
    if cls in WEIGHT_CLASSES and hidden:
        act = _act_name(getattr(layer, "activation", None))
        nxt = _next(name, by_name, consumers)
        nxt_cls = type(by_name[nxt]).__name__ if nxt else None
        if act not in HIDDEN_OK + ("linear",):
            out.append(f"hidden layer {name!r} ({cls}) has activation {act!r}; hidden layers "
                       "must use ReLU to convert to spiking neurons")
        elif act == "linear" and nxt_cls not in ACTIVATION_CLASSES + ("BatchNormalization",
                                                                       "Add"):
            out.append(f"hidden layer {name!r} ({cls}) has no activation; hidden layers must "
                       "end in a ReLU to convert to spiking neurons")
    act = _layer_activation(layer)
    if act is not None and hidden and act not in HIDDEN_OK:
        out.append(f"activation layer {name!r} ({act}) is a hidden activation; hidden layers "
                   "must use ReLU to convert to spiking neurons")
    if cls == "BatchNormalization":
        prev = _prev(name, by_name, inputs)
        p = by_name.get(prev)
        p_act = None if p is None else (_layer_activation(p)
                                        or _act_name(getattr(p, "activation", None)))
        if p is None or type(p).__name__ not in WEIGHT_CLASSES or p_act != "linear":
            what = "the input" if p is None else \
                f"{prev!r} ({type(p).__name__}, activation {p_act})"
            out.append(f"BatchNormalization {name!r} follows {what}; it must come right after "
                       "a Dense/Conv2D without activation, before the activation")
    bits = c.get("activation_bits")
    if bits is not None and act in HIDDEN_OK and hidden:
        b = _activation_bits(layer)
        if b not in bits:
            what = "a float ReLU" if b is None else f"{b}-bit activations"
            lim.append(f"activation {name!r} has {what}; allowed activation bits: {list(bits)}")
    if bits is not None and cls in WEIGHT_CLASSES and hidden and \
            _act_name(getattr(layer, "activation", None)) in HIDDEN_OK:
        lim.append(f"layer {name!r} has a fused float ReLU; allowed activation bits: "
                   f"{list(bits)} (quantize it)")
    if c.get("pool_padding") and cls in ("MaxPooling2D", "AveragePooling2D"):
        skip = PASS_THROUGH + ACTIVATION_CLASSES + ("BatchNormalization",)
        conv = _prev(name, by_name, inputs, skip)
        if conv is not None and type(by_name[conv]).__name__ in WEIGHT_CLASSES and \
                getattr(by_name[conv], "padding", None) not in (None, layer.padding):
            lim.append(f"pooling layer {name!r} has padding {layer.padding!r} but its "
                       f"convolution {conv!r} has {by_name[conv].padding!r}; they must match")
    return out, lim


def all_problems_error(error: ConversionError, model) -> ConversionError:
    """``error`` (the first problem ``parse`` met) extended by every other problem
    ``check_compatibility`` finds (``error.problems``: the list)."""
    try:
        problems = check_compatibility(model)
    except (ConversionError, TypeError, ValueError):
        problems = []
    if len(problems) < 2:
        return error
    listed = "; ".join(f"({i}) {p}" for i, p in enumerate(problems, 1))
    err = ConversionError(f"{error} [all {len(problems)} problems: {listed}]")
    err.problems = problems
    return err


__all__ = ["check_compatibility", "check_constraints", "PRESETS", "CONSTRAINTS",
           "all_problems_error"]
