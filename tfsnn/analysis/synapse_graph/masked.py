"""Two projections of the graph layers: the identity shortcut into a residual sum, and any
projection whose input tensor has positions without a source (zero padding).

- ``IdentityProjection``: ``i -> i``, ``w = scale[c]`` (``lambda_in / lambda_add`` of the
  shortcut's channel ``c``), ordered by ``i``.
- ``MaskedProjection``: the synapses of a projection minus those from padded positions
  ("positions in the padding create no synapse"), renumbered in the original order. A
  projection's synapses come in blocks that share one input position (a dense input, a
  window position with all its channels); zero padding removes whole positions, so whole
  blocks drop out and the rest are decoded run by run.
"""

from __future__ import annotations

import numpy as np

from tfsnn.analysis.synapse_graph.projections import DenseProjection, Projection


class IdentityProjection(Projection):
    """``i -> i`` with ``w = scale[channel of i]`` over a tensor of ``shape``."""

    def __init__(self, shape, scale):
        self.n_in = self.total = int(np.prod(shape))
        scale = np.asarray(scale, np.float64).reshape(-1)
        self.w = np.tile(scale, self.n_in // len(scale))

    def edges(self, g0, g1):
        i = np.arange(g0, g1, dtype=np.int64)
        return i, i, self.w[g0:g1]

    def fanout(self):
        return np.ones(self.n_in, dtype=np.int64)


def _blocks(proj: Projection):
    """``(m, first, span)``: synapses per block, the flat input position of each block's
    first synapse, and the positions a block spans (its channels)."""
    if isinstance(proj, DenseProjection):
        return proj.n_out, np.arange(proj.n_in, dtype=np.int64), 1
    if isinstance(proj, IdentityProjection):
        return 1, np.arange(proj.n_in, dtype=np.int64), 1
    hp, wp = np.divmod(np.arange(proj.total // proj.m, dtype=np.int64), proj.nW)
    return proj.m, proj.pre_h[hp] + proj.pre_w[wp], proj.cin


class MaskedProjection(Projection):
    """The synapses of ``proj`` from the input positions where ``has_source`` is True."""

    def __init__(self, proj: Projection, has_source: np.ndarray, where: str = ""):
        self.proj, self.n_in = proj, proj.n_in
        self.has_source = np.asarray(has_source, bool)
        m, first, span = _blocks(proj)
        ok = self.has_source[first[:, None] + np.arange(span)]
        if not np.all(ok.all(1) | ~ok.any(1)):
            raise ValueError(f"{where}: its input mixes padded and unpadded channels at one "
                             "position (zero padding concatenated with another map); the "
                             "synapse graph cannot number those synapses")
        self.m = m
        self.kept = np.flatnonzero(ok[:, 0]).astype(np.int64)
        self.total = len(self.kept) * m
        breaks = np.flatnonzero(np.diff(self.kept) != 1) + 1
        self.run_first = np.concatenate([[0], breaks]).astype(np.int64)
        self.run_end = np.concatenate([breaks, [len(self.kept)]]).astype(np.int64)

    def edges(self, g0, g1):
        parts, g = [], g0
        while g < g1:
            b = g // self.m
            r = int(np.searchsorted(self.run_first, b, side="right")) - 1
            end = min(g1, int(self.run_end[r]) * self.m)
            start = int(self.kept[b]) * self.m + g % self.m
            parts.append(self.proj.edges(start, start + end - g))
            g = end
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        pre = np.concatenate([p[0] for p in parts])
        dst = np.concatenate([p[1] for p in parts])
        w = None if parts[0][2] is None else np.concatenate([p[2] for p in parts])
        return pre, dst, w

    def fanout(self):
        return np.where(self.has_source, self.proj.fanout(), 0)
