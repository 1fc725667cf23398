"""Running a spiking model over time.

``SpikingModel`` holds the converted network: one named cell per layer with neurons (see
``tfsnn.cells``). It runs in two equivalent ways:

- the **cell path**: ``snn.keras_model`` wraps every cell in ``keras.layers.RNN`` and Keras
  steps it (the reference; also what ``save`` writes to a ``.keras`` file);
- the **fast path** (``evaluate`` / ``predict`` / ``simulate``): one compiled function per
  batch shape runs all timesteps. Time is cut into chunks (neuron state and spike counts
  are carried from chunk to chunk, so memory does not grow with ``T``); inside a chunk each
  layer applies its synaptic operation either once to all steps folded into the batch
  (``(T_c * B, ...)``: few large kernels, for GPUs and XLA) or once per step (tensors the
  size of one step, in cache: TensorFlow on CPU), see ``FastPathOptions``. Constant input
  and linear maps of it (flatten, average pooling) are computed once, and so is the current
  they drive into the first spiking layer. Spikes are counted once per chunk and reduced over
  the samples on the device; only the readout curve ``(T, B, classes)`` comes back per step.

Both paths call the same ``synapse`` and ``neuron_step`` functions and give the same spikes.

Input encoders: ``"constant"`` feeds the image as an analog current at every step;
``"poisson"`` feeds Bernoulli spike trains with rate = intensity, drawn from a counter-based
hash of ``(seed, sample index, timestep, pixel)``: identical on every backend, batch size
and chunking.
"""

from __future__ import annotations

import json
import math
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
from keras import ops

