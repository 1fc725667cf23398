"""Energy per image of the rate-coded LeNet on mnist5k across devices (``energy_table``).

    python benchmarks/energy_devices.py [--epochs 3] [--timesteps 100] [--n-test 300]
        [--input-mode constant] [--markdown FILE]

Trains the LeNet-style example (weights cached in benchmarks/.cache/), converts it with the
default settings (normalization on 1,000 training images), simulates the first ``--n-test``
test images once and prints the markdown table of ``tfsnn.analysis.energy.energy_table``: the
SNN on every device of ``tfsnn.analysis.devices.DEVICES``, the ANN on cpu and gpu.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tfsnn  # noqa: E402
from tfsnn.analysis.energy import energy_table, energy_table_markdown  # noqa: E402
from tfsnn.datasets import load_dataset  # noqa: E402
from tfsnn.training import evaluate_ann  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import trained  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timesteps", type=int, default=100)
    p.add_argument("--n-test", type=int, default=300)
    p.add_argument("--input-mode", default="constant", choices=("constant", "poisson"))
    p.add_argument("--markdown", help="also write the table (and how it was made) here")
    args = p.parse_args(argv)
    ds = load_dataset("mnist5k")
    ann = trained("lenet", ds, args.epochs, args.seed)
    x, y = ds.x_test[:args.n_test], ds.y_test[:args.n_test]
    t0 = time.perf_counter()
    snn = tfsnn.convert(ann, ds.x_train[:1000])
    res = snn.evaluate(x, y, timesteps=args.timesteps, batch_size=100,
                       input_mode=args.input_mode, seed=args.seed)
    seconds = time.perf_counter() - t0
    rows = energy_table(snn, res)
    command = "python benchmarks/energy_devices.py " + shlex.join(argv or sys.argv[1:])
    text = "\n".join([
        f"LeNet on mnist5k ({args.epochs} epochs, seed {args.seed}), rate coding, "
        f"{args.input_mode} input, T={args.timesteps}, first {len(x)} test images: "
        f"ANN accuracy {evaluate_ann(ann, x, y):.3f}, SNN {res.accuracy:.3f}, "
        f"{res.spikes_per_image:,.0f} spikes per image. Energies per image.",
        "", energy_table_markdown(rows), "",
        f"Made with `{command.strip()}` (conversion and simulation {seconds:.0f} s).",
    ])
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")


if __name__ == "__main__":
    main()
