"""Random supported Keras models for the converter's property tests (``tests/fuzz``).

An architecture is plain data: a list of ``Op`` (a Keras layer kind, its name, inputs and
arguments) that hypothesis draws with ``architectures`` and prints when an example fails.
``build`` turns it into a Keras model (Sequential when it is a chain and the draw asks for
one, else Functional) with weights drawn from a seed. ``reference`` runs the very same layer
objects eagerly and clips the output of every hidden layer of neurons at its scale lambda:
the clip-propagated, normalized ANN, whose activations an ideal rate-coded SNN reproduces.

With ``exact=True`` every number the SNN adds is a dyadic rational with few bits (weights
multiples of 1/64, BatchNorm statistics that fold into multiples of 1/512, average pools
that feed neurons over power-of-two areas, inputs multiples of 1/16), so every float sum is
exact whatever its order and both execution paths must give the very same spikes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np
from hypothesis import strategies as st
from keras import ops

#: the ops that take a list of inputs
MERGES = ("concat", "add")
BN_EPS = 2.0 ** -10  # var = s^2 - eps is exact, so var + eps = s^2 is a power of four


@dataclass
class Op:
    """One Keras layer of a drawn architecture."""

    name: str
    kind: str
    inputs: list
    args: dict = field(default_factory=dict)
    #: this layer ends a hidden layer of neurons (the name of its Dense/Conv2D): the
    #: reference clips its output at that layer's lambda
    clip: str | None = None


@dataclass
class Arch:
    input_shape: tuple
    ops: list
    functional: bool
    #: why conversion must refuse it (None: it is supported)
    refused: str | None = None
    #: how it ends: "flatten" or "gap_dense" (then Dense layers), "conv_gap" (a linear conv
    #: read out through global average pooling) or "relu_gap" (the pooling is the readout)
    end: str = "flatten"

    @property
    def output(self) -> str:
        return self.ops[-1].name


#: the activation inside the Dense/Conv2D for each form of its ReLU (others: None)
INSIDE = {"inside": "relu", "bn_after_relu": "relu", "tanh": "tanh"}


def _pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _out_len(n, k, s, padding):
    return (n - k) // s + 1 if padding == "valid" else -(-n // s)


class _Builder:
    """Appends ops while it tracks the current tensor and its shape."""

    def __init__(self, draw, shape, exact, functional, convs=("conv",)):
        self.draw, self.shape, self.exact, self.functional = draw, shape, exact, functional
        self.ops, self.cur, self.refused = [], "input", None
        #: the convolution kinds drawn: "conv" (Conv2D), "dwconv", "sepconv"
        self.convs = convs

    def add(self, name, kind, args=None, inputs=None, clip=None):
        self.ops.append(Op(name, kind, inputs or [self.cur], args or {}, clip))
        self.cur = name
        return name

    def activation(self, name, form):
        """The ReLU of the Dense/Conv2D ``name`` in one of the forms Keras models use."""
        if form == "relu_layer":
            self.add(f"{name}_relu", "relu", clip=name)
        elif form == "activation_layer":
            self.add(f"{name}_act", "activation", {"activation": "relu"}, clip=name)
        elif form == "bn":
            self.add(f"{name}_bn", "bn")
            self.add(f"{name}_relu", "relu", clip=name)
        elif form == "bn_after_relu":  # refused: BatchNorm after the ReLU cannot be folded
            self.add(f"{name}_bn", "bn")
            self.refused = self.refused or f"BatchNormalization {name}_bn after a ReLU"
        elif form == "tanh":  # refused: no spiking equivalent
            self.refused = self.refused or f"{name} has activation tanh"
        if self.draw(st.integers(0, 3)) == 0:
            self.add(f"{name}_drop", "dropout", {"rate": 0.25})

    def form(self, refusable=True):
        forms = ["inside", "relu_layer", "activation_layer", "bn", "bn"]
        form = self.draw(st.sampled_from(forms))
        if refusable and self.draw(st.integers(0, 39)) == 0:
            form = self.draw(st.sampled_from(["bn_after_relu", "tanh"]))
        return form

    def conv(self, name, same_size=False, filters=None, relu=True):
        h, w, c = self.shape
        k = self.draw(st.integers(1, 3))
        s = 1 if same_size else self.draw(st.integers(1, 2))
        padding = "same" if same_size else self.draw(st.sampled_from(["valid", "same"]))
        if padding == "valid" and (h < k or w < k):
            padding = "same"
        kind = self.draw(st.sampled_from(self.convs)) if len(self.convs) > 1 else "conv"
        args = {}
        if kind != "conv":
            args["depth_multiplier"] = self.draw(st.integers(1, 2))
        if kind == "dwconv":  # one map per channel and multiplier
            if filters and filters % c:
                kind, args = "conv", {}
            else:
                args["depth_multiplier"] = filters // c if filters else args["depth_multiplier"]
                filters = c * args["depth_multiplier"]
        filters = filters or self.draw(st.integers(1, 4))
        form = self.form() if relu else "linear"
        self.add(name, kind, {"filters": filters, "kernel_size": k, "strides": s,
                              "padding": padding, "activation": INSIDE.get(form), **args},
                 clip=name if form == "inside" else None)
        self.shape = (_out_len(h, k, s, padding), _out_len(w, k, s, padding), filters)
        if relu:
            self.activation(name, form)
        elif self.draw(st.booleans()):  # linear readout conv with BatchNorm folded in
            self.add(f"{name}_bn", "bn")

    def pool(self, name, kind):
        h, w, c = self.shape
        p = self.draw(st.integers(1, 2 if kind == "avgpool" else 3))
        s = self.draw(st.integers(1, 2))
        padding = self.draw(st.sampled_from(["valid", "same"]))
        if padding == "valid" and (h < p or w < p):
            padding = "same"
        self.add(name, kind, {"pool_size": p, "strides": s, "padding": padding})
        self.shape = (_out_len(h, p, s, padding), _out_len(w, p, s, padding), c)
        if self.draw(st.integers(0, 5)) == 0:  # a ReLU of a non-negative tensor: a no-op
            self.add(f"{name}_relu", "relu")

    def branch(self, name):
        """Two branches from the current tensor, concatenated along the channels: two convs,
        or the tensor itself and a conv."""
        src, shape = self.cur, self.shape
        self.conv(f"{name}a", same_size=True)
        a, c_a = self.cur, self.shape[-1]
        b, c_b = src, shape[-1]
        if self.draw(st.booleans()):
            self.cur, self.shape = src, shape
            self.conv(f"{name}b", same_size=True)
            b, c_b = self.cur, self.shape[-1]
        self.add(f"{name}_cat", "concat", inputs=[a, b] if self.draw(st.booleans()) else [b, a])
        self.shape = shape[:2] + (c_a + c_b,)

    def residual(self, name):
        """A residual block: ``{name}a`` (ReLU) -> ``{name}b`` (linear, BatchNorm or not) added
        to the block's input (identity) or to a 1x1 projection ``{name}p`` of it (linear,
        BatchNorm or not), then a ReLU (the sum's neurons)."""
        src, shape = self.cur, self.shape
        project = self.draw(st.booleans())
        self.conv(f"{name}a", same_size=True)
        filters = self.draw(st.integers(1, 4)) if project else shape[-1]
        self.conv(f"{name}b", same_size=True, filters=filters, relu=False)
        main, short = self.cur, src
        if project:
            self.cur = src
            self.add(f"{name}p", "conv", {"filters": filters, "kernel_size": 1, "strides": 1,
                                          "padding": "valid", "activation": None})
            if self.draw(st.booleans()):
                self.add(f"{name}p_bn", "bn")
            short = self.cur
        self.add(f"{name}_add", "add", inputs=[main, short] if self.draw(st.booleans())
                 else [short, main])
        self.shape = shape[:2] + (filters,)
        how = self.draw(st.sampled_from(["relu", "activation"]))
        self.add(f"{name}_relu", how, {"activation": "relu"}, clip=f"{name}_add")

    def zeropad(self, name):
        h, w, c = self.shape
        pad = tuple(tuple(self.draw(st.integers(0, 2)) for _ in range(2)) for _ in range(2))
        self.add(name, "zeropad", {"padding": pad})
        self.shape = (h + sum(pad[0]), w + sum(pad[1]), c)

    def gap_ok(self):
        h, w, _ = self.shape
        return not self.exact or _pow2(h * w)

    def dense(self, name, units, relu=True, softmax=None):
        form = self.form() if relu else None
        act = "softmax" if softmax == "inside" else INSIDE.get(form)
        self.add(name, "dense", {"units": units, "activation": act},
                 clip=name if form == "inside" else None)
        self.shape = (units,)
        if relu:
            self.activation(name, form)
        elif softmax:
            self.output_softmax(softmax)

    def output_softmax(self, how):
        if how == "activation_layer":
            self.add("out_softmax", "activation", {"activation": "softmax"})
        elif how == "softmax_layer":
            self.add("out_softmax", "softmax")


@st.composite
def architectures(draw, exact=True, max_blocks=4, convs=("conv",)):
    """A random supported model (a few are refused on purpose, see ``Arch.refused``);
    ``convs``: the convolution kinds to draw (``_Builder.convs``)."""
    shape = (draw(st.integers(4, 10)), draw(st.integers(4, 10)), draw(st.integers(1, 3)))
    functional = draw(st.booleans())
    b = _Builder(draw, shape, exact, functional, convs)
    kinds = ["conv", "conv", "avgpool", "maxpool", "zeropad"] + (
        ["branch", "branch", "residual", "residual"] if functional else [])
    # from 1 block up (shrinks to one), 0 last: small integers come first too often
    for i in range(draw(st.sampled_from(list(range(1, max_blocks + 1)) + [0]))):
        kind = draw(st.sampled_from(kinds))
        if kind == "conv":
            b.conv(f"b{i}_conv")
        elif kind == "branch":
            b.branch(f"b{i}")
        elif kind == "residual":
            b.residual(f"b{i}")
        elif kind == "zeropad":
            b.zeropad(f"b{i}_pad")
        else:
            b.pool(f"b{i}_{kind}", kind)
    n_cls = draw(st.integers(2, 5))
    softmax = draw(st.sampled_from([None, "inside", "activation_layer", "softmax_layer"]))
    # global average pooling feeding spiking neurons must keep exact sums (a power-of-two
    # area); as or after the readout it only averages what both paths computed alike
    ends = ["flatten", "gap_dense"] if b.gap_ok() else ["flatten"]
    ends += ["conv_gap", "relu_gap"] if b.ops else []
    end = draw(st.sampled_from(ends))
    if end == "conv_gap":  # the readout is a linear conv; the pooling averages its potentials
        b.conv("out", same_size=True, filters=n_cls, relu=False)
        b.add("gap", "gap")
        b.output_softmax(softmax if softmax != "inside" else "softmax_layer")
        return Arch(shape, b.ops, functional, b.refused, end)
    if end == "relu_gap":  # the pooling after ReLU neurons is the readout itself
        b.add("gap", "gap")
        b.output_softmax(softmax if softmax != "inside" else "activation_layer")
        return Arch(shape, b.ops, functional, b.refused, end)
    if end == "gap_dense":
        keep = draw(st.booleans())
        b.add("gap", "gap", {"keepdims": keep})
        if keep:
            b.add("gap_flatten", "flatten")
    else:
        b.add("flatten", "flatten")
    for j in range(draw(st.integers(0, 2))):
        b.dense(f"fc{j}", draw(st.integers(1, 12)))
    b.dense("out", n_cls, relu=False, softmax=softmax)
    return Arch(shape, b.ops, functional, b.refused, end)


# -- building -------------------------------------------------------------------------------

def _layer(op: Op):
    a, L = op.args, keras.layers
    if op.kind == "conv":
        return L.Conv2D(a["filters"], a["kernel_size"], strides=a["strides"],
                        padding=a["padding"], activation=a["activation"], name=op.name)
    if op.kind == "dwconv":
        return L.DepthwiseConv2D(a["kernel_size"], strides=a["strides"], padding=a["padding"],
                                 depth_multiplier=a["depth_multiplier"],
                                 activation=a["activation"], name=op.name)
    if op.kind == "sepconv":
        return L.SeparableConv2D(a["filters"], a["kernel_size"], strides=a["strides"],
                                 padding=a["padding"], depth_multiplier=a["depth_multiplier"],
                                 activation=a["activation"], name=op.name)
    if op.kind == "dense":
        return L.Dense(a["units"], activation=a["activation"], name=op.name)
    if op.kind in ("avgpool", "maxpool"):
        cls = L.AveragePooling2D if op.kind == "avgpool" else L.MaxPooling2D
        return cls(a["pool_size"], strides=a["strides"], padding=a["padding"], name=op.name)
    simple = {"bn": lambda: L.BatchNormalization(epsilon=BN_EPS, name=op.name),
              "relu": lambda: L.ReLU(name=op.name),
              "activation": lambda: L.Activation(a["activation"], name=op.name),
              "softmax": lambda: L.Softmax(name=op.name),
              "dropout": lambda: L.Dropout(a.get("rate", 0.25), name=op.name),
              "flatten": lambda: L.Flatten(name=op.name),
              "gap": lambda: L.GlobalAveragePooling2D(keepdims=a.get("keepdims", False),
                                                      name=op.name),
              "concat": lambda: L.Concatenate(name=op.name),
              "add": lambda: L.Add(name=op.name),
              "zeropad": lambda: L.ZeroPadding2D(a.get("padding", 1), name=op.name),
              "crop": lambda: L.Cropping2D(a.get("cropping", 1), name=op.name),
              "reshape": lambda: L.Reshape(a.get("target_shape", (-1,)), name=op.name)}
    return simple[op.kind]()


def _is_chain(arch: Arch) -> bool:
    prev = "input"
    for op in arch.ops:
        if op.inputs != [prev]:
            return False
        prev = op.name
    return True


def build(arch: Arch, seed: int, exact: bool = True, gain: float = 1.0) -> keras.Model:
    """The Keras model of ``arch`` with weights drawn from ``seed`` (see module doc)."""
    layers = {op.name: _layer(op) for op in arch.ops}
    if not arch.functional and _is_chain(arch):
        model = keras.Sequential([keras.Input(arch.input_shape, name="input")]
                                 + [layers[op.name] for op in arch.ops])
    else:
        t = {"input": keras.Input(arch.input_shape, name="input")}
        for op in arch.ops:
            ins = [t[i] for i in op.inputs]
            t[op.name] = layers[op.name](ins if op.kind in MERGES else ins[0])
        model = keras.Model(t["input"], t[arch.output])
    set_weights(model, arch, np.random.default_rng(seed), exact, gain)
    return model


def set_weights(model, arch: Arch, rng, exact: bool, gain: float):
    for op in arch.ops:
        layer = model.get_layer(op.name)
        if op.kind in ("conv", "dense", "dwconv", "sepconv"):
            *kernels, bias = (w.shape for w in layer.get_weights())
            # a separable conv's two kernels multiply: each of them multiples of 1/8
            unit, g = (8, np.sqrt(gain)) if op.kind == "sepconv" else (64, gain)
            ks = []
            for kernel in kernels:
                fan_in = int(np.prod(kernel[:2] if op.kind == "dwconv" else kernel[:-1]))
                if op.kind == "sepconv" and len(ks) == 0:
                    fan_in = int(np.prod(kernel[:2]))  # the depthwise part
                if exact:
                    m = max(1, round(unit * g / fan_in))
                    ks.append(rng.integers(-m, m + m // 2 + 1, kernel) / unit)
                else:
                    ks.append(rng.uniform(-1.0, 1.5, kernel) * g / fan_in)
            b = (rng.integers(-16, 25, bias) / 64 if exact
                 else rng.uniform(-0.25, 0.4, bias))
            layer.set_weights([k.astype("float32") for k in ks] + [b.astype("float32")])
        elif op.kind == "bn":
            c = layer.get_weights()[0].shape
            if exact:  # gamma / sqrt(var + eps) a multiple of 1/8
                gamma = rng.integers(-2, 7, c) / 4
                var = rng.choice([0.25, 1.0, 4.0], c) - BN_EPS
                mean, beta = rng.integers(-16, 17, c) / 16, rng.integers(-8, 17, c) / 64
            else:
                gamma, var = rng.uniform(-0.5, 2.0, c), rng.uniform(0.05, 3.0, c)
                mean, beta = rng.normal(0, 0.5, c), rng.uniform(-0.3, 0.5, c)
            layer.set_weights([w.astype("float32") for w in (gamma, beta, mean, var)])


def images(rng, shape, n, exact=True) -> np.ndarray:
    """``n`` images in [0, 1]: multiples of 1/16 (exact) or uniform floats."""
    if exact:
        return (rng.integers(0, 17, (n,) + tuple(shape)) / 16).astype("float32")
    return rng.uniform(0, 1, (n,) + tuple(shape)).astype("float32")


def reference(model, arch: Arch, x, lam: dict | None = None) -> dict:
    """Every layer's output on ``x`` computed by Keras with the same layer objects, eagerly,
    the output of each hidden layer of neurons clipped at its ``lam`` (per channel; ANN
    units). Softmax layers give their input: the pre-softmax values the readout integrates.
    """
    lam = lam or {}
    vals = {"input": ops.convert_to_tensor(x)}
    for op in arch.ops:
        layer = model.get_layer(op.name)
        ins = [vals[i] for i in op.inputs]
        if op.kind == "softmax" or op.args.get("activation") == "softmax":
            y = ins[0]
            if op.kind == "dense":
                y = ops.add(ops.matmul(y, layer.kernel), layer.bias)
        else:
            y = layer(ins if op.kind in MERGES else ins[0], training=False)
        if op.clip is not None:
            y = ops.minimum(y, np.asarray(lam.get(op.clip, 1.0), "float32"))
        vals[op.name] = y
    return {k: ops.convert_to_numpy(v) for k, v in vals.items()}
