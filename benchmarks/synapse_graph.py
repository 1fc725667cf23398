"""Benchmark the synapse graph export: CSV speed and memory on an ESCAPE-NET-sized conv layer.

    /work/venv/bin/python benchmarks/synapse_graph.py [--large] [--chunk-size N] [--update-docs]

Cases (each runs in its own subprocess so that peak memory is measured per case):

- ``csv-file``: input (56, 100, 1) -> Conv2D(64, 5x5, same) -> (56, 100, 64) (358,400 neurons,
  8,662,784 synapses, random weights and rates) written to a CSV file in the temp directory.
- ``csv-devnull``: the same CSV written to ``os.devnull``: formatting speed without the disk.
- ``edges``: ``iter_chunks`` only (edge generation, no formatting).
- ``csv-large`` (``--large``): conv1 -> AveragePooling2D(2) -> Conv2D(64, 5x5, same), ~143M
  synapses to ``os.devnull``: memory must not grow with the number of synapses.

Speed: synapses per second of wall time and of process CPU time (the CPU figure is what one
core does when the machine is shared). Peak memory: ``ru_maxrss`` after the run minus before it (graph already built), and the
``tracemalloc`` peak of a second run (numpy buffers are traced). ``--update-docs`` writes the
table into docs/synapse_graph.md between the benchmark markers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from tfsnn.analysis.synapse_graph import StoredLayer, SynapseGraph

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "synapse_graph.md"
START, END = "<!-- benchmark:start -->", "<!-- benchmark:end -->"
CASES = ("csv-file", "csv-devnull", "edges", "csv-large")


def escape_graph(large: bool = False, seed: int = 0) -> SynapseGraph:
    """ESCAPE-NET-sized first conv layer (and, if ``large``, pooling and a second conv)."""
    rng = np.random.default_rng(seed)

    def sparse_rates(shape):  # most neurons silent, as in a converted network
        return rng.random(shape) * (rng.random(shape) < 0.3)

    specs = [
        StoredLayer("input", "input", [], (56, 100, 1), (56, 100, 1)),
        StoredLayer("conv1", "conv2d", ["input"], (56, 100, 1), (56, 100, 64),
                    kernel=rng.normal(0, 0.2, (5, 5, 1, 64)).astype(np.float32),
                    config={"strides": (1, 1), "padding": "same"}),
    ]
    rates = {"input": rng.random((56, 100, 1)), "conv1": sparse_rates((56, 100, 64))}
    if large:
        specs += [
            StoredLayer("pool1", "avgpool", ["conv1"], (56, 100, 64), (28, 50, 64),
                        config={"pool_size": (2, 2), "strides": (2, 2), "padding": "valid"}),
            StoredLayer("conv2", "conv2d", ["pool1"], (28, 50, 64), (28, 50, 64),
                        kernel=rng.normal(0, 0.05, (5, 5, 64, 64)).astype(np.float32),
                        config={"strides": (1, 1), "padding": "same"}),
        ]
        rates["pool1"] = sparse_rates((28, 50, 64))
        rates["conv2"] = sparse_rates((28, 50, 64))
    return SynapseGraph(specs, rates)


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def run_case(case: str, chunk_size: int) -> dict:
    graph = escape_graph(large=case == "csv-large")
    tmpdir = tempfile.mkdtemp(prefix="tfsnn-graph-bench-")
    target = os.path.join(tmpdir, "graph.csv") if case == "csv-file" else os.devnull

    def work():
        if case == "edges":
            return sum(len(c) for c in graph.iter_chunks(chunk_size))
        return graph.to_csv(target, chunk_size=chunk_size)

    rss0 = _maxrss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    n = work()
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    rss_delta = _maxrss_mb() - rss0
    size = os.path.getsize(target) if case == "csv-file" else None
    if case == "csv-file":
        os.remove(target)
    target = os.devnull  # the traced rerun needs no disk
    tracemalloc.start()
    work()
    traced_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    os.rmdir(tmpdir)
    return {"case": case, "synapses": n, "seconds": seconds, "rate": n / seconds,
            "cpu_seconds": cpu_seconds, "cpu_rate": n / cpu_seconds,
            "bytes": size, "rss_delta_mb": rss_delta, "traced_peak_mb": traced_peak,
            "target": "temp file" if case == "csv-file" else
            ("none (iter_chunks)" if case == "edges" else "os.devnull")}


def _cpu() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def table(results: list[dict], command: str, chunk_size: int) -> str:
    lines = [
        f"Command: `{command}`",
        "",
        f"Machine: {_cpu()} ({os.cpu_count()} cores, shared with other jobs; one core used), "
        f"load average {os.getloadavg()[0]:.1f} at the end, Python "
        f"{platform.python_version()}, numpy {np.__version__}; chunk_size={chunk_size:,}; "
        f"{time.strftime('%Y-%m-%d')}.",
        "",
        "| case | output | synapses | wall (s) | synapses/s (wall) | CPU (s) | synapses/s (CPU) "
        "| CSV size | peak RSS delta | tracemalloc peak |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        size = "" if r["bytes"] is None else (
            f"{r['bytes'] / 2**20:,.0f} MiB ({r['bytes'] / r['synapses']:.1f} B/synapse)")
        lines.append(
            f"| {r['case']} | {r['target']} | {r['synapses']:,} | {r['seconds']:.2f} | "
            f"{r['rate'] / 1e6:.2f} M | {r['cpu_seconds']:.2f} | {r['cpu_rate'] / 1e6:.2f} M | "
            f"{size} | {r['rss_delta_mb']:.0f} MiB | "
            f"{r['traced_peak_mb']:.0f} MiB |")
    return "\n".join(lines)


def update_docs(text: str) -> None:
    doc = DOC.read_text()
    if START not in doc or END not in doc:
        raise SystemExit(f"{DOC} has no {START} ... {END} markers")
    head, rest = doc.split(START, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{START}\n{text}\n{END}{tail}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--large", action="store_true", help="also run the ~143M-synapse case")
    p.add_argument("--chunk-size", type=int, default=1 << 16)
    p.add_argument("--update-docs", action="store_true", help=f"write the table into {DOC}")
    p.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)  # subprocess worker
    args = p.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(args.case, args.chunk_size)))
        return 0

    cases = [c for c in CASES if c != "csv-large" or args.large]
    results = []
    for case in cases:
        out = subprocess.run([sys.executable, __file__, "--case", case, "--chunk-size",
                              str(args.chunk_size)], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(r)
        print(f"{case:12s} {r['synapses']:>12,} synapses  {r['seconds']:7.2f} s  "
              f"{r['rate'] / 1e6:6.2f} M synapses/s (CPU time: {r['cpu_rate'] / 1e6:.2f} M/s)  "
              f"peak RSS +{r['rss_delta_mb']:.0f} MiB  "
              f"traced peak {r['traced_peak_mb']:.0f} MiB", flush=True)
    command = "python benchmarks/synapse_graph.py" + (" --large" if args.large else "") + (
        f" --chunk-size {args.chunk_size}" if args.chunk_size != 1 << 16 else "") + (
        " --update-docs" if args.update_docs else "")
    text = table(results, command, args.chunk_size)
    print()
    print(text)
    if args.update_docs:
        update_docs(text)
        print(f"\nupdated {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
