"""The house rules of the package layout (docs/architecture.md): imports only go down the
pipeline, and no module imports tfsnn inside a function to dodge a cycle."""

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "tfsnn"

#: tier of every top-level module or package: a module may import its own package and
#: anything of a lower tier, never a higher tier or another package of its own tier
TIERS = {
    "ir": 0, "checks": 0, "jsonutil": 0, "backend": 0, "layers": 0, "fileio": 0,
    "datasets": 1, "neurons": 1, "quantization": 1,
    "cells": 2,
    "simulation": 3,
    "conversion": 4, "models": 4, "training": 4,
    "analysis": 5, "interop": 5,
    "experiment": 6,
    "sweeps": 7, "optimization": 8,
    "cli": 9,
}
LAZY_OK = {"__init__.py", "cli.py"}  # lazy imports keep `import tfsnn` and --help fast


def _modules():
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG)
        top = rel.parts[0][:-3] if len(rel.parts) == 1 else rel.parts[0]
        yield path, rel, top, ast.parse(path.read_text())


def _tfsnn_imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "tfsnn" or node.module.startswith("tfsnn."):
                yield node, node.module.split(".")[1] if "." in node.module else None


def test_every_module_has_a_tier():
    tops = {top for _, _, top, _ in _modules()} - {"__init__"}
    assert tops <= set(TIERS), sorted(tops - set(TIERS))


def test_imports_only_go_down():
    bad = []
    for _, rel, top, tree in _modules():
        if top == "__init__":
            continue
        for node, target in _tfsnn_imports(tree):
            if target is None or target == top:
                continue
            if TIERS[target] >= TIERS[top]:
                bad.append(f"{rel}:{node.lineno} ({top}, tier {TIERS[top]}) imports "
                           f"{target} (tier {TIERS[target]})")
    assert not bad, "\n".join(bad)


def test_no_function_local_imports_of_tfsnn():
    bad = []
    for _, rel, _, tree in _modules():
        if rel.name in LAZY_OK and len(rel.parts) == 1:
            continue
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                bad += [f"{rel}:{n.lineno}" for n, _ in _tfsnn_imports(fn)]
    assert not bad, bad
