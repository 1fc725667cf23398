"""Building the named cells of an encoding from the converted ``LayerSpec``s."""

from __future__ import annotations

import numpy as np

from tfsnn.cells import cell_class


def check_supported(specs, module, encoding):
    for s in specs:
        if s.kind not in module.SUPPORTED_KINDS:
            raise ValueError(f"layer {s.name!r} ({s.kind}) is not supported by the "
                             f"{encoding!r} encoding; supported: {list(module.SUPPORTED_KINDS)}")


def _cell_arguments(s):
    """The Keras-style arguments of the cell for spec ``s``."""
    if s.kind == "dense":
        return {"units": s.output_shape[-1]}
    if s.row.sums:
        return {}
    window = {"strides": s.config["strides"], "padding": s.config["padding"]}
    if s.kind in ("conv2d", "conv1d"):
        return {"filters": s.output_shape[-1], "kernel_size": s.window, **window}
    if s.kind == "depthwise_conv2d":
        return {"kernel_size": s.window, "depth_multiplier": s.kernel.shape[-1], **window}
    if s.kind == "separable_conv2d":
        return {"filters": s.output_shape[-1], "kernel_size": s.window,
                "depth_multiplier": s.depthwise_kernel.shape[-1], **window}
    return {"pool_size": s.config["pool_size"], **window}


def build_cells(specs, module, readout, params: dict, dyn_params: dict) -> dict:
    """``{layer name: cell}`` for every spec with a cell, built and loaded with the specs'
    weights; per-layer dynamics parameters (``spec.config["dyn_params"]``, set by an
    encoding's ``prepare``) override the global ``dyn_params``."""
    cells = {}
    for s in specs:
        if not s.row.cell:
            continue
        cls = cell_class(module, s.kind, s is readout)
        dyn = {**dyn_params, **s.config.get("dyn_params", {})}
        linear = {"linear": True} if s.is_branch else {}  # its current goes into a sum
        cell = cls(name=s.name, output_shape=s.output_shape, dyn_params=dyn,
                   readout=s is readout, **params, **linear, **_cell_arguments(s))
        # a sum steps its inputs stacked on a last axis
        stacked = (len(s.inputs),) if s.row.sums else ()
        cell.build((None,) + tuple(s.input_shape) + stacked)
        if s.row.weights:
            cell.kernel.assign(s.kernel)
            cell.bias.assign(s.bias)
            if s.depthwise_kernel is not None:
                cell.depthwise_kernel.assign(s.depthwise_kernel)
        elif s.row.pool == "avg":
            scale = s.config.get("scale", np.ones(s.output_shape[-1]))
            cell.scale.assign(np.asarray(scale, np.float32))
        elif s.row.sums:
            cell.scales.assign(np.asarray(s.config["scales"], np.float32))
        cells[s.name] = cell
    return cells
