"""The one table of layer kinds: what each kind of ``LayerSpec`` is and does.

Every stage asks this table instead of keeping its own list of kind names:

- ``weights``: carries ``kernel`` and ``bias`` (dense, conv2d).
- ``window``: a sliding-window op with ``strides`` and ``padding`` (conv, pooling); its
  window size is the kernel's spatial shape or ``config["pool_size"]``.
- ``cell``: simulated by a spiking cell (a synaptic op followed by neuron dynamics).
- ``linear``: passes its input on through a linear map, without neurons of its own
  (flatten and concat always; average pooling unless it is the readout, when its neurons
  integrate). A linear kind adds no quantization error and no latency.
- ``group``: a group of neurons with an output per neuron that can be counted, rated and
  connected in the synapse graph (the input under Poisson coding, the layers with neurons,
  and average pooling, whose window means of spikes are its "rates").
- ``reshape``: only rearranges its input (flatten, concat): no synapses in the synapse graph.
- ``non_negative``: its output is >= 0 whenever its inputs are (a ReLU after it is a no-op).
- ``readout``: can be the readout layer, whose neurons integrate their current without
  spiking (dense, conv2d, average pooling).
- ``after_readout``: may sit between the readout and the network output, acting on integrated
  potentials (average pooling, flatten); an output activation (softmax) after it belongs to the
  network output.

Adding a layer kind starts with one row here; docs/architecture.md has the whole recipe.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str
    weights: bool = False
    window: bool = False
    cell: bool = False
    linear: bool = False
    group: bool = False
    reshape: bool = False
    non_negative: bool = False
    readout: bool = False
    after_readout: bool = False
    description: str = ""


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("input", group=True, non_negative=False,
         description="the network input (spikes only under Poisson coding)"),
    Kind("dense", weights=True, cell=True, group=True, readout=True,
         description="fully connected synapses, I = x W + b"),
    Kind("conv2d", weights=True, window=True, cell=True, group=True, readout=True,
         description="2-D convolution, I = conv(x, K) + b"),
    Kind("avgpool", window=True, cell=True, linear=True, group=True, non_negative=True,
         readout=True, after_readout=True,
         description="average pooling times a per-channel scale (linear; integrates as "
                     "readout)"),
    Kind("maxpool", window=True, cell=True, group=True, non_negative=True,
         description="spiking max pooling: the encoding's gate passes the leading input"),
    Kind("flatten", linear=True, reshape=True, non_negative=True, after_readout=True,
         description="reshape to 1-D"),
    Kind("concat", linear=True, reshape=True, non_negative=True,
         description="concatenation along the channel axis"),
)}


def kind(name: str) -> Kind:
    """The table row of a kind; a clear error for unknown kinds."""
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown layer kind {name!r}; known: {sorted(KINDS)}") from None


def kinds_where(**flags) -> tuple[str, ...]:
    """Names of the kinds whose columns equal ``flags``, e.g. ``kinds_where(weights=True)``."""
    return tuple(k.name for k in KINDS.values()
                 if all(getattr(k, f) == v for f, v in flags.items()))
