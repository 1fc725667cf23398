"""Energy estimate: operations of the ANN against synaptic operations of the SNN.

Model (Rueckauer et al. 2017; the "normalized energy consumption" of ESCAPE-NET):

- **ANN**, per image and layer ``l``:

  - Dense: ``MAC_l = n_in * n_out``.
  - Conv2D: ``MAC_l = P_h * P_w * c_in * c_out`` where ``P_h`` (``P_w``) counts the
    (output row, input row) pairs of the convolution that are in bounds: padding zeros are not
    multiplied, so with ``"same"`` padding border outputs cost less.
  - DepthwiseConv2D: ``MAC_l = P_h * P_w * c_in * m``; SeparableConv2D: that plus the
    pointwise ``H_out * W_out * c_in m * c_out``. Conv1D and the 1-D pooling: one axis.
  - AveragePooling2D: ``ADD_l = P_h * P_w * c``, one addition per in-bounds window element
    (the division by the window size is folded into the next layer's weights and not counted).
  - MaxPooling2D (comparisons), Flatten, Concatenate, ZeroPadding2D, Cropping2D, Reshape:
    not counted.
  - Add (a residual sum of ``n`` inputs): ``ADD_l = (n - 1) * num_neurons``.

  ``E_ANN = e_mac * sum(MAC) + e_ac * sum(ADD)``.

- **SNN**, per image: a spike of neuron ``i`` costs one accumulate (AC) per synapse it has into
  the next layer(s), its fan-out ``f_i``. Per receiving layer ``l`` (Dense, Conv2D, the readout)

      AC_l = sum_{source layers k} sum_{i in k} (N_i / N) * f_{i -> l}

  with ``N_i`` the spikes of neuron ``i`` over the ``N`` evaluated images (a depthwise
  convolution's ``f_i`` counts the ``m`` maps of its channel only; a separable one has no
  neurons between its two parts, so a spike reaches every filter in the window: the synapses
  of its composed kernel, as in the synapse graph)
  (``SimulationResult.neuron_events``: spikes of either sign), so border neurons of a padded or strided
  convolution count with their exact, smaller fan-out. Sources are the spiking layers
  (Dense, Conv2D, max pooling: a spiking max-pool passes spikes through a gate at no synaptic
  cost) and the input under Poisson input.

  - **Average pooling** has no neurons in the SNN: it is linear, and the weights of the layer
    after it can be composed with it. A spike of neuron ``i`` before the pool therefore reaches
    every neuron ``j`` of the next synaptic layer for which some pool window containing ``i``
    feeds ``j``: ``f_i`` = the number of such distinct ``j`` (the nonzeros of the composed
    weight matrix; for non-overlapping windows, the fan-out of the pooled unit that contains
    ``i``). The pooling itself then costs nothing.
  - **Residual sums**: a branch (conv + BN without ReLU) is a receiving layer whose synapses
    end on the sum's neurons (its row counts them; it has no neuron updates); an identity
    shortcut is one synapse per neuron (``f_i = 1``, composed through pooling, padding and
    cropping like any reach), counted in the sum's row with its neuron updates.
  - **Constant (analog) input**: the first layer receives real values, not spikes. Its current
    is the same at every step and computed once per image, so its operations are the ANN's:
    ``MAC_l`` (and the pooling additions of an average pool on the analog input).
  - Layers after the readout (e.g. a global average pooling of a linear readout) act on the
    integrated potentials once per image: ANN cost.
  - Neuron updates (bias, leak, threshold test: ``num_neurons * T`` per image) are counted and
    reported as ``neuron_updates``; they cost ``e_neuron`` each (default 0: only synaptic
    operations, as in Rueckauer et al. 2017; pass ``e_neuron=e_ac`` to charge one add).

  ``E_SNN = e_mac * sum(MAC_snn) + e_ac * sum(AC) + e_neuron * sum(neuron_updates)``.

Energy per operation: 45 nm CMOS figures (Horowitz, ISSCC 2014): 32-bit float multiply
3.7 pJ + add 0.9 pJ = ``e_mac = 4.6 pJ``; accumulate ``e_ac = 0.9 pJ``. A layer whose weights
are integers of at most 8 bits (a quantized model, ``tfsnn.quantization``) is priced with
8-bit integer figures on both sides: ``e_mac_int = 0.23 pJ``, ``e_ac_int = 0.03 pJ`` (low-bit
accumulates). All energies are in
joules per image. ``ratio = E_SNN / E_ANN`` is the normalized SNN energy (< 1: the SNN saves).

**Per device** (``energy_estimate(snn, result, device="loihi")`` = ``device_estimate``, and
``energy_table`` for all devices at once): the same counts priced with a device's published
energies (``tfsnn.analysis.devices``: cpu, gpu, arm, loihi, spinnaker, spinnaker2, 45nm and
user-registered devices, as KerasSpiking's ``ModelEnergy`` tabulates them):

- SNN on a **spiking** (event-driven) device: ``synops = sum(AC)`` (the spike-driven
  accumulates above), ``neuron_updates = num_neurons * T``, and the analog MACs ``MAC_snn``
  (constant input: computed once per image) at ``energy_per_mac`` (or ``energy_per_synop``
  on a device without a MAC figure)::

      E = e_mac * sum(MAC_snn) + e_synop * synops + e_neuron * neuron_updates

- SNN on a **non-spiking** device (cpu, gpu, arm): every synapse at every step, ``T`` times
  the ANN's operations (what the SNN computes once stays once), plus ``num_neurons * T``
  neuron updates.
- **ANN** on a device (cpu, gpu, arm, or one with ``energy_per_mac`` such as 45nm): its MACs
  at ``energy_per_mac``, pooling additions at ``energy_per_synop``, and one neuron update per
  neuron of each Dense/Conv2D/readout layer. On cpu/gpu/arm this is KerasSpiking's estimate
  (one op per connection and per neuron). A spiking device without a MAC figure cannot run
  the ANN; ``energy_estimate`` then compares against the GPU.

KerasSpiking counts synops as ``connections * mean input rate * T`` per layer; the counts here
use each neuron's exact spike count and fan-out (equal in expectation). With ``device="45nm"``
the energies equal the default call's.
"""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np

