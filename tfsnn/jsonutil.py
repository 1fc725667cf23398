"""The one JSON sanitizer: numpy values, tuples and non-finite floats to plain JSON types."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

NONFINITE = ("string", "null")


def to_jsonable(obj, nonfinite: str = "string", unknown=repr):
    """``obj`` with dict keys as strings, sequences as lists, numpy scalars and arrays as
    Python values, and non-finite floats as ``"nan"``/``"inf"``/``"-inf"``
    (``nonfinite="string"``) or ``None`` (``"null"``). Other objects go through ``unknown``
    (``repr`` by default; ``None`` keeps them as they are)."""
    if nonfinite not in NONFINITE:
        raise ValueError(f"nonfinite must be one of {NONFINITE}, got {nonfinite!r}")
    return _convert(obj, nonfinite, unknown)


def _convert(obj, nonfinite, unknown):
    if isinstance(obj, np.ndarray):
        obj = obj.tolist()
    elif isinstance(obj, np.generic):
        obj = obj.item()
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        if math.isfinite(obj):
            return obj
        return repr(obj) if nonfinite == "string" else None
    if isinstance(obj, Mapping):
        return {str(k): _convert(v, nonfinite, unknown) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_convert(v, nonfinite, unknown) for v in obj]
    return obj if unknown is None else unknown(obj)
