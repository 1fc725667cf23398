"""The per-process cache of trained ANNs that a sweep reuses across trials.

The trained ANN does not depend on the SNN-side settings (``SNN_ONLY_FIELDS`` of
:class:`tfsnn.experiment.ExperimentConfig`: timesteps, percentile, encoding, ...). Trials that
differ only in those reuse one trained ANN: the first trial trains it, later ones get it as
``model=<keras.Model>`` and only convert and simulate. A clamped encoding (``ttfs_clamped``)
trains with a clamped ReLU, so it counts as a different ANN.
"""

from __future__ import annotations

import json
from collections import OrderedDict

from tfsnn.experiment.config import SNN_ONLY_FIELDS

__all__ = ["SNN_ONLY_KWARGS", "ANN_CACHE_SIZE", "clear_ann_cache", "ann_cache_key",
           "run_experiment"]

# Former name of SNN_ONLY_FIELDS: Experiment keyword arguments left out of the cache key.
SNN_ONLY_KWARGS = SNN_ONLY_FIELDS

ANN_CACHE_SIZE = 4  # trained ANNs kept per process (least recently used ones go first)
_ANN_CACHE: OrderedDict = OrderedDict()


def clear_ann_cache() -> None:
    """Forget the trained ANNs cached by :func:`tfsnn.sweeps.sweep` in this process."""
    _ANN_CACHE.clear()


def ann_cache_key(factory, kwargs: dict) -> str | None:
    """The factory's name and every keyword argument that changes the trained ANN, as a
    string; None when there is nothing to cache (``model`` is not a name of a model to train)."""
    if not isinstance(kwargs.get("model"), str):
        return None  # a user model (or nothing to train): nothing to cache
    relevant = {k: v for k, v in kwargs.items() if k not in SNN_ONLY_FIELDS}
    if "clamp" in str(kwargs.get("encoding", "")):
        relevant["__clamped_ann__"] = True
    ident = f"{getattr(factory, '__module__', '')}.{getattr(factory, '__qualname__', factory)}"
    return ident + json.dumps(relevant, sort_keys=True, default=repr)


def run_experiment(factory, kwargs: dict, cache_ann: bool):
    """``factory(**kwargs).run()``, with ``model`` replaced by a cached trained ANN when one
    matches (``cache_ann``); the experiment's trained ANN (``exp.ann``) is cached afterwards."""
    key = ann_cache_key(factory, kwargs) if cache_ann else None
    if key is not None and key in _ANN_CACHE:
        _ANN_CACHE.move_to_end(key)
        kwargs = {**kwargs, "model": _ANN_CACHE[key]}
    exp = factory(**kwargs)
    result = exp.run()
    if key is not None and key not in _ANN_CACHE and getattr(exp, "ann", None) is not None:
        _ANN_CACHE[key] = exp.ann
        while len(_ANN_CACHE) > ANN_CACHE_SIZE:
            _ANN_CACHE.popitem(last=False)
    return result