from tfsnn.backend import add_n, backend_name, device_kind, jit, scan
from tfsnn.cells import encoding_module, import_all, synapse
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
    #: the input layer; under Poisson input its spikes are in the dicts above, but not in
    #: ``total_spikes`` / ``spikes_per_image`` (they count the network's neurons only)
    input_name: str | None = None

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
        #: how ``simulate`` runs (``FastPathOptions``); results do not depend on it
        self.fast_path = FastPathOptions()
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
    def _plan(self, timesteps, batch_size, chunk):
        """``(fold, chunk, xla)`` for a run: see ``FastPathOptions``."""
        opts = self.fast_path
        device = device_kind()
        tf_cpu = backend_name() == "tensorflow" and device == "cpu"
        xla = opts.xla
        if xla is None:  # XLA's CPU convolutions and pooling are slower than oneDNN's
            xla = tf_cpu and not any(s.kind in ("conv2d", "avgpool", "maxpool")
                                     for s in self.specs)
        fold = opts.fold
        if fold is None:  # measured on a 2-core CPU (docs/benchmarks.md)
            if device != "cpu":
                fold = True
            elif tf_cpu:
                fold = True if xla else "synapses"
            else:
                fold = False
        if fold not in (True, False, "synapses"):
            raise ValueError(f"fold must be True, False, 'synapses' or None, got {fold!r}")
        if chunk is None:
            chunk = opts.chunk
        if chunk is None:
            if device == "cpu":
                chunk = UNROLL_STEPS
            else:  # as many steps as fit the budget: few, large kernels
                per_step = 4 * batch_size * sum(int(np.prod(s.output_shape)) for s in self.specs)
                chunk = opts.chunk_bytes // max(per_step, 1)
        if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
            raise ValueError(f"chunk must be an integer >= 1 (timesteps per chunk), got {chunk!r}")
        return fold, max(1, min(int(chunk), timesteps)), bool(xla)

    def _unit_scales(self) -> frozenset:
        """Average pools whose per-channel scale is all ones (no multiplication needed)."""
        return frozenset(s.name for s in self.specs if s.kind == "avgpool"
                         and s.name in self.cells and hasattr(self.cells[s.name], "scale")
                         and np.all(ops.convert_to_numpy(self.cells[s.name].scale) == 1.0))

    def _sim_fn(self, timesteps, batch_size, chunk, input_mode, record, return_counts, fold,
                xla):
        unit = self._unit_scales()  # part of the key: the weights may be changed later
        key = (timesteps, batch_size, chunk, input_mode, record, return_counts, fold, xla, unit)
        if key not in self._fns:
            fp = _FastPath(self, timesteps, chunk, input_mode, record, return_counts, fold,
                           unit)
            self._fns[key] = jit(fp, xla=xla)
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
        """Simulate ``x``; returns per-step predictions, scores and spike statistics.

        No labels needed. ``chunk``: timesteps per chunk (see ``FastPathOptions``; results
        do not depend on it). Memory does not grow with ``timesteps`` except for the per-step
        predictions ``(T, N)`` and the ``record_spikes`` trains.
        """
        timesteps = _check_timesteps(timesteps)
        if input_mode not in INPUT_MODES:
            raise ValueError(f"unknown input_mode {input_mode!r}; supported: {INPUT_MODES}")
        x = self._check_x(x)
        if input_mode == "poisson" and (x.min() < 0 or x.max() > 1):
            raise ValueError("Poisson input needs intensities in [0, 1] (they are spike "
                             f"probabilities); got range [{x.min():.3g}, {x.max():.3g}]")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        latency = self.dyn_params.get("latency")
        if latency and timesteps < latency:
            warnings.warn(
                f"the {self.encoding} SNN needs {latency} steps before its readout is final "
                f"(one window per layer), but only {timesteps} are simulated; convert with "
                f"timesteps={timesteps} to fit the windows into this run", stacklevel=2)
        n = len(x)
        bs = min(int(batch_size), n)
        fold, chunk, xla = self._plan(timesteps, bs, chunk)
        record = min(int(record_spikes), bs)
        fn = self._sim_fn(timesteps, bs, chunk, input_mode, record, bool(return_counts), fold,
                          xla)
        preds, scores = [], []
        acc, per_step, sq, silent, samples, rec = {}, {}, {}, {}, {}, {}
        seed_t = ops.convert_to_tensor(np.int32(seed))
        bar = keras.utils.Progbar(n, unit_name="images") if verbose else None
        for start in range(0, n, bs):
            xb = x[start:start + bs]
            valid = len(xb)
            if valid < bs:  # pad: one compiled shape for all batches
                xb = np.concatenate([xb, np.zeros((bs - valid,) + xb.shape[1:], xb.dtype)])
            out = fn(ops.convert_to_tensor(xb), ops.convert_to_tensor(np.int32(start)), seed_t,
                     ops.convert_to_tensor(np.int32(valid)))
            out = keras.tree.map_structure(ops.convert_to_numpy, out)
            # class per step (on the host: numpy's argmax treats -0.0 and 0.0 as a tie)
            preds.append(np.argmax(out["readout"][:, :valid], axis=-1))
            scores.append(out["final"][:valid] / timesteps)
            for name, c in out["count_sums"].items():
                acc[name] = acc.get(name, 0) + c.astype(np.float64)
                sq[name] = sq.get(name, 0.0) + float(out["sum_sq"][name][:valid].sum(
                    dtype=np.float64))
                silent[name] = silent.get(name, 0) + int(out["silent"][name][:valid].sum())
                if return_counts:
                    samples.setdefault(name, []).append(out["counts"][name][:valid])
            for name, p in out["step_totals"].items():
                per_step[name] = per_step.get(name, 0) + p.astype(np.float64)
            if record and start == 0:
                rec = {k: v[:, :min(record, valid)] for k, v in out["rec"].items()}
            if bar is not None:
                bar.add(valid)
        stats = {}
        spike_counts = {}
        for name, steps in per_step.items():
            counts = acc[name]
            stats[name] = LayerStats(name, int(np.prod(counts.shape)), counts, steps, sq[name],
                                     silent[name])
            spike_counts[name] = float(steps.sum())
        res = SimulationResult(
            accuracy=None, accuracy_per_step=None, spike_counts=spike_counts,
            neuron_spike_counts=acc, num_samples=n, timesteps=timesteps,
            input_mode=input_mode, scores=np.concatenate(scores), layer_stats=stats,
            spike_trains=rec, sample_counts={k: np.concatenate(v) for k, v in samples.items()},
            predictions_per_step=np.concatenate(preds, axis=1), input_name=self.input_spec.name)
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


