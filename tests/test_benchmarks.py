"""The benchmark scripts run end to end (tiny settings; the numbers are not checked)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_simulate_benchmark_writes_its_table(tmp_path):
    md = tmp_path / "bench.md"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "simulate.py"), "--models", "mlp",
         "--timesteps", "4", "--batch-sizes", "8", "--repeats", "1", "--batches", "1",
         "--markdown", str(md)], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [r for r in out.stdout.splitlines() if r.startswith("| mlp | 4 | 8 |")]
    assert len(rows) == 1, out.stdout
    ratio = float(rows[0].split("|")[6].split()[0])
    assert ratio > 0
    text = md.read_text()
    assert "| mlp | 4 | 8 |" in text and "--models mlp" in text


def test_deep_benchmark_run_names_and_results_section(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import deep

    assert deep.expand_runs(["vgg11", "resnet20:cal16"]) == [
        ("vgg11", "rate"), ("vgg11", "poisson"), ("vgg11", "ttfs"), ("resnet20", "cal16")]
    row = {"model": "vgg11", "setting": "rate", "n_test": 10, "ann_acc": 0.5,
           "acc": {str(t): 0.4 for t in deep.STEPS}, "spikes": {str(t): 1.0 for t in deep.STEPS},
           "spikes_per_image": 2.0, "input_spikes_per_image": 0.0, "synops": 3.0,
           "snn_energy": 1e-6, "ann_energy": 2e-6, "images_per_s": 4.0}
    doc = tmp_path / "deep.md"
    doc.write_text("# Deep networks\n\n## Layers\n\nkept\n\n## Results\n\nold\n\n## After\n\nalso\n")
    deep.write_doc({"vgg11:rate": row}, ["python benchmarks/deep.py --runs vgg11:rate"], doc)
    text = doc.read_text()
    assert "kept" in text and "also" in text and "old" not in text
    assert "| vgg11 | rate | 10 | 50.0 | 40.0 (-10.0) |" in text
    assert "    python benchmarks/deep.py --runs vgg11:rate" in text


def test_cifar_augmentation_flips_and_shifts():
    import numpy as np

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from common import _augment

    x = np.random.default_rng(0).random((6, 8, 8, 3)).astype("float32")
    same = _augment(x, np.random.default_rng(1), shift=0)
    for a, b in zip(same, x):  # without shifts: each image itself or its mirror
        assert np.array_equal(a, b) or np.array_equal(a, b[:, ::-1])
    moved = _augment(x, np.random.default_rng(1), shift=2)
    assert moved.shape == x.shape and not np.array_equal(moved, same)
