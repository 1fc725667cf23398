"""Experiments described in YAML or JSON files (the ``tfsnn run`` command).

    experiment:          # or the settings at the top level
      name: lenet
      dataset: mnist5k
      timesteps: 100
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from tfsnn.experiment.config import ExperimentConfig
from tfsnn.experiment.experiment import Experiment, ExperimentResult


def load_config(path) -> dict:
    """Read a YAML or JSON experiment/sweep config into a dict."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no config file at {path}")
    text = path.read_text()
    if path.suffix == ".json":
        cfg = json.loads(text)
    else:
        import yaml

        cfg = yaml.safe_load(text)
    if not isinstance(cfg, dict):
        raise ValueError(f"{path}: a config must be a mapping of Experiment arguments")
    return cfg


def experiment_kwargs(cfg: dict) -> dict:
    """Experiment arguments from a config: the ``experiment:`` section or the top level."""
    kw = dict(cfg.get("experiment", cfg))
    allowed = {f.name for f in fields(ExperimentConfig)}
    unknown = set(kw) - allowed
    if unknown:
        raise ValueError(f"unknown experiment setting(s) {sorted(unknown)}; allowed: "
                         f"{sorted(allowed)}")
    return kw


def run_config(path, overrides=()) -> ExperimentResult:
    """Run the experiment described by a config file; ``overrides`` are "key=value" strings."""
    import yaml

    kw = experiment_kwargs(load_config(path))
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not of the form key=value")
        k, v = item.split("=", 1)
        kw[k.strip()] = yaml.safe_load(v)
    kw = experiment_kwargs(kw)
    return Experiment(**kw).run()
