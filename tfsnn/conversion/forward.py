"""The ANN side of a folded network: the analog computation of each kind, run over the graph
by ``tfsnn.ir.walk``.

``analog_forward`` gives the activations normalization takes its scales from, and the reference
the spiking rates are compared against. Hidden layers apply their ReLU (or clamped ReLU); the
readout returns pre-softmax values. Adding a kind is one entry in ``FORWARD``.
"""

from __future__ import annotations

import numpy as np
from keras import ops

from tfsnn.cells import synapse
from tfsnn.ir import LayerSpec, walk
from tfsnn.layers import clamped_relu
from tfsnn.quantization.quantizers import qcfs


def _activate(spec: LayerSpec, y):
    act = spec.activation
    if act == "relu" and "max_value" in spec.config:  # ReLU6-style cap (per channel)
        return ops.minimum(ops.relu(y), np.asarray(spec.config["max_value"], np.float32))
    if act == "relu":
        return ops.relu(y)
    if act == "clamped_relu":
        return clamped_relu(y, spec.config.get("clamp", 0.0))
    if act == "qcfs":  # the clip in units of the layer's scale (1 after normalization)
        clip = np.float32(spec.config["clip"]) / spec.config.get("lambda", np.float32(1.0))
        return qcfs(y, np.asarray(clip, np.float32), spec.config["levels"])
    return y  # linear / softmax output: pre-softmax values


def _dense(spec: LayerSpec, inputs: list):
    return _activate(spec, synapse.dense(inputs[0], spec.kernel, spec.bias))


def _conv2d(spec: LayerSpec, inputs: list):
    return _activate(spec, synapse.conv2d(inputs[0], spec.kernel, spec.bias,
                                          spec.config["strides"], spec.config["padding"]))


def _conv1d(spec: LayerSpec, inputs: list):
    return _activate(spec, synapse.conv1d(inputs[0], spec.kernel, spec.bias,
                                          spec.config["strides"], spec.config["padding"]))


def _depthwise_conv2d(spec: LayerSpec, inputs: list):
    return _activate(spec, synapse.depthwise_conv2d(
        inputs[0], spec.kernel, spec.bias, spec.config["strides"], spec.config["padding"]))


def _separable_conv2d(spec: LayerSpec, inputs: list):
    return _activate(spec, synapse.separable_conv2d(
        inputs[0], spec.depthwise_kernel, spec.kernel, spec.bias, spec.config["strides"],
        spec.config["padding"]))


def _avgpool(spec: LayerSpec, inputs: list):
    scale = spec.config.get("scale", np.ones(spec.output_shape[-1], np.float32))
    return synapse.avgpool2d(inputs[0], spec.config["pool_size"], spec.config["strides"],
                             spec.config["padding"], np.asarray(scale, np.float32))


def _maxpool(spec: LayerSpec, inputs: list):
    return synapse.maxpool2d(inputs[0], spec.config["pool_size"], spec.config["strides"],
                             spec.config["padding"])


def _add(spec: LayerSpec, inputs: list):
    scales = np.asarray(spec.config["scales"], np.float32)
    return _activate(spec, synapse.add(ops.stack(inputs, axis=-1), scales))


#: kind -> its ANN computation ``fn(spec, inputs) -> output`` on batched inputs
FORWARD = {
    "dense": _dense,
    "conv2d": _conv2d,
    "avgpool": _avgpool,
    "maxpool": _maxpool,
    "conv1d": _conv1d,
    "depthwise_conv2d": _depthwise_conv2d,
    "separable_conv2d": _separable_conv2d,
    "avgpool1d": _avgpool,
    "maxpool1d": _maxpool,
    "flatten": synapse.rearrange,
    "concat": synapse.rearrange,
    "add": _add,
    "zeropad": synapse.rearrange,
    "crop": synapse.rearrange,
    "reshape": synapse.rearrange,
}


def layer_forward(spec: LayerSpec, inputs: list):
    """The ANN computation of one folded layer on batched inputs."""
    fn = FORWARD.get(spec.kind)
    if fn is None:
        raise ValueError(f"unknown layer kind {spec.kind!r} in {spec}")
    return fn(spec, inputs)


def analog_forward(specs: list[LayerSpec], x, names=None) -> dict:
    """Run the folded ANN on ``x``; returns ``{name: activation}`` for every spec, or, with
    ``names``, only for those (it stops once they are computed)."""
    values = walk(specs, layer_forward, {s.name: x for s in specs if s.kind == "input"}, names)
    return values if names is None else {n: values[n] for n in names}
