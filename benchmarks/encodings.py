"""Rate vs time-to-first-spike encodings on mnist5k: accuracy and spikes per image.

    python benchmarks/encodings.py [--epochs 15] [--steps 25 50 100]
                                   [--variants relu clamp:0.3 bn bn+clamp:1]
                                   [--out docs/encodings.md]

Trains the LeNet-style example and the MLP (``build_model("lenet" | "mlp")``) once per ANN
variant (weights cached in benchmarks/.cache/): ``relu``; ``clamp:C`` = ``ClampedReLU(C)``;
``bn`` = BatchNormalization before every hidden activation (``batchnorm=True``, folded at
conversion); ``l1:A`` = ``activity_l1=A``; combined with ``+``. Each ANN is converted with
rate coding and two TTFS encodings (``ttfs`` and ``ttfs_dyn_thresh``, or ``ttfs_clamped``
for clamped ANNs) and simulated on the 1,000 test images. Rate coding is simulated once at the
largest T (accuracy and spikes at every smaller T come from the same run, as does the number
of spikes rate coding needs to first reach a given accuracy); every TTFS encoding is
converted and simulated for each T, since its window is ``T // (layers + 1)``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

import tfsnn  # noqa: E402
from tfsnn.datasets import load_dataset  # noqa: E402
from tfsnn.training import evaluate_ann  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import trained  # noqa: E402


def parse_variant(text):
    """``"bn+clamp:1"`` -> ``{"batchnorm": True, "clamp": 1.0}`` (see the module docstring)."""
    out = {}
    for part in text.split("+"):
        key, _, val = part.partition(":")
        if key == "relu" and not val:
            continue
        if key == "bn" and not val:
            out["batchnorm"] = True
        elif key in ("clamp", "l1") and val:
            out["clamp" if key == "clamp" else "activity_l1"] = float(val)
        else:
            raise ValueError(f"unknown ANN variant part {part!r} in {text!r}; use relu, bn, "
                             "clamp:C, l1:A joined by +")
    return out


def variant_label(v):
    parts = (["BN"] if v.get("batchnorm") else []) + [
        f"ClampedReLU({v['clamp']:g})" if v.get("clamp") else "ReLU"]
    if v.get("activity_l1"):
        parts.append(f"L1 {v['activity_l1']:g}")
    return " + ".join(parts)


def cumulative_spikes(res):
    """Spikes per image up to each step t = 1..T (all spiking layers)."""
    per_step = sum(s.step_counts for s in res.layer_stats.values())
    return np.cumsum(per_step) / res.num_samples


def rate_to_reach(acc_curve, spikes_curve, target):
    """(step, spikes/image) at which rate coding first reaches ``target`` accuracy."""
    hit = np.nonzero(acc_curve >= target - 1e-9)[0]
    if not len(hit):
        return None, None
    return int(hit[0]) + 1, float(spikes_curve[hit[0]])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--variants", nargs="+", default=["relu", "clamp:0.3", "bn", "bn+clamp:1"],
                   help="ANN variants (relu, bn, clamp:C, l1:A, joined by +)")
    p.add_argument("--steps", type=int, nargs="+", default=[25, 50, 100])
    p.add_argument("--models", nargs="+", default=["lenet", "mlp"])
    p.add_argument("--rate-steps", type=int, default=None,
                   help="length of the rate simulation (default: max of --steps)")
    p.add_argument("--out", default=str(Path(__file__).parents[1] / "docs" / "encodings.md"))
    args = p.parse_args(argv)
    ds = load_dataset("mnist5k")
    x_norm = ds.x_train[:1000]
    t_rate = args.rate_steps or max(args.steps)
    rows = []  # (model, activation, ann acc, encoding, T, window, acc, spikes, rate t, rate s)
    curves = {}  # (model, activation) -> rate coding's accuracy and spikes per step

    def log(row):
        rows.append(row)
        m, act, ann, enc, T, w, acc, spi, rt, rs = row
        print(f"{m:<6} {act:<14} ANN {ann:.4f}  {enc:<16} T={T:<4} w={w!s:<4} "
              f"acc {acc:.4f} ({100 * (acc - ann):+.1f})  spikes/img {spi:8.0f}  "
              f"rate reaches it at t={rt} with {rs if rs is None else round(rs)}", flush=True)

    for name in args.models:
        for text in args.variants:
            variant = parse_variant(text)
            clamp = variant.get("clamp")
            t0 = time.perf_counter()
            ann = trained(name, ds, args.epochs, args.seed, **variant)
            ann_acc = evaluate_ann(ann, ds.x_test, ds.y_test)
            act = variant_label(variant)
            print(f"{name} {act}: ANN {ann_acc:.4f} ({time.perf_counter() - t0:.0f}s)")
            rate = tfsnn.convert(ann, x_norm, encoding="rate").evaluate(
                ds.x_test, ds.y_test, timesteps=t_rate, batch_size=250)
            acc_curve, spk_curve = rate.accuracy_per_step, cumulative_spikes(rate)
            curves[(name, act)] = (acc_curve, spk_curve)
            for T in args.steps:
                a = float(acc_curve[T - 1])
                log((name, act, ann_acc, "rate", T, None, a, float(spk_curve[T - 1]),
                     *rate_to_reach(acc_curve, spk_curve, a)))
            encs = ("ttfs", "ttfs_dyn_thresh") if clamp is None else ("ttfs", "ttfs_clamped")
            for enc in encs:
                for T in args.steps:
                    snn = tfsnn.convert(ann, x_norm, encoding=enc, timesteps=T)
                    res = snn.evaluate(ds.x_test, ds.y_test, timesteps=T, batch_size=250)
                    log((name, act, ann_acc, enc, T, snn.dyn_params["window"], res.accuracy,
                         res.spikes_per_image,
                         *rate_to_reach(acc_curve, spk_curve, res.accuracy)))
    write_table(rows, curves, args, argv, t_rate)


def write_table(rows, curves, args, argv, t_rate):
    lines = [
        "## Results: mnist5k",
        "",
        f"`build_model(\"lenet\")` (average pooling) and `build_model(\"mlp\")` trained "
        f"{args.epochs} epochs on the 4,000 mnist5k training images (seed {args.seed}), as "
        f"the ANN variants {', '.join(f'`{v}`' for v in args.variants)} (column ANN; BN = "
        "`batchnorm=True`, ClampedReLU(C) = `activation=clamped_relu_factory(C)`); "
        "1,000 test images; default conversion (99.9th percentile, channel-wise). T = simulated steps; for TTFS the window per layer is "
        "`T // (layers + 1)` (column w). Accuracy difference to the ANN in percentage points "
        "in brackets. *Rate, same T*: rate coding's spikes per image at the same T, and how many "
        "times more that is. *Rate, same accuracy*: spikes per image rate coding needs to first "
        f"reach the same accuracy (from one rate simulation of {t_rate} steps; `-` = never "
        "within it), and how many times more that is. *Rate, any ANN*: the fewest spikes per "
        "image with which rate coding first reaches the same accuracy on any ANN variant of "
        "the same model (which variant in brackets).",
        "",
        "| model | ANN | ANN acc. | encoding | T | w | SNN acc. | spikes/image "
        "| rate, same T: spikes/image (ratio) | rate, same accuracy: t, spikes/image (ratio) "
        "| rate, any ANN: spikes/image (ratio, ANN) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    rate_at = {(m, act, T): spi for m, act, _, enc, T, _, _, spi, _, _ in rows if enc == "rate"}
    for m, act, ann, enc, T, w, acc, spi, rt, rs in rows:
        if rt is None:
            same = "-"
        elif enc == "rate":
            same = f"t={rt}, {rs:.0f}"
        else:
            same = f"t={rt}, {rs:.0f} ({rs / max(spi, 1e-9):.1f}x)"
        r = rate_at.get((m, act, T))
        same_t = "" if enc == "rate" or r is None else f"{r:.0f} ({r / max(spi, 1e-9):.1f}x)"
        best = ""
        if enc != "rate":
            reach = [(rate_to_reach(a_c, s_c, acc)[1], v) for (mm, v), (a_c, s_c)
                     in curves.items() if mm == m]
            reach = [(sp, v) for sp, v in reach if sp is not None]
            best = "-"
            if reach:
                sp, v = min(reach)
                best = f"{sp:.0f} ({sp / max(spi, 1e-9):.1f}x, {v})"
        lines.append(f"| {m} | {act} | {ann:.4f} | {enc} | {T} | {w or ''} | "
                     f"{acc:.4f} ({100 * (acc - ann):+.1f}) | {spi:.0f} | {same_t} | {same} "
                     f"| {best} |")
    lines += ["", "Produced by:", "",
              ("    python benchmarks/encodings.py " + " ".join(argv or sys.argv[1:])).rstrip(),
              ""]
    text = "\n".join(lines)
    out = Path(args.out)
    marker = "## Results: mnist5k"
    if out.exists():  # keep the document, replace (or append) the results section only
        head = out.read_text().split(marker)[0]
        text = head.rstrip("\n") + "\n\n" + text if head.strip() else text
    out.write_text(text)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
