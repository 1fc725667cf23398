"""Hybrid training: convert, then fine-tune the SNN by backpropagation through time.

Rathi et al., "Enabling deep spiking neural networks with hybrid conversion and spike timing
dependent backpropagation", ICLR 2020; trainable thresholds and leaks as in DIET-SNN (Rathi &
Roy, IEEE TNNLS 2021). The cells are Keras RNN cells, so BPTT is Keras's own: the training
model is the cell path (``tfsnn.simulation.cellpath``) of copies of the SNN's cells, whose
spike is the Heaviside step forward and a surrogate derivative backward
(``tfsnn.neurons.spike``), trained with ``keras.Model.fit`` (callbacks, progress bars, early
stopping, TensorBoard and ``History`` work as for any Keras model).

The training model (``training_model``):

- input ``(B,) + input_shape``, repeated over ``T`` steps (constant-current input, the
  first layer's current is the image itself at every step);
- output ``V_T / T``: the readout's integrated potential after the last step divided by
  ``T``, i.e. the time average of the readout's input current. Its argmax is the SNN's
  decision at ``T``, and since the readout keeps ``lambda = 1`` in normalization it
  estimates the ANN's logits, so the loss is cross-entropy on it (``from_logits=True``)
  and the training accuracy is the SNN's accuracy at ``T``.

It starts from the converted weights, thresholds and initial potentials
(``V_0 = v_init * theta`` follows a trained threshold). With ``train_thresholds`` /
``train_leak`` every spiking layer trains one threshold / one leak factor
``lambda = exp(-1/tau)`` (kept in ``[0, 1]``; IF neurons start at 1); otherwise they stay
fixed. The result is a new ``SpikingModel`` with plain (inference) cells holding the trained
values: it evaluates, saves and loads like any other, and its engine gives the spikes of
the network that was trained (the trained thresholds are per layer, in the cells).

Memory: BPTT keeps every step of every layer, so the training memory of the cell path is
about that of the ANN trained with a batch of ``batch_size * T`` images (plus the membrane
potentials). With ``checkpoint=k`` the network is stepped by the engine's own
``Engine.step`` (the same cell halves, surrogate spikes) in chunks of ``k`` steps, each
rematerialized in the backward pass (``keras.remat``: ``tf.recompute_grad`` /
``jax.checkpoint``), so that only the neuron states at chunk boundaries and one chunk's
internals need to be kept; measured on TensorFlow (CPU) it did not lower the peak RSS
(docs/fine_tune.md), so ``batch_size`` is the knob there.
Keras's ``RematScope`` does not work through ``keras.layers.RNN`` in Keras 3.15 (on
TensorFlow ``tf.recompute_grad`` takes no keyword arguments in graph mode and RNN layers are
called with ``training=``; on JAX the layers are then not built), hence the chunks.

Rate coding only: the TTFS encodings' spike times come from thresholds that change over a
window (and a neuron spikes at most once), which these surrogates do not model; fine-tuning
them raises ``ValueError``. Input is constant current (``input_mode="constant"``).
"""

from __future__ import annotations

import copy
import math
import time
from types import SimpleNamespace

import keras
import numpy as np
from keras import ops

from tfsnn.backend import backend_name
from tfsnn.checks import check_labels, check_timesteps
from tfsnn.neurons import SURROGATES
from tfsnn.simulation.cellpath import cell_path_model
from tfsnn.simulation.engine import Engine
from tfsnn.simulation.plan import MAX_UNROLL

#: encodings whose SNNs ``fine_tune`` can train
TRAINABLE_ENCODINGS = ("rate",)


def _copy_cell(cell, input_shape, **changes):
    """A new cell of the same class and configuration (with ``changes``), built, holding
    ``cell``'s weights (matched by name)."""
    cfg = {**cell.get_config(), **changes}
    new = type(cell).from_config(cfg)
    new.build((None,) + tuple(input_shape))
    source = {w.name: w for w in cell.weights}
    for w in new.weights:
        if w.name in source:  # a copy (JAX's training donates the buffers it updates)
            w.assign(np.array(ops.convert_to_numpy(source[w.name])))
    return new


