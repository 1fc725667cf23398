"""Parse a Keras model into ``LayerSpec``s, folding what a spiking network does not need.

Folding rules (each follows what Keras computes, layer by layer):

- ``Dropout`` / ``SpatialDropout*`` / ``GaussianNoise`` / ``GaussianDropout``: identity at
  inference, removed.
- ``BatchNormalization`` right after a Dense/Conv2D without activation:
  ``W' = W * gamma / sqrt(var + eps)``, ``b' = (b - mean) * gamma / sqrt(var + eps) + beta``
  (per output channel).
- ``Activation`` / ``ReLU`` / ``Softmax`` layers: merged into the layer that produced their input
  (after removing identity layers). A ReLU after a layer whose output is already non-negative
  (pooling or flatten of ReLU outputs) is a no-op and is dropped; a softmax after
  ``GlobalAveragePooling2D`` belongs to the output, not to the conv before the pooling.
- ``GlobalAveragePooling2D`` -> average pooling over the whole map (+ flatten unless
  ``keepdims``).

Hidden layers must end in ReLU (or the clamped ReLU of ``tfsnn.layers``); the output layer may
be softmax or linear.
"""

from __future__ import annotations

import numpy as np

from tfsnn.conversion.graph import LayerSpec, readout_spec

SUPPORTED_LAYERS = (
    "InputLayer", "Dense", "Conv2D", "AveragePooling2D", "MaxPooling2D", "Flatten",
    "Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout",
    "BatchNormalization", "Activation", "ReLU", "Softmax", "GlobalAveragePooling2D",
    "Concatenate", "ClampedReLU",
)
_IDENTITY = {"Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise",
             "GaussianDropout"}
_OUTPUT_ACTIVATIONS = ("softmax", "linear")
_HIDDEN_ACTIVATIONS = ("relu", "clamped_relu")


class ConversionError(ValueError):
    """A model cannot be converted; the message names the layer and what is supported."""


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


def _inbound(model, layer, known: set[str]) -> list[str]:
    """Names of the layers feeding ``layer`` inside ``model``."""
    for node in layer._inbound_nodes:
        names = [t._keras_history.operation.name for t in node.input_tensors]
        if all(n in known for n in names):
            return names
    raise ConversionError(f"cannot find the inputs of layer {layer.name!r} in the model graph")


def _model_layers(model):
    """(layer, input layer names, output tensor) in topological order, InputLayer included."""
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"expected a keras.Model, got {type(model).__name__}")
    if not model.built or not model.inputs:
        raise ConversionError("the model has no defined input shape; build it with an Input")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ConversionError(f"models with {len(model.inputs)} inputs and "
                              f"{len(model.outputs)} outputs are not supported (need 1 and 1)")
    layers = []
    known: set[str] = set()
    if isinstance(model, keras.Sequential):
        prev = "input"
        layers.append(("input", "InputLayer", None, [], _shape(model.inputs[0]), None))
        for layer in model.layers:
            layers.append((layer.name, type(layer).__name__, layer, [prev],
                           None, None))
            prev = layer.name
        return layers, model
    for layer in model.layers:
        ins = [] if type(layer).__name__ == "InputLayer" else _inbound(model, layer, known)
        known.add(layer.name)
        layers.append((layer.name, type(layer).__name__, layer, ins, None, None))
    return layers, model


