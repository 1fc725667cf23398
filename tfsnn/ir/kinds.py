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
- ``pool``: ``"avg"`` or ``"max"`` for the pooling kinds (1-D and 2-D), else ``""``.
- ``sums``: its neurons' current is the sum of its inputs' values (``add``, a residual
  block): an input is either a spiking group (an identity shortcut, times a per-channel
  scale ``lambda_in / lambda_add``) or a layer with weights and no activation
  (``activation`` None, e.g. conv + BatchNorm), which then has no neurons of its own and
  passes its synaptic current on into the sum.
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
    pool: str = ""
    sums: bool = False
    description: str = ""

    @property
    def activates(self) -> bool:
        """An activation layer after a spec of this kind merges into it (its neurons'
        nonlinearity): the kinds with weights and the sums."""
        return self.weights or self.sums


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("input", group=True, non_negative=False,
         description="the network input (spikes only under Poisson coding)"),
    Kind("dense", weights=True, cell=True, group=True, readout=True,
         description="fully connected synapses, I = x W + b"),
    Kind("conv2d", weights=True, window=True, cell=True, group=True, readout=True,
         description="2-D convolution, I = conv(x, K) + b"),
    Kind("conv1d", weights=True, window=True, cell=True, group=True, readout=True,
         description="1-D convolution over (steps, channels), I = conv(x, K) + b"),
    Kind("depthwise_conv2d", weights=True, window=True, cell=True, group=True, readout=True,
         description="depthwise 2-D convolution, each input channel c to its own "
                     "depth_multiplier maps c * m + j"),
    Kind("separable_conv2d", weights=True, window=True, cell=True, group=True, readout=True,
         description="depthwise then pointwise (1x1) convolution, one activation after "
                     "(MobileNet); linear in between, so its neurons are the pointwise maps"),
    Kind("avgpool", window=True, cell=True, linear=True, group=True, non_negative=True,
         readout=True, after_readout=True, pool="avg",
         description="average pooling times a per-channel scale (linear; integrates as "
                     "readout)"),
    Kind("maxpool", window=True, cell=True, group=True, non_negative=True, pool="max",
         description="spiking max pooling: the encoding's gate passes the leading input"),
    Kind("avgpool1d", window=True, cell=True, linear=True, group=True, non_negative=True,
         readout=True, after_readout=True, pool="avg",
         description="1-D average pooling, as avgpool"),
    Kind("maxpool1d", window=True, cell=True, group=True, non_negative=True, pool="max",
         description="1-D spiking max pooling, as maxpool"),
    Kind("flatten", linear=True, reshape=True, non_negative=True, after_readout=True,
         description="reshape to 1-D"),
    Kind("concat", linear=True, reshape=True, non_negative=True,
         description="concatenation along the channel axis"),
    Kind("add", cell=True, group=True, sums=True,
         description="residual sum: neurons driven by the sum of their inputs' currents, "
                     "I = sum_i scale_i * x_i (Keras Add and the ReLU after it)"),
    Kind("zeropad", linear=True, reshape=True, non_negative=True,
         description="zero padding of a 2-D map, config padding ((top, bottom), "
                     "(left, right))"),
    Kind("crop", linear=True, reshape=True, non_negative=True,
         description="cropping of a 2-D map, config cropping ((top, bottom), (left, right))"),
    Kind("reshape", linear=True, reshape=True, non_negative=True,
         description="reshape to config target_shape (C order, as Keras Reshape)"),
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
