"""The synapse graph of a converted network: neuron groups, their firing rates and the
projections between them, with edges ``rate(pre) * w`` generated on demand.

Neuron groups are the specs whose kind is a ``group`` in ``tfsnn.ir.kinds`` (the input,
dense, conv2d, average and max pooling, residual sums); the ``reshape`` kinds (flatten,
concat, reshape, cropping, zero padding) only re-index. A residual sum receives one
projection per input: a branch's synapses (conv + BN without ReLU: no group of its own)
from the branch's input, an identity shortcut's one-to-one synapses of weight
``lambda_in / lambda_add``; its neurons' biases are the sum of its branches' biases. Rates are spikes per simulated timestep per neuron:
``neuron_spike_counts / (num_samples * timesteps)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from tfsnn.analysis.synapse_graph.export import read_pickle, to_networkx, write_csv, write_pickle
from tfsnn.analysis.synapse_graph.masked import IdentityProjection, MaskedProjection
from tfsnn.analysis.synapse_graph.parquet import write_parquet
from tfsnn.analysis.synapse_graph.projections import Projection, check_chunk_size, projection_for
from tfsnn.analysis.synapse_graph.sources import (
    Source,
    concat_source,
    flatten_source,
    reshape_source,
    window_source,
)
from tfsnn.ir.kinds import kind, kinds_where

if TYPE_CHECKING:
    from tfsnn.ir import LayerSpec

_GROUPS = kinds_where(group=True)
_RESHAPES = kinds_where(reshape=True)
_SUPPORTED = _GROUPS + _RESHAPES


def _is_branch(spec) -> bool:
    """A layer with weights and no neurons, feeding a residual sum (``LayerSpec.is_branch``;
    also for the stored layers of a pickle)."""
    return kind(spec.kind).weights and getattr(spec, "activation", "relu") is None


class EdgeChunk(NamedTuple):
    """A block of synapses as columns. Groups are ids into ``SynapseGraph.group_names``;
    neurons are flat (C order) indices into the group's shape."""

    source_group: np.ndarray  # int32
    source_neuron: np.ndarray  # int64
    dest_group: np.ndarray  # int32
    dest_neuron: np.ndarray  # int64
    edge: np.ndarray  # float64

    def __len__(self) -> int:  # number of synapses, not number of columns
        return len(self.edge)


class Link(NamedTuple):
    """The synapses into one destination group: its spec and group id, where the positions of
    its input tensor come from, and the projection."""

    spec: object
    gid: int
    source: Source
    projection: Projection