from tfsnn.analysis.devices import Device, check_energy, device_names, get_device
from tfsnn.ir import by_name, post_readout, readout_spec
from tfsnn.ir.geometry import ntuple, window_connectivity

E_MAC = 4.6e-12
E_AC = 0.9e-12
#: 8-bit integer multiply-accumulate and add (Horowitz 2014: 0.2 pJ + 0.03 pJ, 0.03 pJ)
E_MAC_INT8 = 0.23e-12
E_AC_INT8 = 0.03e-12


# ----------------------------------------------------------------------------- connectivity
def _window(spec) -> list:
    """Per spatial axis the connectivity ``C[o, i]`` of a window spec (``tfsnn.ir.geometry``):
    input ``i`` lies in the window of output ``o``."""
    strides = ntuple(spec.config["strides"], spec.rank)
    pad = spec.config["padding"]
    return [window_connectivity(n_in, n_out, k, st, pad) for n_in, n_out, k, st in
            zip(spec.input_shape[:-1], spec.output_shape[:-1], spec.window, strides)]


def _macs(spec, pairs: int) -> int:
    """MACs of a kind with weights over ``pairs`` in-bounds window position pairs: the kernel's
    last two axes per pair (dense: one pair; depthwise ``c_in * m``); a separable
    convolution adds its pointwise ``positions * c_in m * c_out``."""
    c_in, c_out = (int(v) for v in spec.kernel.shape[-2:])
    if spec.kind != "separable_conv2d":
        return pairs * c_in * c_out
    c, m = (int(v) for v in spec.depthwise_kernel.shape[-2:])
    return pairs * c * m + int(np.prod(spec.output_shape[:-1])) * c_in * c_out


