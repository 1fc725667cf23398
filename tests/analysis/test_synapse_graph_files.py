"""Synapse graph files: the restricted pickle loader, atomic writes of CSV/pickle/Parquet,
the Parquet round trip against the CSV, and biases as node attributes."""

from __future__ import annotations

import csv
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tfsnn.analysis.synapse_graph import (
    StoredLayer,
    SynapseGraph,
    build_synapse_graph,
    nodes_path,
    pickle_to_csv,
    read_parquet,
)
from tfsnn.analysis.synapse_graph import export as export_module

# --------------------------------------------------------------------------------------------
# a small network with every kind of projection: conv (bias), avg pool, flatten, dense (bias)


def _specs_and_rates(seed=0, with_readout_rates=False):
    rng = np.random.default_rng(seed)
    specs = [
        StoredLayer("in,put", "input", [], (5, 6, 2), (5, 6, 2)),
        StoredLayer("conv", "conv2d", ["in,put"], (5, 6, 2), (5, 6, 3),
                    kernel=rng.normal(size=(3, 3, 2, 3)).astype(np.float32),
                    config={"strides": (1, 1), "padding": "same"},
                    bias=rng.normal(size=3).astype(np.float32)),
        StoredLayer("pool", "avgpool", ["conv"], (5, 6, 3), (2, 3, 3),
                    config={"pool_size": (2, 2), "strides": (2, 2), "padding": "valid"}),
        StoredLayer("flat", "flatten", ["pool"], (2, 3, 3), (18,)),
        StoredLayer("fc", "dense", ["flat"], (18,), (4,),
                    kernel=rng.normal(size=(18, 4)).astype(np.float32),
                    bias=rng.normal(size=4).astype(np.float32)),
    ]
    rates = {"in,put": rng.random((5, 6, 2)), "conv": rng.random((5, 6, 3)),
             "pool": rng.random((2, 3, 3))}
    rates["conv"][0, 0, :] = 0.0  # zero rates give zero edges
    if with_readout_rates:
        rates["fc"] = rng.random(4)
    return specs, rates


def _graph(**kw) -> SynapseGraph:
    return build_synapse_graph(*_specs_and_rates(**kw))


def _edge_columns(graph):
    chunks = list(graph.iter_chunks())
    return [np.concatenate(col) for col in zip(*chunks)]


def _leftovers(directory, keep):
    return sorted(set(os.listdir(directory)) - set(keep))


# --------------------------------------------------------------------------------------------
# security: the restricted unpickler


class _Exploit:
    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return self.func, (self.arg,)


def _crafted_pickles(marker):
    """Pickles that would create ``marker`` when loaded with plain ``pickle.load``."""
    cmd = f"touch '{marker}'"
    code = f"open({str(marker)!r}, 'w').write('ran')"
    graph_like = {"format": "tfsnn.synapse_graph", "version": 1, "specs": [],
                  "rates": {"x": _Exploit(exec, code)}}  # hidden inside a valid-looking graph
    return {
        "os.system": pickle.dumps(_Exploit(os.system, cmd)),
        "builtins.exec": pickle.dumps(_Exploit(exec, code)),
        "nested builtins.exec": pickle.dumps(graph_like),
        "subprocess.call (protocol 0)": pickle.dumps(_Exploit(subprocess.call, ["touch",
                                                                                 str(marker)]),
                                                     protocol=0),
    }


@pytest.mark.parametrize("case", ["os.system", "builtins.exec", "nested builtins.exec",
                                  "subprocess.call (protocol 0)"])
def test_crafted_pickle_is_refused_before_it_runs(tmp_path, case):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pkl"
    path.write_bytes(_crafted_pickles(marker)[case])
    want = {"os.system": r"(os|posix)\.system",  # the name as the file spells it
            "subprocess.call (protocol 0)": r"(subprocess|commands)\.call"}
    with pytest.raises(ValueError, match=want.get(case, "builtins.exec")) as e:
        SynapseGraph.from_pickle(path)
    assert str(path) in str(e.value) and "refused" in str(e.value)
    with pytest.raises(ValueError, match="refused"):
        pickle_to_csv(path, tmp_path / "out.csv")
    assert not marker.exists()
    assert not (tmp_path / "out.csv").exists()


