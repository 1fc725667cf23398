"""The parsed network: a list of ``LayerSpec`` in topological order.

Parsing turns a Keras model into ``LayerSpec`` objects; folding, normalization, building the
spiking model, analysis and the synapse graph all work on this one representation.
Shapes are per sample (no batch axis), channels last. ``kind`` is a row of
``tfsnn.ir.kinds.KINDS``:

- ``"input"``: the input group (no weights).
- ``"dense"``: ``kernel`` (n_in, n_out), ``bias`` (n_out,).
- ``"conv2d"``: ``kernel`` (kh, kw, c_in, c_out), ``bias`` (c_out,); ``config`` has
  ``strides`` (sh, sw) and ``padding`` ("valid" | "same").
- ``"avgpool"`` / ``"maxpool"``: ``config`` has ``pool_size`` (ph, pw), ``strides`` (sh, sw),
  ``padding``. After normalization an average pool may carry a per-channel ``scale`` in
  ``config`` (``lambda_in / lambda_out``).
- ``"conv1d"``, ``"avgpool1d"``, ``"maxpool1d"``: the same on 1-D signals ``(steps, c)``
  (one spatial axis; ``padding`` may be ``"causal"`` for ``conv1d``).
- ``"depthwise_conv2d"``, ``"separable_conv2d"``: ``config`` as conv2d; kernel layouts in
  ``tfsnn.ir.kernels`` (a separable convolution also has ``depthwise_kernel``).
- ``"flatten"``: reshape to 1-D; ``"concat"``: concatenation along the channel axis;
  ``"zeropad"`` / ``"crop"``: ``config["padding"]`` / ``config["cropping"]``
  ``((top, bottom), (left, right))``; ``"reshape"``: ``config["target_shape"]``.
- ``"add"``: a residual sum (Keras ``Add`` and the ReLU after it): its neurons' current is
  ``sum_i scale_i * x_i`` over its ``inputs``, all of its output shape; ``config["scales"]``
  ``(C, n_inputs)`` (after normalization; ones before). An input is a spiking group (an
  identity shortcut, ``scale = lambda_in / lambda_add``) or a *branch*: a layer with
  weights and ``activation`` None (conv + BatchNorm without ReLU), which has no neurons and
  whose synaptic current (normalized to ``lambda_add``, ``scale`` 1) goes into the sum.

``activation`` is ``"relu"`` for hidden layers, ``"clamped_relu"`` (with ``config["clamp"]``),
``"qcfs"`` (a quantized ReLU, ``config["levels"]`` and ``config["clip"]``; a kernel of
``config["weight_bits"]``-bit integers times a per-output-channel scale: ``tfsnn.quantization``),
``"softmax"`` or ``"linear"`` for the output layer, and ``None`` for layers without neurons of
their own (branches into an ``add`` among them). ``config["max_value"]`` caps a ReLU
(``ReLU(max_value=...)``, ReLU6; per channel after normalization).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from tfsnn.ir.geometry import ntuple
from tfsnn.ir.kernels import window_size
from tfsnn.ir.kinds import kind as kind_row

#: activations a readout (output) layer may have
OUTPUT_ACTIVATIONS = ("softmax", "linear")
#: activations a hidden layer with neurons may have
HIDDEN_ACTIVATIONS = ("relu", "clamped_relu", "qcfs")


@dataclass
class LayerSpec:
    name: str
    kind: str
    inputs: list[str]
    input_shape: tuple
    output_shape: tuple
    kernel: np.ndarray | None = None
    bias: np.ndarray | None = None
    activation: str | None = None
    config: dict = field(default_factory=dict)
    is_output: bool = False
    #: Keras layer names merged into this spec (e.g. ["conv1", "bn1", "relu1"])
    source_layers: list[str] = field(default_factory=list)
    #: the depthwise kernel of a separable convolution (``tfsnn.ir.kernels``)
    depthwise_kernel: np.ndarray | None = None

    @property
    def has_weights(self) -> bool:
        return self.kernel is not None

    @property
    def num_neurons(self) -> int:
        return int(np.prod(self.output_shape))

    @property
    def is_branch(self) -> bool:
        """A layer with weights and no neurons: its current goes into the ``add`` it feeds."""
        return self.row.weights and self.activation is None

    @property
    def is_linear(self) -> bool:
        """Passes its input on through a linear map without neurons of its own: a linear
        kind (``KINDS``) or a branch into a residual sum."""
        return self.row.linear or self.is_branch

    @property
    def row(self):
        """This spec's row of the kind table."""
        return kind_row(self.kind)

    @property
    def rank(self) -> int:
        """Number of spatial axes of a window kind's input (1: signals, 2: maps)."""
        return len(self.input_shape) - 1

    @property
    def window(self) -> tuple:
        """Spatial window size of a window kind (kernel or pool size), one per axis."""
        if self.row.weights:
            return window_size(self)
        return ntuple(self.config["pool_size"], self.rank)

    def copy(self) -> LayerSpec:
        return copy.deepcopy(self)

    def __repr__(self) -> str:  # short, readable in error messages and logs
        return (f"LayerSpec({self.name!r}, {self.kind}, in={self.inputs}, "
                f"{self.input_shape}->{self.output_shape}, act={self.activation})")


def by_name(specs: list[LayerSpec]) -> dict[str, LayerSpec]:
    return {s.name: s for s in specs}


def output_spec(specs: list[LayerSpec]) -> LayerSpec:
    outs = [s for s in specs if s.is_output]
    if len(outs) != 1:
        raise ValueError(f"expected exactly one output layer, found {len(outs)}")
    return outs[0]


def readout_spec(specs: list[LayerSpec]) -> LayerSpec:
    """The layer whose neurons are read out: they integrate their current and never spike.

    Usually the output layer. Linear layers between it and the output (global average
    pooling, flatten) are walked back over when they follow a layer without ReLU: e.g.
    ``Conv2D(linear) -> GlobalAveragePooling2D -> softmax`` reads out the conv, and the pooling
    averages its integrated potentials. After a ReLU layer the pooling itself integrates.
    """
    names = by_name(specs)
    s = output_spec(specs)
    while s.row.after_readout:
        prev = names[s.inputs[0]]
        if prev.row.after_readout or (
                prev.row.weights and prev.activation in OUTPUT_ACTIVATIONS):
            s = prev
            continue
        break
    if s.kind == "flatten":
        raise ValueError(f"the output {s.name!r} flattens spiking layer {s.inputs[0]!r}: there "
                         "are no neurons to read out; end the model with a Dense layer or a "
                         "global average pooling")
    return s


def post_readout(specs: list[LayerSpec], readout: LayerSpec | None = None) -> list[str]:
    """Names of the linear layers after the readout (they act on integrated potentials);
    ``readout`` defaults to ``readout_spec(specs)``."""
    ro = readout_spec(specs) if readout is None else readout
    names = [s.name for s in specs]
    return names[names.index(ro.name) + 1:]


def walk(specs: list[LayerSpec], fn, values: dict, names=None) -> dict:
    """The graph interpreter: ``values[s.name] = fn(s, [values[i] for i in s.inputs])`` for
    every spec in topological order that has no value yet (the input's value is given).

    Stops after the last of ``names`` when given. Returns ``values`` (updated in place).
    """
    wanted = None if names is None else set(names)
    for s in specs:
        if wanted is not None and not wanted - set(values):
            break
        if s.name not in values:
            values[s.name] = fn(s, [values[i] for i in s.inputs])
    return values
