"""Writers and readers of a synapse graph: CSV, pickle and networkx.

CSV rows are ``source_group,source_neuron,dest_group,dest_neuron,edge``; a neuron index is its
components joined by ``_`` (``3_14_0``; ``17`` for a 1-D group), a group name is quoted
CSV-style if it contains ``,``, ``"`` or a line break, and edge values have 7 significant
digits (``floatfmt``). Each chunk of rows is built as a ``(rows, words)`` uint64 array of
zero-padded text (source field, destination field, value) looked up in per-group index tables;
removing the zero bytes yields the CSV text, so no Python code runs per row.

The pickle stores the layer specs (shapes, weights, biases, config) and the firing rates; the
edges are regenerated on load. It is read with a restricted unpickler (``safepickle``) that
resolves only numpy's array reconstruction, so a crafted file cannot run code.

Every writer replaces its file only when the file is complete (``tfsnn.fileio``).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field

import numpy as np

from tfsnn.analysis.synapse_graph.floatfmt import FLOAT_WORDS, format_float_words
from tfsnn.analysis.synapse_graph.projections import check_chunk_size
from tfsnn.analysis.synapse_graph.safepickle import restricted_load
from tfsnn.fileio import atomic_write

CSV_HEADER = "source_group,source_neuron,dest_group,dest_neuron,edge"
#: significant digits of the edge values written to CSV
CSV_DIGITS = 7

#: what an edge value is (stored in the pickle and the Parquet metadata)
EDGE_DEFINITION = "rate(pre) * weight; pooling weight 1"

PICKLE_FORMAT = "tfsnn.synapse_graph"
PICKLE_VERSION = 1


@dataclass
class StoredLayer:
    """The part of a ``LayerSpec`` the synapse graph needs (what ``to_pickle`` stores)."""

    name: str
    kind: str
    inputs: list
    input_shape: tuple
    output_shape: tuple
    kernel: np.ndarray | None = None
    config: dict = field(default_factory=dict)
    bias: np.ndarray | None = None
    #: a separable convolution's depthwise kernel (``tfsnn.ir.kernels``)
    depthwise_kernel: np.ndarray | None = None
    #: None marks a branch into a residual sum (``tfsnn.ir.LayerSpec.is_branch``)
    activation: str | None = "relu"


# -------------------------------------------------------------------------------------- CSV


def _pad8(n: int) -> int:
    return -(-n // 8) * 8


def _csv_quote(name: str) -> str:
    if any(ch in name for ch in ',"\n\r'):
        return '"' + name.replace('"', '""') + '"'
    return name


def _index_table(name: str, shape: tuple) -> np.ndarray:
    """Per neuron of a group the zero-padded bytes ``name,i_j_k,`` as ``(n, words)`` uint64."""
    n = int(np.prod(shape))
    label = np.frombuffer(_csv_quote(name).encode() + b",", np.uint8)
    comps = np.unravel_index(np.arange(n), shape)
    fields = [np.broadcast_to(label, (n, len(label)))]
    for d, (size, comp) in enumerate(zip(shape, comps)):
        texts = [str(v).encode() for v in range(size)]
        tab = np.zeros((size, max(len(t) for t in texts)), np.uint8)
        for v, t in enumerate(texts):
            tab[v, : len(t)] = np.frombuffer(t, np.uint8)
        fields.append(tab[comp])
        fields.append(np.full((n, 1), ord("_" if d < len(shape) - 1 else ","), np.uint8))
    width = sum(f.shape[1] for f in fields)
    table = np.zeros((n, _pad8(width)), np.uint8)
    table[:, :width] = np.concatenate(fields, axis=1)
    return table.view(np.uint64)


def _last_uses(links) -> dict[int, int]:
    """Group id -> the last projection (its number) whose rows name that group."""
    last_use: dict[int, int] = {}
    for p, (_spec, dgid, src, _proj) in enumerate(links):
        last_use[dgid] = p
        for g in src.groups():
            last_use[g] = p
    return last_use


def _source_table(src, table) -> np.ndarray:
    """Index table of the positions of ``src``'s tensor (after a concat: one table over the
    concatenated positions, built from the groups' tables)."""
    if src.gid is not None:
        return table(src.gid)
    parts = {g: table(g) for g in src.groups()}
    width = max(t.shape[1] for t in parts.values())
    src_tab = np.zeros((len(src.gids), width), np.uint64)
    for g, t in parts.items():
        sel = np.flatnonzero(src.gids == g)
        src_tab[sel, : t.shape[1]] = t[src.index[sel]]
    return src_tab