def test_crafted_pickle_is_refused_by_the_cli(tmp_path, capsys):
    from tfsnn.cli import main

    marker = tmp_path / "marker"
    path = tmp_path / "evil.pkl"
    path.write_bytes(_crafted_pickles(marker)["os.system"])
    try:
        rc, message = main(["graph-csv", str(path), str(tmp_path / "out.csv")]), ""
    except ValueError as e:  # a CLI that lets the error through
        rc, message = 1, str(e)
    captured = capsys.readouterr()
    assert rc != 0
    assert "system" in message + captured.out + captured.err
    assert not marker.exists() and not (tmp_path / "out.csv").exists()


def test_truncated_and_non_pickle_files_name_the_file(tmp_path):
    graph = _graph()
    graph.to_pickle(tmp_path / "g.pkl")
    data = (tmp_path / "g.pkl").read_bytes()
    (tmp_path / "cut.pkl").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.pkl").write_text("source_group,source_neuron\n")
    for name in ("cut.pkl", "text.pkl"):
        with pytest.raises(ValueError, match=rf"{name} is not a readable pickle"):
            SynapseGraph.from_pickle(tmp_path / name)


def test_damaged_graph_pickle_names_what_is_missing(tmp_path):
    with open(tmp_path / "g.pkl", "wb") as f:
        pickle.dump({"format": "tfsnn.synapse_graph", "version": 1, "rates": {},
                     "specs": [{"name": "in", "kind": "input"}]}, f)
    with pytest.raises(ValueError, match=r"layer 0 .* lacks \['inputs'"):
        SynapseGraph.from_pickle(tmp_path / "g.pkl")


def test_real_graph_pickle_round_trips_with_biases(tmp_path):
    graph = _graph()
    graph.to_pickle(tmp_path / "g.pkl")
    loaded = SynapseGraph.from_pickle(tmp_path / "g.pkl")
    for a, b in zip(_edge_columns(graph), _edge_columns(loaded)):
        np.testing.assert_array_equal(a, b)
    assert sorted(loaded.biases) == ["conv", "fc"]
    for name in ("conv", "fc"):
        np.testing.assert_array_equal(loaded.biases[name], graph.biases[name])


def test_numpy1_spelled_pickle_loads(tmp_path):
    """A file written under numpy 1 names ``numpy.core.multiarray``: still loads."""
    graph = _graph()
    payload = {"format": "tfsnn.synapse_graph", "version": 1,
               "specs": [vars(s) for s in graph.specs], "rates": graph.rates}
    data = pickle.dumps(payload, protocol=3)  # text GLOBAL opcodes: no length prefixes
    assert b"numpy._core.multiarray" in data
    (tmp_path / "old.pkl").write_bytes(data.replace(b"numpy._core.", b"numpy.core."))
    loaded = SynapseGraph.from_pickle(tmp_path / "old.pkl")
    assert loaded.summary() == graph.summary()


# --------------------------------------------------------------------------------------------
# lost data: writers replace the file only when complete


def test_csv_failing_part_way_keeps_the_old_file(tmp_path, monkeypatch):
    graph = _graph()
    path = tmp_path / "g.csv"
    path.write_bytes(b"the previous graph\n")
    calls = []
    real = export_module.format_float_words

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:  # the header and a first chunk are written by now
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(export_module, "format_float_words", failing)
    with pytest.raises(OSError, match="No space left"):
        graph.to_csv(path, chunk_size=10)
    assert path.read_bytes() == b"the previous graph\n"
    assert _leftovers(tmp_path, ["g.csv"]) == []
    monkeypatch.undo()
    assert graph.to_csv(path) == graph.num_synapses
    assert path.read_text().startswith("source_group,")
    assert _leftovers(tmp_path, ["g.csv"]) == []