def training_cells(snn, train_thresholds=True, train_leak=False, surrogate="triangle",
                   surrogate_width=1.0) -> dict:
    """Copies of ``snn``'s cells for training (the originals are not changed)."""
    if surrogate not in SURROGATES:
        raise ValueError(f"unknown surrogate {surrogate!r}; supported: {SURROGATES}")
    named = {s.name: s for s in snn.specs}
    cells = {}
    for name, cell in snn.cells.items():
        spiking = cell.spiking
        cells[name] = _copy_cell(
            cell, named[name].input_shape, surrogate=surrogate,
            surrogate_width=float(surrogate_width),
            train_threshold=bool(train_thresholds) and spiking,
            train_leak=bool(train_leak) and spiking)
    return cells


class CheckpointedRun(keras.layers.Layer):
    """``x -> V_T / T`` by ``Engine.step`` with surrogate spikes, time cut into chunks of
    ``checkpoint`` steps that are rematerialized in the backward pass (module docstring)."""

    def __init__(self, snn, cells, timesteps, checkpoint, **kwargs):
        super().__init__(**kwargs)
        self.spiking_cells = list(cells.values())  # tracked: their weights train
        view = SimpleNamespace(specs=snn.specs, cells=cells, readout=snn.readout)
        self.engine = Engine(view, timesteps, checkpoint, "constant")
        self.engine.training = True
        self.timesteps, self.checkpoint = int(timesteps), int(checkpoint)
        self.num_classes = snn.num_classes
        self.built = True

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def _chunk(self, batch, steps, state_tree, current_names):
        n_state = len(keras.tree.flatten(state_tree))

        def run(*flat):
            states = keras.tree.pack_sequence_as(state_tree, list(flat[:n_state]))
            current = dict(zip(current_names, flat[n_state:]))
            b = batch._replace(current=current)
            ro = None
            for _ in range(steps):
                states, _, ro = self.engine.step(b, states, None)
            return keras.tree.flatten(states) + [ro]
        return keras.remat(run)

    def call(self, x):
        eng = self.engine
        batch = eng.prepare(x, 0, 0)
        size = batch.size
        states = {n: list(eng.cells[n].get_initial_state(size)) for n in eng.layout.neurons}
        names = sorted(batch.current)
        done, ro = 0, None
        while done < self.timesteps:
            steps = min(self.checkpoint, self.timesteps - done)
            out = self._chunk(batch, steps, states, names)(
                *keras.tree.flatten(states), *[batch.current[n] for n in names])
            states = keras.tree.pack_sequence_as(states, out[:-1])
            ro, done = out[-1], done + steps
        return ops.divide(ro, float(self.timesteps))


def _unroll(timesteps) -> bool:
    """Unroll short runs on TensorFlow (its while-loop gradients trace slowly; on JAX the
    unrolled trace was slower than ``lax.scan``)."""
    return timesteps <= MAX_UNROLL and backend_name() == "tensorflow"


def training_model(snn, cells, timesteps, checkpoint=None, augmentation=()) -> keras.Model:
    """``x (B,) + input_shape -> V_T / T (B, classes)`` through ``cells`` (module docstring):
    the cell path, or with ``checkpoint`` the rematerialized chunks of ``CheckpointedRun``.
    ``augmentation``: Keras layers applied to the images first (Keras's random
    preprocessing layers act in ``fit`` only: inference sees the image itself)."""
    timesteps = check_timesteps(timesteps)
    inp = keras.Input(snn.input_shape, name="image")
    x = inp
    for layer in augmentation:
        x = layer(x)
    if checkpoint:
        logits = CheckpointedRun(snn, cells, timesteps, checkpoint, name="checkpointed")(x)
    else:
        seq = ops.repeat(ops.expand_dims(x, 1), timesteps, axis=1)
        core = cell_path_model(snn.specs, cells, name=f"snn_{snn.encoding}_cells",
                               timesteps=timesteps, unroll=_unroll(timesteps))
        v = core(seq)
        logits = ops.divide(ops.reshape(v[:, -1], (-1, snn.num_classes)), float(timesteps))
    return keras.Model(inp, logits, name=f"snn_{snn.encoding}_fine_tune")


