"""``.keras`` files of converted SNNs: the cell-path model plus tfsnn's metadata.

The archive is what ``keras.Model.save`` writes, with one more member, ``tfsnn_meta.json``:
``{"format": 1, "encoding", "params", "dyn_params", "meta", "specs": [...]}`` (the specs
without their weights, which the cells hold).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import keras
import numpy as np
from keras import ops

from tfsnn.cells import import_all
from tfsnn.ir import LayerSpec
from tfsnn.jsonutil import to_jsonable

META_FILE = "tfsnn_meta.json"
FORMAT = 1


def spec_to_json(s: LayerSpec) -> dict:
    return {"name": s.name, "kind": s.kind, "inputs": s.inputs,
            "input_shape": list(s.input_shape), "output_shape": list(s.output_shape),
            "activation": s.activation, "config": to_jsonable(s.config, unknown=None),
            "is_output": s.is_output, "source_layers": s.source_layers}


def spec_from_json(d: dict, cell) -> LayerSpec:
    cfg = dict(d["config"])
    for k in ("strides", "pool_size"):
        if k in cfg:
            cfg[k] = tuple(cfg[k])
    for k in ("scale", "lambda"):
        if k in cfg:
            cfg[k] = np.asarray(cfg[k], np.float32)
    s = LayerSpec(d["name"], d["kind"], d["inputs"], tuple(d["input_shape"]),
                  tuple(d["output_shape"]), activation=d["activation"], config=cfg,
                  is_output=d["is_output"], source_layers=d["source_layers"])
    if s.row.weights:
        s.kernel = ops.convert_to_numpy(cell.kernel)
        s.bias = ops.convert_to_numpy(cell.bias)
    return s


def write_snn_file(path, keras_model, encoding, params, dyn_params, meta, specs):
    """Write the model and the metadata to ``path`` (a ``.keras`` file)."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"SNN files end in .keras, got {path.name!r}")
    keras_model.save(path)
    doc = {"format": FORMAT, "encoding": encoding, "params": params,
           "dyn_params": dyn_params, "meta": to_jsonable(meta, unknown=None),
           "specs": [spec_to_json(s) for s in specs]}
    with zipfile.ZipFile(path, "a") as z:
        z.writestr(META_FILE, json.dumps(doc))


def read_snn_file(path):
    """``(metadata, {layer name: cell}, specs)`` of a file written by ``write_snn_file``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no SNN file at {path}")
    try:
        with zipfile.ZipFile(path) as z:
            meta = json.loads(z.read(META_FILE))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError) as e:
        raise ValueError(f"{path} is not a tfsnn SNN file (corrupt or written by something "
                         f"else): {e}") from e
    import_all()
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as e:  # keras raises many types for broken archives
        raise ValueError(f"cannot load the SNN in {path}: {e}") from e
    cells = {layer.cell.name: layer.cell for layer in model.layers
             if isinstance(layer, keras.layers.RNN)}
    specs = [spec_from_json(d, cells.get(d["name"])) for d in meta["specs"]]
    return meta, cells, specs
