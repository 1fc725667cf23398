"""Running a spiking model over time.

``SpikingModel`` holds the converted network: one named cell per layer with neurons (see
``tfsnn.cells``). It runs in two equivalent ways:

- the **cell path**: ``snn.keras_model`` wraps every cell in ``keras.layers.RNN`` and Keras
  steps it (the reference; also what ``save`` writes to a ``.keras`` file);
- the **fast path** (``evaluate`` / ``predict``): time is cut into chunks; in a chunk every
  layer applies its synaptic operation once to all steps folded into the batch
  (``(T_c * B, ...)``) and only the neuron dynamics run in a loop over the steps. With
  constant-current input the first layers' current is the same at every step and is computed
  once. Neuron state is carried from chunk to chunk, so memory does not grow with ``T``.

Both paths call the same ``synapse`` and ``neuron_step`` functions and give the same spikes.

Input encoders: ``"constant"`` feeds the image as an analog current at every step;
``"poisson"`` feeds Bernoulli spike trains with rate = intensity, drawn from a counter-based
hash of ``(seed, sample index, timestep, pixel)``: identical on every backend, batch size
and chunking.
"""

from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
from keras import ops

from tfsnn.backend import jit, scan
from tfsnn.cells import encoding_module, import_all
from tfsnn.cells.base import SpikingRNN, cell_class
from tfsnn.conversion.graph import LayerSpec, post_readout, readout_spec

INPUT_MODES = ("constant", "poisson")
#: budget for the spike tensors of one time chunk (bytes, all layers together)
DEFAULT_CHUNK_BYTES = 512 * 2**20
META_FILE = "tfsnn_meta.json"


# ----------------------------------------------------------------------------- encoders
def _mix32(h):
    """lowbias32 integer hash (C. Wellons), on uint32 tensors."""
    h = ops.bitwise_xor(h, ops.right_shift(h, 16))
    h = ops.multiply(h, ops.convert_to_tensor(np.uint32(0x7FEB352D)))
    h = ops.bitwise_xor(h, ops.right_shift(h, 15))
    h = ops.multiply(h, ops.convert_to_tensor(np.uint32(0x846CA68B)))
    return ops.bitwise_xor(h, ops.right_shift(h, 16))


def poisson_spikes(x, t0, steps, seed, sample_offset):
    """Spike trains ``(steps, B, ...)``: ``s[t, n, i] = [u(seed, n, t, i) < x[n, i]]``.

    ``u`` is a uniform number in [0, 1) from a hash of (seed, global sample index, global step,
    flat pixel index), so the trains do not depend on backend, batching or chunking.
    """
    shape = ops.shape(x)
    n_pix = int(np.prod(x.shape[1:]))
    b = shape[0]
    t = ops.reshape(ops.cast(ops.arange(steps), "uint32") + ops.cast(t0, "uint32"),
                    (steps, 1, 1))
    n = ops.reshape(ops.cast(ops.arange(b), "uint32") + ops.cast(sample_offset, "uint32"),
                    (1, -1, 1))
    i = ops.reshape(ops.cast(ops.arange(n_pix), "uint32"), (1, 1, n_pix))
    h = _mix32(ops.cast(seed, "uint32") + ops.convert_to_tensor(np.uint32(0x9E3779B9)))
    h = _mix32(h + t)
    h = _mix32(h + n)
    h = _mix32(h + i)
    u = ops.multiply(ops.cast(ops.right_shift(h, 8), "float32"), 1.0 / 16777216.0)
    xf = ops.reshape(ops.cast(x, "float32"), (1, -1, n_pix))
    s = ops.cast(ops.less(u, xf), "float32")
    return ops.reshape(s, (steps, -1) + tuple(x.shape[1:]))