class SynapseGraph:
    """The synapse graph of a converted network: groups, their firing rates and the projections
    between them. Edges are generated on demand (``iter_chunks``, ``to_csv``, ...).

    ``specs``: the converted network (``LayerSpec`` list, topological order); ``rates``: group
    name -> firing rate per neuron (spikes per timestep), shaped like the group's output. Rates
    are required for every group with outgoing synapses; the others (e.g. a readout layer that
    integrates without spiking) may be left out. Biases come from the specs (``spec.bias``, one
    per output channel, for the groups that have one) and are node attributes
    (``neuron_biases``, ``to_networkx``, the nodes table of ``to_parquet``), not synapses."""

    def __init__(self, specs: list[LayerSpec], rates: dict):
        self.specs = list(specs)
        self._check_kinds()
        self._by_name = {s.name: s for s in self.specs}
        if len(self._by_name) != len(self.specs):
            names = [s.name for s in self.specs]
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"layer names must be unique; duplicated: {dup}")
        groups = [s for s in self.specs if s.kind in _GROUPS and not _is_branch(s)]
        self.group_names = [s.name for s in groups]
        self.group_shapes = [tuple(int(d) for d in s.output_shape) for s in groups]
        self._gid = {name: i for i, name in enumerate(self.group_names)}
        self._sources: dict[str, Source] = {}
        #: one ``Link`` per destination group, in network order
        self.links: list[Link] = []
        for spec in self.specs:
            row = kind(spec.kind)
            if _is_branch(spec):  # its synapses end on the neurons of the sum it feeds
                continue
            if row.sums:
                for k, name in enumerate(spec.inputs):
                    self.links.append(self._sum_link(spec, k, self._by_name[name]))
            elif row.weights or row.window:  # a group that receives synapses
                src = self._source(self._single_input(spec))
                self.links.append(self._link(spec, spec, src, projection_for(spec, src.shape)))
            elif row.reshape:
                self._source(spec.name)  # validates shapes early
        #: group ids with outgoing synapses: their rates weight the edges
        self._presynaptic = sorted({g for link in self.links for g in link.source.groups()})
        self.rates = self._check_rates(rates)
        #: group name -> bias per output channel (groups whose spec has a bias)
        self.biases = self._check_biases()
        self._rate_flat = [self.rates[n].reshape(-1) if n in self.rates else None
                           for n in self.group_names]

    # ---- construction and validation

    def _check_kinds(self):
        for s in self.specs:
            if s.kind not in _SUPPORTED:
                raise ValueError(
                    f"layer {s.name!r} has kind {s.kind!r}, which the synapse graph does not "
                    f"support; supported kinds: {', '.join(_SUPPORTED)}")

    def _check_rates(self, rates) -> dict[str, np.ndarray]:
        if not isinstance(rates, dict):
            raise TypeError(f"rates must be a dict group name -> array, got {type(rates).__name__}")
        unknown = sorted(set(rates) - set(self._by_name))
        if unknown:
            raise ValueError(f"rates given for layers that are not in the network: {unknown}; "
                             f"groups: {self.group_names}")
        no_neurons = sorted(set(rates) - set(self.group_names))
        if no_neurons:
            raise ValueError(f"rates given for layers without neurons ({'/'.join(_RESHAPES)}"
                             f"): {no_neurons}; give rates for the groups {self.group_names}")
        needed = [self.group_names[g] for g in self._presynaptic]
        missing = [n for n in needed if n not in rates]
        if missing:
            raise ValueError(f"no firing rates for group(s) {missing}; every group with outgoing "
                             f"synapses needs rates (needed: {needed})")
        out = {}
        for name, shape in zip(self.group_names, self.group_shapes):
            if name not in rates:  # a group without outgoing synapses, e.g. the readout
                continue
            r = np.asarray(rates[name], dtype=np.float64)
            if r.shape != shape:
                raise ValueError(f"rates for group {name!r} have shape {r.shape}, expected the "
                                 f"group's output shape {shape}")
            if not np.isfinite(r).all():
                raise ValueError(f"rates for group {name!r} contain NaN or infinite values")
            out[name] = r
        return out

    def _link(self, dest, spec, src: Source, proj: Projection) -> Link:
        """The link into group ``dest`` (projection of ``spec``); positions of ``src``
        without a source (zero padding) send no synapses."""
        if src.has_holes:
            proj = MaskedProjection(proj, src.gids >= 0, f"layer {spec.name!r}")
            src = src.filled()
        return Link(dest, self._gid[dest.name], src, proj)

    def _sum_link(self, spec, k: int, inp) -> Link:
        """Input ``k`` of residual sum ``spec``: a branch's synapses or an identity."""
        if _is_branch(inp):
            src = self._source(self._single_input(inp))
            return self._link(spec, inp, src, projection_for(inp, src.shape))
        src = self._source(inp.name)
        if src.shape != tuple(spec.output_shape):
            raise ValueError(f"layer {spec.name!r} (add): input {inp.name!r} has shape "
                             f"{src.shape}, the sum {tuple(spec.output_shape)}")
        scales = np.asarray(spec.config.get("scales", np.ones((src.shape[-1], k + 1))))
        return self._link(spec, spec, src, IdentityProjection(src.shape, scales[:, k]))

    def _bias_of(self, spec):
        """The bias of a group's spec; a residual sum's is its branches' biases summed."""
        if not kind(spec.kind).sums:
            return getattr(spec, "bias", None)
        biases = [self._by_name[i].bias for i in spec.inputs
                  if _is_branch(self._by_name[i])]
        return np.sum(biases, axis=0) if biases else None

    def _check_biases(self) -> dict[str, np.ndarray]:
        out = {}
        for name, shape in zip(self.group_names, self.group_shapes):
            bias = self._bias_of(self._by_name[name])
            if bias is None:
                continue
            bias = np.asarray(bias)
            if bias.shape != shape[-1:]:
                raise ValueError(f"bias of group {name!r} has shape {bias.shape}, expected one "
                                 f"value per output channel {shape[-1:]}")
            out[name] = bias
        return out

    def _single_input(self, spec) -> str:
        if len(spec.inputs) != 1:
            raise ValueError(f"layer {spec.name!r} ({spec.kind}) must have exactly one input, "
                             f"got {spec.inputs}")
        return spec.inputs[0]

    def _source(self, name: str) -> Source:
        if name in self._sources:
            return self._sources[name]
        if name not in self._by_name:
            raise ValueError(f"unknown input layer {name!r}; layers: {list(self._by_name)}")
        spec = self._by_name[name]
        if spec.kind in _GROUPS:
            src = Source(self.group_shapes[self._gid[name]], gid=self._gid[name])
        elif spec.kind == "flatten":
            src = flatten_source(name, self._source(self._single_input(spec)), spec.output_shape)
        elif spec.kind == "reshape":
            src = reshape_source(spec, self._source(self._single_input(spec)))
        elif spec.kind in ("zeropad", "crop"):
            src = window_source(spec, self._source(self._single_input(spec)))
        elif _is_branch(spec):
            raise ValueError(f"layer {spec.name!r} has no neurons (a branch into a residual "
                             "sum) and can only feed that sum")
        else:  # concat
            src = concat_source(spec, [self._source(i) for i in spec.inputs])
        self._sources[name] = src
        return src

    # ---- basic properties

    @property
    def num_synapses(self) -> int:
        return sum(link.projection.total for link in self.links)

    def __len__(self) -> int:
        return self.num_synapses

    def neuron_index(self, group: str | int, flat) -> tuple:
        """Multi-dimensional index of flat neuron index(es) ``flat`` in ``group``."""
        gid = self._gid[group] if isinstance(group, str) else int(group)
        return np.unravel_index(flat, self.group_shapes[gid])

    def neuron_biases(self, group: str) -> np.ndarray | None:
        """Bias of each (flat) neuron of ``group`` (its channel's bias), as float64; ``None``
        for a group without biases (the input, pooling)."""
        bias = self.biases.get(group)
        if bias is None:
            return None
        shape = self.group_shapes[self._gid[group]]
        return np.broadcast_to(bias.astype(np.float64), shape).reshape(-1)

    def input_rates(self, src: Source) -> np.ndarray:
        """Firing rate of each (flat) position of the tensor behind ``src``."""
        if src.gid is not None:
            return self._rate_flat[src.gid]
        out = np.empty(len(src.gids), dtype=np.float64)
        for g in np.unique(src.gids):
            sel = src.gids == g
            out[sel] = self._rate_flat[g][src.index[sel]]
        return out

    # ---- edges and export

    def iter_chunks(self, chunk_size: int = 1_000_000) -> Iterator[EdgeChunk]:
        """Yield all synapses as ``EdgeChunk`` columns, at most ``chunk_size`` per chunk.

        Order: projection by projection in network order; within a Conv2D/pooling projection by
        (output row, kernel row), (output column, kernel column), input channel, filter; within
        a Dense projection by (input, output). The concatenation of the chunks does not depend
        on ``chunk_size``."""
        chunk_size = check_chunk_size(chunk_size)
        for _spec, dgid, src, proj in self.links:
            in_rate = self.input_rates(src)
            for g0 in range(0, proj.total, chunk_size):
                pre, dst, w = proj.edges(g0, min(g0 + chunk_size, proj.total))
                edge = in_rate[pre] if w is None else in_rate[pre] * w
                n = len(pre)
                if src.gid is not None:
                    sg, sn = np.full(n, src.gid, np.int32), pre
                else:
                    sg, sn = src.gids[pre], src.index[pre]
                yield EdgeChunk(sg, sn, np.full(n, dgid, np.int32), dst,
                                np.asarray(edge, np.float64))

    def to_csv(self, path, chunk_size: int = 1 << 16) -> int:
        """Write ``source_group,source_neuron,dest_group,dest_neuron,edge`` rows; neuron indices
        as their components joined by ``_`` (``3_14_0``; ``17`` for a 1-D group), edge values
        with 7 significant digits. Memory grows with ``chunk_size`` and the largest group, not
        with the number of synapses. The file at ``path`` is replaced only when the new one is
        complete. Returns the number of synapses written."""
        return write_csv(self, path, chunk_size)

    def to_parquet(self, path, chunk_size: int = 1 << 20, compression: str = "zstd",
                   nodes: bool = True) -> int:
        """Write the edges as Parquet to ``path`` (columns ``source_group``, ``source_neuron``,
        ``dest_group``, ``dest_neuron``, ``edge``; groups as a dictionary column, neurons as
        flat indices, edges as float64, rows in CSV order) and, if ``nodes``, the neurons with
        ``rate`` and ``bias`` to ``<stem>.nodes.parquet`` beside it. One row group per
        ``chunk_size`` synapses, so memory does not grow with the graph. Read back with
        ``tfsnn.analysis.synapse_graph.read_parquet``. Returns the number of synapses."""
        return write_parquet(self, path, chunk_size, compression, nodes)

    def to_networkx(self, max_edges: int = 1_000_000, multigraph: bool = False):
        """A ``networkx.DiGraph``: nodes ``(group name, index tuple)`` with attributes ``group``,
        ``index``, ``rate`` and ``bias`` (all neurons of all groups; rate ``None`` where none
        was given, bias ``None`` for groups without one); edges with attribute ``edge``.
        Raises ``ValueError`` when the graph has more than ``max_edges`` synapses."""
        return to_networkx(self, max_edges, multigraph)

    def to_pickle(self, path) -> None:
        """Pickle the layer specs (shapes, weights, biases, config) and the firing rates; the
        edges are regenerated on load (``SynapseGraph.from_pickle``)."""
        write_pickle(self.specs, self.rates, path)

    @classmethod
    def from_pickle(cls, path) -> SynapseGraph:
        """Load a graph written by ``to_pickle``. Only the types such a file contains load
        (numpy arrays and plain Python values): a pickle that names any other global (a
        function to call, a class to build) is refused with a ``ValueError`` naming it, before
        anything in it runs. Still, open pickles only from sources you trust."""
        return cls(*read_pickle(path))

    # ---- summary

    def summary(self) -> dict:
        """Synapse counts, computed from the layer geometry (no edges generated):
        ``{"pairs": {(source group, dest group): count}, "total": count,
        "neurons": {group: count}}``."""
        pairs: dict[tuple[str, str], int] = {}
        for spec, _dgid, src, proj in self.links:
            if src.gid is not None:
                counts = {src.gid: proj.total}
            else:
                per = np.bincount(src.gids, weights=proj.fanout(), minlength=len(self.group_names))
                counts = {g: int(round(c)) for g, c in enumerate(per) if c}
            for g, c in counts.items():
                key = (self.group_names[g], spec.name)
                pairs[key] = pairs.get(key, 0) + int(c)
        return {
            "pairs": pairs,
            "total": self.num_synapses,
            "neurons": {n: int(np.prod(s)) for n, s in zip(self.group_names, self.group_shapes)},
        }

    def summary_table(self) -> str:
        s = self.summary()
        rows = [(src, dst, f"{c:,}") for (src, dst), c in s["pairs"].items()]
        rows.append(("total", "", f"{s['total']:,}"))
        head = ("source group", "dest group", "synapses")
        widths = [max(len(r[i]) for r in rows + [head]) for i in range(3)]

        def line(r):
            return f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}"

        sep = "-" * (sum(widths) + 4)
        return "\n".join([line(head), sep] + [line(r) for r in rows[:-1]] + [sep, line(rows[-1])])

    def __str__(self) -> str:
        return self.summary_table()

    def __repr__(self) -> str:
        return (f"SynapseGraph({len(self.group_names)} groups, "
                f"{self.num_synapses:,} synapses)")


