"""Where the positions of a tensor come from: the neuron groups behind reshapes.

Flatten, concat, reshape, cropping and zero padding only re-index (no neurons, no synapses);
zero padding adds positions without a source (group -1), from which no synapse leaves. A layer after a Flatten connects to
the group before it, the flat index un-flattened to that group's ``(h, w, c)`` index (C order,
as Keras flattens NHWC); the positions of a concatenated tensor map back to the groups they
came from.
"""

from __future__ import annotations

import numpy as np


class Source:
    """Positions of a tensor of ``shape``: one group directly (``gid``, identity index) or per
    position ``gids`` / ``index`` arrays (group id and flat neuron index, after a concat)."""

    def __init__(self, shape, gid=None, gids=None, index=None):
        self.shape = tuple(shape)
        self.gid, self.gids, self.index = gid, gids, index

    def full(self) -> tuple[np.ndarray, np.ndarray]:
        """Per position (flat): group id and neuron index."""
        if self.gid is None:
            return self.gids, self.index
        n = int(np.prod(self.shape))
        return np.full(n, self.gid, np.int32), np.arange(n, dtype=np.int64)

    def groups(self) -> list[int]:
        """The group ids whose neurons appear in the tensor, ascending."""
        if self.gid is not None:
            return [self.gid]
        return [g for g in np.unique(self.gids).tolist() if g >= 0]

    @property
    def has_holes(self) -> bool:
        """Some positions have no source (zero padding: group -1)."""
        return self.gid is None and bool(np.any(self.gids < 0))

    def filled(self) -> Source:
        """The same positions with the holes given a real neuron (the first position's):
        for projections that never reach the holes (``MaskedProjection``)."""
        gids, index = self.gids.copy(), self.index.copy()
        hole = gids < 0
        first = int(np.argmin(hole))
        gids[hole], index[hole] = gids[first], index[first]
        return Source(self.shape, gids=gids, index=index)


def flatten_source(name: str, inner: Source, output_shape) -> Source:
    """The source of flatten layer ``name`` whose input is ``inner``."""
    n = int(np.prod(inner.shape))
    out = tuple(output_shape)
    if out != (n,):
        raise ValueError(f"flatten layer {name!r}: output shape {out} does not match its "
                         f"input shape {inner.shape} flattened ({n},)")
    return Source((n,), gid=inner.gid, gids=inner.gids, index=inner.index)


def concat_source(spec, parts: list[Source]) -> Source:
    """The source of concat layer ``spec`` (axis ``config["axis"]``, Keras counting the batch
    axis) whose inputs are ``parts``."""
    name = spec.name
    rank = len(parts[0].shape)
    axis = int(spec.config.get("axis", -1))
    if axis >= 0:
        axis -= 1  # Keras counts the batch axis
    if axis < 0:
        axis += rank
    if not 0 <= axis < rank or any(len(p.shape) != rank for p in parts):
        raise ValueError(f"concat layer {name!r}: axis {spec.config.get('axis', -1)} "
                         f"does not fit input shapes {[p.shape for p in parts]}")
    gids, index = [], []
    for p in parts:
        g, ix = p.full()
        gids.append(g.reshape(p.shape))
        index.append(ix.reshape(p.shape))
    try:
        gids = np.concatenate(gids, axis=axis)
        index = np.concatenate(index, axis=axis)
    except ValueError:
        raise ValueError(f"concat layer {name!r}: input shapes "
                         f"{[p.shape for p in parts]} cannot be concatenated along axis "
                         f"{axis} (per sample)") from None
    if gids.shape != tuple(spec.output_shape):
        raise ValueError(f"concat layer {name!r}: output shape {tuple(spec.output_shape)} "
                         f"does not match the concatenated inputs {gids.shape}")
    return Source(gids.shape, gids=gids.reshape(-1), index=index.reshape(-1))


def reshape_source(spec, inner: Source) -> Source:
    """The source of reshape layer ``spec`` (C order: the flat positions stay)."""
    out = tuple(int(d) for d in spec.output_shape)
    if int(np.prod(out)) != int(np.prod(inner.shape)):
        raise ValueError(f"reshape layer {spec.name!r}: output shape {out} does not hold its "
                         f"input shape {inner.shape}")
    return Source(out, gid=inner.gid, gids=inner.gids, index=inner.index)


def window_source(spec, inner: Source) -> Source:
    """The source of zero padding (padded positions: group -1, no source) or cropping
    ``spec``, ``((top, bottom), (left, right))`` of a ``(h, w, c)`` map."""
    g, ix = (a.reshape(inner.shape) for a in inner.full())
    if spec.kind == "zeropad":
        (t, b), (left, r) = spec.config["padding"]
        pad = ((int(t), int(b)), (int(left), int(r)), (0, 0))
        g, ix = np.pad(g, pad, constant_values=-1), np.pad(ix, pad)
    else:
        (t, b), (left, r) = spec.config["cropping"]
        g = g[int(t):g.shape[0] - int(b), int(left):g.shape[1] - int(r)]
        ix = ix[int(t):ix.shape[0] - int(b), int(left):ix.shape[1] - int(r)]
    if g.shape != tuple(spec.output_shape):
        raise ValueError(f"layer {spec.name!r} ({spec.kind}): output shape "
                         f"{tuple(spec.output_shape)} does not match {g.shape}")
    return Source(g.shape, gids=g.reshape(-1), index=ix.reshape(-1))
