"""The ``tfsnn`` command run as a user runs it (a subprocess): user errors are one line on
stderr that names the file, key or argument, with exit status 2 (usage and configuration) or
1 (failures while working); no traceback unless --debug; no TensorFlow start-up lines unless
--verbose."""

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from tfsnn import cli

REPO = Path(__file__).resolve().parents[1]


def tfsnn(*args, cwd, timeout=300):
    """Run ``python -m tfsnn.cli ARGS`` with the user's environment (no TF_CPP_MIN_LOG_LEVEL:
    the command must quiet TensorFlow itself)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = os.pathsep.join([str(cwd), str(REPO)])
    return subprocess.run([sys.executable, "-m", "tfsnn.cli", *map(str, args)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(proc, status, *names):
    lines = proc.stderr.splitlines()
    assert proc.returncode == status, proc.stderr
    assert len(lines) == 1, proc.stderr          # no traceback, no absl/oneDNN lines
    assert lines[0].startswith("tfsnn: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for name in names:
        assert name in lines[0], (name, lines[0])
    return lines[0]


@pytest.mark.parametrize("name, text, names", [
    ("bad.yaml", "experiment:\n  timesteps: [1\n", ["bad.yaml", "invalid YAML at line 3"]),
    ("dup.yaml", "experiment:\n  seed: 1\n  seed: 2\n",
     ["dup.yaml", "line 3", "duplicate key 'seed'"]),
    ("pct.yaml", "experiment:\n  percentile: high\n",
     ["pct.yaml: experiment.percentile: ", "'high'"]),
    ("seed.yaml", "experiment:\n  seed: null\n", ["seed.yaml: experiment.seed: ", "None"]),
    ("out.yaml", "experiment: {seed: 1}\ntimesteps: 5\n",
     ["out.yaml", "'timesteps'", "outside the 'experiment:' section"]),
])
def test_run_with_a_bad_config_file(tmp_path, name, text, names):
    (tmp_path / name).write_text(text)
    assert_one_line_error(tfsnn("run", name, cwd=tmp_path), 2, *names)


def test_run_with_a_directory_or_a_missing_file(tmp_path):
    (tmp_path / "configs").mkdir()
    assert_one_line_error(tfsnn("run", "configs", cwd=tmp_path), 2, "configs is a directory")
    assert_one_line_error(tfsnn("run", "nope.yaml", cwd=tmp_path), 2, "nope.yaml does not exist")


def test_debug_shows_the_traceback_and_verbose_the_tensorflow_lines(tmp_path):
    (tmp_path / "pct.yaml").write_text("experiment:\n  percentile: high\n")
    proc = tfsnn("run", "pct.yaml", "--debug", cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback (most recent call last)" in proc.stderr
    assert proc.stderr.splitlines()[-1].startswith("tfsnn: error: pct.yaml: experiment.percentile")
    # what TensorFlow prints when it loads, here: shown with --verbose, hidden without
    bare = subprocess.run([sys.executable, "-c", "import keras"], capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items()
                               if k != "TF_CPP_MIN_LOG_LEVEL"}, timeout=300)
    noise = [x for x in bare.stderr.splitlines() if "absl" in x or "oneDNN" in x]
    if not noise:
        pytest.skip("this TensorFlow prints no start-up lines")
    verbose = tfsnn("--verbose", "run", "pct.yaml", cwd=tmp_path)
    assert verbose.returncode == 2
    assert any("absl" in x or "oneDNN" in x for x in verbose.stderr.splitlines())
    assert verbose.stderr.splitlines()[-1].startswith("tfsnn: error: pct.yaml")


def test_graph_csv_with_a_bad_pickle(tmp_path):
    full = pickle.dumps({"layers": list(range(1000))})
    (tmp_path / "truncated.pkl").write_bytes(full[:len(full) // 2])
    (tmp_path / "text.pkl").write_text("not a pickle\n")
    line = assert_one_line_error(tfsnn("graph-csv", "truncated.pkl", "out.csv", cwd=tmp_path),
                                 2, "truncated.pkl")
    assert "truncated" in line
    assert_one_line_error(tfsnn("graph-csv", "text.pkl", "out.csv", cwd=tmp_path), 2, "text.pkl")
    assert_one_line_error(tfsnn("graph-csv", "nope.pkl", "out.csv", cwd=tmp_path), 2,
                          "nope.pkl: No such file or directory")
    assert not (tmp_path / "out.csv").exists()


def test_graph_csv_help_says_what_is_trusted(tmp_path):
    proc = tfsnn("graph-csv", "--help", cwd=tmp_path)
    text = " ".join(proc.stdout.split())
    assert "FILE.pkl must be a synapse graph written by tfsnn; only the graph's own types are " \
           "loaded from it (a restricted unpickler), nothing else is executed" in text


SWEEP = "experiment: {dataset: digits, model: mlp}\n" \
        "search: {timesteps: {DiscreteValues: [5, 10]}}\nlogdir: null\n"


@pytest.mark.parametrize("storage, names", [
    ("sqlite:///", ["--storage", "'sqlite:///' is an in-memory SQLite database"]),
    ("sqlite://", ["--storage", "in-memory"]),
    ("nonsense", ["--storage", "'nonsense' is not a database URL"]),
])
def test_sweep_with_a_storage_that_saves_nothing_or_is_no_url(tmp_path, storage, names):
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    assert_one_line_error(tfsnn("sweep", "sweep.yaml", "--trials", 1, "--storage", storage,
                                cwd=tmp_path), 2, *names)


def test_sweep_with_an_unknown_experiment_key_writes_no_trial(tmp_path):
    (tmp_path / "sweep.yaml").write_text(SWEEP.replace("model: mlp", "model: mlp, colour: red"))
    proc = tfsnn("sweep", "sweep.yaml", "--trials", 2, "--storage", "sqlite:///s.db",
                 cwd=tmp_path)
    assert_one_line_error(proc, 2, "sweep.yaml: experiment.colour: unknown experiment setting")
    assert not (tmp_path / "s.db").exists()


def test_sweep_whose_trials_all_fail_exits_1(tmp_path):
    (tmp_path / "broken_exp.py").write_text(
        "class Broken:\n    def __init__(self, **kwargs):\n        pass\n"
        "    def run(self):\n        raise RuntimeError('boom')\n")
    (tmp_path / "sweep.yaml").write_text(
        "experiment_factory: broken_exp:Broken\nmax_failures_in_a_row: 2\nlogdir: null\n"
        "search: {timesteps: {DiscreteValues: [5, 10]}}\nprogress: false\n")
    proc = tfsnn("sweep", "sweep.yaml", "--trials", 2, "--storage", "sqlite:///s.db",
                 cwd=tmp_path)
    assert_one_line_error(proc, 1, "2 trials in a row failed", "RuntimeError: boom")


def test_argument_errors(tmp_path):
    proc = tfsnn("sweep", "x.yaml", "--trials", 0, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "argument --trials: must be a positive integer, got '0'" in proc.stderr


def test_exit_status_and_error_line():
    assert cli.exit_status(ValueError("x")) == 2
    assert cli.exit_status(PermissionError(13, "Permission denied", "a.yaml")) == 2
    assert cli.error_line(PermissionError(13, "Permission denied", "a.yaml")) == \
        "tfsnn: error: a.yaml: Permission denied"
    assert cli.exit_status(OSError(28, "No space left on device")) == 1
    assert cli.exit_status(RuntimeError("x")) == 1
    assert cli.exit_status(KeyboardInterrupt()) == 130
    assert cli.error_line(KeyError("unknown dataset 'x'")) == \
        "tfsnn: error: unknown dataset 'x'"
    assert cli.error_line(ValueError("two\n  lines")) == "tfsnn: error: two lines"


def test_unexpected_errors_are_one_line_too(monkeypatch, capsys):
    def broken(args):
        raise RuntimeError("internal")

    monkeypatch.setattr(cli, "_cmd_datasets", broken)
    assert cli.main(["datasets"]) == 1
    err = capsys.readouterr().err
    assert err == "tfsnn: error: RuntimeError: internal (unexpected; rerun with --debug for " \
                  "the traceback)\n"
    assert cli.main(["datasets", "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err
