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
