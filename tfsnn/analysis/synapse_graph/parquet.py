"""Parquet files of a synapse graph (pyarrow): the same edges as the CSV, columnar and
compressed, plus a table of the neurons with their rates and biases.

Two files; the edges at ``PATH``, the neurons beside it at ``nodes_path(PATH)``
(``graph.parquet`` -> ``graph.nodes.parquet``):

- edges: ``source_group``, ``dest_group`` (dictionary of the group names, int32 indices),
  ``source_neuron``, ``dest_neuron`` (flat C-order index into the group's shape; int32, int64
  only for a group of 2**31 neurons or more), ``edge`` (float64, exactly ``iter_chunks``'
  values). Rows in the order of ``iter_chunks`` and of the CSV, one row group per chunk.
- nodes: ``group``, ``neuron`` (as above), ``rate`` (spikes per timestep; null where no rate
  was given, e.g. the readout), ``bias`` (the bias of the neuron's channel in the converted
  network; null for groups without one: the input and pooling).

Both carry the key-value metadata ``tfsnn.synapse_graph``: JSON with ``format``,
``version``, ``table`` (``edges``/``nodes``), ``edge`` (its definition), ``synapses`` and
``groups`` (``name``, ``kind``, ``shape`` per group, in group-id order) so that a reader can
un-flatten neuron indices. Encodings: delta for the neuron columns, byte-stream-split for the
floats, then ``compression`` (zstd by default). Both files are written to temporary files and
renamed onto their paths only when both are complete (``tfsnn.fileio``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from tfsnn.analysis.synapse_graph.export import EDGE_DEFINITION
from tfsnn.analysis.synapse_graph.projections import check_chunk_size
from tfsnn.fileio import atomic_path

PARQUET_FORMAT = "tfsnn.synapse_graph.parquet"
PARQUET_VERSION = 1
META_KEY = b"tfsnn.synapse_graph"
EDGE_COLUMNS = ("source_group", "source_neuron", "dest_group", "dest_neuron", "edge")
NODE_COLUMNS = ("group", "neuron", "rate", "bias")
#: codecs of ``write_parquet`` (Parquet's own; "none" stores uncompressed)
COMPRESSIONS = ("zstd", "snappy", "gzip", "brotli", "lz4", "none")
_ENCODINGS = {"source_neuron": "DELTA_BINARY_PACKED", "dest_neuron": "DELTA_BINARY_PACKED",
              "neuron": "DELTA_BINARY_PACKED", "edge": "BYTE_STREAM_SPLIT",
              "rate": "BYTE_STREAM_SPLIT", "bias": "BYTE_STREAM_SPLIT"}


def nodes_path(path) -> Path:
    """Where the nodes table of the edges file ``path`` goes: ``<stem>.nodes<suffix>``."""
    p = Path(path)
    return p.with_name(f"{p.stem}.nodes{p.suffix or '.parquet'}")


class _Layout(NamedTuple):
    names: object  # pa.Array of the group names (the dictionary)
    neuron_type: object  # pa.DataType
    meta: dict


def _layout(graph) -> _Layout:
    import pyarrow as pa

    kinds = {s.name: s.kind for s in graph.specs}
    largest = max((int(np.prod(s)) for s in graph.group_shapes), default=0)
    meta = {"format": PARQUET_FORMAT, "version": PARQUET_VERSION, "edge": EDGE_DEFINITION,
            "synapses": graph.num_synapses,
            "groups": [{"name": n, "kind": kinds[n], "shape": list(s)}
                       for n, s in zip(graph.group_names, graph.group_shapes)]}
    return _Layout(pa.array(graph.group_names, pa.string()),
                   pa.int32() if largest <= 2**31 else pa.int64(), meta)


def _schema(columns, layout: _Layout, table: str):
    import pyarrow as pa

    types = {"group": pa.dictionary(pa.int32(), pa.string()), "neuron": layout.neuron_type}
    fields = [(c, types.get(c.split("_")[-1], pa.float64())) for c in columns]
    return pa.schema(fields, metadata={META_KEY: json.dumps({**layout.meta, "table": table})})


def _column(name: str, values, layout: _Layout):
    import pyarrow as pa

    if name.endswith("group"):
        return pa.DictionaryArray.from_arrays(pa.array(values, pa.int32()), layout.names)
    if name.endswith("neuron"):
        return pa.array(values, layout.neuron_type)
    return pa.array(values, pa.float64())


def _writer(path, schema, compression):
    import pyarrow.parquet as pq

    names = schema.names
    return pq.ParquetWriter(
        path, schema, compression=compression,
        use_dictionary=[c for c in names if c.endswith("group")],
        column_encoding={c: e for c, e in _ENCODINGS.items() if c in names})


def _write_nodes(graph, path, layout: _Layout, chunk_size: int, compression) -> None:
    import pyarrow as pa

    schema = _schema(NODE_COLUMNS, layout, "nodes")
    with _writer(path, schema, compression) as w:
        for gid, name in enumerate(graph.group_names):
            n = int(np.prod(graph.group_shapes[gid]))
            rate = graph.rates.get(name)
            bias = graph.neuron_biases(name)
            for a in range(0, n, chunk_size):
                b = min(a + chunk_size, n)
                cols = [_column("group", np.full(b - a, gid, np.int32), layout),
                        _column("neuron", np.arange(a, b), layout)]
                cols += [pa.nulls(b - a, pa.float64()) if v is None else
                         _column(c, v.reshape(-1)[a:b], layout)
                         for c, v in (("rate", rate), ("bias", bias))]
                w.write_batch(pa.record_batch(cols, schema=schema), row_group_size=chunk_size)


def _write_edges(graph, path, layout: _Layout, chunk_size: int, compression) -> int:
    import pyarrow as pa

    schema = _schema(EDGE_COLUMNS, layout, "edges")
    written = 0
    with _writer(path, schema, compression) as w:
        for c in graph.iter_chunks(chunk_size):
            cols = [_column(name, values, layout) for name, values in zip(EDGE_COLUMNS, c)]
            w.write_batch(pa.record_batch(cols, schema=schema), row_group_size=chunk_size)
            written += len(c)
    return written


def write_parquet(graph, path, chunk_size: int = 1 << 20, compression: str = "zstd",
                  nodes: bool = True) -> int:
    """Write ``graph``'s edges to ``path`` and, if ``nodes``, its neurons (rates, biases) to
    ``nodes_path(path)`` (see the module docstring). At most ``chunk_size`` synapses are in
    memory at a time (one row group each). Returns the number of synapses written."""
    chunk_size = check_chunk_size(chunk_size)
    if compression not in COMPRESSIONS:
        raise ValueError(f"compression must be one of {', '.join(COMPRESSIONS)}; got "
                         f"{compression!r}")
    layout = _layout(graph)
    if not nodes:
        with atomic_path(path) as tmp:
            return _write_edges(graph, tmp, layout, chunk_size, compression)
    # both renamed at the end: a failure in either leaves both old files as they were
    with atomic_path(nodes_path(path)) as tmp_nodes, atomic_path(path) as tmp:
        _write_nodes(graph, tmp_nodes, layout, chunk_size, compression)
        return _write_edges(graph, tmp, layout, chunk_size, compression)


# ------------------------------------------------------------------------------------ read


class ParquetGraph(NamedTuple):
    """A synapse graph read back from Parquet: the ``edges`` and ``nodes`` tables
    (``pyarrow.Table``; ``nodes`` is ``None`` when not read) and the groups in group-id order
    (``name``, ``kind``, ``shape`` each)."""

    edges: object
    nodes: object
    groups: list

    @property
    def group_names(self) -> list[str]:
        return [g["name"] for g in self.groups]

    def columns(self, table: str = "edges") -> dict[str, np.ndarray]:
        """The columns of ``table`` (``"edges"`` or ``"nodes"``) as numpy arrays; group columns
        as ids into ``group_names`` (as in ``SynapseGraph.iter_chunks``), nulls as NaN."""
        import pyarrow as pa

        ids = {n: i for i, n in enumerate(self.group_names)}
        out = {}
        for name in getattr(self, table).column_names:
            col = getattr(self, table).column(name)
            if pa.types.is_dictionary(col.type):  # each chunk may have its own dictionary
                out[name] = np.concatenate(
                    [np.array([ids[n] for n in c.dictionary.to_pylist()], np.int32)[
                        c.indices.to_numpy(zero_copy_only=False)] for c in col.chunks]
                    or [np.zeros(0, np.int32)])
            else:
                out[name] = col.to_numpy()
        return out


def _read_meta(path, table: str) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as e:
        if not os.path.exists(path):
            raise FileNotFoundError(f"no synapse graph Parquet file at {path}") from e
        raise ValueError(f"{path} is not a readable Parquet file: {e}") from e
    raw = (schema.metadata or {}).get(META_KEY)
    meta = json.loads(raw) if raw else {}
    if meta.get("format") != PARQUET_FORMAT or meta.get("table") != table:
        raise ValueError(f"{path} is not a tfsnn synapse graph {table} Parquet file (write one "
                         f"with SynapseGraph.to_parquet)")
    if meta.get("version") != PARQUET_VERSION:
        raise ValueError(f"{path}: synapse graph Parquet version {meta.get('version')} is not "
                         f"supported (this tfsnn reads version {PARQUET_VERSION})")
    return meta


def read_parquet(path, nodes: bool = True) -> ParquetGraph:
    """Read a graph written by ``write_parquet``: the edges from ``path`` and, if ``nodes``,
    the neurons from ``nodes_path(path)``. For graphs larger than memory, read the edges row
    group by row group with ``pyarrow.parquet.ParquetFile(path).iter_batches()``."""
    import pyarrow.parquet as pq

    meta = _read_meta(path, "edges")
    node_table = None
    if nodes:
        npath = nodes_path(path)
        if not npath.exists():
            raise FileNotFoundError(f"no nodes table at {npath} (written with nodes=False?); "
                                    f"read the edges alone with read_parquet(path, nodes=False)")
        _read_meta(npath, "nodes")
        node_table = pq.read_table(npath)
    return ParquetGraph(pq.read_table(path), node_table,
                        [{**g, "shape": tuple(g["shape"])} for g in meta["groups"]])
