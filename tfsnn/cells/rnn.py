"""``SpikingRNN``: ``keras.layers.RNN`` for cells with multi-dimensional outputs."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="tfsnn")
class SpikingRNN(keras.layers.RNN):
    """``keras.layers.RNN`` for cells with multi-dimensional outputs (conv and pool maps).

    Keras's RNN infers symbolic output shapes only for 1-D cell outputs; this subclass returns
    ``(batch, T) + cell.output_size`` (building the cell first when needed, since the map
    size is inferred from the input). Stepping is Keras's own.
    """

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        if not self.cell.built:
            self.cell.build((sequences_shape[0],) + tuple(sequences_shape[2:]))
        out = self.cell.output_size
        out = (out,) if isinstance(out, int) else tuple(out)
        if self.return_sequences:
            return (sequences_shape[0], sequences_shape[1]) + out
        return (sequences_shape[0],) + out
