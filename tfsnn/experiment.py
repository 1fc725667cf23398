"""The ``Experiment``: train -> parse -> fold -> normalize -> build SNN -> simulate -> analyse.

    exp = tfsnn.Experiment(name="lenet", dataset="mnist5k", model="lenet", encoding="rate",
                           timesteps=100, normalization="percentile", epochs=5,
                           batch_size=128, seed=0, logdir="tblogs")
    result = exp.run()
    result.ann_accuracy, result.snn_accuracy, result.accuracy_per_step

Each step also works on its own (``train_ann``, ``ann_accuracy``, ``convert``,
``snn_accuracy``, ``snn_activation_analysis``, ``synapse_graph``), and every step runs the
ones it needs first. ``run_config`` runs an experiment described in a YAML or JSON file (the
``tfsnn run`` command).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from tfsnn.simulation import INPUT_MODES


@dataclass
class ExperimentResult:
    name: str
    run: str
    params: dict
    ann_accuracy: float
    snn_accuracy: float
    accuracy_per_step: np.ndarray
    spikes_per_image: float
    spike_counts: dict
    timings: dict = field(default_factory=dict)
    analysis: dict | None = None
    logdir: str | None = None

    def metrics(self) -> dict:
        """Scalar metrics (for sweeps and logging)."""
        t = len(self.accuracy_per_step)
        m = {"ann_accuracy": self.ann_accuracy, "snn_accuracy": self.snn_accuracy,
             "accuracy_loss": self.ann_accuracy - self.snn_accuracy,
             "spikes_per_image": self.spikes_per_image,
             "simulation_seconds": self.timings.get("simulate", float("nan"))}
        for frac in (0.1, 0.25, 0.5):
            k = max(1, int(round(frac * t)))
            m[f"snn_accuracy_t{k}"] = float(self.accuracy_per_step[k - 1])
        # first step at which the SNN is within 1 percentage point of the ANN
        ok = np.nonzero(self.accuracy_per_step >= self.ann_accuracy - 0.01)[0]
        m["latency_to_1pp"] = float(ok[0] + 1) if len(ok) else float("nan")
        if self.analysis and "energy" in self.analysis:
            m["energy_ratio"] = float(self.analysis["energy"].get("ratio", float("nan")))
        return m

    def summary(self) -> str:
        t = len(self.accuracy_per_step)
        steps = sorted({s for s in (1, 5, 10, 25, 50, 100, 250, 500, 1000, t) if s <= t})
        lines = [f"experiment {self.name} / {self.run}",
                 f"  ANN accuracy      {self.ann_accuracy:.4f}",
                 f"  SNN accuracy      {self.snn_accuracy:.4f}  (T={t})",
                 f"  spikes per image  {self.spikes_per_image:.1f}",
                 "  accuracy per step " + "  ".join(
                     f"t={s}:{self.accuracy_per_step[s - 1]:.4f}" for s in steps)]
        if self.timings:
            lines.append("  seconds           " + "  ".join(
                f"{k}={v:.1f}" for k, v in self.timings.items()))
        if self.logdir:
            lines.append(f"  TensorBoard logs  {self.logdir}")
        return "\n".join(lines)


class Experiment:
    """One ANN -> SNN experiment (see module docstring).

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
        encoding_params: further encoding-specific parameters for ``convert``.
    """

    def __init__(self, name="experiment", dataset="digits", model="mlp", encoding="rate",
                 timesteps=100, normalization="percentile", percentile=99.9, channelwise=True,
                 scale=None, epochs=5, batch_size=128, seed=0, logdir="tblogs", run=None,
                 input_mode="constant", threshold=1.0, v_init=None, tau=None, n_norm=1000,
                 n_test=None, sim_batch_size=256, learning_rate=1e-3, early_stopping=False,
                 train=None, activation=None, clamp=None, model_kwargs=None, verbose=1,
                 encoding_params=None, analysis=True):
        from tfsnn.cells import ENCODINGS
        from tfsnn.simulation import _check_timesteps

        if encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {encoding!r}; supported: {sorted(ENCODINGS)}")
        if input_mode not in INPUT_MODES:
            raise ValueError(f"unknown input_mode {input_mode!r}; supported: {INPUT_MODES}")
        self.timesteps = _check_timesteps(timesteps)
        for k, v in (("epochs", epochs), ("batch_size", batch_size), ("n_norm", n_norm)):
            if not isinstance(v, (int, np.integer)) or v < (0 if k == "epochs" else 1):
                raise ValueError(f"{k} must be a {'non-negative' if k == 'epochs' else 'positive'}"
                                 f" integer, got {v!r}")
        self.name = str(name)
        self.run_name = run or datetime.now().strftime("%Y%m%d-%H%M%S")
        self.dataset_spec = dataset
        self.model_spec = model
        self.encoding = encoding
        self.normalization = normalization
        self.percentile = percentile
        self.channelwise = channelwise
        self.scale = scale
        self.epochs = int(epochs)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.logdir = None if logdir is None else str(logdir)
        self.input_mode = input_mode
        self.threshold = threshold
        self.v_init = v_init
        self.tau = tau
        self.n_norm = int(n_norm)
        self.n_test = n_test
        self.sim_batch_size = int(sim_batch_size)
        self.learning_rate = learning_rate
        self.early_stopping = early_stopping
        self.train = train
        self.activation = activation
        self.clamp = clamp
        self.model_kwargs = dict(model_kwargs or {})
        self.verbose = int(verbose)
        self.encoding_params = dict(encoding_params or {})
        self.analysis = analysis
        self.timings: dict = {}
        self._dataset = None
        self.ann = None
        self.snn = None
        self.history = None
        self._ann_accuracy = None
        self.snn_result = None
        self.analysis_result = None

    # -- parameters, for logging and sweeps
    def hparams(self) -> dict:
        spec = self.model_spec
        model = spec if isinstance(spec, str) else getattr(spec, "name", None) or getattr(
            spec, "__name__", type(spec).__name__)
        dataset = self.dataset_spec if isinstance(self.dataset_spec, str) else "user data"
        return {"dataset": dataset, "model": model, "encoding": self.encoding,
                "timesteps": self.timesteps, "normalization": str(self.normalization),
                "percentile": float(self.percentile), "channelwise": bool(self.channelwise),
                "epochs": self.epochs, "batch_size": self.batch_size, "seed": self.seed,
                "input_mode": self.input_mode, "threshold": float(self.threshold),
                "v_init": "default" if self.v_init is None else float(self.v_init),
                "tau": "none" if self.tau is None else float(self.tau)}

    # -- steps
    @property
    def dataset(self):
        if self._dataset is None:
            from tfsnn.datasets import load_dataset

            self._dataset = load_dataset(self.dataset_spec)
        return self._dataset

    @property
    def x_test(self):
        x = self.dataset.x_test
        return x if self.n_test is None else x[:int(self.n_test)]

    @property
    def y_test(self):
        y = self.dataset.y_test
        return y if self.n_test is None else y[:int(self.n_test)]

    def _build_model(self):
        import keras

        from tfsnn.models import build_model

        keras.utils.set_random_seed(self.seed)
        ds = self.dataset
        spec = self.model_spec
        if isinstance(spec, keras.Model):
            return spec, bool(self.train)
        if isinstance(spec, str):
            kw = dict(self.model_kwargs)
            act = self.activation
            if act is None and self.encoding == "ttfs_clamped":
                act = "clamped_relu"
            if act == "clamped_relu":
                from tfsnn.layers import ClampedReLU, clamped_relu_factory

                clamp = ClampedReLU().clamp if self.clamp is None else float(self.clamp)
                act = clamped_relu_factory(clamp)
            if act is not None:
                kw["activation"] = act
            return build_model(spec, ds.input_shape, ds.num_classes, **kw), self.train is not False
        if callable(spec):
            model = spec()
            if not isinstance(model, keras.Model):
                raise TypeError(f"model callable returned {type(model).__name__}, not a "
                                "keras.Model")
            return model, self.train is not False
        raise TypeError(f"model must be a name, a keras.Model or a callable, got {type(spec)}")

    def train_ann(self):
        """Build (or take) the ANN and train it unless it was given trained."""
        from tfsnn.training import train_ann

        model, train = self._build_model()
        if train and self.epochs > 0:
            t = time.perf_counter()
            self.history = train_ann(model, self.dataset, epochs=self.epochs,
                                     batch_size=self.batch_size, seed=self.seed,
                                     learning_rate=self.learning_rate,
                                     early_stopping=self.early_stopping, verbose=self.verbose)
            self.timings["train"] = time.perf_counter() - t
        self.ann = model
        self._ann_accuracy = None
        return model

    def ann_accuracy(self) -> float:
        from tfsnn.training import evaluate_ann

        if self.ann is None:
            self.train_ann()
        if self._ann_accuracy is None:
            self._ann_accuracy = float(evaluate_ann(self.ann, self.x_test, self.y_test))
        return self._ann_accuracy

    def convert(self):
        from tfsnn.conversion import convert

        if self.ann is None:
            self.train_ann()
        from tfsnn.cells import encoding_module

        params = dict(self.encoding_params)
        if "timesteps" in getattr(encoding_module(self.encoding), "DEFAULTS", {}):
            params.setdefault("timesteps", self.timesteps)  # TTFS windows fit the run
        t = time.perf_counter()
        self.snn = convert(self.ann, self.dataset.x_train[:self.n_norm], encoding=self.encoding,
                           normalization=self.normalization, percentile=self.percentile,
                           channelwise=self.channelwise, scale=self.scale,
                           threshold=self.threshold, v_init=self.v_init, tau=self.tau,
                           progress=self.verbose > 1, **params)
        self.timings["convert"] = time.perf_counter() - t
        return self.snn

    def simulate(self, **kwargs):
        """Simulate the test set; returns the ``SimulationResult`` (kept as ``snn_result``)."""
        if self.snn is None:
            self.convert()
        t = time.perf_counter()
        kw = dict(timesteps=self.timesteps, batch_size=self.sim_batch_size,
                  input_mode=self.input_mode, seed=self.seed, verbose=self.verbose)
        kw.update(kwargs)
        self.snn_result = self.snn.evaluate(self.x_test, self.y_test, **kw)
        self.timings["simulate"] = time.perf_counter() - t
        return self.snn_result

    def snn_accuracy(self) -> float:
        if self.snn_result is None:
            self.simulate()
        return self.snn_result.accuracy

    def snn_activation_analysis(self, **kwargs) -> dict:
        """Spike statistics, ANN/SNN correlation and energy (``tfsnn.analysis.statistics``)."""
        from tfsnn.analysis.statistics import snn_activation_analysis

        if self.snn is None:
            self.convert()
        kwargs.setdefault("verbose", self.verbose)
        self.analysis_result = snn_activation_analysis(
            self.ann, self.snn, self.x_test, self.y_test, timesteps=self.timesteps,
            input_mode=self.input_mode, batch_size=self.sim_batch_size, seed=self.seed,
            result=self.snn_result, ann_accuracy=self.ann_accuracy(), **kwargs)
        return self.analysis_result

    def synapse_graph(self, x=None, **kwargs):
        """The synapse graph with the rates of the simulated test set (or of ``x``)."""
        from tfsnn.analysis.synapse_graph import synapse_graph

        if x is None and self.snn_result is None:
            self.simulate()
        if self.snn is None:
            self.convert()
        return synapse_graph(self.snn, x, timesteps=self.timesteps, input_mode=self.input_mode,
                             result=None if x is not None else self.snn_result, **kwargs)

    @property
    def run_dir(self) -> Path | None:
        return None if self.logdir is None else Path(self.logdir) / self.name / self.run_name

    def run(self) -> ExperimentResult:
        """Train (or take) the ANN, convert, simulate, analyse and log; returns the result."""
        ann_acc = self.ann_accuracy()
        res = self.simulate()
        result = ExperimentResult(
            name=self.name, run=self.run_name, params=self.hparams(), ann_accuracy=ann_acc,
            snn_accuracy=float(res.accuracy), accuracy_per_step=res.accuracy_per_step,
            spikes_per_image=res.spikes_per_image, spike_counts=dict(res.spike_counts),
            timings=dict(self.timings))
        if self.analysis:
            result.analysis = self.snn_activation_analysis()
        if self.logdir is not None:
            from tfsnn.analysis.tensorboard import log_experiment

            log_experiment(self, result)
            result.logdir = str(self.run_dir)
        self.result = result
        return result


# ----------------------------------------------------------------------------- configs
def load_config(path) -> dict:
    """Read a YAML or JSON experiment/sweep config into a dict."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no config file at {path}")
    text = path.read_text()
    if path.suffix == ".json":
        cfg = json.loads(text)
    else:
        import yaml

        cfg = yaml.safe_load(text)
    if not isinstance(cfg, dict):
        raise ValueError(f"{path}: a config must be a mapping of Experiment arguments")
    return cfg


def experiment_kwargs(cfg: dict) -> dict:
    """Experiment arguments from a config: the ``experiment:`` section or the top level."""
    kw = dict(cfg.get("experiment", cfg))
    import inspect

    allowed = set(inspect.signature(Experiment.__init__).parameters) - {"self"}
    unknown = set(kw) - allowed
    if unknown:
        raise ValueError(f"unknown experiment setting(s) {sorted(unknown)}; allowed: "
                         f"{sorted(allowed)}")
    return kw


def run_config(path, overrides=()) -> ExperimentResult:
    """Run the experiment described by a config file; ``overrides`` are "key=value" strings."""
    import yaml

    kw = experiment_kwargs(load_config(path))
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not of the form key=value")
        k, v = item.split("=", 1)
        kw[k.strip()] = yaml.safe_load(v)
    kw = experiment_kwargs(kw)
    result = Experiment(**kw).run()
    return result
