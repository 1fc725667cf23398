"""``SpikingModel``: a converted spiking network, and the user's entry point to run it.

It holds one named cell per layer with neurons (``tfsnn.cells``) and runs in two
equivalent ways:

- the **cell path**: ``snn.keras_model`` wraps every cell in ``keras.layers.RNN`` and Keras
  steps it (the reference; also what ``save`` writes to a ``.keras`` file);
- the **engine** (``evaluate`` / ``predict`` / ``simulate``): one compiled
  ``tfsnn.simulation.engine.Engine`` per batch shape runs all timesteps (see there).

Both call the same ``synapse`` and ``neuron_step`` functions and give the same spikes.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
from keras import ops

from tfsnn.backend import jit
from tfsnn.cells import encoding_module
from tfsnn.checks import check_inputs, check_labels, check_timesteps
from tfsnn.ir import LayerSpec, kind, readout_spec
from tfsnn.simulation.build import build_cells, check_supported
from tfsnn.simulation.cellpath import cell_path_model
from tfsnn.simulation.encoders import check_input_mode, input_sequence
from tfsnn.simulation.engine import Engine
from tfsnn.simulation.fine_tune import fine_tune as fine_tune_snn
from tfsnn.simulation.persistence import read_snn_file, write_snn_file
from tfsnn.simulation.plan import FastPathOptions, plan
from tfsnn.simulation.results import ResultAccumulator, SimulationResult


def _neuron_params(threshold, v_init, tau) -> dict:
    return {"threshold": float(threshold), "v_init": float(v_init),
            "tau": None if tau is None else float(tau)}


class SpikingModel:
    """A converted spiking network (see module docstring)."""

    def __init__(self, specs: list[LayerSpec], encoding="rate", threshold=1.0, v_init=0.0,
                 tau=None, dyn_params=None, cells=None, meta=None):
        self.encoding = encoding
        self.module = encoding_module(encoding)
        self.specs = specs
        self.params = _neuron_params(threshold, v_init, tau)
        self.dyn_params = dict(dyn_params or {})
        self.meta = dict(meta or {})
        self.readout = readout_spec(specs)
        self.output = next(s for s in specs if s.is_output)
        self.input_spec = specs[0]
        self.input_shape = tuple(self.input_spec.output_shape)
        self.num_classes = int(self.output.output_shape[-1])
        check_supported(specs, self.module, encoding)
        self.cells = cells if cells is not None else build_cells(
            specs, self.module, self.readout, self.params, self.dyn_params)
        self._engines = {}
        #: how ``simulate`` runs (``FastPathOptions``); results do not depend on it
        self.fast_path = FastPathOptions()
        self._keras_model = None

    # -- the cell path
    @property
    def keras_model(self) -> keras.Model:
        """The step-by-step reference: every cell wrapped in ``keras.layers.RNN``.

        Input ``(B, T) + input_shape`` (the input at every step), output ``(B, T, classes)``:
        the readout's integrated potential at every step.
        """
        if self._keras_model is None:
            self._keras_model = cell_path_model(self.specs, self.cells,
                                                name=f"snn_{self.encoding}")
        return self._keras_model

    def run_cells(self, x, timesteps, input_mode="constant", seed=0):
        """Simulate with the cell path; returns ``{layer name: (B, T, ...)}`` numpy arrays."""
        x = self._check_x(x)
        seq = input_sequence(x, check_timesteps(timesteps), input_mode, seed)
        model = cell_path_model(self.specs, self.cells, name=f"snn_{self.encoding}",
                                all_layers=True)
        out = model(ops.convert_to_tensor(seq))
        return {k: ops.convert_to_numpy(v) for k, v in out.items()}

    # -- the engine
    def _unit_scales(self) -> frozenset:
        """Average pools whose per-channel scale is all ones (no multiplication needed)."""
        return frozenset(n for n, c in self.cells.items()
                         if kind(c.kind).pool == "avg" and c.has_unit_scale())

    def engine(self, timesteps, batch_size, chunk=None, input_mode="constant", record=0,
               return_counts=False, predictions=True, labels=False):
        """The compiled engine for a run (cached per configuration)."""
        fold, chunk, xla = plan(self.fast_path, self.specs, timesteps, batch_size, chunk)
        unit = self._unit_scales()  # part of the key: the weights may be changed later
        key = (timesteps, batch_size, chunk, input_mode, record, return_counts, fold, xla,
               unit, predictions, labels)
        if key not in self._engines:
            eng = Engine(self, timesteps, chunk, input_mode, record, return_counts, fold,
                         unit, predictions, labels)
            self._engines[key] = jit(eng, xla=xla)
        return self._engines[key]

    def _check_x(self, x):
        return check_inputs(x, self.input_shape, "x", "the SNN")  # shape, NaN, [0, 1]

    def _check_run(self, x, timesteps, input_mode, batch_size):
        timesteps = check_timesteps(timesteps)
        check_input_mode(input_mode)
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
                f"timesteps={timesteps} to fit the windows into this run", stacklevel=3)
        return x, timesteps

    def simulate(self, x, timesteps=100, batch_size=256, input_mode="constant", seed=0,
                 chunk=None, record_spikes=0, return_counts=False, verbose=0,
                 return_predictions=True) -> SimulationResult:
        """Simulate ``x``; returns per-step predictions, scores and spike statistics.

        No labels needed. ``chunk``: timesteps per chunk (see ``FastPathOptions``; results
        do not depend on it). Memory does not grow with ``timesteps`` except for the per-step
        predictions ``(T, N)`` (``return_predictions=False``: none) and the
        ``record_spikes`` trains.
        """
        return self._run(x, None, timesteps, batch_size, input_mode, seed, chunk,
                         record_spikes, return_counts, verbose, return_predictions)

    def _run(self, x, y, timesteps, batch_size, input_mode, seed, chunk, record_spikes,
             return_counts, verbose, predictions) -> SimulationResult:
        """The batching loop: one compiled engine call per (padded) batch."""
        x, timesteps = self._check_run(x, timesteps, input_mode, batch_size)
        n = len(x)
        bs = min(int(batch_size), n)
        record = min(int(record_spikes), bs)
        fn = self.engine(timesteps, bs, chunk, input_mode, record, bool(return_counts),
                         bool(predictions), y is not None)
        acc = ResultAccumulator(timesteps, record, bool(return_counts))
        seed_t = ops.convert_to_tensor(np.int32(seed))
        labels = np.zeros(n, np.int32) if y is None else np.asarray(y, np.int32)
        bar = keras.utils.Progbar(n, unit_name="images") if verbose else None
        for start in range(0, n, bs):
            xb, yb = x[start:start + bs], labels[start:start + bs]
            valid = len(xb)
            if valid < bs:  # pad: one compiled shape for all batches
                xb = np.concatenate([xb, np.zeros((bs - valid,) + xb.shape[1:], xb.dtype)])
                yb = np.concatenate([yb, np.zeros(bs - valid, np.int32)])
            out = fn(ops.convert_to_tensor(xb), ops.convert_to_tensor(np.int32(start)), seed_t,
                     ops.convert_to_tensor(np.int32(valid)), ops.convert_to_tensor(yb))
            acc.add(keras.tree.map_structure(ops.convert_to_numpy, out), valid, start == 0)
            if bar is not None:
                bar.add(valid)
        return acc.result(n, input_mode, self.input_spec.name)

    def evaluate(self, x, y=None, timesteps=100, batch_size=256, input_mode="constant", seed=0,
                 chunk=None, record_spikes=0, return_counts=False, verbose=0,
                 return_predictions=False) -> SimulationResult:
        """Simulate and score: ``res.accuracy``, ``res.accuracy_per_step`` (t = 1..T), spikes.

        One simulation gives the whole accuracy-vs-time curve; it is scored on the device,
        so memory stays flat in ``T`` (the per-step class of every image,
        ``res.predictions_per_step``, only with ``return_predictions=True``). ``y`` may be
        None (then only the spike statistics, scores and predictions are returned).
        """
        x = self._check_x(x)
        y = check_labels(y, self.num_classes, len(x), "y")
        return self._run(x, y, timesteps, batch_size, input_mode, seed, chunk, record_spikes,
                         return_counts, verbose, return_predictions or y is None)

    def predict(self, x, timesteps=100, batch_size=256, input_mode="constant", seed=0):
        """Class scores ``(N, classes)`` read out at the last step (``V_T / T``)."""
        return self.simulate(x, timesteps, batch_size, input_mode, seed,
                             return_predictions=False).scores

    # -- hybrid training
    def fine_tune(self, x, y, timesteps, epochs=5, batch_size=32, validation_data=None,
                  train_thresholds=True, train_leak=False, callbacks=None, **kwargs):
        """Fine-tune this converted SNN at ``timesteps`` by BPTT through its cells with
        surrogate gradients (Keras ``fit``); returns a new ``SpikingModel`` (this one is not
        changed). See ``tfsnn.simulation.fine_tune.fine_tune`` for all arguments."""
        return fine_tune_snn(self, x, y, timesteps, epochs=epochs, batch_size=batch_size,
                             validation_data=validation_data,
                             train_thresholds=train_thresholds, train_leak=train_leak,
                             callbacks=callbacks, **kwargs)

    # -- persistence
    def save(self, path):
        """Write the SNN to a ``.keras`` file (the cell-path model + tfsnn metadata)."""
        write_snn_file(path, self.keras_model, self.encoding, self.params, self.dyn_params,
                       self.meta, self.specs)

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


def load_snn(path) -> SpikingModel:
    """Load an SNN written by ``SpikingModel.save``."""
    meta, cells, specs = read_snn_file(path)
    p = meta["params"]
    return SpikingModel(specs, meta["encoding"], p["threshold"], p["v_init"], p["tau"],
                        meta["dyn_params"], cells=cells, meta=meta["meta"])
