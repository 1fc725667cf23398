"""``ExperimentConfig``: the typed settings of one ``Experiment``.

One field per ``Experiment`` keyword argument (same names, same defaults). Each field's
``metadata["stage"]`` says what it changes:

- ``"ann"``: the trained ANN (dataset, model, training);
- ``"snn"``: conversion and simulation only (the trained ANN can be reused);
- ``"run"``: naming, logging and output only.

``SNN_ONLY_FIELDS`` (every field not of stage ``"ann"``) is what an ANN cache leaves out of
its key: trials that differ only in these fields can share one trained ANN.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from tfsnn.cells import ENCODINGS, encoding_module
from tfsnn.checks import check_number, check_timesteps
from tfsnn.conversion.convert import check_encoding_params
from tfsnn.conversion.normalize import check_normalization, check_scale
from tfsnn.models import MODELS
from tfsnn.simulation import INPUT_MODES
from tfsnn.simulation.fine_tune import check_fine_tune


def _ann(default=None):
    return field(default=default, metadata={"stage": "ann"})


def _snn(default=None):
    return field(default=default, metadata={"stage": "snn"})


def _run(default=None):
    return field(default=default, metadata={"stage": "run"})


@dataclass
class ExperimentConfig:
    """Settings of an ``Experiment``; each is also an ``Experiment`` keyword argument.

    Args:
        name: experiment name (TensorBoard logs go to ``<logdir>/<name>/<run>``).
        dataset: a registered dataset name (``tfsnn.datasets``), an ``.npz`` path, arrays or a
            ``Dataset``.
        model: a built-in model name (``tfsnn.models.MODELS``), a Keras model (used as given,
            not retrained unless ``train=True``) or a callable returning one.
        encoding: "rate", "ttfs", "ttfs_dyn_thresh", "ttfs_clamped".
        timesteps: simulation length T.
        normalization, percentile, channelwise, scale: see ``tfsnn.convert``.
        epochs, batch_size, learning_rate, early_stopping: ANN training.
        seed: seeds weights, shuffling and Poisson input.
        logdir: TensorBoard root (None: no logging). run: run name (default: a timestamp).
        input_mode: "constant" or "poisson".
        threshold, v_init, tau: neuron parameters (v_init None: the encoding's default).
        n_norm: images of the training set used for normalization.
        n_test: evaluate on the first n test images (None: all).
        sim_batch_size: simulation batch size.
        activation, clamp, model_kwargs: passed to the model builder (``activation=
            "clamped_relu"`` trains with ``tfsnn.layers.ClampedReLU(clamp)``).
        activation_levels: with ``activation="quant"``: QCFS activations of this many levels
            (``tfsnn.quantization.QuantizedReLU``; 3 = 2 bits), for conversion at low T
            (docs/quantization.md).
        verbose: 0 silent, 1 progress bars, 2 also conversion progress.
        encoding_params: further encoding-specific parameters for ``convert``.
        analysis: compute spike statistics and energy in ``Experiment.run``.
        fine_tune_epochs: epochs of hybrid training after conversion (``SpikingModel.
            fine_tune``: BPTT with surrogate gradients on the training set; 0: none; rate
            encoding with constant input only).
        fine_tune_timesteps: T of the fine-tuning (None: ``timesteps``).
        fine_tune_learning_rate: its Adam learning rate.
        fine_tune_params: further ``fine_tune`` arguments (``batch_size``,
            ``train_thresholds``, ``train_leak``, ``surrogate``, ``surrogate_width``,
            ``checkpoint``, ``shuffle``).
    """

    name: str = _run("experiment")
    dataset: Any = _ann("digits")
    model: Any = _ann("mlp")
    encoding: str = _snn("rate")
    timesteps: int = _snn(100)
    normalization: Any = _snn("percentile")
    percentile: float = _snn(99.9)
    channelwise: bool = _snn(True)
    scale: Any = _snn(None)
    epochs: int = _ann(5)
    batch_size: int = _ann(128)
    seed: int = _ann(0)
    logdir: str | None = _run("tblogs")
    run: str | None = _run(None)
    input_mode: str = _snn("constant")
    threshold: float = _snn(1.0)
    v_init: float | None = _snn(None)
    tau: float | None = _snn(None)
    n_norm: int = _snn(1000)
    n_test: int | None = _snn(None)
    sim_batch_size: int = _snn(256)
    learning_rate: float = _ann(1e-3)
    early_stopping: Any = _ann(False)
    train: bool | None = _ann(None)
    activation: Any = _ann(None)
    clamp: float | None = _ann(None)
    activation_levels: int | None = _ann(None)
    model_kwargs: dict | None = _ann(None)
    verbose: int = _run(1)
    encoding_params: dict | None = _snn(None)
    analysis: bool = _snn(True)
    fine_tune_epochs: int = _snn(0)
    fine_tune_timesteps: int | None = _snn(None)
    fine_tune_learning_rate: float = _snn(1e-4)
    fine_tune_params: dict | None = _snn(None)

    def __post_init__(self):
        """Check every typed field (a ValueError whose message starts with the field's
        name; combinations with the encoding last), then store the normalized values."""
        self._check_choices()
        self._check_integers()
        self._check_numbers()
        self._check_flags()
        self._check_combinations()
        self.name = str(self.name)
        self.epochs = int(self.epochs)
        self.batch_size = int(self.batch_size)
        self.seed = int(self.seed)
        self.logdir = None if self.logdir is None else str(self.logdir)
        self.n_norm = int(self.n_norm)
        self.sim_batch_size = int(self.sim_batch_size)
        self.model_kwargs = dict(self.model_kwargs or {})
        self.verbose = int(self.verbose)
        self.encoding_params = dict(self.encoding_params or {})
        self.fine_tune_epochs = int(self.fine_tune_epochs)
        self.fine_tune_params = dict(self.fine_tune_params or {})

    def _check_choices(self):
        for name, choices in (("encoding", sorted(ENCODINGS)), ("input_mode", INPUT_MODES)):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name}: unknown {name} {getattr(self, name)!r}; supported: "
                                 f"{choices}")
        check_normalization(self.normalization, self.percentile, self.scale)
        if isinstance(self.model, str) and self.model not in MODELS:
            raise ValueError(f"model: unknown model {self.model!r}; built-in models: "
                             f"{sorted(MODELS)} (or pass a keras.Model or a callable)")
        if not (isinstance(self.model, str) or callable(self.model)):
            raise ValueError("model must be a built-in model name, a keras.Model or a callable "
                             f"returning one, got {self.model!r}")
        for name in ("model_kwargs", "encoding_params", "fine_tune_params"):
            if not isinstance(getattr(self, name), (Mapping, type(None))):
                raise ValueError(f"{name} must be a mapping of keyword arguments or None, "
                                 f"got {getattr(self, name)!r}")

    def _check_integers(self):
        self.timesteps = check_timesteps(self.timesteps)
        if self.fine_tune_timesteps is not None:
            try:
                self.fine_tune_timesteps = check_timesteps(self.fine_tune_timesteps)
            except ValueError as e:
                raise ValueError(f"fine_tune_{e}") from None
        for name, low, none_ok in (("epochs", 0, False), ("batch_size", 1, False),
                                   ("n_norm", 1, False), ("sim_batch_size", 1, False),
                                   ("seed", 0, False), ("verbose", 0, False),
                                   ("n_test", 1, True), ("fine_tune_epochs", 0, False),
                                   ("activation_levels", 1, True)):
            v = getattr(self, name)
            if v is None and none_ok:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low or (
                    name == "seed" and v >= 2 ** 32):
                kind = "non-negative" if low == 0 else "positive"
                extra = " below 2**32" if name == "seed" else ""
                raise ValueError(f"{name} must be a {kind} integer{extra}"
                                 f"{' or None' if none_ok else ''}, got {v!r}")

    def _check_numbers(self):
        check_number(self.percentile, "percentile", positive=True, high=100.0)
        if self.scale is not None:
            check_scale(self.scale)
        check_number(self.threshold, "threshold", positive=True)
        check_number(self.v_init, "v_init", none_ok=True)
        check_number(self.tau, "tau", positive=True, none_ok=True)
        check_number(self.learning_rate, "learning_rate", positive=True)
        check_number(self.clamp, "clamp", positive=True, none_ok=True)
        check_number(self.fine_tune_learning_rate, "fine_tune_learning_rate", positive=True)

    def _check_flags(self):
        for name, none_ok in (("channelwise", False), ("analysis", False), ("train", True)):
            v = getattr(self, name)
            if not (isinstance(v, (bool, np.bool_)) or (none_ok and v is None)):
                raise ValueError(f"{name} must be True or False{' or None' if none_ok else ''}"
                                 f", got {v!r}")
        es = self.early_stopping
        if not (es is None or isinstance(es, (bool, np.bool_))
                or (isinstance(es, (int, np.integer)) and es >= 0)):
            raise ValueError("early_stopping must be False, True or a patience (an integer "
                             f">= 0), got {es!r}")
        for name in ("logdir", "run"):
            v = getattr(self, name)
            if not (v is None or isinstance(v, (str, os.PathLike))):
                raise ValueError(f"{name} must be a path (a string) or None, got {v!r}")

    def _check_combinations(self):
        """Settings valid alone but not with the encoding (checked after all the others)."""
        check_encoding_params(self.encoding, self.encoding_params or {}, "encoding_params")
        if (self.activation == "quant") != (self.activation_levels is not None):
            raise ValueError("activation_levels: activation='quant' and activation_levels=L "
                             f"go together, got activation={self.activation!r}, "
                             f"activation_levels={self.activation_levels!r}")
        if self.fine_tune_epochs:
            try:
                check_fine_tune(self.encoding, self.input_mode, self.fine_tune_params)
            except ValueError as e:
                raise ValueError(f"fine_tune_epochs: {e}") from None
        try:  # the encoding's own rules (e.g. TTFS neurons have no leak)
            encoding_module(self.encoding).DYNAMICS.make_params(tau=self.tau)
        except ValueError as e:
            raise ValueError(f"tau: {e}") from None

    @classmethod
    def stage_fields(cls, *stages: str) -> frozenset[str]:
        """Names of the fields whose ``metadata["stage"]`` is one of ``stages``."""
        return frozenset(f.name for f in fields(cls) if f.metadata["stage"] in stages)

    def kwargs(self) -> dict:
        """The settings as ``Experiment`` keyword arguments (``Experiment(**cfg.kwargs())``)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def hparams(self) -> dict:
        """Flat, loggable parameters (TensorBoard HParams, sweep tables)."""
        spec = self.model
        model = spec if isinstance(spec, str) else getattr(spec, "name", None) or getattr(
            spec, "__name__", type(spec).__name__)
        dataset = self.dataset if isinstance(self.dataset, str) else "user data"
        tuned = {} if not self.fine_tune_epochs else {
            "fine_tune_epochs": self.fine_tune_epochs,
            "fine_tune_timesteps": self.fine_tune_timesteps or self.timesteps}
        return {**tuned, "dataset": dataset, "model": model, "encoding": self.encoding,
                "timesteps": self.timesteps, "normalization": str(self.normalization),
                "percentile": float(self.percentile), "channelwise": bool(self.channelwise),
                "epochs": self.epochs, "batch_size": self.batch_size, "seed": self.seed,
                "input_mode": self.input_mode, "threshold": float(self.threshold),
                "v_init": "default" if self.v_init is None else float(self.v_init),
                "tau": "none" if self.tau is None else float(self.tau)}


#: Fields that do not change the trained ANN (stages "snn" and "run").
SNN_ONLY_FIELDS: frozenset[str] = ExperimentConfig.stage_fields("snn", "run")
