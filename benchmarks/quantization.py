"""Quantized ANNs and ultra-low-latency conversion (docs/quantization.md).

    flock /tmp/tfsnn_heavy.lock python benchmarks/quantization.py --markdown docs/quantization_results.md

1. VGG-11 (width 16, BatchNorm, average pooling; ``benchmarks/common.py``'s CIFAR recipe) on
   the CIFAR-10 dev split, trained with float ReLUs and with QCFS activations of L = 3
   (2-bit) and L = 7 (3-bit) levels (``activation="quant"``), each converted (float:
   percentile normalization; QCFS: thresholds = clip values, V_0 = theta / 2) and simulated
   with constant input up to T = 64: accuracy vs T, energy per image (45 nm model) at
   T = 4, 16 and 64.
2. Weights: 8-bit post-training quantization of the float VGG-11, and 4-bit weights after
   ``--qat-epochs`` epochs of quantization-aware training (same recipe, lr 1e-4).
3. LeNet on mnist5k with 2-bit (L = 3) activations: SNN at T = 4 against its ANN.

Every SNN runs twice: with plain IF neurons and with signed IF neurons (``signed=True``).
``--finetune-levels`` adds QCFS nets made from the trained float VGG-11 (``quantize`` with
clip values from the calibration images, then ``--finetune-epochs`` epochs at
``--finetune-lr``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import CACHE, cifar_dev, fit_cifar, trained, trained_cifar  # noqa: E402

STEPS = (1, 2, 4, 8, 16, 32, 64)
ENERGY_T = (4, 16, 64)


def snn_curve(model, ds, n_test, n_norm, t_max, batch_size, signed=False):
    """Accuracy per step up to ``t_max`` and energy per image at ``ENERGY_T``."""
    import tfsnn

    snn = tfsnn.convert(model, ds.x_train[:n_norm], signed=signed)
    x, y = ds.x_test[:n_test], ds.y_test[:n_test]
    res = snn.evaluate(x, y, timesteps=t_max, batch_size=batch_size)
    acc = {t: float(res.accuracy_per_step[t - 1]) for t in STEPS if t <= t_max}
    energy = {}
    for t in ENERGY_T:
        if t > t_max:
            continue
        r = res if t == t_max else snn.evaluate(x, y, timesteps=t, batch_size=batch_size)
        e = tfsnn.energy_estimate(snn, r)
        energy[t] = {"snn_joules": e["snn"]["energy"], "ann_joules": e["ann"]["energy"],
                     "spikes_per_image": float(r.spikes_per_image)}
    return acc, energy


def ann_accuracy(model, ds, n_test):
    pred = model.predict(ds.x_test[:n_test], batch_size=256, verbose=0)
    return float(np.mean(np.argmax(pred, -1) == ds.y_test[:n_test]))


def qat(float_model, ds, epochs, weight_bits=4, seed=0):
    """``quantize(float_model, weight_bits)`` fine-tuned ``epochs`` epochs (cached)."""
    import tfsnn

    q = tfsnn.quantize(float_model, weight_bits=weight_bits, activation_bits=None,
                       input_bits=8)
    path = CACHE / f"vgg11_w{weight_bits}_qat_e{epochs}_s{seed}.weights.h5"
    if path.exists():
        q.load_weights(path)
        return q
    return fit_cifar(q, ds, epochs, 1e-4, seed, path)


def qcfs_finetuned(float_model, ds, levels, epochs, lr=1e-3, clip_init="mse", seed=0):
    """QCFS activations of ``levels`` levels on the trained float model (clip values from
    1,000 training images by ``clip_init``, float weights), then ``epochs`` epochs of
    quantization-aware training (the CIFAR recipe from learning rate ``lr``, cached)."""
    import tfsnn

    bits = int(np.log2(levels + 1))
    q = tfsnn.quantize(float_model, weight_bits=None, activation_bits=bits, input_bits=None,
                       calibration_data=ds.x_train[:1000], clip_init=clip_init)
    path = CACHE / f"vgg11_qcfs{levels}_ft_{clip_init}_lr{lr:g}_e{epochs}_s{seed}.weights.h5"
    if path.exists():
        q.load_weights(path)
        return q
    if epochs == 0:
        return q
    return fit_cifar(q, ds, epochs, lr, seed, path)


def lenet_2bit(epochs, seed=0):
    """LeNet on mnist5k with L = 3 QCFS activations (cached): ``(model, dataset)``."""
    from tfsnn.datasets import load_dataset

    ds = load_dataset("mnist5k")
    return trained("lenet", ds, epochs, seed, activation="quant", activation_levels=3), ds


def _pct(v):
    return "" if v is None else f"{100 * v:.2f}"


def _columns(out: dict) -> list:
    """``(label, curve, ANN accuracy)`` per simulated model and neuron kind."""
    models = [("float ReLU", out.get("float_snn"), out.get("float_ann"))] + [
        (f"QCFS L={k[4:].replace('_ft', ' fine-tuned')}", v, v["ann"])
        for k, v in out.items() if k.startswith("qcfs")]
    cols = []
    for label, v, ann in models:
        if not v:
            continue
        cols.append((f"{label} SNN", v, ann))
        if v.get("signed"):
            cols.append((f"{label} signed SNN", v["signed"], ann))
    return cols


def markdown(out: dict) -> str:
    """The accuracy-vs-T and energy tables of a result dict."""
    cols = _columns(out)
    head = "| T | " + " | ".join(c for c, _, _ in cols) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 1)]
    for t in STEPS:
        cells = [_pct(v["accuracy"].get(str(t), v["accuracy"].get(t))) for _, v, _ in cols]
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    lines.append("| ANN | " + " | ".join(_pct(a) for _, _, a in cols) + " |")
    lines += ["", "| model | T | spikes / image | SNN energy / image | ANN energy / image |",
              "|---|---|---|---|---|"]
    for name, v, _ in cols:
        for t, e in (v or {}).get("energy", {}).items():
            lines.append(f"| {name} | {t} | {e['spikes_per_image']:,.0f} | "
                         f"{e['snn_joules'] * 1e6:.2f} µJ | {e['ann_joules'] * 1e6:.2f} µJ |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=None, help="VGG training epochs (default: "
                   "the CIFAR recipe's 30)")
    p.add_argument("--qat-epochs", type=int, default=3)
    p.add_argument("--lenet-epochs", type=int, default=10)
    p.add_argument("--n-test", type=int, default=2000)
    p.add_argument("--n-norm", type=int, default=1000)
    p.add_argument("--timesteps", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=250)
    p.add_argument("--levels", type=int, nargs="*", default=[3, 7])
    p.add_argument("--finetune-levels", type=int, nargs="*", default=[],
                   help="also: QCFS of these levels fine-tuned from the float VGG-11")
    p.add_argument("--finetune-epochs", type=int, default=8)
    p.add_argument("--finetune-lr", type=float, default=1e-3)
    p.add_argument("--no-signed", action="store_true", help="plain IF neurons only")
    p.add_argument("--skip", nargs="*", default=[],
                   choices=["vgg", "float", "weights", "lenet"])
    p.add_argument("--json", default=str(CACHE / "quantization.json"))
    p.add_argument("--table", metavar="JSON", help="only print the tables of a result file")
    args = p.parse_args(argv)
    if args.table:
        with open(args.table) as f:
            print(markdown(json.load(f)))
        return

    import tfsnn

    out = {"command": "python benchmarks/quantization.py " + " ".join(argv or sys.argv[1:])}
    t0 = time.time()
    ds = cifar_dev() if set(args.skip) != {"vgg", "weights"} else None
    if "vgg" not in args.skip or "weights" not in args.skip:
        base = trained_cifar("vgg11", epochs=args.epochs)
        out["float_ann"] = ann_accuracy(base, ds, args.n_test)

    def curves(model):
        """The plain and (unless --no-signed) the signed SNN's curve of ``model``."""
        acc, energy = snn_curve(model, ds, args.n_test, args.n_norm, args.timesteps,
                                args.batch_size)
        row = {"accuracy": acc, "energy": energy}
        if not args.no_signed:
            acc, energy = snn_curve(model, ds, args.n_test, args.n_norm, args.timesteps,
                                    args.batch_size, signed=True)
            row["signed"] = {"accuracy": acc, "energy": energy}
        return row

    if "vgg" not in args.skip and "float" not in args.skip:
        out["float_snn"] = curves(base)
        print(f"float: ANN {out['float_ann']:.4f} SNN {out['float_snn']}", flush=True)
    for L in args.finetune_levels:
        qm = qcfs_finetuned(base, ds, L, args.finetune_epochs, args.finetune_lr)
        out[f"qcfs{L}_ft"] = {"ann": ann_accuracy(qm, ds, args.n_test), **curves(qm)}
        print(f"L={L} fine-tuned: {out[f'qcfs{L}_ft']}", flush=True)
    if "vgg" not in args.skip:
        for L in args.levels:
            qm = trained_cifar("vgg11", epochs=args.epochs, activation="quant",
                               activation_levels=L)
            out[f"qcfs{L}"] = {"ann": ann_accuracy(qm, ds, args.n_test), **curves(qm)}
            print(f"L={L}: {out[f'qcfs{L}']}", flush=True)
    if "weights" not in args.skip:
        ptq = tfsnn.quantize(base, weight_bits=8, activation_bits=None, input_bits=8)
        out["w8_ptq_ann"] = ann_accuracy(ptq, ds, args.n_test)
        out["w4_ptq_ann"] = ann_accuracy(
            tfsnn.quantize(base, weight_bits=4, activation_bits=None, input_bits=8), ds,
            args.n_test)
        out["w4_qat_ann"] = ann_accuracy(qat(base, ds, args.qat_epochs), ds, args.n_test)
    if "lenet" not in args.skip:
        lenet, mds = lenet_2bit(args.lenet_epochs)
        out["lenet_qcfs3"] = {"ann": ann_accuracy(lenet, mds, len(mds.x_test))}
        for key, signed in (("snn", False), ("snn_signed", True)):
            res = tfsnn.convert(lenet, signed=signed).evaluate(mds.x_test, mds.y_test,
                                                               timesteps=8)
            out["lenet_qcfs3"][key] = {t: float(res.accuracy_per_step[t - 1])
                                       for t in (1, 2, 3, 4, 8)}
    out["seconds"] = time.time() - t0
    CACHE.mkdir(exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps(out, indent=1))
    if "float_snn" in out:
        print(markdown(json.loads(json.dumps(out))))


if __name__ == "__main__":
    main()