# ----------------------------------------------------------------------------- results
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
    #: layer name -> per-neuron totals (input layer: sum of intensities x T under constant input)
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

    @property
    def total_spikes(self) -> float:
        return float(sum(self.spike_counts.values()))

    @property
    def spikes_per_image(self) -> float:
        return self.total_spikes / max(self.num_samples, 1)

    def rates(self) -> dict:
        """Mean firing rate per neuron (spikes per timestep), layer name -> array."""
        d = self.num_samples * self.timesteps
        return {k: v / d for k, v in self.neuron_spike_counts.items()}

    def __repr__(self):
        acc = "n/a" if self.accuracy is None else f"{self.accuracy:.4f}"
        return (f"SimulationResult(accuracy={acc}, T={self.timesteps}, N={self.num_samples}, "
                f"spikes/image={self.spikes_per_image:.1f})")


# ----------------------------------------------------------------------------- model
class SpikingModel:
    """A converted spiking network (see module docstring)."""

    def __init__(self, specs: list[LayerSpec], encoding="rate", threshold=1.0, v_init=0.0,
                 tau=None, dyn_params=None, cells=None, meta=None):
        self.encoding = encoding
        self.module = encoding_module(encoding)
        self.specs = specs
        self.params = {"threshold": float(threshold), "v_init": float(v_init),
                       "tau": None if tau is None else float(tau)}
        self.dyn_params = dict(dyn_params or {})
        self.meta = dict(meta or {})
        self.readout = readout_spec(specs)
        self.output = next(s for s in specs if s.is_output)
        self.input_spec = specs[0]
        self.input_shape = tuple(self.input_spec.output_shape)
        self.num_classes = int(self.output.output_shape[-1])
        self.cells = cells if cells is not None else self._build_cells()
        self._fns = {}
        self._keras_model = None

    # -- construction
    def _build_cells(self):
        supported = self.module.SUPPORTED_KINDS
        cells = {}
        for s in self.specs:
            if s.kind not in supported:
                raise ValueError(f"layer {s.name!r} ({s.kind}) is not supported by the "
                                 f"{self.encoding!r} encoding; supported: {list(supported)}")
            if s.kind not in ("dense", "conv2d", "avgpool", "maxpool"):
                continue
            readout = s is self.readout
            cls = cell_class(self.module.CELLS, s.kind, readout)
            # per-layer dynamics parameters (set by an encoding's prepare) override the global
            dyn = {**self.dyn_params, **s.config.get("dyn_params", {})}
            common = dict(name=s.name, output_shape=s.output_shape, dyn_params=dyn,
                          **self.params)
            if s.kind == "dense":
                cell = cls(units=s.output_shape[-1], **common)
            elif s.kind == "conv2d":
                cell = cls(filters=s.output_shape[-1], kernel_size=s.kernel.shape[:2],
                           strides=s.config["strides"], padding=s.config["padding"],
                           readout=readout, **common)
            else:
                cell = cls(pool_size=s.config["pool_size"], strides=s.config["strides"],
                           padding=s.config["padding"], readout=readout, **common)
            cell.build((None,) + tuple(s.input_shape))
            if s.kind in ("dense", "conv2d"):
                cell.kernel.assign(s.kernel)
                cell.bias.assign(s.bias)
            elif s.kind == "avgpool":
                cell.scale.assign(np.asarray(s.config.get("scale",
                                                          np.ones(s.output_shape[-1])),
                                             np.float32))
            cells[s.name] = cell
        return cells

    # -- the cell path
    @property
    def keras_model(self) -> keras.Model:
        """The step-by-step reference: every cell wrapped in ``keras.layers.RNN``.

        Input ``(B, T) + input_shape`` (the input at every step), output ``(B, T, classes)``:
        the readout's integrated potential at every step.
        """
        if self._keras_model is None:
            self._keras_model = self._cell_path_model(all_layers=False)
        return self._keras_model

    def _cell_path_model(self, all_layers=False):
        inp = keras.Input((None,) + self.input_shape, name=self.input_spec.name)
        t = {self.input_spec.name: inp}
        for s in self.specs[1:]:
            ins = [t[i] for i in s.inputs]
            if s.name in self.cells:
                t[s.name] = SpikingRNN(self.cells[s.name], return_sequences=True,
                                             name=f"{s.name}_rnn")(ins[0])
            elif s.kind == "flatten":
                t[s.name] = keras.layers.Reshape((-1, int(np.prod(s.output_shape))),
                                                 name=s.name)(ins[0])
            elif s.kind == "concat":
                t[s.name] = keras.layers.Concatenate(axis=-1, name=s.name)(ins)
        outputs = {n: t[n] for n in t if n != self.input_spec.name} if all_layers \
            else t[self.output.name]
        return keras.Model(inp, outputs, name=f"snn_{self.encoding}")

    def run_cells(self, x, timesteps, input_mode="constant", seed=0):
        """Simulate with the cell path; returns ``{layer name: (B, T, ...)}`` numpy arrays."""
        x = self._check_x(x)
        timesteps = _check_timesteps(timesteps)
        if input_mode == "constant":
            seq = np.repeat(x[:, None], timesteps, axis=1)
        else:
            s = poisson_spikes(ops.convert_to_tensor(x), 0, timesteps, seed, 0)
            seq = np.moveaxis(ops.convert_to_numpy(s), 0, 1)
        model = self._cell_path_model(all_layers=True)
        out = model(ops.convert_to_tensor(seq))
        return {k: ops.convert_to_numpy(v) for k, v in out.items()}

    # -- the fast path
    def _chunk_steps(self, timesteps, batch_size, chunk):
        if chunk is not None:
            return max(1, min(int(chunk), timesteps))
        per_step = 4 * batch_size * sum(int(np.prod(s.output_shape)) for s in self.specs)
        return max(1, min(timesteps, DEFAULT_CHUNK_BYTES // max(per_step, 1)))

    def _make_fn(self, timesteps, chunk, input_mode, record):
        specs, cells, readout = self.specs, self.cells, self.readout
        after = set(post_readout(specs))  # linear layers acting on integrated potentials
        out_name = self.output.name
        inp_name = self.input_spec.name
        constant = input_mode == "constant"
        n_full, rest = divmod(timesteps, chunk)

        def run_chunk(x, states, counts, t0, steps, offset, seed):
            """Simulate ``steps`` timesteps from ``t0``; returns new carry and per-step ys."""
            spk = {}
            per_step = {}
            rec = {}
            if constant:
                counts = {**counts, inp_name: counts[inp_name] + x * float(steps)}
            else:
                spk[inp_name] = poisson_spikes(x, t0, steps, seed, offset)
                counts = {**counts, inp_name: counts[inp_name] + ops.sum(spk[inp_name], 0)}
                per_step[inp_name] = _per_sample_step_totals(spk[inp_name])
            new_states = dict(states)
            new_counts = dict(counts)
            const = {inp_name: x} if constant else {}  # analog tensors, same at every step
            for s in specs[1:]:
                if s.kind == "flatten":
                    if s.inputs[0] in const:
                        const[s.name] = ops.reshape(const[s.inputs[0]],
                                                    (-1,) + tuple(s.output_shape))
                        continue
                    src = spk[s.inputs[0]]
                    spk[s.name] = ops.reshape(src, (steps, -1) + tuple(s.output_shape))
                    continue
                if s.kind == "concat":
                    if all(i in const for i in s.inputs):
                        const[s.name] = ops.concatenate([const[i] for i in s.inputs], axis=-1)
                        continue
                    parts = [spk[i] if i in spk else ops.broadcast_to(
                        ops.expand_dims(const[i], 0), (steps,) + tuple(const[i].shape))
                        for i in s.inputs]
                    spk[s.name] = ops.concatenate(parts, axis=-1)
                    continue
                cell = cells[s.name]
                src = s.inputs[0]
                if s.kind == "avgpool" and s is not readout and src in const:
                    const[s.name] = cell.synapse(const[src])
                    if s.name not in after:
                        new_counts[s.name] = counts[s.name] + const[s.name] * float(steps)
                    continue
                if s.kind == "avgpool" and s is not readout:  # linear, no neurons
                    sin = spk[src]
                    folded = ops.reshape(sin, (-1,) + tuple(sin.shape[2:]))
                    cur = cell.synapse(folded)
                    spk[s.name] = ops.reshape(cur, (steps, -1) + tuple(cur.shape[1:]))
                    if s.name not in after:
                        new_counts[s.name] = counts[s.name] + ops.sum(spk[s.name], 0)
                    continue
                if src in const:
                    cur = cell.synapse(const[src])  # same at every step: computed once

                    def body(st, _, cell=cell, cur=cur):
                        out, st2 = cell.neuron_step(cur, list(st))
                        return st2, out
                    st, seq = scan(body, list(states[s.name]), None, length=steps)
                else:
                    sin = spk[src]
                    folded = ops.reshape(sin, (-1,) + tuple(sin.shape[2:]))
                    cur = cell.synapse(folded)
                    cur = ops.reshape(cur, (steps, -1) + tuple(cur.shape[1:]))

                    def body(st, c, cell=cell):
                        out, st2 = cell.neuron_step(c, list(st))
                        return st2, out
                    st, seq = scan(body, list(states[s.name]), cur)
                new_states[s.name] = list(st)
                spk[s.name] = seq
                if s is readout:
                    continue
                new_counts[s.name] = counts[s.name] + ops.sum(seq, 0)
                per_step[s.name] = _per_sample_step_totals(seq)
                if record:
                    rec[s.name] = seq[:, :record]
            if record and not constant:
                rec[inp_name] = spk[inp_name][:, :record]
            readout_seq = spk[out_name]
            return new_states, new_counts, (readout_seq, per_step, rec)

        def fn(x, offset, seed):
            b = ops.shape(x)[0]
            states = {n: list(c.get_initial_state(b)) for n, c in cells.items()}
            counts = {s.name: ops.zeros((b,) + tuple(s.output_shape), "float32")
                      for s in specs if s.name in cells or s.name == inp_name}
            for name in [readout.name, *after]:
                counts.pop(name, None)
            ys_parts = []
            if n_full:
                def outer(carry, k):
                    st, cn = carry
                    st, cn, ys = run_chunk(x, st, cn, k * chunk, chunk, offset, seed)
                    return (st, cn), ys
                (states, counts), ys = scan(
                    outer, (states, counts), ops.arange(n_full, dtype="int32"))
                ys_parts.append(jax_free_tree_map(
                    lambda a: ops.reshape(a, (n_full * chunk, -1) + tuple(a.shape[3:])), ys))
            if rest:
                states, counts, ys = run_chunk(x, states, counts, n_full * chunk, rest, offset,
                                               seed)
                ys_parts.append(ys)
            if len(ys_parts) == 2:
                ys = jax_free_tree_map(lambda a, c: ops.concatenate([a, c], 0), *ys_parts)
            else:
                ys = ys_parts[0]
            readout_seq, per_step, rec = ys
            return {"readout": readout_seq, "counts": counts, "per_step": per_step, "rec": rec}

        return jit(fn)

    def _sim_fn(self, timesteps, chunk, input_mode, record):
        key = (timesteps, chunk, input_mode, record)
        if key not in self._fns:
            self._fns[key] = self._make_fn(timesteps, chunk, input_mode, record)
        return self._fns[key]

    def _check_x(self, x):
        from tfsnn.datasets import check_images

        x = np.asarray(x)
        if x.ndim == len(self.input_shape):  # a single sample
            x = x[None]
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"input has shape {tuple(x.shape[1:])} per sample, but the SNN "
                             f"expects {self.input_shape}")
        x = x.astype(np.float32, copy=False)
        check_images(x, where="SNN input")
        return x

    def simulate(self, x, timesteps=100, batch_size=256, input_mode="constant", seed=0,
                 chunk=None, record_spikes=0, return_counts=False, verbose=0):
        """Simulate ``x``; returns per-step readout, spike statistics (no labels needed)."""
        timesteps = _check_timesteps(timesteps)
        if input_mode not in INPUT_MODES:
            raise ValueError(f"unknown input_mode {input_mode!r}; supported: {INPUT_MODES}")
        x = self._check_x(x)
        if input_mode == "poisson" and (x.min() < 0 or x.max() > 1):
            raise ValueError("Poisson input needs intensities in [0, 1] (they are spike "
                             f"probabilities); got range [{x.min():.3g}, {x.max():.3g}]")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        n = len(x)
        bs = min(int(batch_size), n)
        chunk = self._chunk_steps(timesteps, bs, chunk)
        record = int(record_spikes)
        fn = self._sim_fn(timesteps, chunk, input_mode, min(record, bs))
        readouts, scores = [], []
        acc = {}
        per_step = {}
        sq = {}
        silent = {}
        samples = {}
        rec = {}
        bar = keras.utils.Progbar(n, unit_name="images") if verbose else None
        for start in range(0, n, bs):
            xb = x[start:start + bs]
            valid = len(xb)
            if valid < bs:  # pad: one compiled shape for all batches
                xb = np.concatenate([xb, np.zeros((bs - valid,) + xb.shape[1:], xb.dtype)])
            out = fn(ops.convert_to_tensor(xb), ops.convert_to_tensor(np.int32(start)),
                     ops.convert_to_tensor(np.int32(seed)))
            ro = ops.convert_to_numpy(out["readout"])[:, :valid]  # (T, B, C)
            readouts.append(np.argmax(ro, axis=-1))  # predictions per step (T, B)
            scores.append(ro[-1] / timesteps)
            for name, c in out["counts"].items():
                c = ops.convert_to_numpy(c)[:valid]
                acc[name] = acc.get(name, 0) + c.sum(0)
                flat = c.reshape(valid, -1)
                sq[name] = sq.get(name, 0.0) + float(np.square(flat, dtype=np.float64).sum())
                silent[name] = silent.get(name, 0) + int((flat == 0).sum())
                if return_counts:
                    samples.setdefault(name, []).append(c)
            for name, p in out["per_step"].items():
                per_step[name] = per_step.get(name, 0) + ops.convert_to_numpy(p)[:, :valid].sum(1)
            if record and start == 0:
                rec = {k: ops.convert_to_numpy(v)[:, :min(record, valid)]
                       for k, v in out["rec"].items()}
            if bar is not None:
                bar.add(valid)
        preds = np.concatenate(readouts, axis=1)
        stats = {}
        spike_counts = {}
        inp = self.input_spec.name
        for name, counts in acc.items():
            steps = per_step.get(name)
            if steps is None:  # no spikes: analog input (constant mode), linear pooling
                continue
            stats[name] = LayerStats(name, int(np.prod(counts.shape)), counts,
                                     np.asarray(steps, np.float64), sq[name], silent[name])
            spike_counts[name] = float(np.asarray(steps).sum())
        res = SimulationResult(
            accuracy=None, accuracy_per_step=None, spike_counts=spike_counts,
            neuron_spike_counts={k: np.asarray(v, np.float64) for k, v in acc.items()},
            num_samples=n, timesteps=timesteps, input_mode=input_mode,
            scores=np.concatenate(scores), layer_stats=stats, spike_trains=rec,
            sample_counts={k: np.concatenate(v) for k, v in samples.items()},
            predictions_per_step=preds)
        res.input_name = inp
        return res

    def evaluate(self, x, y=None, timesteps=100, batch_size=256, input_mode="constant", seed=0,
                 chunk=None, record_spikes=0, return_counts=False, verbose=0):
        """Simulate and score: ``res.accuracy``, ``res.accuracy_per_step`` (t = 1..T), spikes.

        One simulation gives the whole accuracy-vs-time curve. ``y`` may be None (then only
        the spike statistics and scores are returned).
        """
        if y is not None:
            y = np.asarray(y)
            if y.ndim == 2:
                y = y.argmax(-1)
            if len(y) != len(np.asarray(x)):
                raise ValueError(f"x has {len(np.asarray(x))} samples but y has {len(y)}")
        res = self.simulate(x, timesteps, batch_size, input_mode, seed, chunk, record_spikes,
                            return_counts, verbose)
        if y is not None:
            correct = res.predictions_per_step == y[None, :]
            res.accuracy_per_step = correct.mean(axis=1)
            res.accuracy = float(res.accuracy_per_step[-1])
        return res

    def predict(self, x, timesteps=100, batch_size=256, input_mode="constant", seed=0):
        """Class scores ``(N, classes)`` read out at the last step (``V_T / T``)."""
        return self.simulate(x, timesteps, batch_size, input_mode, seed).scores

    # -- persistence
    def save(self, path):
        """Write the SNN to a ``.keras`` file (the cell-path model + tfsnn metadata)."""
        path = Path(path)
        if path.suffix != ".keras":
            raise ValueError(f"SNN files end in .keras, got {path.name!r}")
        self.keras_model.save(path)
        meta = {"format": 1, "encoding": self.encoding, "params": self.params,
                "dyn_params": self.dyn_params, "meta": _jsonable(self.meta),
                "specs": [_spec_to_json(s) for s in self.specs]}
        with zipfile.ZipFile(path, "a") as z:
            z.writestr(META_FILE, json.dumps(meta))

    def summary(self) -> str:
        lines = [f"SpikingModel ({self.encoding}), input {self.input_shape}, "
                 f"{self.num_classes} classes"]
        for s in self.specs:
            cell = self.cells.get(s.name)
            what = type(cell).__name__ if cell is not None else s.kind
            lines.append(f"  {s.name:<20} {what:<26} {str(s.output_shape):<16}"
                         f"{' readout' if s is self.readout else ''}")
        return "\n".join(lines)

    def __repr__(self):
        return self.summary()


def _per_sample_step_totals(seq):
    """(T, B, ...) spikes -> (T, B) spikes per step and sample."""
    return ops.sum(ops.reshape(seq, (seq.shape[0], -1, int(np.prod(seq.shape[2:])))), axis=-1)


def jax_free_tree_map(fn, *trees):
    return keras.tree.map_structure(fn, *trees)


def _check_timesteps(timesteps) -> int:
    if isinstance(timesteps, bool) or not isinstance(timesteps, (int, np.integer)):
        raise ValueError(f"timesteps must be an integer >= 1, got {timesteps!r}")
    if timesteps < 1:
        raise ValueError(f"timesteps must be >= 1, got {timesteps}")
    return int(timesteps)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    return obj


def _spec_to_json(s: LayerSpec) -> dict:
    return {"name": s.name, "kind": s.kind, "inputs": s.inputs,
            "input_shape": list(s.input_shape), "output_shape": list(s.output_shape),
            "activation": s.activation, "config": _jsonable(s.config),
            "is_output": s.is_output, "source_layers": s.source_layers}


def load_snn(path) -> SpikingModel:
    """Load an SNN written by ``SpikingModel.save``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no SNN file at {path}")
    try:
        with zipfile.ZipFile(path) as z:
            meta = json.loads(z.read(META_FILE))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError) as e:
        raise ValueError(f"{path} is not a tfsnn SNN file (corrupt or written by something "
                         f"else): {e}") from e
    import_all()
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as e:  # keras raises many types for broken archives
        raise ValueError(f"cannot load the SNN in {path}: {e}") from e
    cells = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.RNN):
            cells[layer.cell.name] = layer.cell
    specs = []
    for d in meta["specs"]:
        cfg = dict(d["config"])
        for k in ("strides", "pool_size"):
            if k in cfg:
                cfg[k] = tuple(cfg[k])
        for k in ("scale", "lambda"):
            if k in cfg:
                cfg[k] = np.asarray(cfg[k], np.float32)
        s = LayerSpec(d["name"], d["kind"], d["inputs"], tuple(d["input_shape"]),
                      tuple(d["output_shape"]), activation=d["activation"], config=cfg,
                      is_output=d["is_output"], source_layers=d["source_layers"])
        cell = cells.get(s.name)
        if s.kind in ("dense", "conv2d"):
            s.kernel = ops.convert_to_numpy(cell.kernel)
            s.bias = ops.convert_to_numpy(cell.bias)
        specs.append(s)
    p = meta["params"]
    return SpikingModel(specs, meta["encoding"], p["threshold"], p["v_init"], p["tau"],
                        meta["dyn_params"], cells=cells, meta=meta["meta"])