def ann_operations(specs) -> dict:
    """``{layer: {"macs": int, "acs": int}}`` of one ANN inference (see module docstring).

    A kind with weights costs ``pairs * c_in * c_out`` MACs (the kernel's last two axes; a
    dense layer has one "pair"; ``_macs``), a linear window kind (average pooling)
    ``pairs * c`` adds, ``pairs`` being the in-bounds (output, input) position pairs of the
    window (the product over its spatial axes)."""
    out = {}
    for s in specs:
        row = s.row
        if row.sums:  # n inputs: n - 1 additions per neuron
            out[s.name] = {"macs": 0, "acs": (len(s.inputs) - 1) * s.num_neurons}
            continue
        if not (row.weights or (row.window and row.linear)):
            continue
        pairs = 1
        if row.window:
            pairs = int(np.prod([int(c.sum()) for c in _window(s)]))
        if row.weights:
            out[s.name] = {"macs": _macs(s, pairs), "acs": 0}
        else:
            out[s.name] = {"macs": 0, "acs": pairs * int(s.output_shape[-1])}
    return out


class _Reach:
    """Targets in a receiving layer of each element of a tensor, per spatial axis.

    An element ``(h, w, c)`` (or ``(t, c)``) reaches ``R_h(h) x R_w(w) x nc`` targets,
    ``R_h(h)`` the nonzero rows of column ``h`` of ``ms[0]`` (``ms`` None for 1-D tensors or
    all-to-all: every element reaches ``nc``). All fan-outs are independent of the channel.
    """

    def __init__(self, ms=None, nc=1):
        self.ms, self.nc = ms, int(nc)

    def fanout(self, shape) -> np.ndarray:
        shape = tuple(shape)
        if self.ms is None:
            return np.full(shape, float(self.nc))
        f = np.ones(())
        for m in self.ms:
            f = np.multiply.outer(f, m.sum(0).astype(np.float64))
        return np.broadcast_to(f[..., None] * self.nc, shape).copy()

    def spatial(self, shape):
        """The same reach on a map (all-to-all: one virtual target per axis)."""
        if self.ms is not None or len(shape) < 2:
            return self
        return _Reach([np.ones((1, n), bool) for n in shape[:-1]], self.nc)


def _receiver_reach(spec) -> _Reach:
    """Targets per input element: all ``n_out`` (dense), the window positions times the
    output channels one input channel feeds (convolutions: all filters, the separable one
    through its composed kernel; depthwise: its ``m``; pooling: 1; a residual sum's identity
    input: the one neuron at its position)."""
    if spec.row.sums:
        shape = spec.output_shape
        return _Reach([np.eye(n, dtype=bool) for n in shape[:-1]] if len(shape) > 1
                      else None, 1)
    if not spec.row.window:  # dense
        return _Reach(nc=spec.kernel.shape[1])
    if spec.kind == "depthwise_conv2d":
        nc = spec.kernel.shape[-1]
    else:
        nc = spec.output_shape[-1] if spec.row.weights else 1
    return _Reach(_window(spec), nc)


def _shift(spec) -> list:
    """Per spatial axis ``P[o, i]``: output ``o`` of zero padding / cropping ``spec`` is its
    input ``i`` (padding: ``o = i + before``; cropping: ``i = o + before``)."""
    pads = spec.config["padding" if spec.kind == "zeropad" else "cropping"]
    out = []
    for n_in, n_out, (before, _) in zip(spec.input_shape[:-1], spec.output_shape[:-1], pads):
        o = np.arange(n_out)[:, None]
        i = np.arange(n_in)[None, :]
        out.append(o == i + int(before) if spec.kind == "zeropad" else i == o + int(before))
    return out


