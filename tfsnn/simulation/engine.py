"""The compiled simulator: runs a converted network over time, one padded batch per call.

``Engine(model, timesteps, ...)`` is traced once per configuration (``tfsnn.backend.jit``)
and called per batch: ``engine(x, offset, seed, valid, labels) -> dict`` of numpy-convertible
tensors; everything it returns is reduced over time or over the ``valid`` samples, except
the optional per-step class decisions ``(T, B)``, per-sample counts and recorded trains.
With labels, the readout is scored on the device at every step (``correct``: ``(T,)``
counts of correct decisions), so nothing of size ``T x B`` need come back: host memory stays
flat in ``T`` per image.

Time is cut into chunks; neuron state and spike counts are carried from chunk to chunk, so
memory does not grow with ``T``. A chunk runs with one of three strategies (``Engine.chunk``):

- ``chunk_by_step``: one step of every layer per loop iteration (long chunks, ``fold=False``);
- ``chunk_unrolled``: layer by layer, the steps traced unrolled (short chunks; CPU);
- ``chunk_looped``: layer by layer, each layer's dynamics in a loop (long folded chunks; GPU).

Layer by layer, each layer's synaptic op runs either once on all steps folded into the batch
(``(steps * B, ...)``, few large kernels) or once per step (tensors the size of one step),
see ``FastPathOptions.fold``. Constant input and linear maps of it (flatten, average
pooling) are computed once per batch, and so is the current they drive into the first
spiking layer. Spikes are counted once per chunk and reduced over the samples on the device.
Both this engine and the cell path call the cells' ``synapse`` and ``neuron_step``, so they
give the same spikes.
"""

from __future__ import annotations

from typing import NamedTuple

import keras
import numpy as np
from keras import ops

from tfsnn.backend import add_n, scan
from tfsnn.cells import synapse
from tfsnn.simulation.encoders import poisson_spikes
from tfsnn.simulation.layout import Layout
from tfsnn.simulation.plan import MAX_UNROLL


class Batch(NamedTuple):
    """One padded batch: its input, its place in the set and the values fixed for the run."""

    x: object
    offset: object
    seed: object
    #: class indices ``(B,)`` (int32) when the engine scores the readout, else unused
    labels: object
    size: int
    #: layer -> value that is the same at every step (constant input, linear maps of it)
    static: dict
    #: layer -> input current that is the same at every step
    current: dict


def sum_neurons(x, lead):
    """Sum over all axes after the first ``lead`` ones (no reshape: TensorFlow's graph
    optimizer would otherwise duplicate the spikes' cast in front of it)."""
    return ops.sum(x, axis=tuple(range(lead, len(x.shape))))


class ChunkValues:
    """The values of one chunk, kept per step (a list of ``(B, ...)``) or folded
    (``(steps * B, ...)``) and converted into the other form on demand."""

    def __init__(self, static: dict, steps: int, batch: int):
        self.static, self.steps, self.batch = static, steps, batch
        self.per_step, self.folded = {}, {}

    def as_folded(self, name):
        if name not in self.folded:
            if name in self.per_step:
                self.folded[name] = ops.concatenate(self.per_step[name], axis=0)
            else:  # the same at every step: repeat it
                v = self.static[name]
                self.folded[name] = ops.reshape(ops.repeat(v[None], self.steps, axis=0),
                                                (-1,) + tuple(v.shape[1:]))
        return self.folded[name]

    def stacked(self, name):
        """A folded value as ``(steps, B, ...)``."""
        v = self.folded[name]
        return ops.reshape(v, (self.steps, self.batch) + tuple(v.shape[1:]))

    def as_steps(self, name):
        if name not in self.per_step:
            if name in self.folded:
                v = self.stacked(name)
                self.per_step[name] = [v[k] for k in range(self.steps)]
            else:
                self.per_step[name] = [self.static[name]] * self.steps
        return self.per_step[name]

    def step_totals(self, name):
        """``(steps, B)`` spikes per sample."""
        if name in self.folded:
            return sum_neurons(self.stacked(name), 2)
        return ops.stack([sum_neurons(o, 1) for o in self.per_step[name]], 0)


