"""How a simulation runs on this device (``FastPathOptions`` and ``plan``); the results never
depend on it, only the speed does (measured in docs/benchmarks.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from tfsnn.backend import backend_name, device_kind

#: budget for the spike tensors of one time chunk (bytes, all layers together)
DEFAULT_CHUNK_BYTES = 512 * 2**20
#: timesteps per chunk on CPU (traced unrolled; longer chunks were not faster on 2 cores)
UNROLL_STEPS = 5
#: longer chunks loop over their steps instead of being traced unrolled
MAX_UNROLL = 32
FOLDS = (True, False, "synapses")


@dataclass
class FastPathOptions:
    """How ``SpikingModel.simulate`` runs (``snn.fast_path``); results do not depend on it.

    - ``fold``: ``True``: every layer's synaptic op runs once per chunk on all its steps
      folded into the batch, then the neuron dynamics loop over the steps (few large
      kernels: GPUs, XLA). ``"synapses"``: the same for layers with neurons, but linear
      layers (pooling, flatten) run per step, so spikes are stacked after pooling (smaller
      copies). ``False``: everything per step (tensors the size of one step). ``None``:
      ``True`` on GPU/TPU; on CPU ``"synapses"`` for TensorFlow (13% less CPU time than
      ``False`` for LeNet; ``True`` with XLA), ``False`` for JAX (XLA's CPU convolutions
      on folded batches were slower).
    - ``chunk``: timesteps per chunk (default: ``UNROLL_STEPS`` on CPU; on GPU/TPU as many as
      fit ``chunk_bytes`` of spikes). Chunks up to ``MAX_UNROLL`` steps are unrolled.
    - ``xla``: TensorFlow only, compile with XLA (``jit_compile``). ``None``: on CPU only
      for networks without convolution and pooling (XLA's CPU kernels for those were 2-3x
      slower than oneDNN's; for dense networks XLA removes the per-op overhead).
    """

    fold: bool | str | None = None
    chunk: int | None = None
    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    xla: bool | None = None


class Plan(NamedTuple):
    fold: bool | str
    chunk: int
    xla: bool


def _default_fold(device: str, tf_cpu: bool, xla: bool):
    if device != "cpu":
        return True
    if tf_cpu:
        return True if xla else "synapses"
    return False


def _check_chunk(chunk) -> int:
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ValueError(f"chunk must be an integer >= 1 (timesteps per chunk), got {chunk!r}")
    return int(chunk)


def plan(opts: FastPathOptions, specs, timesteps: int, batch_size: int, chunk=None) -> Plan:
    """The ``Plan`` of a run: ``opts`` where set, else the device defaults above."""
    device = device_kind()
    tf_cpu = backend_name() == "tensorflow" and device == "cpu"
    xla = opts.xla
    if xla is None:  # XLA's CPU convolutions and pooling are slower than oneDNN's
        xla = tf_cpu and not any(s.row.window for s in specs)
    fold = opts.fold if opts.fold is not None else _default_fold(device, tf_cpu, xla)
    if fold not in FOLDS:
        raise ValueError(f"fold must be True, False, 'synapses' or None, got {fold!r}")
    chunk = opts.chunk if chunk is None else chunk
    if chunk is None:
        if device == "cpu":
            chunk = UNROLL_STEPS
        else:  # as many steps as fit the budget: few, large kernels
            per_step = 4 * batch_size * sum(int(np.prod(s.output_shape)) for s in specs)
            chunk = opts.chunk_bytes // max(per_step, 1)
    return Plan(fold, max(1, min(_check_chunk(chunk), timesteps)), bool(xla))
