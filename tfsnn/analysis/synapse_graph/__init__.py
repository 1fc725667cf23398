"""Synapse graph export: one edge per synapse of a converted SNN.

Every synapse becomes a row ``source_group, source_neuron, dest_group, dest_neuron, edge`` with

    edge = rate(pre-synaptic neuron) * w

where ``rate`` is the neuron's average firing rate (spikes per simulated timestep, averaged over
the simulated samples) and ``w`` the synaptic weight of the SNN (the normalized kernel; ``1`` for
pooling synapses). Neuron groups are the ``group`` kinds of ``tfsnn.ir.kinds`` (input, dense,
conv2d, avgpool, maxpool); the ``reshape`` kinds (flatten, concat) only re-index.

Modules, in import order:

- ``projections``: the synapses into one group (Dense, Conv2D, pooling), decoded from their
  ordinal numbers in vectorised chunks; window geometry from ``tfsnn.ir.geometry``.
- ``sources``: where the positions of a tensor come from (through flatten and concat).
- ``floatfmt``: the vectorised 7-significant-digit float formatter of the CSV writer.
- ``safepickle``: the restricted unpickler (numpy arrays and plain values only).
- ``export``: CSV, pickle and networkx writers and the pickle reader.
- ``parquet``: the Parquet writer and reader (edges, and nodes with rates and biases).
- ``graph``: ``SynapseGraph`` and the entry points ``synapse_graph``, ``build_synapse_graph``,
  ``rates_from_result``, ``pickle_to_csv``.

Edges are generated lazily per projection in vectorised chunks, so a graph never needs all its
edges in memory.
"""

from tfsnn.analysis.synapse_graph.export import CSV_DIGITS, CSV_HEADER, StoredLayer
from tfsnn.analysis.synapse_graph.floatfmt import format_float_words, format_floats
from tfsnn.analysis.synapse_graph.graph import (
    EdgeChunk,
    SynapseGraph,
    build_synapse_graph,
    pickle_to_csv,
    rates_from_result,
    synapse_graph,
)
from tfsnn.analysis.synapse_graph.parquet import ParquetGraph, nodes_path, read_parquet

__all__ = ["CSV_DIGITS", "CSV_HEADER", "EdgeChunk", "ParquetGraph", "StoredLayer",
           "SynapseGraph", "build_synapse_graph", "format_float_words", "format_floats",
           "nodes_path", "pickle_to_csv", "rates_from_result", "read_parquet", "synapse_graph"]
