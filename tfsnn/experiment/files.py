"""Experiments described in YAML or JSON files (the ``tfsnn run`` command).

    experiment:          # or the settings at the top level
      name: lenet
      dataset: mnist5k
      timesteps: 100

A file is read whole and checked before anything runs: it must be a readable text file that
parses, with no key given twice (YAML and JSON), no key outside the ``experiment:`` section and
only ``ExperimentConfig`` settings with valid values. Every error is one line that names the
file and the key, e.g. ``exp.yaml: experiment.percentile: percentile must be ...``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import fields
from pathlib import Path

import yaml

from tfsnn.experiment.config import ExperimentConfig
from tfsnn.experiment.experiment import Experiment, ExperimentResult

__all__ = ["load_config", "experiment_kwargs", "experiment_config", "load_experiment_config",
           "run_config", "EXPERIMENT_SETTINGS"]

#: The settings an experiment config may hold (the fields of ``ExperimentConfig``).
EXPERIMENT_SETTINGS: tuple[str, ...] = tuple(f.name for f in fields(ExperimentConfig))

_MERGE_TAG = "tag:yaml.org,2002:merge"


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but a key given twice in one mapping is an error (PyYAML would
    keep the last value silently)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: PyYAML reports it below
                continue
            if first is not None:
                raise ValueError(f"line {line}: duplicate key {key!r} (first given on line "
                                 f"{first}); give each key once")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _unique_pairs(pairs: list) -> dict:
    """``json.loads``'s ``object_pairs_hook``: a key given twice in one object is an error."""
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}; give each key once")
        out[key] = value
    return out


def _read_text(path: Path) -> str:
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not a config file")
    if not path.exists():
        raise FileNotFoundError(f"config file {path} does not exist")
    try:
        return path.read_text(encoding="utf-8")
    except PermissionError:
        raise PermissionError(f"{path}: cannot read the config file (permission denied)") \
            from None
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not a UTF-8 text file (byte {e.start}); expected a YAML "
                         "or JSON config") from None


def _parse(path: Path, text: str):
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text, object_pairs_hook=_unique_pairs)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: invalid JSON at line {e.lineno}, column {e.colno}: "
                             f"{e.msg}") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a safe loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = "; ".join(x for x in (e.context, e.problem) if x)
        raise ValueError(f"{path}: invalid YAML{where}: {what}") from None
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: invalid YAML: {e}") from None


def load_config(path, expected: str = "a mapping of Experiment settings") -> dict:
    """Read a YAML or JSON (``.json``) config file into a dict.

    Raises FileNotFoundError, IsADirectoryError or PermissionError when the file cannot be
    read, and ValueError (naming the file, and the line where known) when it is not UTF-8,
    does not parse, gives a key twice, is empty or is not a mapping (``expected`` says what it
    should be).
    """
    path = Path(path)
    try:
        cfg = _parse(path, _read_text(path))
    except ValueError as e:
        msg = str(e)
        raise ValueError(msg if msg.startswith(f"{path}:") else f"{path}: {msg}") from None
    if cfg is None:
        raise ValueError(f"{path}: the file is empty; expected {expected}")
    if not isinstance(cfg, dict):
        raise ValueError(f"{path}: expected {expected}, got a {type(cfg).__name__}")
    return cfg


def _check_names(kw: Mapping, where: str) -> None:
    unknown = [k for k in kw if k not in EXPERIMENT_SETTINGS]
    if unknown:
        raise ValueError(f"{where}unknown experiment setting(s) "
                         f"{sorted(unknown, key=str)}; allowed: {sorted(EXPERIMENT_SETTINGS)}")


def experiment_kwargs(cfg: Mapping, where: str = "") -> dict:
    """Experiment arguments from a config: the ``experiment:`` section or the top level.

    With an ``experiment:`` section no other top-level key is allowed; unknown settings are
    an error. ``where`` (e.g. ``"exp.yaml: "``) starts every message.
    """
    if "experiment" not in cfg:
        kw = dict(cfg)
    else:
        others = [k for k in cfg if k != "experiment"]
        if others:
            hint = " (sweep configs run with `tfsnn sweep`)" if "search" in others else ""
            raise ValueError(f"{where}key(s) {sorted(others, key=str)} outside the "
                             "'experiment:' section; an experiment config has only the section "
                             f"'experiment:' (or the settings at the top level){hint}")
        section = cfg["experiment"]
        if section is not None and not isinstance(section, Mapping):
            raise ValueError(f"{where}'experiment' must be a mapping of Experiment settings, "
                             f"got {section!r}")
        kw = dict(section or {})
    _check_names(kw, where)
    return kw


def _culprit(kw: Mapping, message: str) -> str | None:
    """The first setting that is invalid on its own, else the given setting that the message
    starts with (invalid together with another), else None."""
    for key, value in kw.items():
        try:
            ExperimentConfig(**{key: value})
        except (ValueError, TypeError):
            return key
    return next((k for k in kw if re.match(rf"{re.escape(str(k))}\b", message)), None)


def experiment_config(kw: Mapping, label: Callable[[str | None], str] | None = None
                      ) -> ExperimentConfig:
    """``ExperimentConfig(**kw)``, checked now (before anything trains), with errors that name
    the offending setting: ``"<label(key)>: <message>"`` (``label(None)`` when only the
    combination of settings is invalid). Default label: ``experiment.<key>``."""
    label = label or (lambda key: "experiment" if key is None else f"experiment.{key}")
    unknown = [k for k in kw if k not in EXPERIMENT_SETTINGS]
    if unknown:
        raise ValueError(f"{label(unknown[0])}: unknown experiment setting {unknown[0]!r}; "
                         f"allowed: {', '.join(sorted(EXPERIMENT_SETTINGS))}")
    try:
        return ExperimentConfig(**kw)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{label(_culprit(kw, str(e)))}: {e}") from None


def _apply_overrides(kw: dict, overrides) -> dict[str, str]:
    """Apply ``--set key=value`` strings (values parsed as YAML) to ``kw``; returns key -> the
    override that set it (for error messages)."""
    given = {}
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"--set {item!r} is not of the form key=value")
        k, v = (s.strip() for s in item.split("=", 1))
        try:
            kw[k] = yaml.safe_load(v)
        except yaml.YAMLError:
            raise ValueError(f"--set {item}: cannot parse the value {v!r} (YAML)") from None
        given[k] = f"--set {item}"
    return given


def load_experiment_config(path, overrides=()) -> ExperimentConfig:
    """The checked ``ExperimentConfig`` of a config file with ``--set key=value``
    ``overrides``; errors name the file and key (``exp.yaml: experiment.percentile: ...``) or
    the override."""
    cfg = load_config(path)
    kw = experiment_kwargs(cfg, where=f"{path}: ")
    given = _apply_overrides(kw, overrides)
    section = "experiment." if "experiment" in cfg else ""

    def label(key):
        if key in given:
            return given[key]
        return f"{path}: {section}{key}" if key is not None else f"{path}: experiment"

    return experiment_config(kw, label)


def run_config(path, overrides=()) -> ExperimentResult:
    """Run the experiment described by a config file; ``overrides`` are "key=value" strings.
    The whole config is checked before anything trains."""
    return Experiment(load_experiment_config(path, overrides)).run()