def _through(reach: _Reach, spec) -> _Reach:
    """Carry the reach on ``spec``'s output back to its input."""
    if spec.kind in ("zeropad", "crop"):
        reach = reach.spatial(spec.output_shape)
        return _Reach([(m.astype(np.int64) @ p.astype(np.int64)) > 0
                       for m, p in zip(reach.ms, _shift(spec))], reach.nc)
    if spec.kind == "reshape" and reach.ms is not None:
        raise ValueError(f"layer {spec.name!r} (reshape) feeds a window layer; the energy "
                         "estimate composes reshapes only before dense layers")
    if spec.row.reshape:
        # flatten (only after an all-to-all receiver) or channel concatenation: the reach of
        # each element is unchanged
        return reach
    # average pooling (depthwise): compose the windows
    reach = reach.spatial(spec.output_shape)
    return _Reach([(m.astype(np.int64) @ p.astype(np.int64)) > 0
                   for m, p in zip(reach.ms, _window(spec))], reach.nc)


def _readout_and_after(specs, readout=None):
    readout = readout_spec(specs) if readout is None else readout
    return readout, set(post_readout(specs, readout))


def receivers(specs, readout=None) -> list:
    """Layers whose neurons receive synaptic input: Dense, Conv2D and the readout."""
    readout, after = _readout_and_after(specs, readout)
    return [s for s in specs if s.name not in after and
            (s.row.weights or s.row.sums or s is readout)]


def synaptic_fanout(specs, readout=None) -> dict:
    """Exact per-neuron fan-out: ``{receiver: {source: array shaped like source output}}``.

    ``f[l][k][i]`` is the number of synapses from neuron ``i`` of source layer ``k`` into the
    receiving layer ``l``, with average pools and reshapes between them composed in (see module
    docstring). Sources are the layers that emit spikes or analog values (input, Dense, Conv2D,
    max pooling). Paths through the same source add up.
    """
    readout, after = _readout_and_after(specs, readout)
    named = by_name(specs)
    out = {}
    for r in receivers(specs, readout):
        per_src: dict = {}
        ins = [i for i in r.inputs if not named[i].is_branch]  # branches: receivers
        stack = [(named[i], _receiver_reach(r)) for i in ins]
        while stack:
            s, reach = stack.pop()
            if s.row.linear and s is not readout:  # passes spikes on without neurons
                for i in s.inputs:
                    stack.append((named[i], _through(reach, s)))
                continue
            f = reach.fanout(s.output_shape)
            per_src[s.name] = per_src.get(s.name, 0) + f
        out[r.name] = per_src
    return out


def _analog_masks(specs, input_mode, readout):
    """Per element of every tensor before the readout: does it carry analog values?"""
    masks = {}
    for s in specs:
        if s.kind == "input":
            masks[s.name] = np.full(s.output_shape, input_mode == "constant")
        elif s.kind in ("zeropad", "crop"):
            (t, b), (left, r) = s.config["padding" if s.kind == "zeropad" else "cropping"]
            prev = masks[s.inputs[0]]
            masks[s.name] = (np.pad(prev, ((t, b), (left, r), (0, 0))) if s.kind == "zeropad"
                             else prev[t:prev.shape[0] - b, left:prev.shape[1] - r])
        elif s.row.reshape:  # flatten, reshape, or concatenation along the channel axis
            masks[s.name] = np.concatenate([masks[i] for i in s.inputs],
                                           axis=-1).reshape(s.output_shape)
        elif s.row.linear and s is not readout:  # average pooling
            prev = masks[s.inputs[0]]
            m = prev.any(axis=tuple(range(prev.ndim - 1)))  # depthwise: per channel
            masks[s.name] = np.broadcast_to(m, s.output_shape)
        else:
            masks[s.name] = np.zeros(s.output_shape, bool)
    return masks


def _check_energies(**energies) -> None:
    for k, v in energies.items():
        check_energy(k, v)


def _spike_acs(fan_in: dict, named: dict, counts: dict, input_mode: str, n: int) -> dict:
    """``{source: AC per image}`` of one receiving layer: ``sum_i (N_i / N) * f_i`` per source
    (the analog input under constant input is left out: its operations are MACs)."""
    out = {}
    for src, f in fan_in.items():
        if named[src].kind == "input" and input_mode == "constant":
            continue  # analog: counted as MACs
        if src not in counts:
            raise ValueError(f"the simulation result has no spike counts of layer "
                             f"{src!r}; simulate with this SNN (SpikingModel.evaluate)")
        c = np.asarray(counts[src], np.float64)
        if c.shape != f.shape:
            raise ValueError(f"spike counts of {src!r} have shape {c.shape}, the "
                             f"layer has {f.shape}: result and SNN do not match")
        out[src] = float((c * f).sum()) / n
    return out