def parse(model) -> list[LayerSpec]:
    """Parse a Keras model into folded ``LayerSpec``s (see module docstring)."""
    layers, model = _model_layers(model)
    # output shapes per keras layer name
    specs: list[LayerSpec] = []
    alias: dict[str, str] = {}  # keras layer name -> spec name holding its output
    consumers: dict[str, int] = {}
    for _, _, _, ins, _, _ in layers:
        for i in ins:
            consumers[i] = consumers.get(i, 0) + 1
    spec_by_name: dict[str, LayerSpec] = {}

    def add(spec: LayerSpec):
        specs.append(spec)
        spec_by_name[spec.name] = spec
        return spec

    def src(keras_name):
        return spec_by_name[alias[keras_name]]

    for name, cls, layer, ins, in_shape, _ in layers:
        if cls == "InputLayer":
            shape = in_shape if layer is None else _shape(layer.output)
            add(LayerSpec(name, "input", [], shape, shape, source_layers=[name]))
            alias[name] = name
            continue
        if cls not in SUPPORTED_LAYERS:
            raise _unsupported(layer)
        inputs = [src(i) for i in ins]
        x = inputs[0]
        if cls in _IDENTITY:
            alias[name] = x.name
            x.source_layers.append(name)
            continue
        if cls == "Dense":
            if len(x.output_shape) != 1:
                raise _unsupported(layer, f"Dense on a {len(x.output_shape)}-D input "
                                          f"{x.output_shape}; add a Flatten before it")
            kernel = np.asarray(layer.kernel.numpy() if hasattr(layer.kernel, "numpy")
                                else layer.kernel, dtype=np.float32)
            bias = (np.asarray(layer.bias, dtype=np.float32) if layer.use_bias
                    else np.zeros(kernel.shape[1], np.float32))
            spec = LayerSpec(name, "dense", [x.name], x.output_shape, (kernel.shape[1],),
                             kernel=kernel, bias=bias,
                             activation=_activation_name(layer.activation), source_layers=[name])
        elif cls == "Conv2D":
            if getattr(layer, "data_format", "channels_last") != "channels_last":
                raise _unsupported(layer, "only data_format='channels_last' is supported")
            if tuple(layer.dilation_rate) != (1, 1):
                raise _unsupported(layer, f"dilation_rate {layer.dilation_rate} (only 1)")
            if getattr(layer, "groups", 1) != 1:
                raise _unsupported(layer, f"groups={layer.groups} (only 1)")
            if layer.padding not in ("valid", "same"):
                raise _unsupported(layer, f"padding {layer.padding!r}")
            kernel = np.asarray(layer.kernel, dtype=np.float32)
            bias = (np.asarray(layer.bias, dtype=np.float32) if layer.use_bias
                    else np.zeros(kernel.shape[-1], np.float32))
            spec = LayerSpec(name, "conv2d", [x.name], x.output_shape, _shape(layer.output),
                             kernel=kernel, bias=bias,
                             activation=_activation_name(layer.activation),
                             config={"strides": tuple(layer.strides), "padding": layer.padding},
                             source_layers=[name])
        elif cls in ("AveragePooling2D", "MaxPooling2D"):
            if getattr(layer, "data_format", "channels_last") != "channels_last":
                raise _unsupported(layer, "only data_format='channels_last' is supported")
            kind = "avgpool" if cls == "AveragePooling2D" else "maxpool"
            spec = LayerSpec(name, kind, [x.name], x.output_shape, _shape(layer.output),
                             config={"pool_size": tuple(layer.pool_size),
                                     "strides": tuple(layer.strides),
                                     "padding": layer.padding},
                             activation="relu" if kind == "avgpool" else None,
                             source_layers=[name])
        elif cls == "GlobalAveragePooling2D":
            h, w, c = x.output_shape
            pool = LayerSpec(name if layer.keepdims else f"{name}_pool", "avgpool", [x.name],
                             x.output_shape, (1, 1, c),
                             config={"pool_size": (h, w), "strides": (h, w), "padding": "valid"},
                             activation="relu", source_layers=[name])
            add(pool)
            if layer.keepdims:
                alias[name] = pool.name
                continue
            spec = LayerSpec(name, "flatten", [pool.name], (1, 1, c), (c,), source_layers=[name])
        elif cls == "Flatten":
            spec = LayerSpec(name, "flatten", [x.name], x.output_shape,
                             (int(np.prod(x.output_shape)),), source_layers=[name])
        elif cls == "Concatenate":
            rank = len(x.output_shape)
            if layer.axis not in (-1, rank):
                raise _unsupported(layer, f"concatenation along axis {layer.axis}; only the "
                                          "channel (last) axis is supported")
            out = _shape(layer.output)
            spec = LayerSpec(name, "concat", [i.name for i in inputs], x.output_shape, out,
                             config={"axis": -1}, source_layers=[name])
        elif cls == "BatchNormalization":
            _fold_batchnorm(layer, x, consumers, ins[0])
            alias[name] = x.name
            continue
        elif cls in ("Activation", "ReLU", "Softmax", "ClampedReLU"):
            act, cfg = _activation_of_layer(layer, cls)
            _merge_activation(layer, x, act, cfg, consumers, ins[0])
            alias[name] = x.name
            continue
        else:  # pragma: no cover - SUPPORTED_LAYERS and the branches above agree
            raise _unsupported(layer)
        add(spec)
        alias[name] = spec.name

    out_name = alias[model.layers[-1].name] if model.layers else specs[-1].name
    out_name = alias.get(model.outputs[0]._keras_history.operation.name, out_name)
    spec_by_name[out_name].is_output = True
    _check_activations(specs, spec_by_name[out_name])
    return specs