class Engine:
    """The compiled simulator for one configuration (see module docstring).

    Args:
        model: the ``SpikingModel`` (its specs, cells and readout).
        timesteps, chunk: run length and timesteps per chunk.
        input_mode: "constant" or "poisson".
        record: spike trains of the first ``record`` samples to return.
        return_counts: also return per-sample spike counts.
        predictions: return the class decision of every sample at every step.
        labels: score the decisions against labels on the device (``correct`` per step).
        fold: True, "synapses" or False (``FastPathOptions.fold``).
        unit_scales: average pools whose per-channel scale is all ones.
    """

    def __init__(self, model, timesteps, chunk, input_mode, record=0, return_counts=False,
                 fold=False, unit_scales=frozenset(), predictions=True, labels=False):
        self.specs = model.specs
        self.cells = model.cells
        self.readout = model.readout
        #: True: the spikes' surrogate gradients (fine-tuning through ``step``)
        self.training = False
        self.T, self.chunk_steps, self.record = int(timesteps), int(chunk), int(record)
        self.return_counts, self.fold = bool(return_counts), fold
        self.unit_scales = unit_scales
        self.predictions, self.labels = bool(predictions), bool(labels)
        self.constant = input_mode == "constant"
        self.layout = Layout(self.specs, self.cells, self.readout, self.constant, self.T,
                             unit_scales)

    # -- layers
    def linear(self, s, ins):
        """A linear layer (flatten, concat, padding, cropping, reshape, average pooling, a
        branch into a residual sum) applied to its inputs."""
        if s.row.reshape:
            return synapse.rearrange(s, ins)
        if s.is_branch:
            return self.cells[s.name].synapse(ins[0])
        return self.cells[s.name].synapse(ins[0], scaled=s.name not in self.unit_scales)

    def current(self, s, ins):
        """The synaptic current into the neurons of ``s`` from its inputs' values (a
        residual sum takes them stacked on a last axis, as in the cell path)."""
        cell = self.cells[s.name]
        return cell.synapse(ops.stack(ins, axis=-1) if s.row.sums else ins[0])

    def count_of(self, counts, name):
        """Time-summed output of ``name`` (through flatten/concat/pooling)."""
        if name in counts:
            return counts[name]
        s = self.layout.named[name]
        return self.linear(s, [self.count_of(counts, i) for i in s.inputs])

    # -- one batch
    def __call__(self, x, offset, seed, valid, labels):
        batch = self.prepare(x, offset, seed, labels)
        mask = ops.cast(ops.less(ops.arange(batch.size, dtype="int32"), valid), "int32")
        carry, ys = self.run(batch, self.initial_carry(batch), mask)
        return self.finish(batch, carry, ys, mask)

    def prepare(self, x, offset, seed, labels=None) -> Batch:
        """Static values and constant currents of a batch, computed once."""
        lay = self.layout
        static, current = ({lay.inp: x} if self.constant else {}), {}
        for s in self.specs[1:]:
            if s.name in lay.static:
                static[s.name] = self.linear(s, [static[i] for i in s.inputs])
            elif s.name in lay.neurons and all(i in lay.static for i in s.inputs):
                current[s.name] = self.current(s, [static[i] for i in s.inputs])
        size = int(x.shape[0]) if x.shape[0] is not None else ops.shape(x)[0]  # training
        return Batch(x, offset, seed, labels, size, static, current)

    def initial_carry(self, batch: Batch):
        b, lay = batch.size, self.layout
        states = {n: list(self.cells[n].get_initial_state(b)) for n in lay.neurons}
        counts = {n: ops.zeros((b,) + tuple(lay.named[n].output_shape), "float32")
                  for n in lay.spiking if n not in lay.closed}
        events = {n: ops.zeros_like(counts[n]) for n in counts if n in lay.signed}
        n_out = int(np.prod(lay.named[lay.out_name].output_shape))
        return states, counts, events, ops.zeros((b, n_out), "float32")

    @staticmethod
    def decisions(readout):
        """The class decided at every step, ``(steps, B)`` int32: the first class with the
        largest readout (compared with ``>=``, so -0.0 and 0.0 tie, as in numpy)."""
        top = ops.max(readout, axis=-1, keepdims=True)
        return ops.cast(ops.argmax(ops.cast(ops.greater_equal(readout, top), "int32"), -1),
                        "int32")

    def _masked_total(self, name, per_sample, mask):
        """``(steps,)`` sum over the valid samples: exact integer sums for spike counts;
        in float for layers whose output can be fractional (``Layout.fractional``)."""
        if name in self.layout.fractional:
            return ops.sum(per_sample * ops.cast(mask, per_sample.dtype), axis=-1)
        return ops.sum(ops.cast(per_sample, "int32") * mask, axis=-1)

    def run(self, batch: Batch, carry, mask):
        """All chunks: full ones in a loop, the rest after it. Per step, only decisions
        (or correct counts) and spike totals leave a chunk, not the readout itself."""
        def masked(ys):
            ro_seq, tot, rec = ys
            tot = {k: self._masked_total(k, v, mask) for k, v in tot.items()}
            pred, per_step = self.decisions(ro_seq), {}
            if self.predictions:
                per_step["predictions"] = pred
            if self.labels:
                hit = ops.cast(ops.equal(pred, ops.cast(batch.labels, "int32")[None]), "int32")
                per_step["correct"] = ops.sum(hit * mask, axis=-1)
            return per_step, tot, rec

        n_full, rest = divmod(self.T, self.chunk_steps)
        parts = []
        if n_full:
            def outer(c, k):
                c, ys = self.chunk(batch, c, k * self.chunk_steps, self.chunk_steps)
                return c, masked(ys)
            carry, ys = scan(outer, carry, ops.arange(n_full, dtype="int32"))
            parts.append(keras.tree.map_structure(
                lambda a: ops.reshape(a, (-1,) + tuple(a.shape[2:])), ys))
        if rest:
            carry, ys = self.chunk(batch, carry, n_full * self.chunk_steps, rest)
            parts.append(masked(ys))
        if len(parts) == 1:
            return carry, parts[0]
        return carry, keras.tree.map_structure(lambda a, c: ops.concatenate([a, c], 0), *parts)

    def finish(self, batch: Batch, carry, ys, mask) -> dict:
        """Counts (closed forms, pooled layers) and their reductions over the samples."""
        per_step, step_totals, rec = ys
        states, counts, events, last = carry
        counts, lay, b = dict(counts), self.layout, batch.size
        for name in lay.closed:
            counts[name] = self.cells[name].constant_counts(batch.current[name], states[name],
                                                            self.T)
        if self.constant:
            counts[lay.inp] = batch.x * float(self.T)
        for name in lay.pooled:  # linear pooling: the time sum of its output is linear too
            s = lay.named[name]
            counts[name] = self.linear(s, [self.count_of(counts, i) for i in s.inputs])
        maskf = ops.cast(mask, "float32")  # elementwise: exact integer sums (no TF32 matmul)
        out = {**per_step, "final": last, "step_totals": step_totals, "rec": rec,
               "count_sums": {}, "sum_sq": {}, "silent": {}}
        for name, c in counts.items():
            flat = ops.reshape(c, (b, -1))
            m = ops.reshape(maskf, (b,) + (1,) * (len(c.shape) - 1))
            out["count_sums"][name] = ops.sum(ops.multiply(c, m), axis=0)
            out["sum_sq"][name] = ops.sum(ops.square(flat), -1)
            out["silent"][name] = ops.sum(ops.cast(ops.equal(flat, 0.0), "int32"), -1)
        # signed neurons: positive and negative spikes per neuron (the counts are net)
        out["event_sums"] = {name: ops.sum(ops.multiply(e, ops.reshape(
            maskf, (b,) + (1,) * (len(e.shape) - 1))), axis=0) for name, e in events.items()}
        if self.return_counts:
            out["counts"] = counts
        return out

    # -- one chunk: three strategies
    def chunk(self, batch: Batch, carry, t0, steps):
        """``steps`` timesteps from ``t0``: ``(carry, (readout (steps, B, n), totals, rec))``."""
        if steps > MAX_UNROLL:
            if not self.fold:
                return self.chunk_by_step(batch, carry, t0, steps)
            return self.chunk_looped(batch, carry, t0, steps)
        return self.chunk_unrolled(batch, carry, t0, steps)

    def chunk_by_step(self, batch: Batch, carry, t0, steps):
        """One step of every layer per loop iteration, counting as it goes."""
        def body(c, t):
            states, counts, events, _ = c
            x_t = None
            if not self.constant:
                x_t = poisson_spikes(batch.x, t, 1, batch.seed, batch.offset)[0]
            states, spikes, ro = self.step(batch, states, x_t)
            counts = {n: add_n([counts[n], spikes[n]]) for n in counts}
            mag = {n: ops.abs(v) for n, v in spikes.items() if n in self.layout.signed}
            events = {n: add_n([events[n], mag[n]]) for n in events}
            tot = {n: sum_neurons(mag.get(n, v), 1) for n, v in spikes.items()}
            rec = {n: v[:self.record] for n, v in spikes.items()} if self.record else {}
            return (states, counts, events, ro), (ro, tot, rec)
        return scan(body, carry, ops.arange(steps, dtype="int32") + t0)

    def step(self, batch: Batch, states, x_t):
        """One timestep of every layer; ``x_t``: the input spikes (Poisson) or None.
        Returns the new states, the spikes of the counted layers and the readout output."""
        lay, states = self.layout, dict(states)
        val = dict(batch.static)
        if x_t is not None:
            val[lay.inp] = x_t
        for s in self.specs[1:]:
            if s.name in lay.static:
                continue
            if s.name in lay.linear:
                val[s.name] = self.linear(s, [val[i] for i in s.inputs])
                continue
            cell = self.cells[s.name]
            cur = batch.current.get(s.name)
            if cur is None:
                cur = self.current(s, [val[i] for i in s.inputs])
            val[s.name], states[s.name] = cell.neuron_step(cur, list(states[s.name]),
                                                           training=self.training)
        ro_out = ops.reshape(val[lay.out_name], (batch.size, -1))
        return states, {n: val[n] for n in lay.spiking}, ro_out

    def chunk_unrolled(self, batch: Batch, carry, t0, steps):
        """Layer by layer, each layer's dynamics traced unrolled over the steps."""
        def dynamics(cell, st, cur, const, vals, name):
            outs = []
            for k in range(steps):
                out, st = cell.neuron_step(const if cur is None else cur[k], list(st))
                outs.append(out)
            vals.per_step[name] = outs
            return st
        return self._layer_by_layer(batch, carry, t0, steps, dynamics, looped=False)

    def chunk_looped(self, batch: Batch, carry, t0, steps):
        """Layer by layer, each layer's dynamics in a loop over the steps (its synaptic op
        folded over them)."""
        def dynamics(cell, st, cur, const, vals, name):
            def body(st, c):
                out, st2 = cell.neuron_step(const if c is None else c, list(st))
                return st2, out
            st, seq = scan(body, st, cur, length=steps)
            vals.folded[name] = ops.reshape(seq, (-1,) + tuple(seq.shape[2:]))
            return st
        return self._layer_by_layer(batch, carry, t0, steps, dynamics, looped=True)

    def _layer_by_layer(self, batch: Batch, carry, t0, steps, dynamics, looped):
        lay = self.layout
        states, counts, events, _ = carry
        states, counts, events = dict(states), dict(counts), dict(events)
        vals = ChunkValues(batch.static, steps, batch.size)
        tot, rec = {}, {}
        if not self.constant:
            self._poisson_input(batch, vals, counts, tot, rec, t0, steps)
        for s in self.specs[1:]:
            if s.name in lay.static:
                continue
            if s.name in lay.linear:
                self._linear_layer(s, vals, looped)
                continue
            cell = self.cells[s.name]
            const = batch.current.get(s.name)  # the same current at every step
            cur = None  # else the current per step: (steps, B, ...) or a list
            if const is None and (looped or self.fold):
                cur = self.current(s, [vals.as_folded(i) for i in s.inputs])
                cur = ops.reshape(cur, (steps, batch.size) + tuple(cur.shape[1:]))
            elif const is None:
                per_step = zip(*[vals.as_steps(i) for i in s.inputs])
                cur = [self.current(s, list(v)) for v in per_step]
            states[s.name] = dynamics(cell, states[s.name], cur, const, vals, s.name)
        self._count_chunk(vals, counts, events, tot, rec)
        if lay.out_name in vals.per_step:
            ro_seq = ops.stack([ops.reshape(v, (batch.size, -1))
                                for v in vals.per_step[lay.out_name]], 0)
        else:
            ro_seq = ops.reshape(vals.folded[lay.out_name], (steps, batch.size, -1))
        return (states, counts, events, ro_seq[-1]), (ro_seq, tot, rec)

    def _poisson_input(self, batch, vals, counts, tot, rec, t0, steps):
        inp = self.layout.inp
        sp = poisson_spikes(batch.x, t0, steps, batch.seed, batch.offset)
        counts[inp] = counts[inp] + ops.sum(sp, 0)
        tot[inp] = sum_neurons(sp, 2)
        vals.folded[inp] = ops.reshape(sp, (-1,) + tuple(sp.shape[2:]))
        if self.record:
            rec[inp] = sp[:, :self.record]

    def _linear_layer(self, s, vals, looped):
        """Folded when looping, when ``fold is True`` or when an input is folded already;
        else per step, so that spikes are stacked after pooling."""
        if looped or self.fold is True or any(i in vals.folded for i in s.inputs):
            vals.folded[s.name] = self.linear(s, [vals.as_folded(i) for i in s.inputs])
        else:
            ins = [vals.as_steps(i) for i in s.inputs]
            vals.per_step[s.name] = [self.linear(s, [v[k] for v in ins])
                                     for k in range(vals.steps)]

    def _count_chunk(self, vals, counts, events, tot, rec):
        """Per-step totals, counts and recorded trains of the spiking layers, once per
        chunk; from the stacked spikes where they exist. Layers that may send negative
        spikes (``Layout.signed``) total ``|s|`` and count it in ``events`` too."""
        lay = self.layout
        for name in lay.spiking:
            if name in tot:
                continue  # counted already (Poisson input)
            if name in lay.signed:
                self._count_signed(vals, name, events, tot)
            elif name in lay.tot_via:  # from the (smaller) pooled map
                pool, area = lay.tot_via[name]
                tot[name] = ops.multiply(vals.step_totals(pool), float(area))
            else:
                tot[name] = vals.step_totals(name)
            if name in vals.folded:
                seq = vals.stacked(name)
                if name not in lay.closed:
                    counts[name] = add_n([counts[name], ops.sum(seq, 0)])
                if self.record:
                    rec[name] = seq[:, :self.record]
            else:
                outs = vals.per_step[name]
                if name not in lay.closed:
                    counts[name] = add_n([counts[name]] + outs)
                if self.record:
                    rec[name] = ops.stack([o[:self.record] for o in outs], 0)

    def _count_signed(self, vals, name, events, tot):
        """Per-step totals and events of a layer that may send negative spikes: both of
        ``|s|``, taken once (``Layout.signed``; ``tot_via`` does not apply to them)."""
        if name in vals.folded:
            mag = ops.abs(vals.stacked(name))  # (steps, B, ...)
            tot[name] = sum_neurons(mag, 2)
            if name in events:
                events[name] = add_n([events[name], ops.sum(mag, 0)])
            return
        mags = [ops.abs(o) for o in vals.per_step[name]]
        tot[name] = ops.stack([sum_neurons(m, 1) for m in mags], 0)
        if name in events:
            events[name] = add_n([events[name]] + mags)
