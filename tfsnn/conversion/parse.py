"""Parse a Keras model into ``LayerSpec``s with a rule table: Keras layer class -> handler.

``RULES`` maps each supported Keras class name to a handler. A handler takes a ``Node`` (the
Keras layer and the specs holding its inputs) and returns the specs it adds, the last one
holding the layer's output; ``[]`` when the layer was folded into its input's spec
(``tfsnn.conversion.fold``). Adding a Keras layer is one entry in ``RULES`` plus its handler.

- ``Dropout`` / ``SpatialDropout*`` / ``GaussianNoise`` / ``GaussianDropout``: identity at
  inference, removed.
- ``BatchNormalization`` and activation layers (``Activation``, ``ReLU``, ``Softmax``,
  ``ClampedReLU``): folded (``tfsnn.conversion.fold``).
- ``GlobalAveragePooling2D`` -> average pooling over the whole map (+ flatten unless
  ``keepdims``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import partial

import keras
import numpy as np

from tfsnn.conversion.errors import ConversionError
from tfsnn.conversion.fold import check_activations, fold_batchnorm, merge_activation
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
    """Kernel and bias (zeros without ``use_bias``) as float32 arrays."""
    kernel = layer.kernel
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
    return [LayerSpec(node.name, "dense", [x.name], x.output_shape, (kernel.shape[1],),
                      kernel=kernel, bias=bias, activation=_activation_name(layer.activation),
                      source_layers=[node.name])]


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
    return [LayerSpec(node.name, "conv2d", [x.name], x.output_shape, _shape(layer.output),
                      kernel=kernel, bias=bias, activation=_activation_name(layer.activation),
                      config={"strides": tuple(layer.strides), "padding": layer.padding},
                      source_layers=[node.name])]


def _pooling(node: Node, kind: str, activation: str | None) -> list[LayerSpec]:
    layer, x = node.layer, node.x
    _check_channels_last(layer)
    return [LayerSpec(node.name, kind, [x.name], x.output_shape, _shape(layer.output),
                      config={"pool_size": tuple(layer.pool_size),
                              "strides": tuple(layer.strides), "padding": layer.padding},
                      activation=activation, source_layers=[node.name])]


def _global_average_pooling(node: Node) -> list[LayerSpec]:
    x, keep = node.x, node.layer.keepdims
    h, w, c = x.output_shape
    pool = LayerSpec(node.name if keep else f"{node.name}_pool", "avgpool", [x.name],
                     x.output_shape, (1, 1, c),
                     config={"pool_size": (h, w), "strides": (h, w), "padding": "valid"},
                     activation="relu", source_layers=[node.name])
    if keep:
        return [pool]
    return [pool, LayerSpec(node.name, "flatten", [pool.name], (1, 1, c), (c,),
                            source_layers=[node.name])]


def _flatten(node: Node) -> list[LayerSpec]:
    x = node.x
    return [LayerSpec(node.name, "flatten", [x.name], x.output_shape,
                      (int(np.prod(x.output_shape)),), source_layers=[node.name])]


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
    return _merge(node, _activation_name(node.layer.activation))


def _relu(node: Node) -> list[LayerSpec]:
    layer = node.layer
    if (getattr(layer, "max_value", None) is not None
            or float(getattr(layer, "negative_slope", 0.0) or 0.0) != 0.0
            or float(getattr(layer, "threshold", 0.0) or 0.0) != 0.0):
        raise _unsupported(layer, "only a plain ReLU (no max_value, negative_slope, threshold) "
                                  "converts to spiking neurons")
    return _merge(node, "relu")


def _clamped_relu(node: Node) -> list[LayerSpec]:
    return _merge(node, "clamped_relu", clamp=float(node.layer.clamp))


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
    "Concatenate": _concatenate,
    "ClampedReLU": _clamped_relu,
}
SUPPORTED_LAYERS = tuple(RULES)


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
        source = ins[0] if ins else None
        new = rule(Node(name, layer, inputs, source, consumers[source] > 1))
        specs += new
        named.update((s.name, s) for s in new)
        alias[name] = new[-1].name if new else inputs[0].name
    out_name = alias[model.layers[-1].name] if model.layers else specs[-1].name
    out_name = alias.get(model.outputs[0]._keras_history.operation.name, out_name)
    named[out_name].is_output = True
    check_activations(specs, named[out_name])
    return specs
