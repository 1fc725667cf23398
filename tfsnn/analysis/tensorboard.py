"""TensorBoard logs of one run: ``log_run(run_dir, analysis, metrics, hparams, ...)``.

Takes plain data (``Experiment.log`` passes its own); view with
``tensorboard --logdir <logdir>``. Tags (``<layer>`` = a spiking layer, step 0 unless noted):

- Scalars: ``metrics/<key>`` for every finite value of ``metrics``
  (``ExperimentResult.metrics()``: ``ann_accuracy``, ``snn_accuracy``, ``accuracy_loss``,
  ``spikes_per_image``, ``energy_ratio``, ...); ``accuracy/snn_per_step`` (step = t, 1..T);
  ``network/readout_correlation``, ``network/best_snn_accuracy``;
  ``layers/<layer>/<stat>`` for the statistics of ``tfsnn.analysis.statistics.LAYER_SCALARS``;
  ``energy/{ann,snn}_joules``, ``energy/{ann,snn}_macs``, ``energy/snn_acs``,
  ``energy/ratio``; ``energy_layers/<layer>/{ann,snn}_joules`` per synaptic layer;
  ``energy_devices/<device>/<key>`` per row of ``analysis["energy_devices"]``
  (``tfsnn.analysis.energy.energy_table``): ``snn_joules_per_image``,
  ``snn_{synaptic,neuron}_joules_per_image``, ``snn_{macs,synops,neuron_updates}``,
  ``ann_{cpu,gpu}_joules_per_image`` and ``ratio_{cpu,gpu}``.
- Fine-tuning (``fine_tune``, ``Experiment.fine_tune``): ``fine_tune/<metric>`` per epoch
  (step = epoch, 1..E: ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``),
  ``fine_tune/accuracy_per_step_{before,after}`` (step = t at the fine-tuning T),
  ``fine_tune/{accuracy,spikes_per_image}_{before,after}`` and
  ``fine_tune_layers/<layer>/spikes_per_image_{before,after}``.
- Histograms: ``spike_times/<layer>`` (spikes per timestep, one bucket per step, all images),
  ``spike_counts/<layer>`` (spikes per (image, neuron) on the correlation images, one bucket
  per count), ``ann_weights/<weight path>`` (Keras ANN), ``snn_weights/<layer>/{kernel,bias}``
  (the normalized SNN).
- Graphs tab: the ANN traced as a ``tf.function`` (TensorFlow backend only).
- HParams tab: ``hparams`` with the scalars above as metrics.
- Images: ``plots/<name>`` (``tfsnn.analysis.plots``); the PNGs also go to ``<run_dir>/plots/``.
- Text: ``summary`` (``ExperimentResult.summary()``); ``energy_devices`` (the device table
  as markdown, ``energy_table_markdown``); the analysis without arrays goes to
  ``<run_dir>/analysis.json`` (non-finite values as ``null``).

TensorFlow is imported here only. Without it, only the PNGs and the JSON are written and a
warning says so (e.g. on a JAX-only machine).
"""

from __future__ import annotations

import importlib.util
import json
import math
import warnings
from pathlib import Path

import numpy as np

from tfsnn.analysis.energy import energy_table_markdown
from tfsnn.analysis.plots import save_all_plots
from tfsnn.analysis.statistics import LAYER_SCALARS, jsonable


def _finite(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) \
        and math.isfinite(float(v))


def _tag(*parts) -> str:
    return "/".join(str(p).replace(" ", "_") for p in parts)


def _write_buckets(tf, tag, edges_counts, step=0, description=""):
    """A histogram with explicit buckets: rows ``(left, right, count)``."""
    from tensorboard.plugins.histogram import metadata as hist_meta

    data = np.asarray(edges_counts, np.float64).reshape(-1, 3)
    meta = hist_meta.create_summary_metadata(display_name=tag, description=description)
    tf.summary.write(tag, tf.constant(data), step=step, metadata=meta)


