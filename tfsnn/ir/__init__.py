"""The intermediate representation every stage works on: ``LayerSpec`` lists, the table of
layer kinds, window geometry and the graph interpreter. Imports nothing else of tfsnn."""

from tfsnn.ir.geometry import output_length, pad_before, pair, window_connectivity
from tfsnn.ir.kinds import KINDS, Kind, kind, kinds_where
from tfsnn.ir.spec import (
    HIDDEN_ACTIVATIONS,
    OUTPUT_ACTIVATIONS,
    LayerSpec,
    by_name,
    output_spec,
    post_readout,
    readout_spec,
    walk,
)

__all__ = ["KINDS", "Kind", "kind", "kinds_where", "LayerSpec", "by_name", "output_spec",
           "readout_spec", "post_readout", "walk", "output_length", "pad_before", "pair",
           "window_connectivity", "OUTPUT_ACTIVATIONS", "HIDDEN_ACTIVATIONS"]
