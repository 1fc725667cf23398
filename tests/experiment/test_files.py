"""Experiment config files: read whole and checked before anything trains; every error names
the file and the key (and the line where the parser knows it)."""

import pathlib

import pytest

from tfsnn.experiment import (
    Experiment,
    ExperimentConfig,
    experiment_config,
    experiment_kwargs,
    load_config,
    load_experiment_config,
    run_config,
)


def _write(tmp_path, text, name="exp.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("name, text, message", [
    ("exp.yaml", "experiment:\n  epochs: 2\n  seed: 1\n  epochs: 3\n",
     "exp.yaml: line 4: duplicate key 'epochs' (first given on line 2); give each key once"),
    ("exp.yaml", "experiment: {seed: 1, seed: 2}\n", "line 1: duplicate key 'seed'"),
    ("exp.yaml", "experiment:\n  model_kwargs:\n    width: 4\n    width: 8\n",
     "line 4: duplicate key 'width' (first given on line 3)"),
    ("exp.yaml", "experiment: {}\nexperiment: {}\n", "line 2: duplicate key 'experiment'"),
    ("exp.json", '{"experiment": {"seed": 1, "seed": 2}}', "exp.json: duplicate key 'seed'"),
    ("exp.yaml", "experiment:\n  timesteps: [1\n", "exp.yaml: invalid YAML at line 3"),
    ("exp.yaml", "experiment:\n\tseed: 1\n", "exp.yaml: invalid YAML at line 2, column 1"),
    ("exp.json", '{"experiment": {"seed": 1,}}', "exp.json: invalid JSON at line 1, column 27"),
    ("exp.yaml", "", "exp.yaml: the file is empty; expected a mapping of Experiment settings"),
    ("exp.yaml", "# only a comment\n", "the file is empty"),
    ("exp.yaml", "- seed\n- 1\n", "exp.yaml: expected a mapping of Experiment settings, got "
                                 "a list"),
])
def test_files_that_do_not_parse(tmp_path, name, text, message):
    path = _write(tmp_path, text, name)
    with pytest.raises(ValueError) as e:
        load_config(path)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_yaml_anchors_and_merge_keys_still_work(tmp_path):
    path = _write(tmp_path, "base: &b {seed: 1, epochs: 2}\nexperiment:\n  <<: *b\n  seed: 3\n")
    assert load_config(path)["experiment"] == {"seed": 3, "epochs": 2}


def test_files_that_cannot_be_read(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="config file .*nope.yaml does not exist"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(IsADirectoryError, match="is a directory, not a config file"):
        load_config(tmp_path)
    binary = tmp_path / "model.yaml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(ValueError, match="model.yaml: not a UTF-8 text file"):
        load_config(binary)
    locked = _write(tmp_path, "experiment: {}\n", "locked.yaml")

    def denied(self, *args, **kwargs):  # what a file without read permission gives (not root)
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(pathlib.Path, "read_text", denied)
    with pytest.raises(PermissionError, match="locked.yaml: cannot read the config file "
                                              r"\(permission denied\)"):
        load_config(locked)


def test_keys_outside_the_experiment_section(tmp_path):
    path = _write(tmp_path, "experiment:\n  seed: 1\ntimesteps: 50\nsearch: {}\n")
    with pytest.raises(ValueError, match=r"exp.yaml: key\(s\) \['search', 'timesteps'\] outside "
                                         r"the 'experiment:' section.*tfsnn sweep"):
        load_experiment_config(path)
    path = _write(tmp_path, "experiment: [1, 2]\n")
    with pytest.raises(ValueError, match="'experiment' must be a mapping"):
        load_experiment_config(path)
    path = _write(tmp_path, "experiment:\n")
    assert load_experiment_config(path) == ExperimentConfig()
    assert experiment_kwargs({"timesteps": 5}) == {"timesteps": 5}   # settings at the top


@pytest.mark.parametrize("text, message", [
    ("experiment:\n  percentile: high\n",
     "exp.yaml: experiment.percentile: percentile must be"),
    ("experiment:\n  seed: null\n", "exp.yaml: experiment.seed: seed must be"),
    ("experiment:\n  timesteps: 0\n", "exp.yaml: experiment.timesteps: timesteps must be >= 1"),
    ("experiment:\n  encoding: burst\n", "exp.yaml: experiment.encoding: "),
    ("experiment:\n  colour: red\n", "exp.yaml: unknown experiment setting(s) ['colour']; "
                                     "allowed: ['activation', "),
    ("experiment:\n  1: red\n  x: 2\n", "unknown experiment setting(s) [1, 'x']"),
    ("percentile: high\n", "exp.yaml: percentile: percentile must be"),  # settings at the top
    ("experiment:\n  encoding: ttfs\n  tau: 20.0\n", "exp.yaml: experiment.tau: tau: "),
])
def test_bad_values_are_found_when_the_file_is_read(tmp_path, monkeypatch, text, message):
    """Before any training: Experiment.run is never reached."""
    monkeypatch.setattr(Experiment, "run", lambda self: pytest.fail("the experiment ran"))
    path = _write(tmp_path, text)
    with pytest.raises(ValueError) as e:
        run_config(path)
    assert str(e.value).startswith(message) or message in str(e.value), str(e.value)


@pytest.mark.parametrize("overrides, message", [
    (["percentile=high"], "--set percentile=high: percentile must be"),
    (["colour=red"], "--set colour=red: unknown experiment setting 'colour'; allowed: "),
    (["timesteps"], "--set 'timesteps' is not of the form key=value"),
    (["timesteps=[1"], "--set timesteps=[1: cannot parse the value '[1' (YAML)"),
])
def test_bad_overrides_are_named(tmp_path, overrides, message):
    path = _write(tmp_path, "experiment:\n  timesteps: 20\n")
    with pytest.raises(ValueError) as e:
        load_experiment_config(path, overrides)
    assert str(e.value).startswith(message), str(e.value)


def test_overrides_apply():
    cfg = experiment_config({"timesteps": 5, "seed": 2})
    assert (cfg.timesteps, cfg.seed) == (5, 2)


def test_experiment_config_labels():
    with pytest.raises(ValueError, match=r"^experiment.seed: seed must be"):
        experiment_config({"seed": -1})
    with pytest.raises(ValueError, match=r"^here\[seed\]: seed must be"):
        experiment_config({"seed": "x"}, lambda k: f"here[{k}]")
