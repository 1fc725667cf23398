"""Parse a Keras model into ``LayerSpec``s with a rule table: Keras layer class -> handler.

``RULES`` maps each supported Keras class name to a handler. A handler takes a ``Node`` (the
Keras layer and the specs holding its inputs) and returns the specs it adds, the last one
holding the layer's output; ``[]`` when the layer was folded into its input's spec
(``tfsnn.conversion.fold``). Adding a Keras layer is one entry in ``RULES`` plus its handler.

- ``Dropout`` / ``SpatialDropout*`` / ``GaussianNoise`` / ``GaussianDropout``: identity at
  inference, removed.
- ``BatchNormalization`` and activation layers (``Activation``, ``ReLU``, ``Softmax``,
  ``ClampedReLU``): folded (``tfsnn.conversion.fold``).
- ``GlobalAveragePooling2D`` / ``1D`` -> average pooling over the whole map / signal
  (+ flatten unless ``keepdims``).
- ``Conv1D`` (padding valid, same or causal), ``AveragePooling1D``, ``MaxPooling1D``: the
  1-D kinds on ``(steps, channels)``; ``DepthwiseConv2D``, ``SeparableConv2D``: their kinds
  (kernel layouts in ``tfsnn.ir.kernels``). No dilation, groups or channels_first.
- ``Add`` -> an ``add`` spec (a residual sum, see ``tfsnn.ir.spec``): inputs with weights and
  no activation (conv + BatchNorm on a branch) become its branches (``activation`` None, no
  neurons); the ReLU after the ``Add`` merges into it and is its neurons' nonlinearity.
- ``ReLU(max_value=m)``, ``Activation("relu6")``: ReLU with ``config["max_value"]``.
- ``ZeroPadding2D``, ``Cropping2D``, ``Reshape``: the linear kinds ``zeropad``, ``crop``,
  ``reshape``.
- ``Rescaling`` / ``Normalization`` right after the input (or a Flatten of it): the affine map
  ``x * scale + offset`` per channel is folded into the Dense or Conv2D layer(s) reading it
  (``tfsnn.conversion.fold.fold_input_affine``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import partial

import keras
import numpy as np
from keras import ops

from tfsnn.conversion.errors import ConversionError
from tfsnn.conversion.fold import (
    check_activations,
    compose_affine,
    fold_batchnorm,
    fold_input_affine,
    merge_activation,
    non_negative,
)
from tfsnn.ir import LayerSpec
from tfsnn.ir.geometry import PADDINGS


@dataclass(frozen=True)
class Node:
    """One Keras layer being parsed."""

    name: str
    layer: object
    #: the specs holding the outputs of the layer's inputs
    inputs: list
    #: Keras name of the first input layer (None for the input)
    source: str | None
    #: that input also feeds another layer
    shared: bool

    @property
    def x(self) -> LayerSpec:
        return self.inputs[0]


def _unsupported(layer, why=None) -> ConversionError:
    msg = f"layer {layer.name!r} of class {type(layer).__name__} is not supported"
    if why:
        msg += f": {why}"
    return ConversionError(f"{msg}. Supported layers: {', '.join(SUPPORTED_LAYERS)}")


def _shape(t) -> tuple:
    return tuple(int(d) for d in t.shape[1:])


def _activation_name(act) -> str:
    if act is None:
        return "linear"
    name = getattr(act, "__name__", None) or getattr(act, "name", None) or str(act)
    return {"softmax_v2": "softmax"}.get(name, name)


def _weights(layer) -> tuple[np.ndarray, np.ndarray]:
    """Kernel and bias (zeros without ``use_bias``) as float32 arrays (a quantized layer's
    kernel as it computes with it: ``W_int * s``)."""
    kernel = getattr(layer, "quantized_kernel", None)
    kernel = layer.kernel if kernel is None else kernel
    kernel = np.asarray(kernel.numpy() if hasattr(kernel, "numpy") else kernel, np.float32)
    bias = (np.asarray(layer.bias, dtype=np.float32) if layer.use_bias
            else np.zeros(kernel.shape[-1], np.float32))
    return kernel, bias


def _check_channels_last(layer):
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise _unsupported(layer, "only data_format='channels_last' is supported")


def _input(node: Node) -> list[LayerSpec]:
    shape = _shape(node.layer.output)
    return [LayerSpec(node.name, "input", [], shape, shape, source_layers=[node.name])]


def _identity(node: Node) -> list[LayerSpec]:
    node.x.source_layers.append(node.name)
    return []


def _dense(node: Node) -> list[LayerSpec]:
    layer, x = node.layer, node.x
    if len(x.output_shape) != 1:
        raise _unsupported(layer, f"Dense on a {len(x.output_shape)}-D input "
                                  f"{x.output_shape}; add a Flatten before it")
    kernel, bias = _weights(layer)
    spec = LayerSpec(node.name, "dense", [x.name], x.output_shape, (kernel.shape[1],),
                     kernel=kernel, bias=bias, activation=_activation_name(layer.activation),
                     source_layers=[node.name])
    fold_input_affine(spec, x)
    return [spec]


def _conv2d(node: Node) -> list[LayerSpec]:
    layer, x = node.layer, node.x
    _check_channels_last(layer)
    if tuple(layer.dilation_rate) != (1, 1):
        raise _unsupported(layer, f"dilation_rate {layer.dilation_rate} (only 1)")
    if getattr(layer, "groups", 1) != 1:
        raise _unsupported(layer, f"groups={layer.groups} (only 1)")
    if layer.padding not in PADDINGS:
        raise _unsupported(layer, f"padding {layer.padding!r}")
    kernel, bias = _weights(layer)
    spec = LayerSpec(node.name, "conv2d", [x.name], x.output_shape, _shape(layer.output),
                     kernel=kernel, bias=bias, activation=_activation_name(layer.activation),
                     config={"strides": tuple(layer.strides), "padding": layer.padding},
                     source_layers=[node.name])
    fold_input_affine(spec, x)
    return [spec]


def _check_window_layer(layer, rank: int, paddings=PADDINGS) -> None:
    """Clear errors for what the window kinds do not cover (channels first, dilation,
    groups, other paddings)."""
    _check_channels_last(layer)
    if tuple(getattr(layer, "dilation_rate", (1,) * rank)) != (1,) * rank:
        raise _unsupported(layer, f"dilation_rate {layer.dilation_rate} (only 1)")
    if getattr(layer, "groups", 1) != 1:
        raise _unsupported(layer, f"groups={layer.groups} (only 1)")
    if layer.padding not in paddings:
        raise _unsupported(layer, f"padding {layer.padding!r} (supported: {paddings})")


def _window_input(layer, x: LayerSpec, rank: int) -> None:
    if len(x.output_shape) != rank + 1:
        what = "(steps, channels)" if rank == 1 else "(height, width, channels)"
        raise _unsupported(layer, f"it needs a {what} input, got shape {x.output_shape}")


def _conv1d(node: Node) -> list[LayerSpec]:
    layer, x = node.layer, node.x
    _check_window_layer(layer, 1, PADDINGS + ("causal",))
    _window_input(layer, x, 1)
    kernel, bias = _weights(layer)
    return [LayerSpec(node.name, "conv1d", [x.name], x.output_shape, _shape(layer.output),
                      kernel=kernel, bias=bias, activation=_activation_name(layer.activation),
                      config={"strides": tuple(layer.strides), "padding": layer.padding},
                      source_layers=[node.name])]


def _depthwise_conv2d(node: Node) -> list[LayerSpec]:
    layer, x = node.layer, node.x
    _check_window_layer(layer, 2)
    _window_input(layer, x, 2)
    kernel, bias = _weights(layer)  # (kh, kw, c_in, m), bias (c_in * m,)
    if not layer.use_bias:
        bias = np.zeros(kernel.shape[2] * kernel.shape[3], np.float32)
    return [LayerSpec(node.name, "depthwise_conv2d", [x.name], x.output_shape,
                      _shape(layer.output), kernel=kernel, bias=bias,
                      activation=_activation_name(layer.activation),
                      config={"strides": tuple(layer.strides), "padding": layer.padding},
                      source_layers=[node.name])]


def _separable_conv2d(node: Node) -> list[LayerSpec]:
    layer, x = node.layer, node.x
    _check_window_layer(layer, 2)
    _window_input(layer, x, 2)
    depthwise = np.asarray(layer.depthwise_kernel, np.float32)
    kernel = np.asarray(layer.pointwise_kernel, np.float32)
    bias = (np.asarray(layer.bias, np.float32) if layer.use_bias
            else np.zeros(kernel.shape[-1], np.float32))
    return [LayerSpec(node.name, "separable_conv2d", [x.name], x.output_shape,
                      _shape(layer.output), kernel=kernel, bias=bias,
                      activation=_activation_name(layer.activation),
                      config={"strides": tuple(layer.strides), "padding": layer.padding},
                      source_layers=[node.name], depthwise_kernel=depthwise)]


def _pooling(node: Node, kind: str, activation: str | None) -> list[LayerSpec]:
    layer, x = node.layer, node.x
    _check_window_layer(layer, len(layer.pool_size))
    _window_input(layer, x, len(layer.pool_size))
    return [LayerSpec(node.name, kind, [x.name], x.output_shape, _shape(layer.output),
                      config={"pool_size": tuple(layer.pool_size),
                              "strides": tuple(layer.strides), "padding": layer.padding},
                      activation=activation, source_layers=[node.name])]


def _global_average_pooling(node: Node, rank: int = 2) -> list[LayerSpec]:
    x, keep = node.x, node.layer.keepdims
    _check_channels_last(node.layer)
    _window_input(node.layer, x, rank)
    *size, c = x.output_shape
    size, ones = tuple(size), (1,) * rank + (c,)
    pool = LayerSpec(node.name if keep else f"{node.name}_pool",
                     "avgpool" if rank == 2 else "avgpool1d", [x.name], x.output_shape, ones,
                     config={"pool_size": size, "strides": size, "padding": "valid"},
                     activation="relu", source_layers=[node.name])
    if keep:
        return [pool]
    return [pool, LayerSpec(node.name, "flatten", [pool.name], ones, (c,),
                            source_layers=[node.name])]


def _flatten(node: Node) -> list[LayerSpec]:
    x = node.x
    spec = LayerSpec(node.name, "flatten", [x.name], x.output_shape,
                     (int(np.prod(x.output_shape)),), source_layers=[node.name])
    if "affine" in x.config:  # a pending input affine map: per flattened element
        reps = int(np.prod(x.output_shape[:-1]))
        spec.config["affine"] = tuple(np.tile(v, reps) for v in x.config["affine"])
    return [spec]


def _pairs(value, layer, what) -> tuple:
    """``((top, bottom), (left, right))`` of a ZeroPadding2D / Cropping2D layer."""
    try:
        (t, b), (left, r) = value
        return (int(t), int(b)), (int(left), int(r))
    except (TypeError, ValueError):
        raise _unsupported(layer, f"{what} {value!r}") from None


def _zero_padding(node: Node) -> list[LayerSpec]:
    layer, x = node.layer, node.x
    _check_channels_last(layer)
    return [LayerSpec(node.name, "zeropad", [x.name], x.output_shape, _shape(layer.output),
                      config={"padding": _pairs(layer.padding, layer, "padding")},
                      source_layers=[node.name])]


def _cropping(node: Node) -> list[LayerSpec]:
    layer, x = node.layer, node.x
    _check_channels_last(layer)
    return [LayerSpec(node.name, "crop", [x.name], x.output_shape, _shape(layer.output),
                      config={"cropping": _pairs(layer.cropping, layer, "cropping")},
                      source_layers=[node.name])]


def _reshape(node: Node) -> list[LayerSpec]:
    x, out = node.x, _shape(node.layer.output)
    return [LayerSpec(node.name, "reshape", [x.name], x.output_shape, out,
                      config={"target_shape": out}, source_layers=[node.name])]


def _add(node: Node) -> list[LayerSpec]:
    """A residual sum; inputs with weights and no activation become its branches."""
    layer, out = node.layer, _shape(node.layer.output)
    for i in node.inputs:
        if tuple(i.output_shape) != out:
            raise _unsupported(layer, f"it adds inputs of shapes "
                                      f"{[s.output_shape for s in node.inputs]}; only inputs "
                                      "of one shape (no broadcasting) convert")
        if i.row.weights and i.activation == "linear":
            i.activation = None  # a branch: its current goes into the sum's neurons
        elif i.activation is None or not non_negative(i):
            raise _unsupported(layer, f"its input {i.name!r} ({i.kind}, activation "
                                      f"{i.activation}) is neither spikes (a ReLU layer, "
                                      "pooling, the input) nor a Dense/Conv2D without "
                                      "activation")
    return [LayerSpec(node.name, "add", [i.name for i in node.inputs], out, out,
                      activation="linear",
                      config={"scales": np.ones((out[-1], len(node.inputs)), np.float32)},
                      source_layers=[node.name])]


def _affine(node: Node, scale, offset) -> list[LayerSpec]:
    """``Rescaling`` / ``Normalization``: ``x * scale + offset`` per channel, pending on its
    input until a Dense/Conv2D folds it."""
    x, c = node.x, node.x.output_shape[-1]
    if x.kind not in ("input", "flatten") or node.shared:
        raise _unsupported(node.layer, "a Rescaling/Normalization layer folds only right "
                                       "after the model input (or a Flatten of it) that feeds "
                                       "nothing else")
    try:
        scale = np.broadcast_to(np.asarray(scale, np.float64).reshape(-1), (c,))
        offset = np.broadcast_to(np.asarray(offset, np.float64).reshape(-1), (c,))
    except ValueError:
        raise _unsupported(node.layer, "only a scalar or per-channel (last axis) scale and "
                                       "offset fold") from None
    compose_affine(x, scale, offset)
    x.source_layers.append(node.name)
    return []


def _rescaling(node: Node) -> list[LayerSpec]:
    layer = node.layer
    return _affine(node, np.asarray(layer.scale), np.asarray(layer.offset))


def _normalization(node: Node) -> list[LayerSpec]:
    """Keras: ``(x - mean) / max(sqrt(var), epsilon)``."""
    layer = node.layer
    if getattr(layer, "invert", False):
        raise _unsupported(layer, "invert=True")
    mean = ops.convert_to_numpy(layer.mean).astype(np.float64)
    std = np.maximum(np.sqrt(ops.convert_to_numpy(layer.variance).astype(np.float64)),
                     keras.backend.epsilon())
    return _affine(node, 1.0 / std, -mean / std)


def _concatenate(node: Node) -> list[LayerSpec]:
    layer, x = node.layer, node.x
    if layer.axis not in (-1, len(x.output_shape)):
        raise _unsupported(layer, f"concatenation along axis {layer.axis}; only the "
                                  "channel (last) axis is supported")
    return [LayerSpec(node.name, "concat", [i.name for i in node.inputs], x.output_shape,
                      _shape(layer.output), config={"axis": -1}, source_layers=[node.name])]


def _batchnorm(node: Node) -> list[LayerSpec]:
    fold_batchnorm(node.layer, node.x, node.shared)
    return []


def _merge(node: Node, act: str, **cfg) -> list[LayerSpec]:
    # the activation reads the current output of its input spec, which another layer reads too
    shared = node.shared and node.x.source_layers[-1] == node.source
    merge_activation(node.name, node.x, act, cfg, shared)
    return []


def _activation(node: Node) -> list[LayerSpec]:
    act = _activation_name(node.layer.activation)
    if act == "relu6":
        return _merge(node, "relu", max_value=6.0)
    return _merge(node, act)


def _relu(node: Node) -> list[LayerSpec]:
    """A ReLU, optionally capped (``max_value``: the neurons' firing-rate cap)."""
    layer = node.layer
    if (float(getattr(layer, "negative_slope", 0.0) or 0.0) != 0.0
            or float(getattr(layer, "threshold", 0.0) or 0.0) != 0.0):
        raise _unsupported(layer, "only a ReLU without negative_slope and threshold (max_value "
                                  "is fine) converts to spiking neurons")
    max_value = getattr(layer, "max_value", None)
    if max_value is None:
        return _merge(node, "relu")
    if not float(max_value) > 0:
        raise _unsupported(layer, f"max_value {max_value!r} (must be > 0)")
    return _merge(node, "relu", max_value=float(max_value))


def _clamped_relu(node: Node) -> list[LayerSpec]:
    return _merge(node, "clamped_relu", clamp=float(node.layer.clamp))


def _quantized(node: Node, handler) -> list[LayerSpec]:
    """``QuantizedDense`` / ``QuantizedConv2D`` (``tfsnn.quantization``): the float layer's
    rule on the quantized kernel; ``config["weight_bits"]`` marks it as integers times a
    per-output-channel scale (``tfsnn.quantization.integer_weights``)."""
    specs = handler(node)
    if node.layer.weight_bits is not None:
        specs[-1].config["weight_bits"] = int(node.layer.weight_bits)
    return specs


def _quantized_relu(node: Node) -> list[LayerSpec]:
    """``QuantizedReLU``: the QCFS activation, ``config`` ``levels`` and ``clip``."""
    layer = node.layer
    return _merge(node, "qcfs", levels=int(layer.levels), clip=float(layer.clip_value))


#: Keras layer class name -> handler (in the order the error messages list them)
RULES = {
    "InputLayer": _input,
    "Dense": _dense,
    "Conv2D": _conv2d,
    "AveragePooling2D": partial(_pooling, kind="avgpool", activation="relu"),
    "MaxPooling2D": partial(_pooling, kind="maxpool", activation=None),
    "Flatten": _flatten,
    "Dropout": _identity,
    "SpatialDropout1D": _identity,
    "SpatialDropout2D": _identity,
    "GaussianNoise": _identity,
    "GaussianDropout": _identity,
    "BatchNormalization": _batchnorm,
    "Activation": _activation,
    "ReLU": _relu,
    "Softmax": partial(_merge, act="softmax"),
    "GlobalAveragePooling2D": _global_average_pooling,
    "Conv1D": _conv1d,
    "AveragePooling1D": partial(_pooling, kind="avgpool1d", activation="relu"),
    "MaxPooling1D": partial(_pooling, kind="maxpool1d", activation=None),
    "GlobalAveragePooling1D": partial(_global_average_pooling, rank=1),
    "DepthwiseConv2D": _depthwise_conv2d,
    "SeparableConv2D": _separable_conv2d,
    "Concatenate": _concatenate,
    "ClampedReLU": _clamped_relu,
    "Add": _add,
    "ZeroPadding2D": _zero_padding,
    "Cropping2D": _cropping,
    "Reshape": _reshape,
    "Rescaling": _rescaling,
    "Normalization": _normalization,
    "QuantizedDense": partial(_quantized, handler=_dense),
    "QuantizedConv2D": partial(_quantized, handler=_conv2d),
    "QuantizedReLU": _quantized_relu,
}
SUPPORTED_LAYERS = tuple(RULES)
#: the layers that may read a pending input affine map (they fold or carry it)
AFFINE_READERS = ("Dense", "Conv2D", "QuantizedDense", "QuantizedConv2D", "Flatten", "Rescaling", "Normalization", "Dropout",
                  "GaussianNoise", "GaussianDropout", "SpatialDropout1D", "SpatialDropout2D")


def _inbound(layer, known: set[str]) -> list[str]:
    """Names of the layers feeding ``layer`` inside its model."""
    for node in layer._inbound_nodes:
        names = [t._keras_history.operation.name for t in node.input_tensors]
        if all(n in known for n in names):
            return names
    raise ConversionError(f"cannot find the inputs of layer {layer.name!r} in the model graph")


def _model_layers(model) -> list[tuple]:
    """``(name, layer, input layer names)`` in topological order, the input layer first."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"expected a keras.Model, got {type(model).__name__}")
    if not model.built or not model.inputs:
        raise ConversionError("the model has no defined input shape; build it with an Input")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ConversionError(f"models with {len(model.inputs)} inputs and "
                              f"{len(model.outputs)} outputs are not supported (need 1 and 1)")
    if isinstance(model, keras.Sequential):
        names = ["input"] + [layer.name for layer in model.layers]
        return [("input", model.inputs[0]._keras_history.operation, [])] + [
            (layer.name, layer, [prev]) for layer, prev in zip(model.layers, names)]
    layers, known = [], set()
    for layer in model.layers:
        ins = [] if type(layer).__name__ == "InputLayer" else _inbound(layer, known)
        known.add(layer.name)
        layers.append((layer.name, layer, ins))
    return layers


def parse(model) -> list[LayerSpec]:
    """Parse a Keras model into folded ``LayerSpec``s: each layer goes through its rule in
    ``RULES`` (see the module docstring and ``tfsnn.conversion.fold``)."""
    layers = _model_layers(model)
    consumers = Counter(i for _, _, ins in layers for i in ins)
    specs: list[LayerSpec] = []
    named: dict[str, LayerSpec] = {}
    alias: dict[str, str] = {}  # Keras layer name -> name of the spec holding its output
    for name, layer, ins in layers:
        rule = RULES.get(type(layer).__name__)
        if rule is None:
            raise _unsupported(layer)
        inputs = [named[alias[i]] for i in ins]
        pending = [i.name for i in inputs if "affine" in i.config]
        if pending and type(layer).__name__ not in AFFINE_READERS:
            raise ConversionError(
                f"layer {name!r} ({type(layer).__name__}) reads the output of an input "
                "Rescaling/Normalization; that affine map folds only into a Dense or Conv2D "
                "layer reading it directly (or through a Flatten)")
        source = ins[0] if ins else None
        new = rule(Node(name, layer, inputs, source, consumers[source] > 1))
        specs += new
        named.update((s.name, s) for s in new)
        alias[name] = new[-1].name if new else inputs[0].name
    out_name = alias[model.layers[-1].name] if model.layers else specs[-1].name
    out_name = alias.get(model.outputs[0]._keras_history.operation.name, out_name)
    named[out_name].is_output = True
    for s in specs:
        s.config.pop("affine", None)  # folded into every layer reading it
        if s.activation == "relu6":  # e.g. Conv2D(activation="relu6")
            s.activation = "relu"
            s.config["max_value"] = 6.0
    check_activations(specs, named[out_name])
    return specs