def _augmentation(augmentation) -> tuple:
    """``augmentation`` as a tuple of Keras layers (a clear error for anything else)."""
    if augmentation is None:
        return ()
    layers = (augmentation if isinstance(augmentation, (list, tuple))
              else (augmentation,))
    for a in layers:
        if not isinstance(a, keras.layers.Layer):
            raise TypeError(f"augmentation takes Keras layers (e.g. keras.layers.RandomFlip), "
                            f"got {type(a).__name__}")
    return tuple(layers)


def _leak_to_tau(leak: float):
    """``tau`` with ``exp(-1/tau) == leak`` in float32 (None for no leak)."""
    if leak >= 1.0:
        return None
    return 1e-3 if leak <= 0.0 else -1.0 / math.log(leak)


def _inference_cell(cell, original, input_shape):
    """A plain cell with the trained weights, threshold and leak of the training ``cell``."""
    changes = dict(train_threshold=False, train_leak=False, surrogate=original.surrogate,
                   surrogate_width=original.surrogate_width)
    if cell.threshold_weight is not None:
        changes["threshold"] = float(ops.convert_to_numpy(cell.threshold_weight))
    if cell.leak_weight is not None:
        changes["tau"] = _leak_to_tau(float(ops.convert_to_numpy(cell.leak_weight)))
    return _copy_cell(cell, input_shape, **changes)


def trained_snn(snn, cells, meta=None):
    """A new ``SpikingModel`` like ``snn`` with the trained values of ``cells``."""
    specs, new_cells = [], {}
    for s in snn.specs:
        cell = cells.get(s.name)
        if cell is not None:
            new_cells[s.name] = _inference_cell(cell, snn.cells[s.name], s.input_shape)
        s2 = copy.copy(s)
        for attr in ("kernel", "bias", "depthwise_kernel"):
            if getattr(s, attr, None) is not None and hasattr(new_cells.get(s.name), attr):
                setattr(s2, attr, ops.convert_to_numpy(getattr(new_cells[s.name], attr)))
        specs.append(s2)
    p = snn.params
    return type(snn)(specs, snn.encoding, p["threshold"], p["v_init"], p["tau"],
                     snn.dyn_params, cells=new_cells, meta={**snn.meta, **(meta or {})})


#: the ``fine_tune`` arguments an experiment may set in ``fine_tune_params``
FINE_TUNE_PARAMS = ("batch_size", "train_thresholds", "train_leak", "surrogate",
                    "surrogate_width", "checkpoint", "shuffle")


def check_fine_tune(encoding, input_mode="constant", params=None) -> None:
    """A clear ValueError for what fine-tuning does not support."""
    if encoding not in TRAINABLE_ENCODINGS:
        raise ValueError(
            f"fine-tuning supports the {list(TRAINABLE_ENCODINGS)} encoding(s), not "
            f"{encoding!r}: a TTFS neuron spikes once, at a time set by a threshold that "
            "changes over its window, which the spike surrogates do not model; convert with "
            "encoding='rate' to fine-tune")
    if input_mode != "constant":
        raise ValueError(f"fine-tuning runs with constant-current input only, got "
                         f"input_mode={input_mode!r}")
    unknown = sorted(set(params or {}) - set(FINE_TUNE_PARAMS))
    if unknown:
        raise ValueError(f"unknown fine-tuning parameter(s) {unknown}; supported: "
                         f"{list(FINE_TUNE_PARAMS)}")
    surrogate = (params or {}).get("surrogate", "triangle")
    if surrogate not in SURROGATES:
        raise ValueError(f"unknown surrogate {surrogate!r}; supported: {SURROGATES}")


