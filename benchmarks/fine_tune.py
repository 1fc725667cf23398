"""Hybrid training (convert, then fine-tune by BPTT) in the shape of the ESCAPE-NET study.

    flock /tmp/tfsnn_heavy.lock python benchmarks/fine_tune.py lenet
    flock /tmp/tfsnn_heavy.lock python benchmarks/fine_tune.py vgg11 --n-train 2000
    flock /tmp/tfsnn_heavy.lock python benchmarks/fine_tune.py vgg11 --probe 5 [--checkpoint 1]

``lenet``: LeNet on mnist5k (``common.trained``), fine-tuned at T = 2. ``vgg11``: the
CIFAR-10 dev net (``common.trained_cifar("vgg11")``): T_c = the first step at which plain
conversion is within 1 pp of the ANN (read off one run of ``--t-max`` steps: a step's
accuracy does not depend on the steps after it), then fine-tuning at
``max(2, round(T_c / 10))``. Prints one JSON line: ANN accuracy; before/after accuracy,
spikes per image, SynOps per image and energy per image relative to the ANN
(``tfsnn.energy_estimate``, 45 nm figures); seconds per epoch; peak RSS (``ru_maxrss``:
the whole process, conversion and simulation included).

``--probe T``: only the memory of fine-tuning: one epoch on ``--n-train`` images at T in
this fresh process (``peak_mb`` = ``ru_maxrss``; ``rss_before_mb`` before the training).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import tfsnn  # noqa: E402
from tfsnn.datasets import load_dataset  # noqa: E402
from tfsnn.training import evaluate_ann  # noqa: E402


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return float("nan")


def net_and_data(name):
    from common import cifar_dev, trained, trained_cifar

    if name == "lenet":
        ds = load_dataset("mnist5k")
        return trained("lenet", ds, epochs=3), ds
    return trained_cifar(name), cifar_dev()


def measure(snn, x, y, timesteps, batch_size):
    res = snn.evaluate(x, y, timesteps=timesteps, batch_size=batch_size)
    en = tfsnn.energy_estimate(snn, res)
    return res, {"accuracy": float(res.accuracy), "spikes_per_image": res.spikes_per_image,
                 "synops_per_image": float(en["snn"]["acs"]),
                 "energy_vs_ann": float(en["ratio"])}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("net", choices=["lenet", "vgg11"])
    ap.add_argument("--n-train", type=int, default=None, help="fine-tune on this many images")
    ap.add_argument("--n-test", type=int, default=None)
    ap.add_argument("--t-max", type=int, default=256, help="vgg11: longest run for T_c")
    ap.add_argument("--timesteps", type=int, default=None, help="fine-tuning T (default: "
                    "2 for lenet, max(2, round(T_c / 10)) for vgg11)")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--train-leak", action="store_true")
    ap.add_argument("--augment", action="store_true",
                    help="CIFAR: random flips and shifts of up to 4 pixels while fine-tuning (the "
                         "ANN recipe's augmentation, as Keras preprocessing layers)")
    ap.add_argument("--cosine", action="store_true",
                    help="cosine decay of the learning rate to 0 over the epochs")
    ap.add_argument("--calibrate", action="store_true",
                    help="fine-tune from convert(..., calibrate=T) instead of the defaults")
    ap.add_argument("--surrogate", default="triangle")
    ap.add_argument("--signed", action="store_true",
                    help="fine-tune the SNN converted with signed IF neurons (T_c stays that "
                         "of plain conversion)")
    ap.add_argument("--probe", type=int, default=None, help="memory probe at this T")
    ap.add_argument("--checkpoint", type=int, default=None,
                    help="steps per rematerialized chunk (fine_tune(checkpoint=...))")
    args = ap.parse_args(argv)

    ann, ds = net_and_data(args.net)
    n_train = args.n_train or len(ds.x_train)
    x_tr, y_tr = ds.x_train[:n_train], ds.y_train[:n_train]
    x_te, y_te = ds.x_test[:args.n_test], ds.y_test[:args.n_test]
    snn = tfsnn.convert(ann, ds.x_train[:1000])
    out = {"net": args.net, "backend": keras.backend.backend(), "n_train": n_train,
           "batch_size": args.batch_size, "checkpoint": args.checkpoint}
    if args.probe:
        before = rss_mb()
        tuned = snn.fine_tune(x_tr, y_tr, timesteps=args.probe, epochs=1,
                              batch_size=args.batch_size, learning_rate=args.lr,
                              checkpoint=args.checkpoint, verbose=0)
        out.update(T=args.probe, rss_before_mb=round(before), peak_mb=round(peak_mb()),
                   seconds_per_epoch=round(tuned.meta["fine_tune"]["seconds_per_epoch"], 1))
        print(json.dumps(out))
        return
    out["ann_accuracy"] = float(evaluate_ann(ann, x_te, y_te))
    if args.net == "lenet":
        t_c = None
        steps = args.timesteps or 2
    else:
        t0 = time.perf_counter()
        res = snn.evaluate(x_te, y_te, timesteps=args.t_max, batch_size=250)
        ok = np.nonzero(res.accuracy_per_step >= out["ann_accuracy"] - 0.01)[0]
        t_c = int(ok[0]) + 1 if len(ok) else None
        out["t_c_search_seconds"] = round(time.perf_counter() - t0, 1)
        out["accuracy_at_t_max"] = float(res.accuracy)
        if t_c is None:
            print(json.dumps({**out, "error": f"not within 1 pp by T={args.t_max}"}))
            return
        _, out["converted_at_T_c"] = measure(snn, x_te, y_te, t_c, 250)
        steps = args.timesteps or max(2, round(t_c / 10))
    out.update(T_c=t_c, T=steps, augment=args.augment, cosine=args.cosine,
               calibrate=args.calibrate, lr=args.lr, surrogate=args.surrogate)
    _, out["converted"] = measure(snn, x_te, y_te, steps, 250)
    start = snn
    if args.calibrate or args.signed:
        start = tfsnn.convert(ann, ds.x_train[:1000], signed=args.signed,
                              calibrate=steps if args.calibrate else None)
        _, out["start"] = measure(start, x_te, y_te, steps, 250)
    out["signed"] = args.signed
    augmentation = None
    if args.augment:
        shift = 4 / ds.input_shape[0]
        augmentation = [keras.layers.RandomFlip("horizontal", seed=1),
                        keras.layers.RandomTranslation(shift, shift, fill_mode="constant",
                                                       seed=2)]
    lr = args.lr
    if args.cosine:
        lr = keras.optimizers.schedules.CosineDecay(
            args.lr, args.epochs * -(-len(x_tr) // args.batch_size))
    keras.utils.set_random_seed(0)
    tuned = start.fine_tune(x_tr, y_tr, timesteps=steps, epochs=args.epochs,
                            batch_size=args.batch_size,
                            optimizer=keras.optimizers.Adam(lr),
                            validation_data=(x_te, y_te), train_leak=args.train_leak,
                            checkpoint=args.checkpoint, verbose=2,
                            surrogate=args.surrogate, augmentation=augmentation)
    _, out["fine_tuned"] = measure(tuned, x_te, y_te, steps, 250)
    out["val_accuracy_per_epoch"] = [round(v, 4) for v in tuned.history.history["val_accuracy"]]
    out["seconds_per_epoch"] = round(tuned.meta["fine_tune"]["seconds_per_epoch"], 1)
    out["thresholds"] = {n: round(c.params.threshold, 4) for n, c in tuned.cells.items()
                         if c.spiking}
    out["peak_mb"] = round(peak_mb())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
