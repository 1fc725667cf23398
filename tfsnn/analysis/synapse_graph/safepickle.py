"""Loading a pickle without running code from it: an unpickler that resolves only the globals
of a synapse-graph pickle.

A pickle can name any importable function (``os.system``, ``builtins.exec``, ...) and have it
called while loading. ``restricted_load`` resolves a global only if it is in
``GRAPH_PICKLE_GLOBALS`` (numpy's array, dtype and scalar reconstruction: what
``write_pickle`` puts into a file besides plain dicts, lists, tuples, strings and numbers) and
refuses every other one with a ``ValueError`` naming it, before that global can be called.
Both numpy 1 (``numpy.core``) and numpy 2 (``numpy._core``) spellings load.
"""

from __future__ import annotations

import importlib
import pickle

_CORE = ("numpy._core", "numpy.core")

#: every (module, name) a synapse-graph pickle may name
GRAPH_PICKLE_GLOBALS = frozenset(
    {("numpy", "ndarray"), ("numpy", "dtype")}
    | {(f"{core}.multiarray", name) for core in _CORE for name in ("_reconstruct", "scalar")}
    | {(f"{core}.numeric", "_frombuffer") for core in _CORE}
)


class RefusedGlobal(ValueError):
    """A pickle names a global that is not allowed (it was not resolved, nothing ran)."""


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only the globals in ``allowed``; ``source`` (a file
    name) is named in the errors."""

    def __init__(self, file, allowed=GRAPH_PICKLE_GLOBALS, source="the pickle"):
        super().__init__(file)
        self.allowed = frozenset(allowed)
        self.source = source

    def find_class(self, module, name):
        if (module, name) not in self.allowed:
            raise RefusedGlobal(
                f"{self.source}: refused to load the global {module}.{name}: a tfsnn synapse "
                f"graph pickle contains only numpy arrays and plain Python values, so this file "
                f"was not written by SynapseGraph.to_pickle (nothing in it was run)")
        for core in _CORE:  # numpy 1 files on numpy 2 and back, without deprecation warnings
            if module.startswith(core + "."):
                for alias in _CORE:
                    try:
                        mod = importlib.import_module(alias + module[len(core):])
                        return getattr(mod, name)
                    except (ImportError, AttributeError):
                        continue
        return getattr(importlib.import_module(module), name)

    def persistent_load(self, pid):
        raise RefusedGlobal(f"{self.source}: refused a persistent id ({pid!r}): a tfsnn "
                            f"synapse graph pickle has none")


def restricted_load(file, allowed=GRAPH_PICKLE_GLOBALS, source="the pickle"):
    """Unpickle from the open binary ``file``, resolving only the globals in ``allowed``.
    Raises ``RefusedGlobal`` (a ``ValueError``) naming ``source`` and the global for a refused
    global, and ``ValueError`` naming ``source`` for a file that is not a readable pickle
    (truncated, corrupt)."""
    try:
        return RestrictedUnpickler(file, allowed, source).load()
    except RefusedGlobal:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            ImportError, IndexError, KeyError, OverflowError) as e:
        raise ValueError(f"{source} is not a readable pickle (truncated or corrupt?): "
                         f"{type(e).__name__}: {e}") from e