# ----------------------------------------------------------------------------- fast path
#: timesteps per chunk on CPU (traced unrolled; longer chunks were not faster on 2 cores)
UNROLL_STEPS = 5
#: longer chunks loop over their steps instead of being traced unrolled
MAX_UNROLL = 32


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


class _FastPath:
    """The compiled fast path for one configuration (see ``FastPathOptions``).

    ``__call__(x, offset, seed, valid)`` simulates one padded batch; everything it returns is
    reduced over time or over the ``valid`` samples, except the readout curve ``(T, B,
    classes)``, the optional per-sample counts and the recorded spike trains.
    """

    def __init__(self, model, timesteps, chunk, input_mode, record, return_counts, fold,
                 unit_scales=frozenset()):
        self.specs = model.specs
        self.unit_scales = unit_scales
        self.cells = model.cells
        self.ro = model.readout
        self.inp = model.input_spec.name
        self.out_name = model.output.name
        self.T, self.chunk, self.record = timesteps, chunk, record
        self.return_counts, self.fold = return_counts, fold
        self.constant = input_mode == "constant"
        after = set(post_readout(self.specs))
        self.linear = {s.name for s in self.specs[1:] if s.kind in ("flatten", "concat")
                       or (s.kind == "avgpool" and s is not self.ro)}
        # values that are the same at every step: the constant input and linear maps of it
        self.static = {self.inp} if self.constant else set()
        for s in self.specs[1:]:
            if s.name in self.linear and all(i in self.static for i in s.inputs):
                self.static.add(s.name)
        self.neurons = [s.name for s in self.specs[1:]
                        if s.name in self.cells and s.name not in self.linear]
        #: layers whose spikes are counted and summed per step
        self.spiking = [n for n in self.neurons if n != self.ro.name]
        #: layers under a constant current whose counts follow from their final state
        self.closed = set()
        if self.constant:
            for s in self.specs[1:]:
                if s.name not in self.spiking or s.inputs[0] not in self.static:
                    continue
                cell = self.cells[s.name]
                check = getattr(cell.neuron_dynamics, "has_constant_counts", None)
                if check is not None and check(cell.params, timesteps):
                    self.closed.add(s.name)
        if not self.constant:
            self.spiking.insert(0, self.inp)
        #: linear pooling layers whose (analog) output is summed over time as well
        self.pooled = [s.name for s in self.specs[1:] if s.kind == "avgpool"
                       and s.name in self.linear and s.name not in after]
        #: layer -> (average pool that tiles it, window area): per-step totals from the
        #: pooled map, ``sum(s) = area * sum(avgpool(s))``, exact for power-of-two areas
        self.tot_via = {}
        for s in self.specs[1:]:
            if s.name in self.linear and s.kind == "avgpool" and s.name in unit_scales:
                area = _tiling_area(s, _spec(self.specs, s.inputs[0]))
                if area and s.inputs[0] in self.spiking and s.inputs[0] not in self.tot_via:
                    self.tot_via[s.inputs[0]] = (s.name, area)

    # -- pieces
    def _linear(self, s, ins):
        if s.kind == "flatten":
            return ops.reshape(ins[0], (-1,) + tuple(s.output_shape))
        if s.kind == "concat":
            return ops.concatenate(ins, axis=-1)
        cell = self.cells[s.name]  # average pooling
        if s.name in self.unit_scales:
            return synapse.avgpool2d(ins[0], cell.pool_size, cell.strides, cell.padding)
        return cell.synapse(ins[0])

    def _step(self, env, states, x_t):
        """One timestep of every layer; ``x_t``: the input spikes (Poisson) or None.

        Returns the new states, the spikes of the counted layers and the readout output.
        """
        states = dict(states)
        val = dict(env["static"])
        if x_t is not None:
            val[self.inp] = x_t
        for s in self.specs[1:]:
            if s.name in self.static:
                continue
            if s.name in self.linear:
                val[s.name] = self._linear(s, [val[i] for i in s.inputs])
                continue
            cell = self.cells[s.name]
            cur = env["current"].get(s.name)
            if cur is None:
                cur = cell.synapse(val[s.inputs[0]])
            val[s.name], states[s.name] = cell.neuron_step(cur, list(states[s.name]))
        ro_out = ops.reshape(val[self.out_name], (env["batch"], -1))
        return states, {n: val[n] for n in self.spiking}, ro_out

    def _step_ys(self, env, spikes, ro_out):
        """Per-step outputs: readout, spikes per sample of every layer, recorded trains."""
        tot = {n: _sum_neurons(v, 1) for n, v in spikes.items()}
        rec = {n: v[:self.record] for n, v in spikes.items()} if self.record else {}
        return ro_out, tot, rec

    def _chunk_by_step(self, env, carry, t0, steps):
        """``steps`` timesteps in a loop, one step per iteration, counting as it goes."""
        def body(c, t):
            st, cn, _ = c
            x_t = None
            if not self.constant:
                x_t = poisson_spikes(env["x"], t, 1, env["seed"], env["offset"])[0]
            st, spikes, ro = self._step(env, st, x_t)
            cn = {n: ops.add(cn[n], spikes[n]) for n in cn}
            return (st, cn, ro), self._step_ys(env, spikes, ro)
        return scan(body, carry, ops.arange(steps, dtype="int32") + t0)

    def _chunk(self, env, carry, t0, steps):
        """``steps`` timesteps, layer by layer (unrolled when short, else in loops).

        Synaptic ops run on all steps folded into the batch (``self.fold``: True or
        ``"synapses"``) or once per step; linear layers (pooling, flatten) run per step on
        per-step inputs unless ``fold is True``, so spikes are stacked after pooling.
        """
        if steps > MAX_UNROLL and not self.fold:
            return self._chunk_by_step(env, carry, t0, steps)
        states, counts, _ = carry
        states, counts = dict(states), dict(counts)
        b = env["batch"]
        per_step, folded = {}, {}  # name -> [(B, ...)] * steps / (steps * B, ...)
        tot, rec = {}, {}

        def as_folded(name):
            if name not in folded:
                if name in per_step:
                    folded[name] = ops.concatenate(per_step[name], axis=0)
                else:  # the same at every step: repeat it
                    v = env["static"][name]
                    folded[name] = ops.reshape(ops.repeat(v[None], steps, axis=0),
                                               (-1,) + tuple(v.shape[1:]))
            return folded[name]

        def stacked(name):  # a folded value as (steps, B, ...)
            return ops.reshape(folded[name], (steps, b) + tuple(folded[name].shape[1:]))

        def as_steps(name):
            if name not in per_step:
                if name in folded:
                    v = stacked(name)
                    per_step[name] = [v[k] for k in range(steps)]
                else:
                    per_step[name] = [env["static"][name]] * steps
            return per_step[name]

        if not self.constant:
            sp = poisson_spikes(env["x"], t0, steps, env["seed"], env["offset"])
            counts[self.inp] = counts[self.inp] + ops.sum(sp, 0)
            tot[self.inp] = _sum_neurons(sp, 2)
            folded[self.inp] = ops.reshape(sp, (-1,) + tuple(sp.shape[2:]))
            if self.record:
                rec[self.inp] = sp[:, :self.record]
        loop = steps > MAX_UNROLL
        for s in self.specs[1:]:
            if s.name in self.static:
                continue
            if s.name in self.linear:
                if loop or self.fold is True or any(i in folded for i in s.inputs):
                    folded[s.name] = self._linear(s, [as_folded(i) for i in s.inputs])
                else:
                    ins = [as_steps(i) for i in s.inputs]
                    per_step[s.name] = [self._linear(s, [v[k] for v in ins])
                                        for k in range(steps)]
                continue
            cell = self.cells[s.name]
            const = env["current"].get(s.name)  # the same current at every step
            cur = None  # else the current per step: (steps, B, ...) or a list
            if const is None and (loop or self.fold):
                cur = cell.synapse(as_folded(s.inputs[0]))
                cur = ops.reshape(cur, (steps, b) + tuple(cur.shape[1:]))
            elif const is None:
                cur = [cell.synapse(v) for v in as_steps(s.inputs[0])]
            counted = s is not self.ro
            st = list(states[s.name])
            if loop:
                def body(st, c, cell=cell, const=const):
                    out, st2 = cell.neuron_step(const if c is None else c, list(st))
                    return st2, out
                st, seq = scan(body, st, cur, length=steps)
                folded[s.name] = ops.reshape(seq, (-1,) + tuple(seq.shape[2:]))
                if counted and s.name not in self.closed:
                    counts[s.name] = ops.add(counts[s.name], ops.sum(seq, 0))
                if counted:
                    tot[s.name] = _sum_neurons(seq, 2)
                    if self.record:
                        rec[s.name] = seq[:, :self.record]
            else:
                outs = []
                for k in range(steps):
                    out, st = cell.neuron_step(const if cur is None else cur[k], list(st))
                    outs.append(out)
                per_step[s.name] = outs
            states[s.name] = st
        def step_totals(name):  # (steps, B) spikes per sample
            if name in folded:
                return _sum_neurons(stacked(name), 2)
            return ops.stack([_sum_neurons(o, 1) for o in per_step[name]], 0)

        for name in self.spiking:  # once per chunk; from the stacked spikes where they exist
            if name in tot:
                continue  # counted already (Poisson input, loops)
            if name in self.tot_via:  # from the (smaller) pooled map
                pool, area = self.tot_via[name]
                tot[name] = ops.multiply(step_totals(pool), float(area))
            else:
                tot[name] = step_totals(name)
            if name in folded:
                seq = stacked(name)
                if name not in self.closed:
                    counts[name] = ops.add(counts[name], ops.sum(seq, 0))
                if self.record:
                    rec[name] = seq[:, :self.record]
            else:
                outs = per_step[name]
                if name not in self.closed:
                    counts[name] = add_n([counts[name]] + outs)
                if self.record:
                    rec[name] = ops.stack([o[:self.record] for o in outs], 0)
        if self.out_name in per_step:
            ro_seq = ops.stack([ops.reshape(v, (b, -1)) for v in per_step[self.out_name]], 0)
        else:
            ro_seq = ops.reshape(folded[self.out_name], (steps, b, -1))
        return (states, counts, ro_seq[-1]), (ro_seq, tot, rec)

    # -- the compiled function
    def __call__(self, x, offset, seed, valid):
        b = int(x.shape[0])
        mask = ops.cast(ops.less(ops.arange(b, dtype="int32"), valid), "int32")
        env = {"x": x, "offset": offset, "seed": seed, "batch": b, "static": {}, "current": {}}
        if self.constant:
            env["static"][self.inp] = x
        for s in self.specs[1:]:
            if s.name in self.static and s.name != self.inp:
                env["static"][s.name] = self._linear(s, [env["static"][i] for i in s.inputs])
            elif s.name in self.neurons and s.inputs[0] in self.static:
                # the same current at every step: computed once
                env["current"][s.name] = self.cells[s.name].synapse(env["static"][s.inputs[0]])
        states = {n: list(self.cells[n].get_initial_state(b)) for n in self.neurons}
        counts = {n: ops.zeros((b,) + tuple(_spec(self.specs, n).output_shape), "float32")
                  for n in self.spiking if n not in self.closed}
        n_out = int(np.prod(_spec(self.specs, self.out_name).output_shape))
        carry = (states, counts, ops.zeros((b, n_out), "float32"))
        n_full, rest = divmod(self.T, self.chunk)
        parts = []

        def mask_totals(ys):
            ro_seq, tot, rec = ys
            tot = {k: ops.sum(ops.cast(v, "int32") * mask, axis=-1) for k, v in tot.items()}
            return ro_seq, tot, rec

        if n_full:
            def outer(c, k):
                c, ys = self._chunk(env, c, k * self.chunk, self.chunk)
                return c, mask_totals(ys)
            carry, ys = scan(outer, carry, ops.arange(n_full, dtype="int32"))
            parts.append(keras.tree.map_structure(
                lambda a: ops.reshape(a, (-1,) + tuple(a.shape[2:])), ys))
        if rest:
            carry, ys = self._chunk(env, carry, n_full * self.chunk, rest)
            parts.append(mask_totals(ys))
        ys = parts[0] if len(parts) == 1 else keras.tree.map_structure(
            lambda a, c: ops.concatenate([a, c], 0), *parts)
        readout, step_totals, rec = ys
        states, counts, last = carry
        counts = dict(counts)
        for name in self.closed:  # counts from the final state (RateDynamics.constant_counts)
            cell = self.cells[name]
            counts[name] = cell.neuron_dynamics.constant_counts(
                env["current"][name], states[name], self.T, cell.params)
        if self.constant:
            counts[self.inp] = x * float(self.T)
        for s in self.specs[1:]:  # linear pooling: the time sum of its output is linear too
            if s.name in self.pooled:
                counts[s.name] = self._linear(s, [self._count_of(counts, i) for i in s.inputs])
        maskf = ops.cast(mask, "float32")  # elementwise: exact integer sums (no TF32 matmul)
        out = {"readout": readout, "final": last, "step_totals": step_totals, "rec": rec,
               "count_sums": {}, "sum_sq": {}, "silent": {}}
        for name, c in counts.items():
            flat = ops.reshape(c, (b, -1))
            m = ops.reshape(maskf, (b,) + (1,) * (len(c.shape) - 1))
            out["count_sums"][name] = ops.sum(ops.multiply(c, m), axis=0)
            out["sum_sq"][name] = ops.sum(ops.square(flat), -1)
            out["silent"][name] = ops.sum(ops.cast(ops.equal(flat, 0.0), "int32"), -1)
        if self.return_counts:
            out["counts"] = counts
        return out

    def _count_of(self, counts, name):
        """Time-summed output of ``name`` (through flatten/concat/pooling)."""
        if name in counts:
            return counts[name]
        s = _spec(self.specs, name)
        return self._linear(s, [self._count_of(counts, i) for i in s.inputs])


def _sum_neurons(x, lead):
    """Sum over all axes after the first ``lead`` ones (no reshape: TensorFlow's graph
    optimizer would otherwise duplicate the spikes' cast in front of it)."""
    return ops.sum(x, axis=tuple(range(lead, len(x.shape))))


def _tiling_area(pool: LayerSpec, src: LayerSpec) -> int:
    """The window area of an average pool whose windows tile its input exactly (stride =
    window, sizes divisible), if that area is a power of two (window means of 0/1 spikes
    are then exact in float); else 0."""
    ph, pw = (int(v) for v in pool.config["pool_size"])
    if tuple(int(v) for v in pool.config["strides"]) != (ph, pw):
        return 0
    h, w = (int(v) for v in src.output_shape[:2])
    area = ph * pw
    if h % ph or w % pw or area & (area - 1):
        return 0
    return area


def _spec(specs, name):
    return next(s for s in specs if s.name == name)
