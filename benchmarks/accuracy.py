"""ANN vs rate-coded SNN accuracy and latency on mnist5k (LeNet-style), per conversion setting.

    python benchmarks/accuracy.py [--epochs 8] [--out docs/accuracy.md]

Trains the LeNet-style example once (weights cached in benchmarks/.cache/), converts it with
each normalization / remedy setting and simulates the 1,000 test images once per setting at
T = 100 (the whole accuracy-vs-time curve comes from one simulation).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tfsnn  # noqa: E402
from tfsnn.datasets import load_dataset  # noqa: E402
from tfsnn.training import evaluate_ann  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import trained  # noqa: E402

STEPS = (5, 10, 25, 50, 100)
SETTINGS = [
    # label, convert kwargs, input mode (convert's default is channel-wise: say so)
    ("max, V0=0", dict(normalization="max", v_init=0.0, channelwise=False), "constant"),
    ("percentile 99.9, V0=0", dict(normalization="percentile", v_init=0.0, channelwise=False),
     "constant"),
    ("max, V0=0.5", dict(normalization="max", v_init=0.5, channelwise=False), "constant"),
    ("percentile 99.9, V0=0.5", dict(normalization="percentile", v_init=0.5,
                                     channelwise=False), "constant"),
    ("percentile 99.99, V0=0.5", dict(normalization="percentile", percentile=99.99,
                                      v_init=0.5, channelwise=False), "constant"),
    ("percentile 99.9, channel-wise, V0=0.5", dict(normalization="percentile", v_init=0.5,
                                                   channelwise=True), "constant"),
    ("max, channel-wise, V0=0.5", dict(normalization="max", v_init=0.5, channelwise=True),
     "constant"),
    ("percentile 99.9, channel-wise, V0=0.5, Poisson input",
     dict(normalization="percentile", v_init=0.5, channelwise=True), "poisson"),
    ("percentile 99.9, channel-wise, V0=0, Poisson input",
     dict(normalization="percentile", v_init=0.0, channelwise=True), "poisson"),
]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timesteps", type=int, default=100)
    p.add_argument("--out", default=str(Path(__file__).parents[1] / "docs" / "accuracy.md"))
    args = p.parse_args(argv)
    ds = load_dataset("mnist5k")
    ann = trained("lenet", ds, args.epochs, args.seed)
    ann_acc = evaluate_ann(ann, ds.x_test, ds.y_test)
    x_norm = ds.x_train[:1000]
    rows, input_spikes = [], {}
    for label, kw, mode in SETTINGS:
        t = time.perf_counter()
        snn = tfsnn.convert(ann, x_norm, **kw)
        res = snn.evaluate(ds.x_test, ds.y_test, timesteps=args.timesteps, batch_size=250,
                           input_mode=mode, seed=args.seed)
        dt = time.perf_counter() - t
        accs = [res.accuracy_per_step[s - 1] for s in STEPS if s <= args.timesteps]
        rows.append((label, accs, res.spikes_per_image, dt))
        if mode == "poisson":
            input_spikes[label] = res.input_spikes_per_image
        print(f"{label:<42}" + " ".join(f"{a:.4f}" for a in accs)
              + f"  spikes/img {res.spikes_per_image:.0f}  {dt:.1f}s", flush=True)
    lines = [
        "# Rate coding: ANN vs SNN accuracy on mnist5k",
        "",
        f"LeNet-style example (`build_model(\"lenet\")`, average pooling), trained {args.epochs} "
        f"epochs on the 4,000 mnist5k training images (seed {args.seed}); 1,000 test images; "
        "normalization on 1,000 training images. SNN accuracy read out at step t of one "
        f"T={args.timesteps} simulation. Difference to the ANN in percentage points in brackets.",
        "",
        f"ANN accuracy: **{ann_acc:.4f}**",
        "",
        "| setting | " + " | ".join(f"T={s}" for s in STEPS) + " | spikes/image (T=100) |",
        "|---|" + "---|" * len(STEPS) + "---|",
    ]
    for label, accs, spi, _ in rows:
        cells = [f"{a:.4f} ({100 * (a - ann_acc):+.1f})" for a in accs]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {spi:.0f} |")
    lines += ["", "V0 is the initial membrane potential as a fraction of the threshold "
              "(0.5: Bu et al., ICLR 2022). Spikes per image count the network's neurons; "
              "in the Poisson rows the input adds "
              + " / ".join(sorted({f"{v:.0f}" for v in input_spikes.values()}))
              + " spikes per image of its own. Produced by:", "",
              "    python benchmarks/accuracy.py " + " ".join(argv or sys.argv[1:]), ""]
    out = Path(args.out)
    kept = ""  # hand-written sections after the generated table are kept
    if out.exists() and "\n## " in out.read_text():
        kept = out.read_text()[out.read_text().index("\n## "):]
    out.write_text("\n".join(lines) + kept)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
