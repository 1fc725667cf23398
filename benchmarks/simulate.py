"""Simulation speed and memory: images/s of the SNN against the ANN run T times (ANNxT).

    python benchmarks/simulate.py                          # all models, T = 50, 100, 500
    python benchmarks/simulate.py --models lenet --timesteps 100 --batch-sizes 256 --repeats 5
    KERAS_BACKEND=jax python benchmarks/simulate.py --models lenet,mlp

Models: ``lenet`` trained briefly on mnist5k (weights cached in ``benchmarks/.cache``, which
is git-ignored), ``mlp`` (random weights, mnist5k images) and ``vgg_small`` (random weights,
random CIFAR-10-shaped images). For each model, T and batch size B it prints

- ``SNN img/s``: ``snn.simulate`` on ``--batches`` batches of B images (median of
  ``--repeats`` runs after one compiling run on one batch, whose time is ``first call s``),
  constant-current input; ``SNN accuracy`` on those images (LeNet only);
- ``ANNxT img/s``: the ANN's forward pass on the same batches, T times, in the same process;
  the fastest of four methods (``ann_x_t``: T calls on B images or T copies folded into
  batches of up to 8192 MNIST-sized images; ``predict_on_batch`` or a compiled forward),
  chosen by one timing of each, then timed after every SNN run; ``ratio`` = SNN time /
  ANNxT time per repeat, median (min-max) over repeats (< 1: the SNN is faster than
  running the ANN T times);
- with ``--memory``: peak RSS of a fresh process that simulates ``--batches`` batches at
  ``--memory-timesteps`` (default 100 and 1000), and the growth ``peak(T_max) / peak(T_min)``
  and the growth of the simulation's own increment (peak minus RSS before simulating).

``--markdown FILE`` appends the tables and the exact command line to FILE.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import trained  # noqa: E402

MODELS = ("lenet", "mlp", "vgg_small")


def build(model: str, n_images: int, seed: int = 0):
    """``(ann, snn, x, y)`` for a benchmark model; ``x`` holds ``n_images`` images."""
    import keras

    import tfsnn
    from tfsnn.models import build_model

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    if model == "vgg_small":
        ann = build_model("vgg_small", (32, 32, 3), 10)
        x = rng.random((n_images, 32, 32, 3), dtype=np.float32)
        y = rng.integers(0, 10, n_images)
        x_norm = x[:128]
    else:
        from tfsnn.datasets import load_dataset

        ds = load_dataset("mnist5k")
        if model == "lenet":
            ann = trained("lenet", ds, 3, seed)
        else:
            ann = build_model(model, ds.input_shape, ds.num_classes)
        reps = -(-n_images // len(ds.x_test))
        x = np.concatenate([ds.x_test] * reps)[:n_images]
        y = np.concatenate([ds.y_test] * reps)[:n_images]
        x_norm = ds.x_train[:500]
    snn = tfsnn.convert(ann, x_norm)
    return ann, snn, x, y


#: input values per forward pass of the folded ANNxT method (8192 MNIST images)
FOLD_VALUES = 8192 * 784


def ann_x_t(ann, x, batch_size, timesteps):
    """Timers for the ANN forward pass T times: ``{method: fn() -> seconds}``.

    ``T calls``: T forward passes on each batch of B images; ``folded``: the batch repeated
    ``r`` times (up to T, ``FOLD_VALUES`` input values) in one forward pass, ``ceil(T / r)``
    passes.
    Each with ``predict_on_batch`` and with a compiled forward (``tfsnn.backend.jit``).
    """
    from keras import ops

    from tfsnn.backend import jit

    fwd = jit(lambda xb: ann(xb, training=False))
    batches = [x[i:i + batch_size] for i in range(0, len(x), batch_size)]
    r = max(1, min(timesteps, FOLD_VALUES // (batch_size * int(np.prod(x.shape[1:])))))
    n_full, rest = divmod(timesteps, r)

    def plan(b, folded):
        if not folded:
            return [b] * timesteps
        big = np.concatenate([b] * r)
        return [big] * n_full + ([big[:rest * len(b)]] if rest else [])

    def timer(folded, compiled):
        calls = [plan(b, folded) for b in batches]
        if compiled:
            calls = [[ops.convert_to_tensor(a) for a in c] for c in calls]

        def run():
            t = time.perf_counter()
            for c in calls:
                out = None
                for a in c:
                    out = fwd(a) if compiled else ann.predict_on_batch(a)
                ops.convert_to_numpy(out)
            return time.perf_counter() - t
        return run

    return {f"{'folded' if f else 'T calls'}, {'compiled' if c else 'predict_on_batch'}":
            timer(f, c) for f in (False, True) for c in (False, True)}


def bench_speed(model, timesteps, batch_sizes, n_batches, repeats, chunk=None):
    rows = []
    ann, snn, x_all, y_all = build(model, max(batch_sizes) * n_batches)
    for b in batch_sizes:
        x, y = x_all[:b * n_batches], y_all[:b * n_batches]
        for t_steps in timesteps:
            timers = ann_x_t(ann, x, b, t_steps)
            t0 = time.perf_counter()
            snn.evaluate(x[:b], y[:b], timesteps=t_steps, batch_size=b, chunk=chunk)  # compile
            first_s = time.perf_counter() - t0
            for f in timers.values():  # compile the ANN paths
                f()
            first = {k: f() for k, f in timers.items()}
            method = min(first, key=first.get)  # the fastest, timed in every repeat
            sim, ann_t, ratios, acc = [], [], [], None
            for _ in range(repeats):
                t0 = time.perf_counter()
                res = snn.evaluate(x, y, timesteps=t_steps, batch_size=b, chunk=chunk)
                sim.append(time.perf_counter() - t0)
                acc = res.accuracy
                ann_t.append(timers[method]())
                ratios.append(sim[-1] / ann_t[-1])
            n = len(x)
            rows.append({"model": model, "T": t_steps, "batch": b, "images": n,
                         "snn_img_s": n / np.median(sim),
                         "ann_img_s": n / np.median(ann_t), "ann_method": method,
                         "ratio": float(np.median(ratios)), "ratio_min": float(np.min(ratios)),
                         "ratio_max": float(np.max(ratios)),
                         "first_call_s": first_s, "accuracy": acc})
            print(_row_text(rows[-1]), flush=True)
    return rows


def _row_text(r):
    acc = f"{r['accuracy']:.3f}" if r["model"] == "lenet" else ""
    return (f"| {r['model']} | {r['T']} | {r['batch']} | {r['snn_img_s']:.0f} | "
            f"{r['ann_img_s']:.0f} | {r['ratio']:.2f} ({r['ratio_min']:.2f}-{r['ratio_max']:.2f})"
            f" | {r['ann_method']} | {acc} | {r['first_call_s']:.1f} |")


SPEED_HEADER = ("| model | T | batch | SNN img/s | ANNxT img/s | ratio SNN/ANNxT (min-max) | "
                "ANNxT method | SNN accuracy | first call s |\n|---|---|---|---|---|---|---|---|---|")


# ----------------------------------------------------------------------------- memory
def _status_mb(field: str) -> float:
    """A memory field of /proc/self/status in MiB (VmRSS: now, VmHWM: peak).

    Not ``ru_maxrss``: a child process inherits its parent's peak through fork and exec.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"no {field} in /proc/self/status")


