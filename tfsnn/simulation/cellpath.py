"""The cell path: the network as a Keras model of ``keras.layers.RNN``-wrapped cells.

Keras steps every cell itself; this is the reference the engine is tested against and what
``SpikingModel.save`` writes. Input ``(B, T) + input_shape``, output the readout's
integrated potential at every step ``(B, T, classes)`` (or every layer's output).
"""

from __future__ import annotations

import keras
import numpy as np

from tfsnn.cells import SpikingRNN
from tfsnn.ir import walk


def cell_path_model(specs, cells, name="snn", all_layers=False) -> keras.Model:
    inp = keras.Input((None,) + tuple(specs[0].output_shape), name=specs[0].name)

    def layer(s, ins):
        if s.name in cells:
            return SpikingRNN(cells[s.name], return_sequences=True, name=f"{s.name}_rnn")(ins[0])
        if s.kind == "flatten":
            return keras.layers.Reshape((-1, int(np.prod(s.output_shape))), name=s.name)(ins[0])
        if s.kind == "concat":
            return keras.layers.Concatenate(axis=-1, name=s.name)(ins)
        raise ValueError(f"layer {s.name!r} ({s.kind}) has no cell-path equivalent")

    t = walk(specs, layer, {specs[0].name: inp})
    out_name = next(s.name for s in specs if s.is_output)
    outputs = {n: v for n, v in t.items() if n != specs[0].name} if all_layers else t[out_name]
    return keras.Model(inp, outputs, name=name)