def _write_projection(f, proj, in_rate, src_tab, dst_tab, chunk_size: int) -> int:
    """Write the rows of one projection, ``chunk_size`` at a time; returns the row count."""
    ws, wd = src_tab.shape[1], dst_tab.shape[1]
    # whole table rows as single items: one fast 1-D take per field
    src_items = src_tab.view(f"V{8 * ws}").reshape(-1)
    dst_items = dst_tab.view(f"V{8 * wd}").reshape(-1)
    row_type = np.dtype([("s", f"V{8 * ws}"), ("d", f"V{8 * wd}"),
                         ("f", f"V{8 * FLOAT_WORDS}")])
    written = 0
    for g0 in range(0, proj.total, chunk_size):
        pre, dst, w = proj.edges(g0, min(g0 + chunk_size, proj.total))
        edge = in_rate[pre] if w is None else in_rate[pre] * w
        rows = np.empty(len(pre), row_type)
        rows["s"] = src_items.take(pre)
        rows["d"] = dst_items.take(dst)
        words = rows.view(np.uint64).reshape(len(pre), -1)
        format_float_words(edge, out=words[:, ws + wd:])
        f.write(rows.tobytes().translate(None, b"\0"))
        written += len(pre)
    return written


def write_csv(graph, path, chunk_size: int = 1 << 16) -> int:
    """Write ``graph``'s synapses as CSV rows (see the module docstring). Memory grows with
    ``chunk_size`` and the largest group, not with the number of synapses: a group's index
    table is dropped after its last projection. Returns the number of synapses written."""
    chunk_size = check_chunk_size(chunk_size)
    tables: dict[int, np.ndarray] = {}
    last_use = _last_uses(graph.links)

    def table(gid):
        if gid not in tables:
            tables[gid] = _index_table(graph.group_names[gid], graph.group_shapes[gid])
        return tables[gid]

    written = 0
    with atomic_write(path, "wb") as f:
        f.write((CSV_HEADER + "\n").encode())
        for p, (_spec, dgid, src, proj) in enumerate(graph.links):
            if proj.total:
                written += _write_projection(f, proj, graph.input_rates(src),
                                             _source_table(src, table), table(dgid), chunk_size)
            for g in [g for g, last in last_use.items() if last <= p]:
                tables.pop(g, None)
                last_use.pop(g)
    return written


# ----------------------------------------------------------------------------------- pickle


def write_pickle(specs, rates: dict, path) -> None:
    """Pickle the layer specs (shapes, weights, biases, config) and the firing rates."""
    payload = {
        "format": PICKLE_FORMAT,
        "version": PICKLE_VERSION,
        "edge": EDGE_DEFINITION,
        "specs": [
            {"name": s.name, "kind": s.kind, "inputs": list(s.inputs),
             "input_shape": tuple(s.input_shape), "output_shape": tuple(s.output_shape),
             "kernel": None if s.kernel is None else np.asarray(s.kernel),
             "bias": None if getattr(s, "bias", None) is None else np.asarray(s.bias),
             "depthwise_kernel": (None if getattr(s, "depthwise_kernel", None) is None
                                  else np.asarray(s.depthwise_kernel)),
             "config": dict(s.config), "activation": getattr(s, "activation", "relu")}
            for s in specs
        ],
        "rates": {n: r for n, r in rates.items()},
    }
    with atomic_write(path, "wb") as f:
        pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)