def _activation_of_layer(layer, cls):
    if cls == "Activation":
        return _activation_name(layer.activation), {}
    if cls == "Softmax":
        return "softmax", {}
    if cls == "ClampedReLU":
        return "clamped_relu", {"clamp": float(layer.clamp)}
    # ReLU layer: only the plain form converts
    if (getattr(layer, "max_value", None) is not None
            or float(getattr(layer, "negative_slope", 0.0) or 0.0) != 0.0
            or float(getattr(layer, "threshold", 0.0) or 0.0) != 0.0):
        raise _unsupported(layer, "only a plain ReLU (no max_value, negative_slope, threshold) "
                                  "converts to spiking neurons")
    return "relu", {}


def _merge_activation(layer, spec: LayerSpec, act, cfg, consumers, keras_input):
    if spec.kind in ("dense", "conv2d") and spec.activation == "linear":
        if consumers.get(keras_input, 1) > 1 and spec.source_layers[-1] == keras_input:
            raise ConversionError(
                f"cannot merge activation layer {layer.name!r} into {spec.name!r}: the "
                f"pre-activation output of {spec.name!r} is also used by another layer")
        spec.activation = act
        spec.config.update(cfg)
        spec.source_layers.append(layer.name)
        return
    if act == "relu" and _non_negative(spec):
        spec.source_layers.append(layer.name)  # ReLU of a non-negative tensor: a no-op
        return
    if act in _OUTPUT_ACTIVATIONS and spec.kind in ("avgpool", "flatten", "dense", "conv2d"):
        # e.g. softmax after GlobalAveragePooling2D: belongs to the network output
        spec.config["output_activation"] = act
        spec.source_layers.append(layer.name)
        return
    raise ConversionError(
        f"activation layer {layer.name!r} ({act}) follows {spec.name!r} "
        f"({spec.kind}, activation {spec.activation}) and cannot be merged into it")


def _non_negative(spec: LayerSpec) -> bool:
    return spec.kind in ("maxpool", "avgpool", "flatten", "concat", "input") or (
        spec.activation in _HIDDEN_ACTIVATIONS)


def _fold_batchnorm(layer, spec: LayerSpec, consumers, keras_input):
    axis = layer.axis if isinstance(layer.axis, int) else layer.axis[0]
    rank = len(spec.output_shape) + 1
    if axis not in (-1, rank - 1):
        raise ConversionError(f"BatchNormalization {layer.name!r} normalizes axis {axis}; only "
                              "the channel (last) axis can be folded")
    if spec.kind not in ("dense", "conv2d") or spec.activation != "linear":
        raise ConversionError(
            f"BatchNormalization {layer.name!r} follows {spec.name!r} ({spec.kind}, activation "
            f"{spec.activation}); it can only be folded into a Dense or Conv2D layer without "
            "activation (use Conv2D -> BatchNormalization -> Activation('relu'))")
    if consumers.get(keras_input, 1) > 1:
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


def _check_activations(specs: list[LayerSpec], out: LayerSpec):
    """Hidden neuron layers must be ReLU; the readout softmax or linear."""
    try:
        ro = readout_spec(specs)
    except ValueError as e:
        raise ConversionError(str(e)) from None
    for s in specs:
        if s.kind not in ("dense", "conv2d"):
            continue
        if s is ro:
            if s.activation not in _OUTPUT_ACTIVATIONS + ("relu",):
                raise ConversionError(
                    f"output layer {s.name!r} has activation {s.activation!r}; the output may "
                    f"be softmax or linear")
        elif s.activation not in _HIDDEN_ACTIVATIONS:
            raise ConversionError(
                f"hidden layer {s.name!r} ({', '.join(s.source_layers)}) has activation "
                f"{s.activation!r}; hidden layers must use ReLU to convert to spiking neurons")
    if ro.kind not in ("dense", "conv2d", "avgpool"):
        raise ConversionError(f"the output layer {ro.name!r} ({ro.kind}) has no neurons "
                              "to read out; end the model with a Dense layer")
    if len(out.output_shape) != 1:
        raise ConversionError(f"the output {out.name!r} has shape {out.output_shape}; a "
                              "classifier output must be 1-D (classes)")