def write_analysis_json(path, analysis: dict) -> None:
    """``analysis`` without its arrays as JSON (``statistics.jsonable``: NaN and inf as null)."""
    Path(path).write_text(json.dumps(jsonable(analysis, nonfinite="null"), indent=1))


def log_run(run_dir, analysis: dict, metrics: dict, hparams: dict, summary: str = "", *,
            trial_id: str | None = None, ann=None, snn=None, plots: bool = True,
            fine_tune: dict | None = None) -> Path:
    """Write the TensorBoard logs of one run (see module docstring) into ``run_dir``.

    Args:
        run_dir: the run's directory (created if missing).
        analysis: the dict of ``tfsnn.analysis.statistics.snn_activation_analysis``.
        metrics: scalar metrics (``ExperimentResult.metrics()``).
        hparams: the run's parameters for the HParams tab.
        summary: text shown in the Text tab.
        trial_id: the HParams trial id (e.g. ``"<name>/<run>"``).
        ann: the Keras ANN (weight histograms and graph), or None.
        snn: the ``SpikingModel`` (weight histograms), or None.
        plots: also draw the plots of ``tfsnn.analysis.plots``.
        fine_tune: the before/after of a fine-tuning (``Experiment.fine_tune``), or None.

    Returns ``run_dir`` as a ``Path``.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_analysis_json(run_dir / "analysis.json", analysis)
    png = save_all_plots(analysis, run_dir / "plots") if plots else []
    if importlib.util.find_spec("tensorflow") is None:
        warnings.warn("TensorFlow is not installed: no TensorBoard event files are written "
                      f"(plots and analysis.json are in {run_dir}). Install tensorflow (or "
                      "tensorflow-cpu) to log to TensorBoard.", stacklevel=2)
        return run_dir
    import tensorflow as tf

    writer = tf.summary.create_file_writer(str(run_dir))
    with writer.as_default():
        _log_scalars(tf, metrics, analysis)
        _log_energy_devices(tf, analysis.get("energy_devices"))
        _log_fine_tune(tf, fine_tune)
        _log_histograms(tf, analysis, ann, snn)
        _log_hparams(hparams, trial_id)
        for path in png:
            img = tf.io.decode_png(tf.io.read_file(str(path)), channels=4)
            tf.summary.image(_tag("plots", Path(path).stem), img[None], step=0)
        tf.summary.text("summary", "```\n" + summary + "\n```", step=0)
        writer.flush()
    _log_graph(tf, ann, writer)
    writer.close()
    return run_dir


def _log_scalars(tf, metrics, analysis):
    for k, v in metrics.items():
        if _finite(v):
            tf.summary.scalar(_tag("metrics", k), float(v), step=0)
    net = analysis["network"]
    for t, acc in enumerate(net.get("accuracy_per_step") or [], start=1):
        tf.summary.scalar("accuracy/snn_per_step", float(acc), step=t)
    for k in ("readout_correlation", "best_snn_accuracy"):
        if _finite(net.get(k)):
            tf.summary.scalar(_tag("network", k), float(net[k]), step=0)
    for name, d in analysis["layers"].items():
        for k in LAYER_SCALARS:
            if _finite(d.get(k)):
                tf.summary.scalar(_tag("layers", name, k), float(d[k]), step=0)
    en = analysis.get("energy")
    if en:
        for side in ("ann", "snn"):
            tf.summary.scalar(f"energy/{side}_joules", en[side]["energy"], step=0)
            tf.summary.scalar(f"energy/{side}_macs", en[side]["macs"], step=0)
        tf.summary.scalar("energy/snn_acs", en["snn"]["acs"], step=0)
        if _finite(en["ratio"]):
            tf.summary.scalar("energy/ratio", en["ratio"], step=0)
        for name, row in en["layers"].items():
            for side in ("ann", "snn"):
                tf.summary.scalar(_tag("energy_layers", name, f"{side}_joules"),
                                  row[f"{side}_energy"], step=0)


def _log_fine_tune(tf, ft):
    """The fine-tuning curves and its before/after (see module docstring)."""
    if not ft:
        return
    for k, values in ft.get("history", {}).items():
        for epoch, v in enumerate(values, start=1):
            if _finite(v):
                tf.summary.scalar(_tag("fine_tune", k), float(v), step=epoch)
    for when in ("before", "after"):
        for t, acc in enumerate(ft.get(f"accuracy_per_step_{when}") or [], start=1):
            tf.summary.scalar(f"fine_tune/accuracy_per_step_{when}", float(acc), step=t)
        for k in ("accuracy", "spikes_per_image"):
            if _finite(ft.get(f"{k}_{when}")):
                tf.summary.scalar(f"fine_tune/{k}_{when}", float(ft[f"{k}_{when}"]), step=0)
        for layer, v in (ft.get(f"layer_spikes_{when}") or {}).items():
            tf.summary.scalar(_tag("fine_tune_layers", layer, f"spikes_per_image_{when}"),
                              float(v), step=0)


def _log_energy_devices(tf, rows):
    """Scalars ``energy_devices/<device>/<key>`` and the table as text (``energy_table``)."""
    if not rows:
        return
    for row in rows:
        for k, v in row.items():
            if k.startswith(("snn_", "ann_", "ratio_")) and _finite(v):
                tf.summary.scalar(_tag("energy_devices", row["device"], k), float(v), step=0)
    tf.summary.text("energy_devices", energy_table_markdown(rows), step=0)


def _log_histograms(tf, analysis, ann, snn):
    arrays = analysis.get("_arrays", {}).get("layers", {})
    for name, arr in arrays.items():
        h = np.asarray(arr["step_counts"], np.float64)
        t = np.arange(1, len(h) + 1, dtype=np.float64)
        _write_buckets(tf, _tag("spike_times", name), np.stack([t - 0.5, t + 0.5, h], 1),
                       description="spikes at each time step, all images and neurons")
        c = arr.get("sample_counts")
        if c is not None:
            counts = np.bincount(np.rint(np.asarray(c).ravel()).astype(np.int64),
                                 minlength=int(analysis["network"]["timesteps"]) + 1)
            k = np.arange(len(counts), dtype=np.float64)
            _write_buckets(tf, _tag("spike_counts", name),
                           np.stack([k - 0.5, k + 0.5, counts], 1),
                           description="spike count per (image, neuron), correlation images")
    if ann is not None:
        for w in ann.weights:
            data = np.asarray(w.numpy() if hasattr(w, "numpy") else w)
            tf.summary.histogram(_tag("ann_weights", getattr(w, "path", w.name)), data, step=0)
    if snn is not None:
        for s in snn.specs:
            if s.kernel is not None:
                tf.summary.histogram(_tag("snn_weights", s.name, "kernel"), s.kernel, step=0)
                tf.summary.histogram(_tag("snn_weights", s.name, "bias"), s.bias, step=0)


def _log_hparams(hparams, trial_id):
    from tensorboard.plugins.hparams import api as hp

    hp.hparams(dict(hparams), trial_id=trial_id)


def _log_graph(tf, ann, writer):
    import keras

    if ann is None:
        return
    if keras.backend.backend() != "tensorflow":
        warnings.warn(f"the ANN graph is only logged with the TensorFlow backend (this is "
                      f"{keras.backend.backend()!r})", stacklevel=3)
        return
    shape = (1,) + tuple(int(d) for d in ann.input_shape[1:])
    forward = tf.function(lambda x: ann(x, training=False))
    tf.summary.trace_on(graph=True, profiler=False)
    try:
        forward(tf.zeros(shape, tf.float32))
    finally:
        with writer.as_default():
            tf.summary.trace_export(name="ann", step=0)
