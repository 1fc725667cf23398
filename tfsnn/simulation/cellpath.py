"""The cell path: the network as a Keras model of ``keras.layers.RNN``-wrapped cells.

Keras steps every cell itself; this is the reference the engine is tested against and what
``SpikingModel.save`` writes. Input ``(B, T) + input_shape``, output the readout's
integrated potential at every step ``(B, T, classes)`` (or every layer's output).
"""

from __future__ import annotations

import keras

from tfsnn.cells import SpikingRNN
from tfsnn.ir import walk


def cell_path_model(specs, cells, name="snn", all_layers=False, timesteps=None,
                    unroll=False) -> keras.Model:
    """``timesteps``: a fixed T (None: any); ``unroll``: Keras unrolls the steps (needs T;
    fast to trace for short runs, as when fine-tuning at small T)."""
    inp = keras.Input((timesteps,) + tuple(specs[0].output_shape), name=specs[0].name)

    def layer(s, ins):
        if s.row.sums:  # the inputs stacked on a last axis: (B, T, ..., C, n)
            col = (-1,) + tuple(s.output_shape) + (1,)
            ins = [keras.layers.Concatenate(axis=-1, name=f"{s.name}_stack")(
                [keras.layers.Reshape(col, name=f"{s.name}_in{k}")(v)
                 for k, v in enumerate(ins)])]
        if s.name in cells:
            return SpikingRNN(cells[s.name], return_sequences=True, unroll=unroll,
                              name=f"{s.name}_rnn")(ins[0])
        if s.kind in ("flatten", "reshape"):
            return keras.layers.Reshape((-1,) + tuple(s.output_shape), name=s.name)(ins[0])
        if s.kind == "concat":
            return keras.layers.Concatenate(axis=-1, name=s.name)(ins)
        if s.kind == "zeropad":
            pad = tuple(tuple(int(v) for v in p) for p in s.config["padding"])
            return keras.layers.TimeDistributed(keras.layers.ZeroPadding2D(pad),
                                                name=s.name)(ins[0])
        if s.kind == "crop":
            crop = tuple(tuple(int(v) for v in p) for p in s.config["cropping"])
            return keras.layers.TimeDistributed(keras.layers.Cropping2D(crop),
                                                name=s.name)(ins[0])
        raise ValueError(f"layer {s.name!r} ({s.kind}) has no cell-path equivalent")

    t = walk(specs, layer, {specs[0].name: inp})
    out_name = next(s.name for s in specs if s.is_output)
    outputs = {n: v for n, v in t.items() if n != specs[0].name} if all_layers else t[out_name]
    return keras.Model(inp, outputs, name=name)
