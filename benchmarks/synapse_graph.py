"""Benchmark the synapse graph export: CSV and Parquet speed, size and memory on an
ESCAPE-NET-sized conv layer, and how fast each file loads.

    python benchmarks/synapse_graph.py [--large] [--no-parquet] [--chunk-size N]
        [--parquet-chunk-size N] [--update-docs]

Cases (each runs in its own subprocess so that peak memory is measured per case):

- ``csv-file``: input (56, 100, 1) -> Conv2D(64, 5x5, same) -> (56, 100, 64) (358,400 neurons,
  8,662,784 synapses, random weights and rates) written to a CSV file in the temp directory.
- ``csv-devnull``: the same CSV written to ``os.devnull``: formatting speed without the disk.
- ``edges``: ``iter_chunks`` only (edge generation, no formatting).
- ``csv-large`` (``--large``): conv1 -> AveragePooling2D(2) -> Conv2D(64, 5x5, same), ~143M
  synapses to ``os.devnull``: memory must not grow with the number of synapses.
- ``parquet-file``: the layer of ``csv-file`` written with ``to_parquet`` (zstd; edges and the
  nodes table) to the temp directory.
- ``parquet-large`` (``--large``): the edges of ``csv-large`` as Parquet to ``os.devnull``.
- ``load``: both files written (untimed), then loaded: the CSV with ``pyarrow.csv.read_csv``
  and ``pandas.read_csv``, the Parquet with ``read_parquet`` (edges and nodes, pyarrow tables)
  and ``pandas.read_parquet`` (edges).

Speed: synapses per second of wall time and of process CPU time (the CPU figure is what one
core does when the machine is shared; pyarrow's readers use threads, so theirs may exceed
wall time). Peak memory: ``ru_maxrss`` after the run minus before it (graph built, pyarrow
imported), and the ``tracemalloc`` peak of a second run (numpy buffers are traced, pyarrow's
are not; no second run for the large cases of Parquet). ``--update-docs`` writes the
table into docs/synapse_graph.md between the benchmark markers, and the Parquet/CSV comparison
into docs/interop.md between its markers. Files are written as tfsnn writes them: to a
temporary file, synced to disk and renamed (``tfsnn.fileio``).
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

from tfsnn.analysis.synapse_graph import StoredLayer, SynapseGraph, nodes_path, read_parquet

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "synapse_graph.md"
INTEROP_DOC = ROOT / "docs" / "interop.md"
START, END = "<!-- benchmark:start -->", "<!-- benchmark:end -->"
PARQUET_START, PARQUET_END = "<!-- parquet-benchmark:start -->", "<!-- parquet-benchmark:end -->"
CASES = ("csv-file", "csv-devnull", "edges", "csv-large", "parquet-file", "parquet-large",
         "load")
LARGE = ("csv-large", "parquet-large")
PARQUET = ("parquet-file", "parquet-large", "load")


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


def _timed(work):
    t0, c0 = time.perf_counter(), time.process_time()
    out = work()
    return out, time.perf_counter() - t0, time.process_time() - c0


def run_parquet_case(case: str, chunk_size: int) -> dict:
    """``parquet-file``: edges and nodes to a temp file; ``parquet-large``: the edges of the
    large graph to ``os.devnull`` (memory must not grow with the synapses; no traced rerun)."""
    import pyarrow.parquet  # noqa: F401  (imported before the RSS baseline)

    large = case == "parquet-large"
    graph = escape_graph(large=large)
    tmpdir = tempfile.mkdtemp(prefix="tfsnn-graph-bench-")
    target = os.devnull if large else os.path.join(tmpdir, "graph.parquet")

    def work():
        return graph.to_parquet(target, chunk_size=chunk_size, nodes=not large)

    rss0 = _maxrss_mb()
    n, seconds, cpu_seconds = _timed(work)
    out = {"case": case, "synapses": n, "seconds": seconds, "rate": n / seconds,
           "cpu_seconds": cpu_seconds, "cpu_rate": n / cpu_seconds, "bytes": None,
           "rss_delta_mb": _maxrss_mb() - rss0, "traced_peak_mb": None,
           "neurons": sum(int(np.prod(shape)) for shape in graph.group_shapes),
           "target": "os.devnull (edges only)" if large else "temp file"}
    if not large:
        out["bytes"] = os.path.getsize(target)
        out["nodes_bytes"] = os.path.getsize(nodes_path(target))
        tracemalloc.start()  # numpy's buffers; pyarrow's own are in the RSS delta only
        work()
        out["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        for f in (target, nodes_path(target)):
            os.remove(f)
    os.rmdir(tmpdir)
    return out


def run_load_case(chunk_size: int, parquet_chunk_size: int) -> dict:
    """Load times; the pandas rows only where pandas is installed (not a tfsnn dependency)."""
    import pyarrow.csv as pacsv

    try:
        import pandas as pd
    except ImportError:
        pd = None

    graph = escape_graph()
    tmpdir = tempfile.mkdtemp(prefix="tfsnn-graph-bench-")
    csv_path, pq_path = os.path.join(tmpdir, "graph.csv"), os.path.join(tmpdir, "graph.parquet")
    graph.to_csv(csv_path, chunk_size=chunk_size)
    graph.to_parquet(pq_path, chunk_size=parquet_chunk_size)
    loads = {
        "csv, pyarrow.csv.read_csv": lambda: pacsv.read_csv(csv_path).num_rows,
        "csv, pandas.read_csv": lambda: len(pd.read_csv(csv_path)),
        "parquet, read_parquet (edges + nodes)": lambda: read_parquet(pq_path).edges.num_rows,
        "parquet, pandas.read_parquet": lambda: len(pd.read_parquet(pq_path)),
    }
    if pd is None:
        loads = {k: v for k, v in loads.items() if "pandas" not in k}
    out = {"case": "load", "synapses": graph.num_synapses, "loads": {}}
    for name, load in loads.items():
        n, seconds, cpu_seconds = _timed(load)
        assert n == graph.num_synapses, (name, n)
        out["loads"][name] = {"seconds": seconds, "cpu_seconds": cpu_seconds}
    for f in (csv_path, pq_path, nodes_path(pq_path)):
        os.remove(f)
    os.rmdir(tmpdir)
    return out


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


def _traced(r: dict) -> str:
    return "" if r["traced_peak_mb"] is None else f"{r['traced_peak_mb']:.0f} MiB"


def table(results: list[dict], command: str, chunk_size: int, parquet_chunk_size: int) -> str:
    lines = [
        f"Command: `{command}`",
        "",
        f"Machine: {_cpu()} ({os.cpu_count()} cores, shared with other jobs; one core used), "
        f"load average {os.getloadavg()[0]:.1f} at the end, Python "
        f"{platform.python_version()}, numpy {np.__version__}; chunk_size={chunk_size:,} "
        f"(CSV), {parquet_chunk_size:,} (Parquet); {time.strftime('%Y-%m-%d')}.",
        "",
        "| case | output | synapses | wall (s) | synapses/s (wall) | CPU (s) | synapses/s (CPU) "
        "| file size | peak RSS delta | tracemalloc peak |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        size = "" if r["bytes"] is None else (
            f"{r['bytes'] / 2**20:,.0f} MiB ({r['bytes'] / r['synapses']:.1f} B/synapse)")
        lines.append(
            f"| {r['case']} | {r['target']} | {r['synapses']:,} | {r['seconds']:.2f} | "
            f"{r['rate'] / 1e6:.2f} M | {r['cpu_seconds']:.2f} | {r['cpu_rate'] / 1e6:.2f} M | "
            f"{size} | {r['rss_delta_mb']:.0f} MiB | {_traced(r)} |")
    return "\n".join(lines)


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def parquet_table(results: list[dict], command: str) -> str:
    """Parquet against CSV: size, write speed, load time (needs csv-file, parquet-file, load)."""
    by = {r["case"]: r for r in results}
    csv_w, pq_w, load = by["csv-file"], by["parquet-file"], by["load"]
    n = csv_w["synapses"]
    lines = [
        f"Command: `{command}`",
        "",
        f"Machine: {_cpu()} ({os.cpu_count()} cores, shared with other jobs), load average "
        f"{os.getloadavg()[0]:.1f} at the end, Python {platform.python_version()}, numpy "
        f"{np.__version__}, pyarrow {_version('pyarrow')}, pandas {_version('pandas')}; "
        f"{time.strftime('%Y-%m-%d')}. The ESCAPE-NET-sized layer: {n:,} synapses.",
        "",
        "| format | file size | bytes/synapse | write (s) | synapses/s (wall) "
        "| synapses/s (CPU) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, r, size in (("CSV", csv_w, csv_w["bytes"]),
                           ("Parquet, zstd (edges)", pq_w, pq_w["bytes"])):
        lines.append(f"| {label} | {_mib(size)} | {size / n:.1f} | {r['seconds']:.2f} | "
                     f"{r['rate'] / 1e6:.2f} M | {r['cpu_rate'] / 1e6:.2f} M |")
    lines.append(f"| Parquet nodes table (rates, biases; {pq_w['neurons']:,} neurons) | "
                 f"{_mib(pq_w['nodes_bytes'])} | | | | |")
    lines += ["", "| load | wall (s) | CPU (s) |", "|---|---:|---:|"]
    for name, t in load["loads"].items():
        lines.append(f"| {name} | {t['seconds']:.2f} | {t['cpu_seconds']:.2f} |")
    return "\n".join(lines)


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except ImportError:
        return "not installed"


def update_docs(text: str, doc_path: Path = DOC, start: str = START, end: str = END) -> None:
    doc = doc_path.read_text()
    if start not in doc or end not in doc:
        raise SystemExit(f"{doc_path} has no {start} ... {end} markers")
    head, rest = doc.split(start, 1)
    _, tail = rest.split(end, 1)
    doc_path.write_text(f"{head}{start}\n{text}\n{end}{tail}")


def _worker(args) -> dict:
    if args.case in ("parquet-file", "parquet-large"):
        return run_parquet_case(args.case, args.parquet_chunk_size)
    if args.case == "load":
        return run_load_case(args.chunk_size, args.parquet_chunk_size)
    return run_case(args.case, args.chunk_size)


def _run_cases(cases, args) -> list[dict]:
    results = []
    for case in cases:
        out = subprocess.run([sys.executable, __file__, "--case", case, "--chunk-size",
                              str(args.chunk_size), "--parquet-chunk-size",
                              str(args.parquet_chunk_size)],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(r)
        if case == "load":
            for name, t in r["loads"].items():
                print(f"load  {name:40s} {t['seconds']:7.2f} s (CPU {t['cpu_seconds']:.2f} s)",
                      flush=True)
            continue
        print(f"{case:12s} {r['synapses']:>12,} synapses  {r['seconds']:7.2f} s  "
              f"{r['rate'] / 1e6:6.2f} M synapses/s (CPU time: {r['cpu_rate'] / 1e6:.2f} M/s)  "
              f"peak RSS +{r['rss_delta_mb']:.0f} MiB  traced peak "
              f"{_traced(r)}", flush=True)
    return results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--large", action="store_true",
                   help="also run the ~143M-synapse cases (CSV and Parquet)")
    p.add_argument("--no-parquet", action="store_true",
                   help="skip the Parquet write and the load cases")
    p.add_argument("--chunk-size", type=int, default=1 << 16, help="CSV chunk size")
    p.add_argument("--parquet-chunk-size", type=int, default=1 << 20,
                   help="Parquet chunk (row group) size")
    p.add_argument("--update-docs", action="store_true",
                   help=f"write the tables into {DOC} and {INTEROP_DOC}")
    p.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)  # subprocess worker
    args = p.parse_args(argv)
    if args.case:
        print(json.dumps(_worker(args)))
        return 0

    cases = [c for c in CASES if (c not in LARGE or args.large)
             and (c not in PARQUET or not args.no_parquet)]
    results = _run_cases(cases, args)
    command = "python benchmarks/synapse_graph.py" + (" --large" if args.large else "") + (
        " --no-parquet" if args.no_parquet else "") + (
        f" --chunk-size {args.chunk_size}" if args.chunk_size != 1 << 16 else "") + (
        f" --parquet-chunk-size {args.parquet_chunk_size}"
        if args.parquet_chunk_size != 1 << 20 else "") + (
        " --update-docs" if args.update_docs else "")
    text = table([r for r in results if r["case"] != "load"], command, args.chunk_size,
                 args.parquet_chunk_size)
    print()
    print(text)
    if not args.no_parquet:
        parquet_text = parquet_table(results, command)
        print()
        print(parquet_text)
    if args.update_docs:
        update_docs(text)
        print(f"\nupdated {DOC}")
        if not args.no_parquet:
            update_docs(parquet_text, INTEROP_DOC, PARQUET_START, PARQUET_END)
            print(f"updated {INTEROP_DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
