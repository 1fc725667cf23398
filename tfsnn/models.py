"""Example ANN architectures, built by name.

    model = build_model("lenet", ds.input_shape, ds.num_classes, pool="max", batchnorm=True)

Registered in :data:`MODELS`: ``mlp``, ``lenet`` (works for 8x8 and 28x28 inputs),
``vgg_small`` (CIFAR-10 shaped, for speed benchmarks) and the deeper CIFAR-10 networks
``vgg11``, ``resnet20`` (residual ``Add``) and ``mobilenet`` (depthwise/separable), which
have a ``width`` argument and BatchNorm by default. Layers have stable names (``conv1``,
``pool1``, ``fc1``, ``output``, ...). ``activation`` is a Keras activation name used on each
hidden Dense/Conv2D, or a zero-argument factory returning a fresh Keras layer that is inserted
after each of them (named ``<layer>_act``), e.g. ``lambda: keras.layers.ReLU(max_value=1.0)``.
``activation="quant", activation_levels=L`` (``build_model``) trains QCFS activations of ``L``
levels (``tfsnn.quantization.QuantizedReLU``) for low-latency conversion.

``activity_l1`` (default 0: off) adds an L1 penalty on the hidden activations to the training
loss, ``activity_l1 * sum_i |a_i|`` per sample over every hidden Dense/Conv2D output after its
activation (Keras' ``activity_regularizer``, averaged over the batch). It drives weak
activations to exactly zero: a time-to-first-spike SNN spends one spike per active neuron, so
sparser activations mean proportionally fewer spikes (docs/encodings.md).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import keras

from tfsnn.quantization import quantized_relu_factory

__all__ = ["MODELS", "build_model"]


def _activation_spec(activation):
    """Return ("name", value) for a string/function activation or ("factory", f)."""
    if activation is None or isinstance(activation, str):
        return "name", activation
    if isinstance(activation, keras.layers.Layer):
        raise TypeError(
            f"activation got a layer instance ({type(activation).__name__}); pass a factory "
            "that returns a fresh layer, e.g. the class itself or "
            "lambda: keras.layers.ReLU(max_value=1.0), since every hidden layer needs its own")
    if not callable(activation):
        raise TypeError(f"activation must be a Keras activation name or a callable, "
                        f"got {activation!r}")
    try:
        inspect.signature(activation).bind()
        zero_arg = True
    except TypeError:  # needs an argument: an activation function f(x)
        zero_arg = False
    except ValueError:  # no signature (builtin): treat as an activation function
        zero_arg = False
    return ("factory", activation) if zero_arg else ("name", activation)


def _l1(activity_l1):
    if not float(activity_l1) >= 0:
        raise ValueError(f"activity_l1 must be >= 0, got {activity_l1!r}")
    return keras.regularizers.L1(float(activity_l1)) if float(activity_l1) > 0 else None


def _hidden(x, layer_cls, name: str, act, batchnorm: bool, activity_l1=0.0, **layer_kw):
    """Dense/Conv2D + optional BatchNorm + activation, as documented in the module."""
    kind, value = act
    fused = kind == "name" and not batchnorm
    reg = _l1(activity_l1)
    x = layer_cls(name=name, activation=value if fused else None,
                  activity_regularizer=reg if fused else None, **layer_kw)(x)
    if batchnorm:
        x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    if fused:
        return x
    return _activate(x, name, act, reg)


def _activate(x, name: str, act, reg=None):
    """The activation as its own layer ``<name>_act`` (a factory's layer or Activation)."""
    kind, value = act
    if kind == "factory":
        layer = value()
        if not isinstance(layer, keras.layers.Layer):
            raise TypeError(f"activation factory must return a keras Layer, got "
                            f"{type(layer).__name__}")
        layer.name = f"{name}_act"
    else:
        layer = keras.layers.Activation(value if value is not None else "linear",
                                        name=f"{name}_act")
    if reg is not None:  # penalize the activation's output
        layer.activity_regularizer = reg
    return layer(x)


def _pool_layer(pool: str, name: str):
    if pool == "avg":
        return keras.layers.AveragePooling2D(2, name=name)
    if pool == "max":
        return keras.layers.MaxPooling2D(2, name=name)
    raise ValueError(f"pool must be 'avg' or 'max', got {pool!r}")


def _image_shape(model: str, input_shape, min_size: int) -> tuple:
    shape = tuple(int(d) for d in input_shape)
    if len(shape) != 3:
        raise ValueError(f"{model} needs an image input shape (H, W, C), got {shape}; "
                         "add a channel axis for grayscale images (load_dataset does)")
    if min(shape[:2]) < min_size:
        raise ValueError(f"{model} needs images of at least {min_size}x{min_size}, "
                         f"got {shape[0]}x{shape[1]}")
    return shape


def _output(x, num_classes: int, output_activation):
    return keras.layers.Dense(num_classes, activation=output_activation, name="output")(x)


def _dropout(x, rate: float, name: str):
    return keras.layers.Dropout(rate, name=name)(x) if rate > 0 else x


def mlp(input_shape, num_classes, *, hidden=(128, 64), activation="relu", dropout=0.1,
        batchnorm=False, output_activation="softmax", activity_l1=0.0) -> keras.Model:
    """Flatten -> fc1(128) -> dropout1 -> fc2(64) -> output(softmax)."""
    act = _activation_spec(activation)
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    x = keras.layers.Flatten(name="flatten")(inputs)
    for i, units in enumerate(hidden, start=1):
        x = _hidden(x, keras.layers.Dense, f"fc{i}", act, batchnorm, activity_l1, units=units)
        if i == 1:
            x = _dropout(x, dropout, "dropout1")
    return keras.Model(inputs, _output(x, num_classes, output_activation), name="mlp")


def lenet(input_shape, num_classes, *, activation="relu", pool="avg", batchnorm=False,
          dropout=0.0, output_activation="softmax", activity_l1=0.0) -> keras.Model:
    """LeNet-5 style: conv1(6,5x5,same) pool1 conv2(16,5x5) pool2 fc1(120) fc2(84) output.

    conv2 uses "valid" padding when the pooled map is at least 8 pixels wide (28x28 input:
    the classic 14 -> 10 -> 5), "same" otherwise (8x8 input: 4 -> 4 -> 2).
    """
    shape = _image_shape("lenet", input_shape, 4)
    act = _activation_spec(activation)
    inputs = keras.Input(shape=shape, name="input")
    x = _hidden(inputs, keras.layers.Conv2D, "conv1", act, batchnorm, activity_l1, filters=6,
                kernel_size=5, padding="same")
    x = _pool_layer(pool, "pool1")(x)
    pad2 = "valid" if min(shape[0] // 2, shape[1] // 2) >= 8 else "same"
    x = _hidden(x, keras.layers.Conv2D, "conv2", act, batchnorm, activity_l1, filters=16,
                kernel_size=5, padding=pad2)
    x = _pool_layer(pool, "pool2")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = _hidden(x, keras.layers.Dense, "fc1", act, batchnorm, activity_l1, units=120)
    x = _dropout(x, dropout, "dropout1")
    x = _hidden(x, keras.layers.Dense, "fc2", act, batchnorm, activity_l1, units=84)
    x = _dropout(x, dropout, "dropout2")
    return keras.Model(inputs, _output(x, num_classes, output_activation), name="lenet")


def vgg_small(input_shape=(32, 32, 3), num_classes=10, *, activation="relu", pool="max",
              batchnorm=False, dropout=0.0, widths=(32, 64, 128), dense=256,
              output_activation="softmax", activity_l1=0.0) -> keras.Model:
    """VGG-style: per block two 3x3 convs (conv<b>_1, conv<b>_2) + pool<b>; fc1(256); output."""
    shape = _image_shape("vgg_small", input_shape, 2 ** len(widths))
    act = _activation_spec(activation)
    inputs = keras.Input(shape=shape, name="input")
    x = inputs
    for b, filters in enumerate(widths, start=1):
        for j in (1, 2):
            x = _hidden(x, keras.layers.Conv2D, f"conv{b}_{j}", act, batchnorm, activity_l1,
                        filters=filters,
                        kernel_size=3, padding="same")
        x = _pool_layer(pool, f"pool{b}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = _hidden(x, keras.layers.Dense, "fc1", act, batchnorm, activity_l1, units=dense)
    x = _dropout(x, dropout, "dropout1")
    return keras.Model(inputs, _output(x, num_classes, output_activation), name="vgg_small")


def _check_width(width) -> int:
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive integer, got {width!r}")
    return width


def _conv_bn(x, name: str, batchnorm: bool, **conv_kw):
    """Conv2D ``name`` (no activation) + optional BatchNorm ``<name>_bn``."""
    x = keras.layers.Conv2D(name=name, **conv_kw)(x)
    return keras.layers.BatchNormalization(name=f"{name}_bn")(x) if batchnorm else x


VGG11_FILTERS = ((1,), (2,), (4, 4), (8, 8), (8, 8))  # x width, per pooling block


def vgg11(input_shape=(32, 32, 3), num_classes=10, *, width=64, activation="relu", pool="avg",
          batchnorm=True, dropout=0.0, dense=None, output_activation="softmax",
          activity_l1=0.0) -> keras.Model:
    """VGG-11 (configuration A, Simonyan & Zisserman 2015) for 32x32 images.

    Eight 3x3 convolutions ``conv<b>_<j>`` with ``width`` x (1, 2, 4, 4, 8, 8, 8, 8) filters
    in five blocks, each ending in 2x2 pooling ``pool<b>`` (average by default, ``pool="max"``);
    flatten; ``fc1`` (``dense`` units, default 8 * width); output. ``width=64`` is the
    original; smaller widths give CPU-sized versions.
    """
    shape = _image_shape("vgg11", input_shape, 2 ** len(VGG11_FILTERS))
    width = _check_width(width)
    act = _activation_spec(activation)
    inputs = keras.Input(shape=shape, name="input")
    x = inputs
    for b, block in enumerate(VGG11_FILTERS, start=1):
        for j, mult in enumerate(block, start=1):
            x = _hidden(x, keras.layers.Conv2D, f"conv{b}_{j}", act, batchnorm, activity_l1,
                        filters=mult * width, kernel_size=3, padding="same")
        x = _pool_layer(pool, f"pool{b}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    units = 8 * width if dense is None else int(dense)
    x = _hidden(x, keras.layers.Dense, "fc1", act, batchnorm, activity_l1, units=units)
    x = _dropout(x, dropout, "dropout1")
    return keras.Model(inputs, _output(x, num_classes, output_activation), name="vgg11")


def _basic_block(x, name: str, filters: int, stride: int, act, batchnorm: bool, activity_l1):
    """``name``_conv1 (3x3, act) -> ``name``_conv2 (3x3) -> ``name``_add with the shortcut ->
    activation ``name``_act. Shortcut: identity, or ``name``_proj (1x1 conv, stride) when the
    shape changes (option B of He et al. 2016)."""
    shortcut = x
    y = _hidden(x, keras.layers.Conv2D, f"{name}_conv1", act, batchnorm, activity_l1,
                filters=filters, kernel_size=3, strides=stride, padding="same")
    y = _conv_bn(y, f"{name}_conv2", batchnorm, filters=filters, kernel_size=3, padding="same")
    if stride != 1 or x.shape[-1] != filters:
        shortcut = _conv_bn(x, f"{name}_proj", batchnorm, filters=filters, kernel_size=1,
                            strides=stride)
    y = keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return _activate(y, name, act, _l1(activity_l1))


def resnet20(input_shape=(32, 32, 3), num_classes=10, *, width=16, activation="relu",
             batchnorm=True, pool=None, output_activation="softmax",
             activity_l1=0.0) -> keras.Model:
    """ResNet-20 for CIFAR (He et al. 2016, section 4.2).

    ``conv1`` (3x3, ``width`` filters); three stages of three basic blocks
    ``block<stage>_<block>`` (see ``_basic_block``) with width, 2 * width and 4 * width
    filters; global average pooling ``gap``; output. The first block of stages 2 and 3 halves
    the map: ``pool=None`` by stride-2 convolutions (the paper), ``pool="avg"``/``"max"`` by a
    2x2 pooling layer ``pool<stage>`` in front of that block (its convolutions then have stride
    1 and its shortcut is a 1x1 projection), the variant with max pooling in the network.
    """
    shape = _image_shape("resnet20", input_shape, 4)
    width = _check_width(width)
    if pool is not None:
        _pool_layer(pool, "check")
    act = _activation_spec(activation)
    inputs = keras.Input(shape=shape, name="input")
    x = _hidden(inputs, keras.layers.Conv2D, "conv1", act, batchnorm, activity_l1,
                filters=width, kernel_size=3, padding="same")
    for stage in (1, 2, 3):
        filters = width * 2 ** (stage - 1)
        for block in (1, 2, 3):
            stride = 2 if stage > 1 and block == 1 else 1
            if stride == 2 and pool is not None:
                x = _pool_layer(pool, f"pool{stage}")(x)
                stride = 1
            x = _basic_block(x, f"block{stage}_{block}", filters, stride, act, batchnorm,
                             activity_l1)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, _output(x, num_classes, output_activation), name="resnet20")


MOBILENET_BLOCKS = ((2, 1), (4, 2), (4, 1), (8, 2), (8, 1), (16, 2), (16, 1))  # (x width, stride)


def mobilenet(input_shape=(32, 32, 3), num_classes=10, *, width=32, separable=False,
              activation="relu", batchnorm=True, dropout=0.0, output_activation="softmax",
              activity_l1=0.0) -> keras.Model:
    """A small MobileNet (Howard et al. 2017) for 32x32 images.

    ``conv1`` (3x3, ``width`` filters), then seven depthwise-separable blocks with
    ``MOBILENET_BLOCKS`` (filters as multiples of width, stride): by default as in MobileNet,
    ``dw<i>`` (DepthwiseConv2D 3x3, BatchNorm, act) then ``pw<i>`` (1x1 Conv2D, BatchNorm,
    act); ``separable=True`` uses one SeparableConv2D ``sep<i>`` (BatchNorm, act) instead;
    global average pooling ``gap``; output.
    """
    shape = _image_shape("mobilenet", input_shape, 8)
    width = _check_width(width)
    act = _activation_spec(activation)
    inputs = keras.Input(shape=shape, name="input")
    x = _hidden(inputs, keras.layers.Conv2D, "conv1", act, batchnorm, activity_l1,
                filters=width, kernel_size=3, padding="same")
    for i, (mult, stride) in enumerate(MOBILENET_BLOCKS, start=1):
        if separable:
            x = _hidden(x, keras.layers.SeparableConv2D, f"sep{i}", act, batchnorm,
                        activity_l1, filters=mult * width, kernel_size=3, strides=stride,
                        padding="same")
            continue
        x = _hidden(x, keras.layers.DepthwiseConv2D, f"dw{i}", act, batchnorm, activity_l1,
                    kernel_size=3, strides=stride, padding="same")
        x = _hidden(x, keras.layers.Conv2D, f"pw{i}", act, batchnorm, activity_l1,
                    filters=mult * width, kernel_size=1)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = _dropout(x, dropout, "dropout1")
    return keras.Model(inputs, _output(x, num_classes, output_activation), name="mobilenet")


MODELS: dict[str, Callable[..., keras.Model]] = {
    "mlp": mlp,
    "lenet": lenet,
    "vgg_small": vgg_small,
    "vgg11": vgg11,
    "resnet20": resnet20,
    "mobilenet": mobilenet,
}


def build_model(name: str, input_shape, num_classes: int, **kwargs) -> keras.Model:
    """Build the registered architecture ``name`` (see :data:`MODELS`) for the given data."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; registered models: {', '.join(sorted(MODELS))}")
    builder = MODELS[name]
    params = inspect.signature(builder).parameters
    accepted = [p for p, v in params.items() if v.kind == inspect.Parameter.KEYWORD_ONLY]
    unknown = sorted(set(kwargs) - set(params) - {"activation_levels"})
    if unknown and not any(v.kind == inspect.Parameter.VAR_KEYWORD for v in params.values()):
        raise ValueError(f"model {name!r} does not accept {', '.join(unknown)}; "
                         f"accepted options: {', '.join(accepted)}")
    if int(num_classes) < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    return builder(tuple(input_shape), int(num_classes), **_quant_activation(kwargs))


def _quant_activation(kwargs: dict) -> dict:
    """``activation="quant", activation_levels=L``: QCFS activations of ``L`` levels
    (``tfsnn.quantization.QuantizedReLU``, trainable clip) after every hidden layer."""
    kwargs = dict(kwargs)
    levels = kwargs.pop("activation_levels", None)
    if kwargs.get("activation") == "quant":
        if levels is None:
            raise ValueError("activation='quant' needs activation_levels=L (the number of "
                             "quantization levels, e.g. 3 for 2-bit activations)")
        kwargs["activation"] = quantized_relu_factory(levels)
    elif levels is not None:
        raise ValueError(f"activation_levels={levels!r} needs activation='quant'")
    return kwargs
