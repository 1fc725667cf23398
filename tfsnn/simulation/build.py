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
    if s.kind == "conv2d":
        return {"filters": s.output_shape[-1], "kernel_size": s.kernel.shape[:2],
                "strides": s.config["strides"], "padding": s.config["padding"]}
    return {"pool_size": s.config["pool_size"], "strides": s.config["strides"],
            "padding": s.config["padding"]}


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
        cell = cls(name=s.name, output_shape=s.output_shape, dyn_params=dyn,
                   readout=s is readout, **params, **_cell_arguments(s))
        cell.build((None,) + tuple(s.input_shape))
        if s.row.weights:
            cell.kernel.assign(s.kernel)
            cell.bias.assign(s.bias)
        elif s.kind == "avgpool":
            scale = s.config.get("scale", np.ones(s.output_shape[-1]))
            cell.scale.assign(np.asarray(scale, np.float32))
        cells[s.name] = cell
    return cells
