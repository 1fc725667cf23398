"""Folding rules: what a spiking network does not need is merged into the spec before it.

Each rule follows what Keras computes, layer by layer:

- ``BatchNormalization`` right after a layer with weights (Dense, Conv1D/2D, depthwise or
  separable convolution) without activation (per output channel):
  ``g = gamma / sqrt(var + eps)``, ``W' = W * g``, ``b' = (b - mean) * g + beta`` (a
  depthwise kernel per (input channel, multiplier), a separable one in its pointwise kernel;
  ``tfsnn.ir.kernels``).
- Activation layers (``Activation``, ``ReLU``, ``Softmax``, ``ClampedReLU``) merge into the
  layer with weights that produced their input.
- A ReLU after a layer whose output is already non-negative (pooling, flatten or concatenation
  of ReLU outputs, the input images) is a no-op and is dropped.
- An output activation (softmax, linear) after a layer that may follow the readout (e.g.
  ``GlobalAveragePooling2D``) belongs to the network output, not to the conv before it.

- ``Rescaling`` / ``Normalization`` at the input: ``x' = x * s + o`` (per input channel) is
  folded into the Dense/Conv2D ``W, b`` reading it: ``W' = W * s`` (per input channel),
  ``b' = b + sum_(window, c) W o``. That is exact where no zero padding meets the window: a
  'same' convolution that pads zeros around ``x'`` (not around ``x``) cannot take a nonzero
  offset, and raises a ``ConversionError``.
- A ReLU with ``max_value`` (ReLU6) merges like a ReLU and keeps ``config["max_value"]``;
  normalization caps the layer scale at it (``tfsnn.conversion.normalize``).
- A Dense/Conv2D without activation feeding an ``Add`` is a branch (``activation`` None); the
  ReLU after the ``Add`` merges into the ``add`` spec.

Hidden layers must end in ReLU (or the clamped ReLU of ``tfsnn.layers``); the readout may be
softmax or linear (``check_activations``).
"""

from __future__ import annotations

import numpy as np

from tfsnn.conversion.errors import ConversionError
from tfsnn.ir import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS, LayerSpec, readout_spec
from tfsnn.ir.geometry import pad_total
from tfsnn.ir.kernels import scale_kernels


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
    c = spec.output_shape[-1]
    gamma = np.asarray(layer.gamma, np.float64) if layer.scale else np.ones(c)
    beta = np.asarray(layer.beta, np.float64) if layer.center else np.zeros(c)
    mean = np.asarray(layer.moving_mean, np.float64)
    var = np.asarray(layer.moving_variance, np.float64)
    g = gamma / np.sqrt(var + float(layer.epsilon))
    scale_kernels(spec, out_scale=g)  # per output channel (tfsnn.ir.kernels)
    spec.bias = ((spec.bias.astype(np.float64) - mean) * g + beta).astype(np.float32)
    spec.source_layers.append(layer.name)


def compose_affine(spec: LayerSpec, scale: np.ndarray, offset: np.ndarray) -> None:
    """Put the affine map ``x -> x * scale + offset`` (per channel) after ``spec``'s output,
    composed with one pending there: ``(x s1 + o1) s2 + o2``."""
    s1, o1 = spec.config.get("affine", (np.ones_like(scale), np.zeros_like(offset)))
    spec.config["affine"] = (s1 * scale, o1 * scale + offset)


def fold_input_affine(spec: LayerSpec, x: LayerSpec) -> None:
    """Fold the affine map pending on ``x`` (``compose_affine``) into ``spec`` (dense or
    conv2d) reading it, see the module docstring."""
    if "affine" not in x.config:
        return
    scale, offset = x.config["affine"]
    k = spec.kernel.astype(np.float64)
    if spec.kind == "conv2d" and np.any(offset != 0):
        strides, padding = spec.config["strides"], spec.config["padding"]
        pads = [pad_total(n, kk, st, padding)
                for n, kk, st in zip(x.output_shape[:2], k.shape[:2], strides)]
        if any(pads):
            raise ConversionError(
                f"cannot fold the input offset of {', '.join(x.source_layers[1:])} into "
                f"{spec.name!r}: its padding='same' pads the normalized input with zeros, "
                "which no bias reproduces; use padding='valid' (or a ZeroPadding2D of the "
                "raw input), or normalize the data instead of the model")
    t = np.tensordot(offset, k, axes=([0], [k.ndim - 2]))  # (..., c_out)
    spec.bias = (spec.bias + t.reshape(-1, t.shape[-1]).sum(0)).astype(np.float32)
    spec.kernel = (k * scale[:, None]).astype(np.float32)  # per input channel


def merge_activation(name: str, spec: LayerSpec, act: str, cfg: dict, shared: bool) -> None:
    """Merge the activation layer ``name`` (activation ``act``, its ``cfg``) into ``spec``.

    ``shared``: the pre-activation output of ``spec`` also feeds another layer.
    """
    if spec.row.activates and spec.activation == "linear":
        if shared:
            raise ConversionError(
                f"cannot merge activation layer {name!r} into {spec.name!r}: the "
                f"pre-activation output of {spec.name!r} is also used by another layer")
        spec.activation = act
        spec.config.update(cfg)
    elif act == "relu" and "max_value" not in cfg and non_negative(spec):
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
        if s.is_branch:
            _check_branch(s, specs)
            continue
        if not s.row.activates:
            continue
        if s is ro:
            if "max_value" in s.config:
                raise ConversionError(f"output layer {s.name!r} has a ReLU with max_value; "
                                      "the readout integrates and cannot cap it")
            if s.activation not in OUTPUT_ACTIVATIONS + ("relu",):
                raise ConversionError(
                    f"output layer {s.name!r} has activation {s.activation!r}; the output may "
                    f"be softmax or linear")
        elif s.activation not in HIDDEN_ACTIVATIONS:
            raise ConversionError(
                f"hidden layer {s.name!r} ({', '.join(s.source_layers)}) has activation "
                f"{s.activation!r}; hidden layers must use ReLU to convert to spiking neurons"
                + (" (put a ReLU after the Add)" if s.row.sums else ""))
    if not ro.row.readout:
        raise ConversionError(f"the output layer {ro.name!r} ({ro.kind}) has no neurons "
                              "to read out; end the model with a Dense layer")
    if len(out.output_shape) != 1:
        raise ConversionError(f"the output {out.name!r} has shape {out.output_shape}; a "
                              "classifier output must be 1-D (classes)")


def _check_branch(s: LayerSpec, specs: list[LayerSpec]) -> None:
    """A branch (weights, no activation) must feed exactly one ``add`` and nothing else."""
    users = [u for u in specs if s.name in u.inputs]
    if len(users) != 1 or not users[0].row.sums:
        raise ConversionError(
            f"layer {s.name!r} ({', '.join(s.source_layers)}) has no activation and feeds "
            f"{[u.name for u in users]}: a layer without ReLU may only feed one Add (a "
            "residual branch)")