def _counts(snn, result) -> dict:
    """Operations per image, no energies: ``{"layers": {name: {"kind", "ann_macs", "ann_acs",
    "snn_macs", "snn_acs", "neuron_updates", "sources"}}, "neurons": {receiver: neurons},
    "timesteps", "input_mode", "num_samples"}`` (see the module docstring)."""
    specs = snn.specs
    readout, after = _readout_and_after(specs, snn.readout)
    named = by_name(specs)
    n = max(int(result.num_samples), 1)
    T = int(result.timesteps)
    input_mode = result.input_mode
    ann_ops = ann_operations(specs)
    fan = synaptic_fanout(specs, readout)
    analog = _analog_masks(specs, input_mode, readout)
    # spike events per neuron: with signed neurons, negative spikes cost like positive ones
    counts = {k: result.neuron_events(k) for k in result.neuron_spike_counts}
    layers, neurons = {}, {}
    for s in specs:
        if s.name not in ann_ops:
            continue
        a = ann_ops[s.name]
        row = {"kind": s.kind, "ann_macs": float(a["macs"]), "ann_acs": float(a["acs"]),
               "snn_macs": 0.0, "snn_acs": 0.0, "neuron_updates": 0.0, "sources": {}}
        if s.name in after:  # acts on integrated potentials, once per image
            row["snn_macs"], row["snn_acs"] = row["ann_macs"], row["ann_acs"]
        elif s.row.linear and s is not readout:  # average pooling: folded into the next fan-out
            frac = float(analog[s.inputs[0]].mean())  # pooling of analog input: ANN cost
            row["snn_acs"] = row["ann_acs"] * frac
        else:
            for inp in (named[i] for i in s.inputs):
                if s.row.sums and inp.is_branch:
                    continue  # a receiver of its own
                direct = _receiver_reach(s).fanout(inp.output_shape)
                row["snn_macs"] += float((direct * analog[inp.name]).sum())
            row["sources"] = _spike_acs(fan[s.name], named, counts, input_mode, n)
            for acs in row["sources"].values():
                row["snn_acs"] += acs
            if not s.is_branch:  # a branch's current goes into the sum's neurons
                row["neuron_updates"] = float(s.num_neurons * T)
                neurons[s.name] = float(s.num_neurons)
        layers[s.name] = row
    return {"layers": layers, "neurons": neurons, "timesteps": T, "input_mode": input_mode,
            "num_samples": int(result.num_samples)}


