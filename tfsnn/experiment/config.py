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

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from tfsnn.cells import ENCODINGS
from tfsnn.checks import check_timesteps
from tfsnn.simulation import INPUT_MODES


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
        verbose: 0 silent, 1 progress bars, 2 also conversion progress.
        encoding_params: further encoding-specific parameters for ``convert``.
        analysis: compute spike statistics and energy in ``Experiment.run``.
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
    model_kwargs: dict | None = _ann(None)
    verbose: int = _run(1)
    encoding_params: dict | None = _snn(None)
    analysis: bool = _snn(True)

    def __post_init__(self):
        if self.encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {self.encoding!r}; supported: "
                             f"{sorted(ENCODINGS)}")
        if self.input_mode not in INPUT_MODES:
            raise ValueError(f"unknown input_mode {self.input_mode!r}; supported: "
                             f"{INPUT_MODES}")
        self.timesteps = check_timesteps(self.timesteps)
        for k in ("epochs", "batch_size", "n_norm"):
            v = getattr(self, k)
            if not isinstance(v, (int, np.integer)) or v < (0 if k == "epochs" else 1):
                raise ValueError(f"{k} must be a {'non-negative' if k == 'epochs' else 'positive'}"
                                 f" integer, got {v!r}")
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
        return {"dataset": dataset, "model": model, "encoding": self.encoding,
                "timesteps": self.timesteps, "normalization": str(self.normalization),
                "percentile": float(self.percentile), "channelwise": bool(self.channelwise),
                "epochs": self.epochs, "batch_size": self.batch_size, "seed": self.seed,
                "input_mode": self.input_mode, "threshold": float(self.threshold),
                "v_init": "default" if self.v_init is None else float(self.v_init),
                "tau": "none" if self.tau is None else float(self.tau)}


#: Fields that do not change the trained ANN (stages "snn" and "run").
SNN_ONLY_FIELDS: frozenset[str] = ExperimentConfig.stage_fields("snn", "run")