def fine_tune(snn, x, y, timesteps, epochs=5, batch_size=32, validation_data=None,
              train_thresholds=True, train_leak=False, callbacks=None, optimizer=None,
              learning_rate=1e-4, surrogate="triangle", surrogate_width=1.0, checkpoint=None,
              verbose="auto", shuffle=True, input_mode="constant", augmentation=None):
    """Fine-tune a converted SNN at ``timesteps`` by BPTT with surrogate gradients.

    Args:
        snn: the converted ``SpikingModel`` (rate encoding); it is not changed.
        x, y: training images (shape and range as for ``snn.evaluate``) and class labels.
        timesteps: T of the training runs (and of the SNN's later use).
        epochs, batch_size, validation_data, callbacks, verbose, shuffle: as for
            ``keras.Model.fit`` (``validation_data = (x_val, y_val)``; the validation
            accuracy is the SNN's accuracy at ``timesteps``).
        train_thresholds, train_leak: train one threshold / leak factor per spiking layer.
        optimizer: a Keras optimizer (default ``Adam(learning_rate)``).
        surrogate, surrogate_width: the spike's surrogate derivative
            (``tfsnn.neurons.spike``).
        checkpoint: steps per rematerialized chunk (``CheckpointedRun``; None: the cell
            path).
        augmentation: a Keras layer or a list of them applied to each training batch
            (e.g. ``keras.layers.RandomFlip("horizontal")``, ``RandomTranslation``): Keras's
            random preprocessing layers change the images in ``fit`` only, so validation
            and the returned SNN see them unchanged.

    Returns the fine-tuned ``SpikingModel``; its ``history`` is Keras's ``History``
    (``history.model`` is the training model) and ``meta["fine_tune"]`` records the
    settings and the seconds per epoch.
    """
    check_fine_tune(snn.encoding, input_mode)
    timesteps = check_timesteps(timesteps)
    x = snn._check_x(x)
    y = check_labels(y, snn.num_classes, len(x), "y")
    if validation_data is not None:
        xv, yv = validation_data[:2]
        xv = snn._check_x(xv)
        validation_data = (xv, check_labels(yv, snn.num_classes, len(xv), "validation y"))
    cells = training_cells(snn, train_thresholds, train_leak, surrogate, surrogate_width)
    if checkpoint is not None and (isinstance(checkpoint, bool) or int(checkpoint) < 1):
        raise ValueError(f"checkpoint must be a number of steps >= 1 or None, got "
                         f"{checkpoint!r}")
    augmentation = _augmentation(augmentation)
    model = training_model(snn, cells, timesteps, checkpoint, augmentation)
    opt = optimizer if optimizer is not None else keras.optimizers.Adam(float(learning_rate))
    model.compile(optimizer=opt,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    t0 = time.perf_counter()
    history = model.fit(np.asarray(x, np.float32), np.asarray(y, np.int32),
                        batch_size=int(batch_size), epochs=int(epochs),
                        validation_data=validation_data, callbacks=callbacks,
                        verbose=verbose, shuffle=shuffle)
    seconds = time.perf_counter() - t0
    done = len(history.epoch)
    meta = {"fine_tune": {"timesteps": timesteps, "epochs": done, "samples": len(x),
                          "batch_size": int(batch_size), "surrogate": surrogate,
                          "surrogate_width": float(surrogate_width),
                          "train_thresholds": bool(train_thresholds),
                          "train_leak": bool(train_leak), "checkpoint": checkpoint,
                          "augmentation": [type(a).__name__ for a in augmentation],
                          "seconds_per_epoch": seconds / max(done, 1)}}
    tuned = trained_snn(snn, cells, meta)
    tuned.history = history
    return tuned