def energy_estimate(snn, result, e_mac=E_MAC, e_ac=E_AC, e_neuron=0.0, *, device=None,
                    ann_device=None, e_mac_int=E_MAC_INT8, e_ac_int=E_AC_INT8) -> dict:
    """ANN vs SNN energy per image from the spike counts of a simulation.

    Args:
        snn: the ``SpikingModel``.
        result: its ``SimulationResult`` (per-neuron spike counts over ``num_samples`` images).
        e_mac, e_ac: joules per multiply-accumulate and per accumulate (45 nm float32:
            4.6 pJ and 0.9 pJ, Horowitz 2014); only without ``device``.
        e_neuron: joules per neuron update (bias, leak, threshold test) per step; default 0.
        device: price the SNN on a device instead (a name of
            ``tfsnn.analysis.devices.DEVICES``, e.g. ``"loihi"``, or a ``Device``); see
            ``device_estimate``.
        ann_device: the device the ANN is priced on (only with ``device``).
        e_mac_int, e_ac_int: the same for a layer with integer weights of at most 8 bits
            (``tfsnn.quantization``; ``config["weight_bits"]``), on both sides (45 nm 8-bit
            integers: multiply 0.2 pJ + add 0.03 pJ, add 0.03 pJ, Horowitz 2014).

    Returns ``{"params", "layers": {name: {...}}, "ann": {...}, "snn": {...}, "ratio",
    "saving"}``; see the module docstring for the formulas. Energies in joules per image.
    """
    if device is not None:
        if (e_mac, e_ac, e_neuron) != (E_MAC, E_AC, 0.0):
            raise ValueError("pass either device= or e_mac/e_ac/e_neuron, not both: a device "
                             "brings its own energies (tfsnn.analysis.devices.register_device "
                             "adds one with other figures)")
        return device_estimate(snn, result, device, ann_device)
    if ann_device is not None:
        raise ValueError("ann_device needs device= (the 45 nm model without a device prices "
                         "the ANN with e_mac and e_ac)")
    _check_energies(e_mac=e_mac, e_ac=e_ac, e_neuron=e_neuron, e_mac_int=e_mac_int,
                    e_ac_int=e_ac_int)
    c = _counts(snn, result)
    named = by_name(snn.specs)
    layers, integer = {}, []
    for name, row in c["layers"].items():
        row = dict(row)
        bits = named[name].config.get("weight_bits")
        em, ea = e_mac, e_ac
        if bits is not None and bits <= 8:
            em, ea = e_mac_int, e_ac_int
            integer.append(name)
        row["ann_energy"] = row["ann_macs"] * em + row["ann_acs"] * ea
        row["snn_energy"] = (row["snn_macs"] * em + row["snn_acs"] * ea
                             + row["neuron_updates"] * e_neuron)
        row["ratio"] = _ratio(row["snn_energy"], row["ann_energy"])
        layers[name] = row
    ann, snn_tot = _totals(layers)
    params = {"e_mac": float(e_mac), "e_ac": float(e_ac), "e_neuron": float(e_neuron),
              "units": "joules per image", "timesteps": c["timesteps"],
              "input_mode": c["input_mode"], "num_samples": c["num_samples"]}
    if integer:  # the figures used for integer weights, where there are any
        params.update(e_mac_int=float(e_mac_int), e_ac_int=float(e_ac_int),
                      integer_layers=integer)
    return {"params": params,
            "layers": layers, "ann": ann, "snn": snn_tot,
            "ratio": _ratio(snn_tot["energy"], ann["energy"]),
            "saving": _ratio(ann["energy"], snn_tot["energy"])}


def _totals(layers: dict) -> tuple[dict, dict]:
    """ANN and SNN totals over the per-layer rows."""
    def total(key):
        return float(sum(r[key] for r in layers.values()))

    ann = {"macs": total("ann_macs"), "acs": total("ann_acs"), "energy": total("ann_energy")}
    snn = {"macs": total("snn_macs"), "acs": total("snn_acs"),
           "neuron_updates": total("neuron_updates"), "energy": total("snn_energy")}
    return ann, snn


def _ratio(a, b):
    return float(a / b) if b > 0 else (math.nan if a == 0 else math.inf)


# ----------------------------------------------------------------------------- devices
def _ann_device(device, ann_device=None) -> Device:
    """The device the ANN is priced on: ``ann_device``, else ``device`` when it runs the ANN,
    else the GPU."""
    if ann_device is None:
        return device if device.runs_ann else get_device("gpu")
    ann_device = get_device(ann_device)
    if not ann_device.runs_ann:
        raise ValueError(f"ann_device {ann_device.name!r} is a spiking device without an "
                         f"energy per MAC: it does not run the ANN; use one of "
                         f"{', '.join(device_names(runs_ann=True))}")
    return ann_device