def memory_probe(model, timesteps, batch_size, n_batches):
    """Run in a fresh process: RSS before and peak after simulating (MiB)."""
    _, snn, x, _ = build(model, batch_size * n_batches)
    before_peak, before = _status_mb("VmHWM"), _status_mb("VmRSS")
    snn.simulate(x, timesteps=timesteps, batch_size=batch_size)
    return {"model": model, "T": timesteps, "batch": batch_size, "rss_before_mb": before,
            "peak_before_mb": before_peak, "peak_mb": _status_mb("VmHWM")}


def bench_memory(model, timesteps, batch_size, n_batches):
    rows = []
    for t_steps in timesteps:
        cmd = [sys.executable, __file__, "--_probe", json.dumps(
            [model, t_steps, batch_size, n_batches])]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    lo, hi = rows[0], rows[-1]
    growth = hi["peak_mb"] / lo["peak_mb"]
    inc = [(r["peak_mb"] - r["rss_before_mb"]) for r in (lo, hi)]
    text = [f"| {r['model']} | {r['T']} | {r['batch']} | {r['rss_before_mb']:.0f} | "
            f"{r['peak_mb']:.0f} | {r['peak_mb'] - r['rss_before_mb']:.0f} |" for r in rows]
    summary = (f"{model}, batch {batch_size}: peak RSS T={hi['T']} / T={lo['T']} = "
               f"{growth:.3f}; simulation increment {inc[0]:.0f} -> {inc[1]:.0f} MiB")
    for line in text:
        print(line, flush=True)
    print(summary, flush=True)
    return text, summary


