"""Folding rules: what a spiking network does not need is merged into the spec before it.

Each rule follows what Keras computes, layer by layer:

- ``BatchNormalization`` right after a Dense/Conv2D without activation (per output channel):
  ``g = gamma / sqrt(var + eps)``, ``W' = W * g``, ``b' = (b - mean) * g + beta``.
- Activation layers (``Activation``, ``ReLU``, ``Softmax``, ``ClampedReLU``) merge into the
  layer with weights that produced their input.
- A ReLU after a layer whose output is already non-negative (pooling, flatten or concatenation
  of ReLU outputs, the input images) is a no-op and is dropped.
- An output activation (softmax, linear) after a layer that may follow the readout (e.g.
  ``GlobalAveragePooling2D``) belongs to the network output, not to the conv before it.

Hidden layers must end in ReLU (or the clamped ReLU of ``tfsnn.layers``); the readout may be
softmax or linear (``check_activations``).
"""

from __future__ import annotations

import numpy as np

from tfsnn.conversion.errors import ConversionError
from tfsnn.ir import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS, LayerSpec, readout_spec


def fold_batchnorm(layer, spec: LayerSpec, shared: bool) -> None:
    """Fold the Keras ``BatchNormalization`` ``layer`` into ``spec``'s kernel and bias.

    ``shared``: ``spec``'s output also feeds another layer (then it cannot be folded).
    """
    axis = layer.axis if isinstance(layer.axis, int) else layer.axis[0]
    rank = len(spec.output_shape) + 1
    if axis not in (-1, rank - 1):
        raise ConversionError(f"BatchNormalization {layer.name!r} normalizes axis {axis}; only "
                              "the channel (last) axis can be folded")
    if not spec.row.weights or spec.activation != "linear":
        raise ConversionError(
            f"BatchNormalization {layer.name!r} follows {spec.name!r} ({spec.kind}, activation "
            f"{spec.activation}); it can only be folded into a Dense or Conv2D layer without "
            "activation (use Conv2D -> BatchNormalization -> Activation('relu'))")
    if shared:
        raise ConversionError(f"cannot fold BatchNormalization {layer.name!r}: the output of "
                              f"{spec.name!r} is also used by another layer")
    c = spec.kernel.shape[-1]
    gamma = np.asarray(layer.gamma, np.float64) if layer.scale else np.ones(c)
    beta = np.asarray(layer.beta, np.float64) if layer.center else np.zeros(c)
    mean = np.asarray(layer.moving_mean, np.float64)
    var = np.asarray(layer.moving_variance, np.float64)
    g = gamma / np.sqrt(var + float(layer.epsilon))
    spec.kernel = (spec.kernel.astype(np.float64) * g).astype(np.float32)
    spec.bias = ((spec.bias.astype(np.float64) - mean) * g + beta).astype(np.float32)
    spec.source_layers.append(layer.name)


def merge_activation(name: str, spec: LayerSpec, act: str, cfg: dict, shared: bool) -> None:
    """Merge the activation layer ``name`` (activation ``act``, its ``cfg``) into ``spec``.

    ``shared``: the pre-activation output of ``spec`` also feeds another layer.
    """
    if spec.row.weights and spec.activation == "linear":
        if shared:
            raise ConversionError(
                f"cannot merge activation layer {name!r} into {spec.name!r}: the "
                f"pre-activation output of {spec.name!r} is also used by another layer")
        spec.activation = act
        spec.config.update(cfg)
    elif act == "relu" and non_negative(spec):
        pass  # ReLU of a non-negative tensor: a no-op
    elif act in OUTPUT_ACTIVATIONS and (spec.row.weights or spec.row.after_readout):
        # e.g. softmax after GlobalAveragePooling2D: belongs to the network output
        spec.config["output_activation"] = act
    else:
        raise ConversionError(
            f"activation layer {name!r} ({act}) follows {spec.name!r} "
            f"({spec.kind}, activation {spec.activation}) and cannot be merged into it")
    spec.source_layers.append(name)


def non_negative(spec: LayerSpec) -> bool:
    """``spec``'s output is >= 0: a ReLU layer, a non-negative kind (``KINDS``), or the input
    (images, taken as non-negative)."""
    return spec.kind == "input" or spec.row.non_negative or spec.activation in HIDDEN_ACTIVATIONS


def check_activations(specs: list[LayerSpec], out: LayerSpec) -> None:
    """Hidden neuron layers must be ReLU; the readout softmax or linear; the output 1-D."""
    try:
        ro = readout_spec(specs)
    except ValueError as e:
        raise ConversionError(str(e)) from None
    for s in specs:
        if not s.row.weights:
            continue
        if s is ro:
            if s.activation not in OUTPUT_ACTIVATIONS + ("relu",):
                raise ConversionError(
                    f"output layer {s.name!r} has activation {s.activation!r}; the output may "
                    f"be softmax or linear")
        elif s.activation not in HIDDEN_ACTIVATIONS:
            raise ConversionError(
                f"hidden layer {s.name!r} ({', '.join(s.source_layers)}) has activation "
                f"{s.activation!r}; hidden layers must use ReLU to convert to spiking neurons")
    if not ro.row.readout:
        raise ConversionError(f"the output layer {ro.name!r} ({ro.kind}) has no neurons "
                              "to read out; end the model with a Dense layer")
    if len(out.output_shape) != 1:
        raise ConversionError(f"the output {out.name!r} has shape {out.output_shape}; a "
                              "classifier output must be 1-D (classes)")
