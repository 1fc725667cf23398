"""What a simulation returns: per-layer spike statistics and the ``SimulationResult``."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class LayerStats:
    """Spike statistics of one layer over an evaluated set (sums; derived values below)."""

    name: str
    num_neurons: int
    #: total spikes per neuron, summed over samples (shaped like the layer output)
    neuron_counts: np.ndarray
    #: spikes at each timestep, summed over samples and neurons, shape (T,)
    step_counts: np.ndarray
    #: sum over (sample, neuron) of the squared spike count
    sum_sq_counts: float = 0.0
    #: number of (sample, neuron) pairs without any spike
    silent_pairs: int = 0

    @property
    def total_spikes(self) -> float:
        return float(self.step_counts.sum())


@dataclass
class SimulationResult:
    accuracy: float | None
    accuracy_per_step: np.ndarray | None
    #: layer name -> total spikes over the evaluated set
    spike_counts: dict
    #: layer name -> per-neuron totals (input layer: sum of intensities x T under constant input);
    #: with signed neurons the net count (positive minus negative spikes)
    neuron_spike_counts: dict
    num_samples: int
    timesteps: int
    input_mode: str
    #: readout at the last step (N, classes): V_T / T, an estimate of the ANN's output
    scores: np.ndarray
    layer_stats: dict = field(default_factory=dict)
    #: optional spike trains of the first samples: name -> (T, n, ...)
    spike_trains: dict = field(default_factory=dict)
    #: optional per-sample spike counts: name -> (N, ...)
    sample_counts: dict = field(default_factory=dict)
    predictions_per_step: np.ndarray | None = None
    #: the input layer; under Poisson input its spikes are in the dicts above, but not in
    #: ``total_spikes`` / ``spikes_per_image`` (they count the network's neurons only)
    input_name: str | None = None
    #: signed neurons only: layer name -> per-neuron spikes of either sign (events); for
    #: other layers the events are ``neuron_spike_counts`` (see ``neuron_events``)
    neuron_event_counts: dict = field(default_factory=dict)

    def neuron_events(self, name) -> np.ndarray:
        """Per-neuron spike events of a layer (positive and negative spikes alike): what
        costs energy and synaptic operations."""
        return self.neuron_event_counts.get(name, self.neuron_spike_counts[name])

    @property
    def total_spikes(self) -> float:
        """Spikes of the network's neurons (without the Poisson input spikes)."""
        return float(sum(v for k, v in self.spike_counts.items() if k != self.input_name))

    @property
    def spikes_per_image(self) -> float:
        return self.total_spikes / max(self.num_samples, 1)

    @property
    def input_spikes_per_image(self) -> float:
        """Poisson input spikes per image (0 under constant-current input)."""
        return float(self.spike_counts.get(self.input_name, 0.0)) / max(self.num_samples, 1)

    def rates(self) -> dict:
        """Mean firing rate per neuron (spikes per timestep), layer name -> array."""
        d = self.num_samples * self.timesteps
        return {k: v / d for k, v in self.neuron_spike_counts.items()}

    def __repr__(self):
        acc = "n/a" if self.accuracy is None else f"{self.accuracy:.4f}"
        return (f"SimulationResult(accuracy={acc}, T={self.timesteps}, N={self.num_samples}, "
                f"spikes/image={self.spikes_per_image:.1f})")


class ResultAccumulator:
    """Sums the engine's per-batch outputs (numpy) into one ``SimulationResult``."""

    def __init__(self, timesteps: int, record: int, return_counts: bool):
        self.timesteps, self.record, self.return_counts = timesteps, record, return_counts
        self.preds, self.scores, self.correct = [], [], None
        self.counts, self.per_step, self.sum_sq, self.silent = {}, {}, {}, {}
        self.events = {}
        self.samples, self.rec = {}, {}

    def add(self, out: dict, valid: int, first: bool):
        """One padded batch's outputs, of which the first ``valid`` samples are real."""
        if "predictions" in out:  # the class of every sample at every step (T, B)
            self.preds.append(out["predictions"][:, :valid].astype(np.int64))
        if "correct" in out:  # correct decisions per step, summed over the valid samples
            c = out["correct"].astype(np.int64)
            self.correct = c if self.correct is None else self.correct + c
        self.scores.append(out["final"][:valid] / self.timesteps)
        for name, c in out["count_sums"].items():
            self.counts[name] = self.counts.get(name, 0) + c.astype(np.float64)
            self.sum_sq[name] = self.sum_sq.get(name, 0.0) + float(
                out["sum_sq"][name][:valid].sum(dtype=np.float64))
            self.silent[name] = self.silent.get(name, 0) + int(out["silent"][name][:valid].sum())
            if self.return_counts:
                self.samples.setdefault(name, []).append(out["counts"][name][:valid])
        for name, e in out.get("event_sums", {}).items():
            self.events[name] = self.events.get(name, 0) + e.astype(np.float64)
        for name, p in out["step_totals"].items():
            self.per_step[name] = self.per_step.get(name, 0) + p.astype(np.float64)
        if self.record and first:
            self.rec = {k: v[:, :min(self.record, valid)] for k, v in out["rec"].items()}

    def result(self, num_samples: int, input_mode: str, input_name: str) -> SimulationResult:
        """The ``SimulationResult``; with labels, ``accuracy_per_step`` (t = 1..T) too."""
        stats, spike_counts = {}, {}
        for name, steps in self.per_step.items():
            counts = self.counts[name]
            stats[name] = LayerStats(name, int(np.prod(counts.shape)), counts, steps,
                                     self.sum_sq[name], self.silent[name])
            spike_counts[name] = float(steps.sum())
        per_step = None if self.correct is None else self.correct / max(num_samples, 1)
        return SimulationResult(
            accuracy=None if per_step is None else float(per_step[-1]),
            accuracy_per_step=per_step, spike_counts=spike_counts,
            neuron_spike_counts=self.counts, num_samples=num_samples,
            timesteps=self.timesteps, input_mode=input_mode,
            scores=np.concatenate(self.scores), layer_stats=stats, spike_trains=self.rec,
            sample_counts={k: np.concatenate(v) for k, v in self.samples.items()},
            predictions_per_step=np.concatenate(self.preds, axis=1) if self.preds else None,
            input_name=input_name, neuron_event_counts=self.events)