MEMORY_HEADER = ("| model | T | batch | RSS before simulate (MiB) | peak RSS (MiB) | "
                 "increment (MiB) |\n|---|---|---|---|---|---|")


def _environment() -> str:
    import keras

    from tfsnn.backend import backend_name, device_kind

    name = backend_name()
    if name == "jax":
        import jax

        ver = f"jax {jax.__version__}"
        dev = ", ".join(str(d) for d in jax.devices())
    else:
        import tensorflow as tf

        ver = f"tensorflow {tf.__version__}"
        dev = device_kind()
    return (f"backend {name} ({ver}, keras {keras.__version__}), device {dev}, "
            f"{os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}")


def _ints(s):
    return [int(v) for v in s.split(",") if v]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated: " +
                   ", ".join(MODELS))
    p.add_argument("--timesteps", default="50,100,500", type=_ints)
    p.add_argument("--batch-sizes", default=None, type=_ints,
                   help="default: 64,256 (vgg_small: 32,64)")
    p.add_argument("--batches", default=1, type=int, help="batches per timed run")
    p.add_argument("--repeats", default=3, type=int)
    p.add_argument("--chunk", default=None, type=int, help="timesteps per chunk (default: auto)")
    p.add_argument("--memory", action="store_true", help="also measure peak RSS")
    p.add_argument("--memory-timesteps", default="100,1000", type=_ints)
    p.add_argument("--memory-batch", default=None, type=int,
                   help="default: 256 (vgg_small: 64)")
    p.add_argument("--no-speed", action="store_true", help="skip the speed table")
    p.add_argument("--markdown", default=None, help="append the results to this file")
    p.add_argument("--_probe", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._probe:
        print(json.dumps(memory_probe(*json.loads(args._probe))))
        return
    models = [m for m in args.models.split(",") if m]
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        p.error(f"unknown models {unknown}; choose from {list(MODELS)}")
    env = _environment()
    cmd = " ".join(["python benchmarks/simulate.py"] + (argv if argv is not None
                                                       else sys.argv[1:]))
    if os.environ.get("KERAS_BACKEND"):
        cmd = f"KERAS_BACKEND={os.environ['KERAS_BACKEND']} {cmd}"
    print(env)
    lines = [f"`{cmd}`", "", env, ""]
    if not args.no_speed:
        print(SPEED_HEADER)
        rows = []
        for m in models:
            bs = args.batch_sizes or ([32, 64] if m == "vgg_small" else [64, 256])
            rows += bench_speed(m, args.timesteps, bs, args.batches, args.repeats, args.chunk)
        lines += [SPEED_HEADER] + [_row_text(r) for r in rows] + [""]
    if args.memory:
        print(MEMORY_HEADER)
        lines.append(MEMORY_HEADER)
        summaries = []
        for m in models:
            mb = args.memory_batch or (64 if m == "vgg_small" else 256)
            text, summary = bench_memory(m, args.memory_timesteps, mb, args.batches)
            lines += text
            summaries.append(summary)
        lines += [""] + [f"- {s}" for s in summaries] + [""]
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