def test_csv_over_a_file_size_limit_keeps_the_old_file(tmp_path):
    """A real write failure (RLIMIT_FSIZE) in a child process: EFBIG part-way."""
    path = tmp_path / "g.csv"
    path.write_bytes(b"old")
    script = textwrap.dedent(f"""
        import resource, signal, sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_synapse_graph_files import _graph
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))
        try:
            _graph().to_csv({str(path)!r}, chunk_size=16)
        except OSError as e:
            print("errno", e.errno)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "errno 27" in out.stdout  # EFBIG: the limit struck part-way
    assert path.read_bytes() == b"old"
    assert _leftovers(tmp_path, ["g.csv"]) == []


def test_pickle_failing_part_way_keeps_the_old_file(tmp_path, monkeypatch):
    graph = _graph()
    path = tmp_path / "g.pkl"
    graph.to_pickle(path)
    before = path.read_bytes()

    def failing_dump(obj, f, protocol=None):
        f.write(b"\x80\x05partial")
        raise OSError(27, "File too large")

    monkeypatch.setattr(export_module.pickle, "dump", failing_dump)
    with pytest.raises(OSError, match="File too large"):
        _graph(seed=1).to_pickle(path)
    assert path.read_bytes() == before
    assert _leftovers(tmp_path, ["g.pkl"]) == []
    monkeypatch.undo()
    _graph(seed=1).to_pickle(path)
    assert path.read_bytes() != before
    np.testing.assert_array_equal(SynapseGraph.from_pickle(path).rates["conv"],
                                  _graph(seed=1).rates["conv"])


def test_parquet_failing_part_way_keeps_both_old_files(tmp_path, monkeypatch):
    path = tmp_path / "g.parquet"
    _graph().to_parquet(path, chunk_size=10)
    before = path.read_bytes(), nodes_path(path).read_bytes()
    graph = _graph(seed=1)
    real = graph.iter_chunks

    def failing(chunk_size):
        for i, chunk in enumerate(real(chunk_size)):
            if i == 3:
                raise OSError(28, "No space left on device")
            yield chunk

    monkeypatch.setattr(graph, "iter_chunks", failing)
    with pytest.raises(OSError, match="No space left"):
        graph.to_parquet(path, chunk_size=10)
    assert (path.read_bytes(), nodes_path(path).read_bytes()) == before
    assert _leftovers(tmp_path, ["g.parquet", "g.nodes.parquet"]) == []


# --------------------------------------------------------------------------------------------
# Parquet


def _read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def test_parquet_round_trip_equals_the_csv(tmp_path):
    graph = _graph()
    n = graph.to_parquet(tmp_path / "g.parquet", chunk_size=50)
    assert n == graph.num_synapses == graph.to_csv(tmp_path / "g.csv")
    pg = read_parquet(tmp_path / "g.parquet")
    assert pg.group_names == graph.group_names
    assert [g["shape"] for g in pg.groups] == graph.group_shapes
    assert [g["kind"] for g in pg.groups] == ["input", "conv2d", "avgpool", "dense"]

    # exactly the graph's own edges, in the same order
    cols = pg.columns()
    want = _edge_columns(graph)
    assert list(cols) == ["source_group", "source_neuron", "dest_group", "dest_neuron", "edge"]
    for name, w in zip(cols, want):
        np.testing.assert_array_equal(cols[name], w)
        assert cols[name].dtype == (np.float64 if name == "edge" else np.int32)

    # and the CSV rows, field by field (the CSV prints 7 significant digits)
    header, rows = _read_csv(tmp_path / "g.csv")
    assert header == pg.edges.column_names
    assert len(rows) == pg.edges.num_rows
    text = {c: pg.edges.column(c).cast(pa.string()).to_pylist()
            for c in ("source_group", "dest_group")}
    for side in ("source", "dest"):
        gids, flat = cols[f"{side}_group"], cols[f"{side}_neuron"]
        idx = ["_".join(str(int(v)) for v in graph.neuron_index(int(g), int(f)))
               for g, f in zip(gids, flat)]
        assert [r[0 if side == "source" else 2] for r in rows] == text[f"{side}_group"]
        assert [r[1 if side == "source" else 3] for r in rows] == idx
    csv_edge = np.array([float(r[4]) for r in rows])
    assert np.all(np.abs(csv_edge - cols["edge"]) <= 5e-7 * np.abs(cols["edge"]) * (1 + 1e-9))
    assert (cols["edge"] == 0).any()


def test_parquet_layout_row_groups_and_compression(tmp_path):
    graph = _graph()
    graph.to_parquet(tmp_path / "g.parquet", chunk_size=64)
    f = pq.ParquetFile(tmp_path / "g.parquet")
    schema = f.schema_arrow
    assert schema.field("source_group").type == pa.dictionary(pa.int32(), pa.string())
    assert schema.field("dest_neuron").type == pa.int32()
    assert schema.field("edge").type == pa.float64()
    meta = f.metadata
    assert meta.num_rows == graph.num_synapses
    assert meta.num_row_groups >= graph.num_synapses // 64
    assert all(meta.row_group(i).num_rows <= 64 for i in range(meta.num_row_groups))
    assert meta.row_group(0).column(0).compression == "ZSTD"
    graph.to_parquet(tmp_path / "s.parquet", compression="snappy", nodes=False)
    assert pq.ParquetFile(tmp_path / "s.parquet").metadata.row_group(0).column(0).compression \
        == "SNAPPY"
    assert not nodes_path(tmp_path / "s.parquet").exists()
    pg = read_parquet(tmp_path / "s.parquet", nodes=False)
    assert pg.nodes is None and pg.edges.num_rows == graph.num_synapses
    with pytest.raises(FileNotFoundError, match=r"s\.nodes\.parquet"):
        read_parquet(tmp_path / "s.parquet")
    with pytest.raises(ValueError, match="compression must be one of zstd, snappy.*'bogus'"):
        graph.to_parquet(tmp_path / "b.parquet", compression="bogus")
    with pytest.raises(ValueError, match="chunk_size"):
        graph.to_parquet(tmp_path / "b.parquet", chunk_size=0)
    assert not (tmp_path / "b.parquet").exists()


def test_parquet_nodes_carry_rates_and_biases(tmp_path):
    specs, rates = _specs_and_rates()
    graph = build_synapse_graph(specs, rates)
    graph.to_parquet(tmp_path / "g.parquet")
    assert nodes_path(tmp_path / "g.parquet") == tmp_path / "g.nodes.parquet"
    pg = read_parquet(tmp_path / "g.parquet")
    nodes = pg.columns("nodes")
    assert list(nodes) == ["group", "neuron", "rate", "bias"]
    by_spec = {s.name: s for s in specs}
    for gid, (name, shape) in enumerate(zip(graph.group_names, graph.group_shapes)):
        sel = nodes["group"] == gid
        np.testing.assert_array_equal(nodes["neuron"][sel], np.arange(int(np.prod(shape))))
        if name in rates:
            np.testing.assert_array_equal(nodes["rate"][sel], rates[name].reshape(-1))
        else:  # the readout: no rates given
            assert np.isnan(nodes["rate"][sel]).all()
        bias = by_spec[name].bias
        if bias is None:  # input and pooling
            assert np.isnan(nodes["bias"][sel]).all()
        else:  # a neuron's bias is its channel's (exact: float32 -> float64)
            want = np.broadcast_to(bias.astype(np.float64), shape).reshape(-1)
            np.testing.assert_array_equal(nodes["bias"][sel], want)
    assert pg.nodes.column("bias").null_count == 5 * 6 * 2 + 2 * 3 * 3


def test_networkx_nodes_have_biases():
    graph = _graph()
    g = graph.to_networkx()
    conv_bias = graph.biases["conv"]
    assert g.nodes[("conv", (1, 2, 2))]["bias"] == float(conv_bias[2])
    assert g.nodes[("fc", (3,))]["bias"] == float(graph.biases["fc"][3])
    assert g.nodes[("pool", (0, 0, 0))]["bias"] is None
    assert g.nodes[("in,put", (0, 0, 0))]["bias"] is None


def test_bias_of_the_wrong_shape_is_named():
    specs, rates = _specs_and_rates()
    specs[1].bias = np.zeros(5, np.float32)
    with pytest.raises(ValueError, match=r"bias of group 'conv' has shape \(5,\).*\(3,\)"):
        build_synapse_graph(specs, rates)


def test_read_parquet_rejects_other_files(tmp_path):
    (tmp_path / "x.parquet").write_text("not parquet")
    with pytest.raises(ValueError, match="x.parquet is not a readable Parquet file"):
        read_parquet(tmp_path / "x.parquet")
    pq.write_table(pa.table({"a": [1, 2]}), tmp_path / "other.parquet")
    with pytest.raises(ValueError, match="not a tfsnn synapse graph edges Parquet"):
        read_parquet(tmp_path / "other.parquet")
    with pytest.raises(FileNotFoundError, match="missing.parquet"):
        read_parquet(tmp_path / "missing.parquet")
