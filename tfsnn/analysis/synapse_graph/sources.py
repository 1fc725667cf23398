"""Where the positions of a tensor come from: the neuron groups behind reshapes.

Flatten and concat only re-index (no neurons, no synapses). A layer after a Flatten connects to
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
        return [self.gid] if self.gid is not None else np.unique(self.gids).tolist()


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