def read_pickle(path) -> tuple[list[StoredLayer], dict]:
    """``(specs, rates)`` of a file written by ``write_pickle``. Only numpy arrays and plain
    Python values load (``safepickle``): a file naming any other global is refused with a
    ``ValueError`` before anything in it runs."""
    with open(path, "rb") as f:
        payload = restricted_load(f, source=str(path))
    if not isinstance(payload, dict) or payload.get("format") != PICKLE_FORMAT:
        raise ValueError(f"{path} is not a tfsnn synapse graph pickle "
                         f"(write one with SynapseGraph.to_pickle)")
    if payload.get("version") != PICKLE_VERSION:
        raise ValueError(f"{path}: synapse graph pickle version {payload.get('version')} is "
                         f"not supported (this tfsnn reads version {PICKLE_VERSION})")
    specs, rates = payload.get("specs"), payload.get("rates")
    if not isinstance(specs, list) or not isinstance(rates, dict):
        raise ValueError(f"{path}: a synapse graph pickle needs a 'specs' list and a 'rates' "
                         f"dict; the file is damaged")
    return [_stored_layer(d, i, path) for i, d in enumerate(specs)], rates


_SPEC_KEYS = ("name", "kind", "inputs", "input_shape", "output_shape", "kernel", "config")


def _stored_layer(d, i: int, path) -> StoredLayer:
    missing = [k for k in _SPEC_KEYS if k not in d] if isinstance(d, dict) else list(_SPEC_KEYS)
    if missing:
        raise ValueError(f"{path}: layer {i} of the synapse graph pickle lacks {missing}; the "
                         f"file is damaged")
    return StoredLayer(name=d["name"], kind=d["kind"], inputs=list(d["inputs"]),
                       input_shape=tuple(d["input_shape"]), output_shape=tuple(d["output_shape"]),
                       kernel=d["kernel"], config=dict(d["config"]), bias=d.get("bias"),
                       depthwise_kernel=d.get("depthwise_kernel"),
                       activation=d.get("activation", "relu"))


# --------------------------------------------------------------------------------- networkx


def to_networkx(graph, max_edges: int = 1_000_000, multigraph: bool = False):
    """A ``networkx.DiGraph`` of ``graph``: nodes ``(group name, index tuple)`` with attributes
    ``group``, ``index``, ``rate`` and ``bias`` (all neurons of all groups; rate ``None`` where
    none was given, bias ``None`` for groups without one); edges with attribute ``edge``.
    Raises ``ValueError`` when the graph has more than ``max_edges`` synapses."""
    import networkx as nx

    n = graph.num_synapses
    if n > max_edges:
        raise ValueError(f"the synapse graph has {n:,} synapses, more than max_edges="
                         f"{max_edges:,}; raise max_edges if you have the memory (networkx "
                         f"needs roughly 0.5 kB per edge), or use to_csv / iter_chunks")
    nxg = nx.MultiDiGraph() if multigraph else nx.DiGraph()
    keys = []  # per group: node key of each neuron (flat index order)
    for name, shape in zip(graph.group_names, graph.group_shapes):
        n_neurons = int(np.prod(shape))
        index = list(zip(*(c.tolist() for c in np.unravel_index(np.arange(n_neurons), shape))))
        keys.append([(name, ix) for ix in index])
        rate = graph.rates.get(name)
        rate = [None] * n_neurons if rate is None else rate.reshape(-1).tolist()
        bias = graph.neuron_biases(name)
        bias = [None] * n_neurons if bias is None else bias.tolist()
        nxg.add_nodes_from((key, {"group": name, "index": key[1], "rate": r, "bias": b})
                           for key, r, b in zip(keys[-1], rate, bias))
    for c in graph.iter_chunks():
        nxg.add_edges_from(
            (keys[sg][sn], keys[dg][dn], {"edge": e})
            for sg, sn, dg, dn, e in zip(c.source_group.tolist(), c.source_neuron.tolist(),
                                         c.dest_group.tolist(), c.dest_neuron.tolist(),
                                         c.edge.tolist()))
    if nxg.number_of_edges() != n:
        raise ValueError(f"{n - nxg.number_of_edges()} synapses connect a pair of neurons "
                         f"that is already connected (e.g. a group concatenated with "
                         f"itself); use to_networkx(multigraph=True)")
    return nxg