def _snn_on(counts: dict, device: Device) -> dict:
    """Per layer: the operations ``device`` performs for the SNN per image, and their energy.

    Spiking device: the spike-driven accumulates (``snn_acs``) as synops, the analog MACs
    (``snn_macs``, computed once) as MACs. Non-spiking device: every synapse at every step,
    ``T`` times the ANN's operations, except what the SNN computes once (analog input, layers
    after the readout). Neuron updates: ``neurons * T`` on both."""
    T = counts["timesteps"]
    out = {}
    for name, c in counts["layers"].items():
        macs, synops = c["snn_macs"], c["snn_acs"]
        if not device.spiking:
            once = 0.0 if name in counts["neurons"] else synops  # pooling of analog values
            macs = macs + (c["ann_macs"] - macs) * T
            synops = once + (c["ann_acs"] - once) * T
        syn = macs * device.mac_energy + synops * device.energy_per_synop
        neu = c["neuron_updates"] * device.energy_per_neuron_update
        out[name] = {"macs": macs, "synops": synops, "neuron_updates": c["neuron_updates"],
                     "synaptic_energy": syn, "neuron_energy": neu, "energy": syn + neu}
    return out


def _ann_on(counts: dict, device: Device) -> dict:
    """Per layer: the ANN's energy per image on ``device`` (MACs, additions, and one update
    per neuron of a layer with neurons)."""
    out = {}
    for name, c in counts["layers"].items():
        nu = counts["neurons"].get(name, 0.0)
        e = (c["ann_macs"] * device.mac_energy + c["ann_acs"] * device.energy_per_synop
             + nu * device.energy_per_neuron_update)
        out[name] = {"neuron_updates": nu, "energy": e}
    return out


def _sum(rows: dict, key: str) -> float:
    return float(sum(r[key] for r in rows.values()))


def device_estimate(snn, result, device="loihi", ann_device=None) -> dict:
    """SNN energy per image on ``device`` against the ANN on ``ann_device``.

    Args:
        snn, result: as in ``energy_estimate``.
        device: a name of ``tfsnn.analysis.devices.DEVICES`` or a ``Device``.
        ann_device: the device the ANN runs on; default ``device`` itself when it runs ANNs
            (not spiking, or it has ``energy_per_mac``: cpu, gpu, arm, 45nm), else ``"gpu"``.

    Returns ``{"params": {"device": {...}, "ann_device": {...}, ...}, "layers": {name: {the
    counts of energy_estimate, "macs", "synops", "ann_neuron_updates", "snn_synaptic_energy",
    "snn_neuron_energy", "snn_energy", "ann_energy", "ratio"}}, "ann": {...}, "snn": {...},
    "ratio", "saving"}``; ``macs``/``synops`` are the SNN's operations on ``device``. With
    ``device="45nm"`` the energies equal ``energy_estimate``'s defaults.
    """
    dev = get_device(device)
    ann_dev = _ann_device(dev, ann_device)
    c = _counts(snn, result)
    snn_rows, ann_rows = _snn_on(c, dev), _ann_on(c, ann_dev)
    layers = {}
    for name, row in c["layers"].items():
        s, a = snn_rows[name], ann_rows[name]
        layers[name] = {**row, "macs": s["macs"], "synops": s["synops"],
                        "ann_neuron_updates": a["neuron_updates"],
                        "snn_synaptic_energy": s["synaptic_energy"],
                        "snn_neuron_energy": s["neuron_energy"], "snn_energy": s["energy"],
                        "ann_energy": a["energy"], "ratio": _ratio(s["energy"], a["energy"])}
    ann = {"device": ann_dev.name, "macs": _sum(c["layers"], "ann_macs"),
           "acs": _sum(c["layers"], "ann_acs"), "neuron_updates": _sum(ann_rows, "neuron_updates"),
           "energy": _sum(ann_rows, "energy")}
    snn_tot = {"device": dev.name, "acs": _sum(c["layers"], "snn_acs"),
               **{k: _sum(snn_rows, k) for k in ("macs", "synops", "neuron_updates",
                                                 "synaptic_energy", "neuron_energy", "energy")}}
    return {"params": {"device": asdict(dev), "ann_device": asdict(ann_dev),
                       "units": "joules per image", "timesteps": c["timesteps"],
                       "input_mode": c["input_mode"], "num_samples": c["num_samples"]},
            "layers": layers, "ann": ann, "snn": snn_tot,
            "ratio": _ratio(snn_tot["energy"], ann["energy"]),
            "saving": _ratio(ann["energy"], snn_tot["energy"])}


