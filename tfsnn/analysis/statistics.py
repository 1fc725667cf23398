"""Spike statistics of a simulated SNN and their relation to the ANN.

``snn_activation_analysis`` returns a JSON-friendly dict (floats, ints, strings, lists;
undefined values are ``nan``)::

    {"network": {...}, "layers": {name: {...}}, "energy": {...}, "energy_devices": [...],
     "_arrays": {...}}

Definitions, per layer with spiking neurons (``SimulationResult.layer_stats``: Dense, Conv2D,
spiking max pooling, and the input under Poisson input), over the ``N`` evaluated images, the
layer's ``n`` neurons and ``T`` steps; ``c_{s,i}`` is the spike count of neuron ``i`` on
image ``s`` and ``h_t`` the number of spikes at step ``t`` (``t = 1..T``):

- ``spikes_per_image = sum_t h_t / N``
- ``count_mean = sum c_{s,i} / (N n)``, ``count_var = sum c_{s,i}^2 / (N n) - count_mean^2``
  (population variance over all (image, neuron) pairs); ``rate_mean = count_mean / T``
- ``spike_time_mean = sum_t t h_t / sum_t h_t``,
  ``spike_time_var = sum_t t^2 h_t / sum_t h_t - spike_time_mean^2`` (nan without spikes)
- ``silent_neuron_fraction``: neurons that never spike on any image;
  ``silent_pair_fraction``: (image, neuron) pairs without a spike
- ``spike_time_histogram``: ``h_t`` for ``t = 1..T`` (the distribution of spike timesteps)
- ``rate_correlation``: Pearson correlation over the (image, neuron) pairs of the first
  ``n_correlation`` images between the SNN rate ``c_{s,i} / T`` and the folded ANN's
  activation of the same neuron on the normalized network (``analog_forward(snn.specs, x)``,
  i.e. the ANN activation divided by the layer scale lambda), **clipped to [0, 1]**: an IF
  neuron cannot fire more than once per step, so the clipped value is what the SNN can
  represent. ``rate_correlation_unclipped`` uses the raw normalized activation;
  ``rate_rmse = sqrt(mean((c/T - clip(a, 0, 1))^2))``. For the TTFS encodings a neuron
  spikes at most once, so its count says little: there the three use the value its spike
  time encodes instead of ``c/T`` (``decoded_values``: ``g(k)`` of the spike ``k`` steps into
  the layer's firing window, 0 if silent), and ``network["snn_value"]`` says which was used.

Network: ``ann_accuracy`` (the Keras ANN), ``snn_accuracy`` (at ``T``),
``accuracy_per_step`` (t = 1..T), ``spikes_per_image`` (all spiking layers but the input),
``input_spikes_per_image`` (Poisson input spikes; 0 under constant-current input),
``readout_correlation`` (SNN scores ``V_T / T`` against the ANN's pre-softmax output), and
the energy estimate of ``tfsnn.analysis.energy`` under ``"energy"``, and under
``"energy_devices"`` its ``energy_table``: one row per device of
``tfsnn.analysis.devices.DEVICES`` (SNN energy per image, the ANN's on cpu and gpu).

``"_arrays"`` holds numpy arrays for plots and TensorBoard (not JSON): per layer the spike
histogram over time, per-neuron totals, the per-image counts and ANN activations of the
correlation images (``sample_counts``, ``snn_value``: rate or decoded value), and the
recorded spike trains ``(T, record_samples, ...)``.
"""

from __future__ import annotations

import math

import numpy as np
from keras import ops

from tfsnn.analysis.energy import energy_estimate, energy_table
from tfsnn.checks import check_labels, check_timesteps
from tfsnn.conversion import analog_forward
from tfsnn.jsonutil import to_jsonable
from tfsnn.training import evaluate_ann

#: keys of the per-layer scalar statistics (in logging order)
LAYER_SCALARS = ("num_neurons", "spikes_per_image", "count_mean", "count_var", "rate_mean",
                 "spike_time_mean", "spike_time_var", "silent_neuron_fraction",
                 "silent_pair_fraction", "rate_correlation", "rate_correlation_unclipped",
                 "rate_rmse")

#: keys of the ANN/SNN comparison of a layer (nan without correlation images)
RATE_COMPARISON = ("rate_correlation", "rate_correlation_unclipped", "rate_rmse")


