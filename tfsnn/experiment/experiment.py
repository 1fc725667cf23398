"""The ``Experiment``: train -> parse -> fold -> normalize -> build SNN -> simulate -> analyse.

    exp = tfsnn.Experiment(name="lenet", dataset="mnist5k", model="lenet", encoding="rate",
                           timesteps=100, normalization="percentile", epochs=5,
                           batch_size=128, seed=0, logdir="tblogs")
    result = exp.run()
    result.ann_accuracy, result.snn_accuracy, result.accuracy_per_step

Each step also works on its own (``train_ann``, ``ann_accuracy``, ``convert``,
``snn_accuracy``, ``snn_activation_analysis``, ``synapse_graph``, ``log``), and every step
runs the ones it needs first. The settings are an ``ExperimentConfig`` (``exp.config``); its
fields are also readable and writable as attributes (``exp.timesteps``, ``exp.encoding``;
``exp.dataset_spec`` and ``exp.model_spec`` for ``dataset`` and ``model``, ``exp.run_name``
for the run's name).
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import keras
import numpy as np

from tfsnn.analysis.statistics import snn_activation_analysis
from tfsnn.analysis.synapse_graph import synapse_graph as make_synapse_graph
from tfsnn.analysis.tensorboard import log_run
from tfsnn.cells import encoding_module
from tfsnn.conversion import convert as convert_ann
from tfsnn.datasets import load_dataset
from tfsnn.experiment.config import ExperimentConfig
from tfsnn.layers import ClampedReLU, clamped_relu_factory
from tfsnn.models import build_model
from tfsnn.quantization import quantized_relu_factory
from tfsnn.training import evaluate_ann
from tfsnn.training import train_ann as fit_ann


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
    #: before/after of the fine-tuning (``Experiment.fine_tune``), None without it
    fine_tune: dict | None = None

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
        for k, v in (self.fine_tune or {}).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                m[f"fine_tune_{k}"] = float(v)
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
        ft = self.fine_tune
        if ft:
            lines.append(f"  fine-tuned        {ft['epochs']} epochs at T={ft['timesteps']}: "
                         f"accuracy {ft['accuracy_before']:.4f} -> {ft['accuracy_after']:.4f}, "
                         f"spikes/image {ft['spikes_per_image_before']:.1f} -> "
                         f"{ft['spikes_per_image_after']:.1f}")
        if self.timings:
            lines.append("  seconds           " + "  ".join(
                f"{k}={v:.1f}" for k, v in self.timings.items()))
        if self.logdir:
            lines.append(f"  TensorBoard logs  {self.logdir}")
        return "\n".join(lines)


def _setting(name: str) -> property:
    """An ``Experiment`` attribute that reads and writes ``config.<name>``."""
    return property(lambda self: getattr(self.config, name),
                    lambda self, value: setattr(self.config, name, value),
                    doc=f"``config.{name}`` (see ``ExperimentConfig``)")


class Experiment:
    """One ANN -> SNN experiment (see module docstring).

    ``Experiment(**kwargs)`` takes the fields of ``ExperimentConfig`` as arguments
    (documented there); ``Experiment(config, **changes)`` takes a config and replaces the
    given fields. Invalid settings raise ``ValueError`` here, before any work. Every field
    is also an attribute that reads and writes the config (``exp.timesteps``); ``dataset``
    and ``model`` are ``exp.dataset_spec`` and ``exp.model_spec`` (``exp.dataset`` is the
    loaded ``Dataset``).
    """

    def __init__(self, *args, **kwargs):
        if args and isinstance(args[0], ExperimentConfig):
            if len(args) > 1:
                raise TypeError("Experiment(config, **changes) takes no further positional "
                                "arguments")
            config = dataclasses.replace(args[0], **kwargs) if kwargs else args[0]
        else:  # the settings, positionally in ExperimentConfig's field order, or by name
            config = ExperimentConfig(*args, **kwargs)
        self.config = config
        self.run_name = config.run or datetime.now().strftime("%Y%m%d-%H%M%S")
        self.timings: dict = {}
        self._dataset = None
        self.ann = None
        self.snn = None
        self.history = None
        self._ann_accuracy = None
        self.snn_result = None
        self.analysis_result = None
        self.snn_converted = None
        self.fine_tune_result = None

    # -- parameters, for logging and sweeps
    def hparams(self) -> dict:
        return self.config.hparams()

    # -- steps
    @property
    def dataset(self):
        if self._dataset is None:
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

    def _activation(self):
        """The activation passed to the model builder (a ClampedReLU for ``ttfs_clamped``)."""
        act = self.activation
        if act is None and self.encoding == "ttfs_clamped":
            act = "clamped_relu"
        if act == "clamped_relu":
            clamp = ClampedReLU().clamp if self.clamp is None else float(self.clamp)
            act = clamped_relu_factory(clamp)
        if act == "quant":
            act = quantized_relu_factory(self.activation_levels)
        return act

    def _build_model(self):
        """``(model, train?)`` from the model setting: a name, a Keras model or a callable."""
        keras.utils.set_random_seed(self.seed)
        ds = self.dataset
        spec = self.model_spec
        if isinstance(spec, keras.Model):
            return spec, bool(self.train)
        if isinstance(spec, str):
            kw = dict(self.model_kwargs)
            act = self._activation()
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
        model, train = self._build_model()
        if train and self.epochs > 0:
            t = time.perf_counter()
            self.history = fit_ann(model, self.dataset, epochs=self.epochs,
                                   batch_size=self.batch_size, seed=self.seed,
                                   learning_rate=self.learning_rate,
                                   early_stopping=self.early_stopping, verbose=self.verbose)
            self.timings["train"] = time.perf_counter() - t
        self.ann = model
        self._ann_accuracy = None
        return model

    def ann_accuracy(self) -> float:
        if self.ann is None:
            self.train_ann()
        if self._ann_accuracy is None:
            self._ann_accuracy = float(evaluate_ann(self.ann, self.x_test, self.y_test))
        return self._ann_accuracy

    def convert(self):
        if self.ann is None:
            self.train_ann()
        params = dict(self.encoding_params)
        if "timesteps" in encoding_module(self.encoding).DEFAULTS:
            params.setdefault("timesteps", self.timesteps)  # TTFS windows fit the run
        t = time.perf_counter()
        self.snn = convert_ann(self.ann, self.dataset.x_train[:self.n_norm],
                               encoding=self.encoding, normalization=self.normalization,
                               percentile=self.percentile, channelwise=self.channelwise,
                               scale=self.scale, threshold=self.threshold, v_init=self.v_init,
                               tau=self.tau, progress=self.verbose > 1, **params)
        self.timings["convert"] = time.perf_counter() - t
        return self.snn

    def fine_tune(self):
        """Fine-tune the converted SNN ``fine_tune_epochs`` epochs at ``fine_tune_timesteps``
        on the training set (``SpikingModel.fine_tune``; the test images are the validation
        data, for the curves only). ``snn`` becomes the fine-tuned SNN (the converted one is
        kept as ``snn_converted``); returns ``fine_tune_result``: the test accuracy (per
        step), spikes per image (per layer) before and after, the Keras history and the
        seconds per epoch."""
        if self.snn is None:
            self.convert()
        steps = self.fine_tune_timesteps or self.timesteps
        kw = {"batch_size": 32, **self.fine_tune_params}
        sim = dict(timesteps=steps, batch_size=self.sim_batch_size)
        before = self.snn.evaluate(self.x_test, self.y_test, **sim)
        keras.utils.set_random_seed(self.seed)
        t = time.perf_counter()
        tuned = self.snn.fine_tune(self.dataset.x_train, self.dataset.y_train, steps,
                                   epochs=self.fine_tune_epochs,
                                   learning_rate=self.fine_tune_learning_rate,
                                   validation_data=(self.x_test, self.y_test),
                                   verbose=2 if self.verbose else 0, **kw)
        self.timings["fine_tune"] = time.perf_counter() - t
        after = tuned.evaluate(self.x_test, self.y_test, **sim)
        self.snn_converted, self.snn, self.snn_result = self.snn, tuned, None

        def per_layer(res):
            return {k: v / res.num_samples for k, v in res.spike_counts.items()
                    if k != res.input_name}

        self.fine_tune_result = {
            "timesteps": steps, "epochs": tuned.meta["fine_tune"]["epochs"],
            "accuracy_before": float(before.accuracy), "accuracy_after": float(after.accuracy),
            "spikes_per_image_before": before.spikes_per_image,
            "spikes_per_image_after": after.spikes_per_image,
            "seconds_per_epoch": tuned.meta["fine_tune"]["seconds_per_epoch"],
            "accuracy_per_step_before": np.asarray(before.accuracy_per_step).tolist(),
            "accuracy_per_step_after": np.asarray(after.accuracy_per_step).tolist(),
            "layer_spikes_before": per_layer(before), "layer_spikes_after": per_layer(after),
            "history": {k: [float(v) for v in vs] for k, vs in tuned.history.history.items()}}
        return self.fine_tune_result

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
        if x is None and self.snn_result is None:
            self.simulate()
        if self.snn is None:
            self.convert()
        return make_synapse_graph(self.snn, x, timesteps=self.timesteps,
                                  input_mode=self.input_mode,
                                  result=None if x is not None else self.snn_result, **kwargs)

    @property
    def run_dir(self) -> Path | None:
        return None if self.logdir is None else Path(self.logdir) / self.name / self.run_name

    def log(self, result: ExperimentResult, plots: bool = True) -> Path | None:
        """Write the TensorBoard logs of ``result`` into ``run_dir``
        (``tfsnn.analysis.tensorboard.log_run``).

        Computes ``result.analysis`` with ``snn_activation_analysis()`` when it is missing.
        Returns the run directory, or None when ``logdir`` is None.
        """
        if self.run_dir is None:
            warnings.warn("Experiment.log: the experiment has logdir=None; nothing is logged",
                          stacklevel=2)
            return None
        if result.analysis is None:
            result.analysis = self.snn_activation_analysis()
        return log_run(self.run_dir, result.analysis, result.metrics(), self.hparams(),
                       result.summary(), trial_id=f"{self.name}/{self.run_name}",
                       ann=self.ann, snn=self.snn, plots=plots, fine_tune=result.fine_tune)

    def run(self) -> ExperimentResult:
        """Train (or take) the ANN, convert, fine-tune (``fine_tune_epochs``), simulate,
        analyse and log; returns the result."""
        ann_acc = self.ann_accuracy()
        if self.fine_tune_epochs and self.fine_tune_result is None:
            self.fine_tune()
        res = self.simulate()
        result = ExperimentResult(
            name=self.name, run=self.run_name, params=self.hparams(), ann_accuracy=ann_acc,
            snn_accuracy=float(res.accuracy), accuracy_per_step=res.accuracy_per_step,
            spikes_per_image=res.spikes_per_image, spike_counts=dict(res.spike_counts),
            timings=dict(self.timings), fine_tune=self.fine_tune_result)
        if self.analysis:
            result.analysis = self.snn_activation_analysis()
        if self.logdir is not None:
            self.log(result)
            result.logdir = str(self.run_dir)
        self.result = result
        return result


#: attribute names of the fields whose own name means something else on an Experiment
#: (``exp.run()`` runs it; the run name is ``exp.run_name``)
_ATTRIBUTE = {"dataset": "dataset_spec", "model": "model_spec", "run": None}
for _field in dataclasses.fields(ExperimentConfig):
    _attr = _ATTRIBUTE.get(_field.name, _field.name)
    if _attr is not None:
        if hasattr(Experiment, _attr):  # a setting must not hide a method
            raise TypeError(f"ExperimentConfig field {_field.name!r} hides Experiment.{_attr}")
        setattr(Experiment, _attr, _setting(_field.name))
