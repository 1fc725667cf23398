"""TensorBoard HParams summaries of a sweep: the study's hyperparameter domains and objectives,
and per trial its hyperparameter values and objective scalars."""

from __future__ import annotations

import warnings
from pathlib import Path

from tfsnn.sweeps.distributions import OptimizableValue, is_real

__all__ = ["HParamsWriter"]


class HParamsWriter:
    """Writes a sweep's TensorBoard HParams summaries under ``logdir/study_name``.

    ``write_config()`` writes the study-level config (one ``HParam`` per searched value with
    its distribution's domain, one metric ``sweep/<objective>`` per objective);
    ``log_trial(run, values, metrics)`` writes a trial's hyperparameters and objective scalars
    into ``logdir/study_name/run``. ``logdir=None``, or TensorFlow not importable (a warning
    says so), disables it: ``enabled`` is then False and the methods do nothing. TensorFlow is
    imported lazily.
    """

    def __init__(self, logdir, study_name: str, search: dict[str, OptimizableValue],
                 objectives: list[str]):
        self.enabled = False
        if logdir is None:
            return
        try:
            import tensorflow as tf
            from tensorboard.plugins.hparams import summary_v2 as hp
        except ImportError as e:
            warnings.warn(f"TensorFlow is not importable ({e}); the sweep writes no HParams "
                          "summaries to TensorBoard", stacklevel=3)
            return
        self.tf, self.hp = tf, hp
        self.root = Path(logdir) / study_name
        self.search = search
        self.objectives = objectives
        self.hparams = {name: hp.HParam(name, v.distribution.hparams_domain(hp))
                        for name, v in search.items()}
        self.enabled = True

    def write_config(self) -> None:
        """The study's HParams config: hyperparameter domains and objective metrics."""
        if not self.enabled:
            return
        hp = self.hp
        metrics = [hp.Metric(f"sweep/{m}", display_name=m) for m in self.objectives]
        writer = self.tf.summary.create_file_writer(str(self.root))
        with writer.as_default():
            hp.hparams_config(hparams=list(self.hparams.values()), metrics=metrics)
        writer.close()

    def log_trial(self, run: str, values: dict, metrics: dict, session: bool = True) -> None:
        """Objective scalars, and (``session``) the trial's hparams: skip those when the
        Experiment logged its own into the same run (TensorBoard keeps one per run)."""
        if not self.enabled or set(values) != set(self.hparams):
            return
        try:
            self._log_trial(run, values, metrics, session)
        except Exception as e:  # logging must not fail a finished trial
            warnings.warn(f"could not write HParams summaries for {run}: {e}", stacklevel=2)

    def _log_trial(self, run: str, values: dict, metrics: dict, session: bool) -> None:
        hparams = {self.hparams[k]: self.search[k].distribution.hparams_value(v)
                   for k, v in values.items()}
        writer = self.tf.summary.create_file_writer(str(self.root / run))
        with writer.as_default():
            if session:
                self.hp.hparams(hparams, trial_id=f"{self.root.name}/{run}")
            for k, v in metrics.items():
                if is_real(v):
                    self.tf.summary.scalar(f"sweep/{k}", float(v), step=0)
        writer.close()