# --------------------------------------------------------------------------------------------
# entry points


def build_synapse_graph(specs: list[LayerSpec], rates: dict) -> SynapseGraph:
    """Synapse graph of ``specs`` with ``rates`` (group name -> firing rate per neuron, spikes
    per timestep, shaped like the group's output)."""
    return SynapseGraph(specs, rates)


def rates_from_result(result) -> dict[str, np.ndarray]:
    """Firing rates from a simulation result: ``neuron_spike_counts / (num_samples *
    timesteps)``."""
    denom = int(result.num_samples) * int(result.timesteps)
    if denom <= 0:
        raise ValueError(f"cannot compute firing rates from a result with num_samples="
                         f"{result.num_samples} and timesteps={result.timesteps}")
    counts = result.neuron_spike_counts
    return {name: np.asarray(c, dtype=np.float64) / denom for name, c in counts.items()}


def synapse_graph(snn, x=None, timesteps: int = 100, batch_size: int = 256,
                  input_mode: str = "constant", result=None) -> SynapseGraph:
    """Synapse graph of a converted SNN. Rates come from ``result`` (an earlier
    ``snn.evaluate`` result) or from simulating ``x`` for ``timesteps`` steps."""
    if result is None:
        if x is None:
            raise ValueError("synapse_graph needs data to simulate (x) or an evaluation result "
                             "(result=snn.evaluate(...)) to take the firing rates from")
        result = snn.evaluate(x, None, timesteps=timesteps, batch_size=batch_size,
                              input_mode=input_mode)
    counts = getattr(result, "neuron_spike_counts", None)
    if counts is None:
        raise ValueError("the evaluation result has no neuron_spike_counts; the synapse graph "
                         "needs the spike count of every neuron")
    specs = snn.specs
    rates = rates_from_result(result)
    kinds = {s.name: s.kind for s in specs}
    rates = {n: r for n, r in rates.items() if kinds.get(n) not in _RESHAPES}
    return SynapseGraph(specs, rates)


def pickle_to_csv(in_path, out_path, chunk_size: int = 1 << 16) -> int:
    """Convert a pickled synapse graph (``SynapseGraph.to_pickle``) to CSV; returns the number
    of synapses written. The pickle is loaded as by ``SynapseGraph.from_pickle``: only numpy
    arrays and plain Python values, anything else is refused before it runs."""
    return SynapseGraph.from_pickle(in_path).to_csv(out_path, chunk_size=chunk_size)
