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
from tfsnn.fileio import atomic_path
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
    for k in ("scale", "lambda", "scales", "max_value"):
        if k in cfg:
            cfg[k] = np.asarray(cfg[k], np.float32)
    s = LayerSpec(d["name"], d["kind"], d["inputs"], tuple(d["input_shape"]),
                  tuple(d["output_shape"]), activation=d["activation"], config=cfg,
                  is_output=d["is_output"], source_layers=d["source_layers"])
    if s.row.weights:
        s.kernel = ops.convert_to_numpy(cell.kernel)
        s.bias = ops.convert_to_numpy(cell.bias)
        if hasattr(cell, "depthwise_kernel"):
            s.depthwise_kernel = ops.convert_to_numpy(cell.depthwise_kernel)
    return s


def write_snn_file(path, keras_model, encoding, params, dyn_params, meta, specs):
    """Write the model and the metadata to ``path`` (a ``.keras`` file). The archive is built
    in a temporary file beside ``path`` and renamed onto it when complete
    (``tfsnn.fileio.atomic_path``): a failure part-way leaves the file at ``path`` as it was."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"SNN files end in .keras, got {path.name!r}")
    doc = {"format": FORMAT, "encoding": encoding, "params": params,
           "dyn_params": dyn_params, "meta": to_jsonable(meta, unknown=None),
           "specs": [spec_to_json(s) for s in specs]}
    with atomic_path(path) as tmp:
        keras_model.save(tmp)
        with zipfile.ZipFile(tmp, "a") as z:
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
    _check_meta(meta, path)
    import_all()
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as e:  # keras raises many types for broken archives
        raise ValueError(f"cannot load the SNN in {path}: {e}") from e
    cells = {layer.cell.name: layer.cell for layer in model.layers
             if isinstance(layer, keras.layers.RNN)}
    try:
        specs = [spec_from_json(d, cells.get(d["name"])) for d in meta["specs"]]
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{path} is not a tfsnn SNN file: its layer metadata does not fit "
                         f"the model in it ({type(e).__name__}: {e})") from e
    return meta, cells, specs


#: what ``read_snn_file`` needs in the metadata, its ``params`` and every spec
_META_KEYS = ("format", "encoding", "params", "dyn_params", "meta", "specs")
_PARAM_KEYS = ("threshold", "v_init", "tau")
_SPEC_KEYS = ("name", "kind", "inputs", "input_shape", "output_shape", "activation", "config",
              "is_output", "source_layers")


def _check_meta(meta, path) -> None:
    """A clear ValueError when the metadata lacks a key or is from a newer format."""
    def lacks(doc, keys, what):
        missing = [k for k in keys if k not in doc] if isinstance(doc, dict) else list(keys)
        if missing:
            raise ValueError(f"{path} is not a tfsnn SNN file: {what} lacks {missing[0]!r}")

    lacks(meta, _META_KEYS, "metadata")
    if not isinstance(meta["format"], int) or meta["format"] > FORMAT:
        raise ValueError(f"{path} has SNN file format {meta['format']!r}; this tfsnn reads "
                         f"formats up to {FORMAT} (written by a newer tfsnn?)")
    lacks(meta["params"], _PARAM_KEYS, "metadata 'params'")
    if not isinstance(meta["specs"], list) or not meta["specs"]:
        raise ValueError(f"{path} is not a tfsnn SNN file: metadata 'specs' is not a list of "
                         "layers")
    for i, d in enumerate(meta["specs"]):
        lacks(d, _SPEC_KEYS, f"metadata 'specs'[{i}]")