def layer_statistics(stats, num_samples: int, timesteps: int) -> dict:
    """The scalar statistics of one ``LayerStats`` (see module docstring)."""
    n = int(stats.num_neurons)
    pairs = max(int(num_samples) * n, 1)
    h = np.asarray(stats.step_counts, np.float64)
    if h.shape != (timesteps,):
        raise ValueError(f"layer {stats.name!r}: step_counts has shape {h.shape}, expected "
                         f"({timesteps},) for T={timesteps}")
    total = float(h.sum())
    mean = total / pairs
    t = np.arange(1, timesteps + 1, dtype=np.float64)
    if total > 0:
        tm = float((t * h).sum() / total)
        tv = max(float((t * t * h).sum() / total) - tm * tm, 0.0)
    else:
        tm = tv = math.nan
    counts = np.asarray(stats.neuron_counts)
    return {"num_neurons": n, "total_spikes": total,
            "spikes_per_image": total / max(int(num_samples), 1),
            "count_mean": mean,
            "count_var": max(float(stats.sum_sq_counts) / pairs - mean * mean, 0.0),
            "rate_mean": mean / timesteps,
            "spike_time_mean": tm, "spike_time_var": tv,
            "silent_neuron_fraction": float((counts == 0).sum()) / max(n, 1),
            "silent_pair_fraction": float(stats.silent_pairs) / pairs,
            "spike_time_histogram": h.tolist()}


def pearson(a, b) -> float:
    """Pearson correlation of two equally long arrays (nan if either is constant)."""
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"cannot correlate arrays of {a.size} and {b.size} values")
    if a.size < 2:
        return math.nan
    a = a - a.mean()
    b = b - b.mean()
    den = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else math.nan


def _usable_full(result, n, timesteps, input_mode, need_acc):
    return (result is not None and result.num_samples == n and result.timesteps == timesteps
            and result.input_mode == input_mode and bool(result.layer_stats or
                                                         result.neuron_spike_counts)
            and (result.accuracy_per_step is not None or not need_acc))


def _usable_subset(result, n_c, record, names):
    if result is None or not result.sample_counts:
        return False
    if any(k not in result.sample_counts or len(result.sample_counts[k]) < n_c for k in names):
        return False
    if record:
        trains = result.spike_trains
        if any(k not in trains or trains[k].shape[1] < record for k in names):
            return False
    return True


def _analog(specs, x, names, batch_size):
    """Folded, normalized ANN activations ``{name: (N, ...)}`` in batches."""
    parts = {k: [] for k in names}
    for i in range(0, len(x), batch_size):
        acts = analog_forward(specs, ops.convert_to_tensor(x[i:i + batch_size]), names)
        for k in names:
            parts[k].append(ops.convert_to_numpy(acts[k]))
    return {k: np.concatenate(v) for k, v in parts.items()}


def _code_source(specs, name):
    """The layer with neurons whose code ``name``'s spikes carry (through pooling and
    flatten), or None for the input."""
    by_name = {s.name: s for s in specs}
    spec = by_name[name]
    while not spec.row.activates and spec.kind != "input" and spec.inputs:
        spec = by_name[spec.inputs[0]]
    return None if spec.kind == "input" else spec.name


