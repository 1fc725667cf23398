"""Plots of an analysis (``snn_activation_analysis``), drawn with matplotlib's Agg renderer.

Every function takes the analysis dict, returns a ``matplotlib.figure.Figure`` and, with
``path=``, also saves it as a PNG. ``save_all_plots(analysis, outdir)`` writes them all:

- ``spike_raster.png``: spikes of every neuron over time, one panel per layer, for one image
- ``spike_count_histogram.png``: spike counts per (image, neuron), one panel per layer
- ``accuracy_vs_time.png``: SNN accuracy at every step, with the ANN accuracy for reference
- ``ann_vs_snn.png``: normalized ANN activation against SNN rate, one panel per layer
- ``energy_per_layer.png``: ANN and SNN energy per layer
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

PLOTS = ("spike_raster", "spike_count_histogram", "accuracy_vs_time", "ann_vs_snn",
         "energy_per_layer")


def _figure(n_panels=1, panel_size=(4.0, 3.2), max_cols=4):
    from matplotlib.figure import Figure  # no pyplot: no global state, Agg when saved

    cols = min(max(n_panels, 1), max_cols)
    rows = max(1, math.ceil(n_panels / cols))
    fig = Figure(figsize=(panel_size[0] * cols, panel_size[1] * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, axes[:max(n_panels, 1)]


def _save(fig, path):
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png", dpi=100)
    return fig


def _arrays(analysis):
    if not isinstance(analysis, dict) or "layers" not in analysis:
        raise TypeError("expected the dict returned by snn_activation_analysis")
    arr = analysis.get("_arrays")
    if arr is None:
        raise ValueError("this analysis has no '_arrays' (it was loaded from JSON?); the plots "
                         "need the dict returned by snn_activation_analysis itself")
    return arr


def _no_data(ax, text):
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_spike_raster(analysis, sample=0, path=None, max_neurons=None):
    """Raster of every spiking layer for one recorded image: x time step, y neuron index
    (a black pixel per spike)."""
    layers = _arrays(analysis)["layers"]
    names = list(layers)
    fig, axes = _figure(len(names), (4.2, 3.4))
    for ax, name in zip(axes, names):
        train = layers[name].get("spike_train")
        ax.set_title(name)
        if train is None or train.shape[1] <= sample:
            _no_data(ax, f"image {sample} not recorded\n(record_samples)")
            continue
        s = np.asarray(train[:, sample]).reshape(train.shape[0], -1)
        if max_neurons is not None:
            s = s[:, :max_neurons]
        # an image (neurons x steps) rather than markers: readable for thousands of neurons
        ax.imshow(s.T > 0, aspect="auto", cmap="Greys", origin="lower", vmin=0, vmax=1,
                  interpolation="antialiased", extent=(0.5, s.shape[0] + 0.5, -0.5,
                                                        s.shape[1] - 0.5))
        ax.set_xlabel("time step")
        ax.set_ylabel("neuron (flat index)")
        ax.set_title(f"{name}: {int(np.count_nonzero(s))} spikes, {s.shape[1]} neurons",
                     fontsize=9)
    fig.suptitle(f"spike raster, image {sample}")
    return _save(fig, path)


def plot_spike_count_histograms(analysis, path=None):
    """Histogram of spike counts per (image, neuron) on the correlation images, per layer."""
    layers = _arrays(analysis)["layers"]
    T = int(analysis["network"]["timesteps"])
    names = list(layers)
    fig, axes = _figure(len(names))
    for ax, name in zip(axes, names):
        c = layers[name].get("sample_counts")
        if c is None:
            _no_data(ax, "no per-image counts\n(n_correlation=0)")
            ax.set_title(name)
            continue
        c = np.rint(np.asarray(c).ravel()).astype(np.int64)
        h = np.bincount(np.clip(c, 0, T), minlength=T + 1)
        ax.bar(np.arange(T + 1), h, width=1.0, color="tab:blue")
        ax.set_yscale("log")
        ax.set_xlabel("spikes per neuron and image")
        ax.set_ylabel("(image, neuron) pairs")
        silent = analysis["layers"][name]["silent_pair_fraction"]
        ax.set_title(f"{name}: silent {100 * h[0] / max(h.sum(), 1):.0f}% (these "
                     f"{len(np.asarray(layers[name]['sample_counts']))} images), "
                     f"{100 * silent:.0f}% (all)", fontsize=9)
    fig.suptitle("spike counts")
    return _save(fig, path)


def plot_accuracy_vs_time(analysis, path=None):
    """SNN accuracy at every time step, the ANN accuracy as a horizontal line."""
    net = analysis["network"]
    fig, (ax,) = _figure(1, (6.0, 4.0))
    acc = net.get("accuracy_per_step")
    if acc is None:
        _no_data(ax, "no labels: no accuracy")
    else:
        t = np.arange(1, len(acc) + 1)
        ax.plot(t, acc, color="tab:blue", label=f"SNN (T={len(acc)}: {acc[-1]:.4f})")
        ann = net.get("ann_accuracy", math.nan)
        if ann == ann:
            ax.axhline(ann, color="tab:red", ls="--", label=f"ANN ({ann:.4f})")
        ax.set_xlabel("time step t")
        ax.set_ylabel("accuracy")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    ax.set_title("accuracy vs. simulation time")
    return _save(fig, path)


def plot_ann_vs_snn(analysis, path=None, max_points=20000, seed=0):
    """Scatter of the normalized ANN activation (x) against the SNN rate, or for TTFS the
    decoded spike time (y), per layer."""
    layers = _arrays(analysis)["layers"]
    names = list(layers)
    rng = np.random.default_rng(seed)
    what = {"rate": "rate (spikes / step)"}.get(
        analysis["network"].get("snn_value", "rate"), "decoded spike time (g(k))")
    fig, axes = _figure(len(names), (3.6, 3.4))
    for ax, name in zip(axes, names):
        a = layers[name].get("ann_activation")
        c = layers[name].get("sample_counts")
        ax.set_title(name)
        if a is None or c is None:
            _no_data(ax, "no correlation images\n(n_correlation=0)")
            continue
        T = int(analysis["network"]["timesteps"])
        a = np.asarray(a).ravel()
        v = layers[name].get("snn_value")
        r = np.asarray(c).ravel() / T if v is None else np.asarray(v).ravel()
        if a.size > max_points:
            keep = rng.choice(a.size, max_points, replace=False)
            a, r = a[keep], r[keep]
        ax.scatter(a, r, s=2, alpha=0.3, color="tab:blue", linewidths=0)
        top = max(1.0, float(a.max()) if a.size else 1.0)
        ax.plot([0, 1, top], [0, 1, 1], color="tab:red", lw=1, label="clip(a, 0, 1)")
        rc = analysis["layers"][name].get("rate_correlation", math.nan)
        ax.set_title(f"{name}: r = {rc:.3f}")
        ax.set_xlabel("ANN activation / lambda")
        ax.set_ylabel(f"SNN {what}")
        ax.legend(loc="upper left", fontsize=8)
    fig.suptitle(f"ANN activation vs. SNN {what}")
    return _save(fig, path)


def plot_energy(analysis, path=None):
    """ANN and SNN energy per layer (log scale); the total ratio in the title."""
    en = analysis["energy"] if "energy" in analysis else analysis
    rows = en["layers"]
    names = list(rows)
    fig, (ax,) = _figure(1, (max(5.0, 1.1 * len(names) + 2), 4.0))
    x = np.arange(len(names))
    top = max([en["ann"]["energy"], en["snn"]["energy"], 1e-300])
    scale, unit = next((f, u) for f, u in ((1e12, "pJ"), (1e9, "nJ"), (1e6, "uJ"), (1e3, "mJ"),
                                           (1.0, "J")) if top * f < 1e4 or u == "J")
    ann = np.array([rows[k]["ann_energy"] for k in names]) * scale
    snn = np.array([rows[k]["snn_energy"] for k in names]) * scale
    ax.bar(x - 0.2, ann, 0.4, label=f"ANN ({en['ann']['energy'] * scale:.4g} {unit})",
           color="tab:red")
    ax.bar(x + 0.2, snn, 0.4, label=f"SNN ({en['snn']['energy'] * scale:.4g} {unit})",
           color="tab:blue")
    ax.set_xticks(x, names, rotation=30, ha="right")
    if np.any(ann > 0) or np.any(snn > 0):
        ax.set_yscale("log")
    ax.set_ylabel(f"energy per image ({unit})")
    ax.legend()
    p = en["params"]
    ax.set_title(f"SNN/ANN = {en['ratio']:.3g}  (T={p['timesteps']}, "
                 f"{p['e_mac'] * 1e12:.2g} pJ/MAC, {p['e_ac'] * 1e12:.2g} pJ/AC)")
    return _save(fig, path)


def save_all_plots(analysis, outdir) -> list:
    """Write every plot as ``<outdir>/<name>.png``; returns the paths."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    makers = {"spike_raster": plot_spike_raster,
              "spike_count_histogram": plot_spike_count_histograms,
              "accuracy_vs_time": plot_accuracy_vs_time, "ann_vs_snn": plot_ann_vs_snn,
              "energy_per_layer": plot_energy}
    paths = []
    for name in PLOTS:
        path = outdir / f"{name}.png"
        fig = makers[name](analysis, path=path)
        fig.clf()
        paths.append(path)
    return paths