def energy_table(snn, result, devices=None, ann_devices=("cpu", "gpu")) -> list[dict]:
    """One row per device: the SNN's energy per image on it and the ANN's on ``ann_devices``.

    Args:
        snn, result: as in ``energy_estimate``.
        devices: names or ``Device`` objects; default all of ``DEVICES`` (presets and
            registered devices).
        ann_devices: devices the ANN is priced on (each must run the ANN).

    Row keys: ``device``, ``spiking``, ``energy_per_synop``, ``energy_per_neuron_update``,
    ``energy_per_mac``, ``source``; the SNN's ``snn_macs``, ``snn_synops``,
    ``snn_neuron_updates``, ``snn_synaptic_joules_per_image``,
    ``snn_neuron_joules_per_image``, ``snn_joules_per_image`` on the device (see
    ``device_estimate``); per ANN device ``a``: ``ann_<a>_joules_per_image`` and
    ``ratio_<a>`` (SNN on this device / ANN on ``a``).
    """
    anns = [_ann_device(None, a) for a in ann_devices]
    c = _counts(snn, result)
    ann_energy = {a.name: _sum(_ann_on(c, a), "energy") for a in anns}
    rows = []
    for dev in [get_device(d) for d in (device_names() if devices is None else devices)]:
        s = _snn_on(c, dev)
        e = _sum(s, "energy")
        row = {"device": dev.name, "spiking": dev.spiking,
               "energy_per_synop": dev.energy_per_synop,
               "energy_per_neuron_update": dev.energy_per_neuron_update,
               "energy_per_mac": dev.mac_energy, "source": dev.source,
               "snn_macs": _sum(s, "macs"), "snn_synops": _sum(s, "synops"),
               "snn_neuron_updates": _sum(s, "neuron_updates"),
               "snn_synaptic_joules_per_image": _sum(s, "synaptic_energy"),
               "snn_neuron_joules_per_image": _sum(s, "neuron_energy"),
               "snn_joules_per_image": e}
        for name, a in ann_energy.items():
            row[f"ann_{name}_joules_per_image"] = a
            row[f"ratio_{name}"] = _ratio(e, a)
        rows.append(row)
    return rows


def _si(joules: float) -> str:
    """``joules`` with an SI prefix and 3 significant digits (``"27.1 pJ"``)."""
    if not math.isfinite(joules) or joules == 0:
        return f"{joules:g}"
    units = (("J", 1.0), ("mJ", 1e-3), ("µJ", 1e-6), ("nJ", 1e-9), ("pJ", 1e-12))
    unit, scale = next((u for u in units if abs(joules) >= u[1]), units[-1])
    return f"{joules / scale:.3g} {unit}"


def _ratio_text(r: float) -> str:
    return f"{r:,.0f}" if math.isfinite(r) and abs(r) >= 1000 else f"{r:.3g}"


def energy_table_markdown(rows: list[dict]) -> str:
    """The rows of ``energy_table`` as a markdown table (energies per image)."""
    anns = [k[len("ann_"):-len("_joules_per_image")] for k in (rows[0] if rows else {})
            if k.startswith("ann_") and k.endswith("_joules_per_image")]
    head = (["device", "event-driven", "J/synop", "J/neuron update", "SNN MACs",
             "SNN synops", "SNN neuron updates", "SNN energy"]
            + [f"ANN on {a}" for a in anns] + [f"SNN / ANN on {a}" for a in anns])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["device"], "yes" if r["spiking"] else "no", _si(r["energy_per_synop"]),
                 _si(r["energy_per_neuron_update"]), f"{r['snn_macs']:,.0f}",
                 f"{r['snn_synops']:,.0f}", f"{r['snn_neuron_updates']:,.0f}",
                 _si(r["snn_joules_per_image"])]
        cells += [_si(r[f"ann_{a}_joules_per_image"]) for a in anns]
        cells += [_ratio_text(r[f"ratio_{a}"]) for a in anns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