def decoded_values(snn, x, names, timesteps, input_mode="constant", seed=0,
                   max_bytes=256 * 2**20) -> dict:
    """What each layer's spikes encode per (image, neuron), in units of its threshold.

    Rate coding: the rate ``N_T / T``. TTFS encodings: ``sum_t s_t g(t - depth * window)``,
    the code value of the (single) spike time (``TTFSDynamics.spike_values``), 0 if
    silent; Poisson input spikes decode as rates. TTFS trains are recorded in batches of at
    most ``max_bytes`` of spikes; Poisson trains restart their sample index per batch.
    """
    x = np.asarray(x)
    names = list(names)
    dyn = snn.module.DYNAMICS
    if not dyn.temporal_code:  # rates: the counts are enough
        res = snn.simulate(x, timesteps, input_mode=input_mode, seed=seed, return_counts=True)
        return {k: np.asarray(res.sample_counts[k], np.float64) / timesteps for k in names}
    weights = {}
    for name in names:
        src = _code_source(snn.specs, name)
        weights[name] = (np.full(timesteps, 1.0 / timesteps) if src is None
                         else dyn.spike_values(timesteps, snn.cells[src].params))
    sizes = {s.name: int(np.prod(s.output_shape)) for s in snn.specs}
    per_image = 4 * timesteps * max(sum(sizes[k] for k in names), 1)
    b = max(1, min(len(x), int(max_bytes) // per_image))
    parts = {k: [] for k in names}
    for i in range(0, len(x), b):
        res = snn.simulate(x[i:i + b], timesteps, batch_size=b, input_mode=input_mode,
                           seed=seed, record_spikes=b)
        for k in names:
            trains = np.asarray(res.spike_trains[k], np.float64)
            parts[k].append(np.tensordot(weights[k], trains, axes=(0, 0)))
    return {k: np.concatenate(v) for k, v in parts.items()}


def snn_activation_analysis(ann, snn, x, y, timesteps, input_mode="constant", batch_size=256,
                            seed=0, result=None, ann_accuracy=None, n_correlation=256,
                            record_samples=1, energy_params=None, verbose=0) -> dict:
    """Spike statistics, ANN/SNN comparison and energy of ``snn`` on ``(x, y)``.

    Args:
        ann: the Keras ANN (for ``ann_accuracy`` when it is not given; may be None).
        snn: the ``SpikingModel``.
        x, y: images and labels (indices or one-hot; ``y`` may be None: no accuracies).
        timesteps, input_mode, batch_size, seed: the simulation.
        result: an earlier ``SimulationResult`` of the same ``x``, ``T`` and input mode;
            reused when it has what is needed, else the simulation runs here.
        ann_accuracy: the ANN's accuracy on ``(x, y)`` if already known.
        n_correlation: images used for the ANN/SNN rate correlation, the spike-count
            histograms and the scatter plot (simulated once with per-image counts).
        record_samples: images whose spike trains are recorded (raster plots).
        energy_params: keyword arguments of ``energy_estimate`` (``e_mac``, ``e_ac``,
            ``e_neuron``, or ``device`` and ``ann_device``).
        verbose: show simulation progress bars.

    Returns the dict described in the module docstring.
    """
    timesteps = check_timesteps(timesteps)
    x, y = _check_data(x, y, snn.num_classes)
    n = len(x)
    n_c = min(max(int(n_correlation), 0), n)
    record = max(int(record_samples), 0)
    sim = dict(timesteps=timesteps, batch_size=batch_size, input_mode=input_mode, seed=seed,
               verbose=verbose)
    full, sub = _simulations(snn, x, y, result, n_c, record, sim)
    spiking = list(full.layer_stats)
    if y is not None and ann_accuracy is None and ann is not None:
        ann_accuracy = evaluate_ann(ann, x, y, batch_size=batch_size)
    out_name = snn.output.name
    rate_coded = not snn.module.DYNAMICS.temporal_code
    analog, decoded = _correlation_values(snn, x[:n_c], spiking, sim, rate_coded)
    layers, layer_arrays = _layers(snn.specs, full, sub, analog, decoded, n, n_c, record, sim)
    network, net_arrays = _network(snn, full, n, sim, rate_coded, ann_accuracy)
    arrays = {"layers": layer_arrays, **net_arrays}
    if n_c:
        scores = np.asarray(sub.scores[:n_c], np.float64)
        network["readout_correlation"] = pearson(scores, analog[out_name])
        arrays["readout"] = {"snn_scores": scores,
                             "ann_output": np.asarray(analog[out_name], np.float64)}
    energy = energy_estimate(snn, full, **dict(energy_params or {}))
    return {"network": network, "layers": layers, "energy": energy,
            "energy_devices": energy_table(snn, full), "_arrays": arrays}


def _check_data(x, y, num_classes):
    """``x`` as an array and ``y`` as label indices (``check_labels``); errors on empty or
    mismatched data."""
    x = np.asarray(x)
    n = len(x)
    if n == 0:
        raise ValueError("snn_activation_analysis needs at least one image (x is empty)")
    return x, check_labels(y, num_classes, n, "y")


def _simulations(snn, x, y, result, n_c, record, sim):
    """The ``SimulationResult`` of all of ``x`` (``result`` when it fits) and the one with
    per-image counts of the first ``n_c`` images (the same one when it has them)."""
    n = len(x)
    full = result if _usable_full(result, n, sim["timesteps"], sim["input_mode"],
                                  y is not None) else None
    if full is None:
        small = n <= max(n_c, 1)
        full = snn.evaluate(x, y, return_counts=small, record_spikes=record if small else 0,
                            **sim)
    sub = full if _usable_subset(full, n_c, record, list(full.layer_stats)) else None
    if sub is None and n_c > 0:
        sub = snn.simulate(x[:n_c], return_counts=True, record_spikes=record, **sim)
    return full, sub


def _correlation_values(snn, x_c, spiking, sim, rate_coded):
    """On the correlation images ``x_c``: the normalized ANN activations of the spiking layers
    and the readout, and for TTFS the decoded SNN values (None for rate coding)."""
    if not len(x_c):
        return {}, None
    analog = _analog(snn.specs, x_c, spiking + [snn.output.name], sim["batch_size"])
    decoded = None
    if not rate_coded:  # TTFS: decode the spike times, not the 0/1 counts
        decoded = decoded_values(snn, x_c, spiking, sim["timesteps"], sim["input_mode"],
                                 sim["seed"])
    return analog, decoded


def _layers(specs, full, sub, analog, decoded, n, n_c, record, sim):
    """Per spiking layer: its scalar statistics and its arrays (for plots)."""
    timesteps = sim["timesteps"]
    kinds = {s.name: s.kind for s in specs}
    lambdas = {s.name: s.config.get("lambda") for s in specs}
    layers, arrays = {}, {}
    for name, st in full.layer_stats.items():
        lam = lambdas.get(name)
        d = {"kind": kinds.get(name, "?"), **layer_statistics(st, n, timesteps),
             "lambda": float(np.max(lam)) if lam is not None else 1.0}
        arr = {"step_counts": np.asarray(st.step_counts, np.float64),
               "neuron_counts": np.asarray(st.neuron_counts, np.float64)}
        if n_c:
            counts = np.asarray(sub.sample_counts[name][:n_c], np.float64)
            value = counts / timesteps if decoded is None else decoded[name]
            act = np.asarray(analog[name], np.float64)
            d.update(_rate_comparison(act, value))
            arr.update(sample_counts=counts, snn_value=value, ann_activation=act)
        else:
            d.update(dict.fromkeys(RATE_COMPARISON, math.nan))
        if record and sub is not None and name in sub.spike_trains:
            arr["spike_train"] = np.asarray(sub.spike_trains[name][:, :record])
        d["n_correlation_samples"] = n_c
        layers[name] = d
        arrays[name] = arr
    return layers, arrays


def _rate_comparison(act, value) -> dict:
    """SNN value against the normalized ANN activation ``act`` (clipped to [0, 1]): Pearson
    correlation with and without the clip, and ``sqrt(mean((value - clip(act))^2))``."""
    clipped = np.clip(act, 0.0, 1.0)
    return {"rate_correlation": pearson(clipped, value),
            "rate_correlation_unclipped": pearson(act, value),
            "rate_rmse": float(np.sqrt(np.mean((value - clipped) ** 2)))}


def _network(snn, full, n, sim, rate_coded, ann_accuracy):
    """The network-level entries (see module docstring) and the accuracy-per-step array."""
    network = {"num_samples": n, "timesteps": sim["timesteps"], "input_mode": sim["input_mode"],
               "encoding": getattr(snn, "encoding", "?"),
               "snn_value": "rate" if rate_coded else "decoded spike time",
               "ann_accuracy": math.nan if ann_accuracy is None else float(ann_accuracy),
               "snn_accuracy": math.nan if full.accuracy is None else float(full.accuracy),
               "spikes_per_image": float(full.spikes_per_image),
               "total_spikes": float(full.total_spikes),
               "input_spikes_per_image": float(full.input_spikes_per_image)}
    network["accuracy_loss"] = network["ann_accuracy"] - network["snn_accuracy"]
    arrays = {}
    if full.accuracy_per_step is not None:
        acc = np.asarray(full.accuracy_per_step, np.float64)
        network["accuracy_per_step"] = acc.tolist()
        network["best_snn_accuracy"] = float(acc.max())
        network["best_step"] = int(acc.argmax()) + 1
        arrays["accuracy_per_step"] = acc
    return network, arrays


def jsonable(analysis: dict, nonfinite: str = "null") -> dict:
    """The analysis without ``"_arrays"`` as plain JSON types (``tfsnn.jsonutil.to_jsonable``:
    numpy values to Python, non-finite floats to ``None``, or to strings with
    ``nonfinite="string"``)."""
    return to_jsonable({k: v for k, v in analysis.items() if not k.startswith("_")},
                       nonfinite=nonfinite)
