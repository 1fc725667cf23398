"""Argument checks shared by every stage (defined once, imported from here)."""

from __future__ import annotations

import numpy as np


def check_timesteps(timesteps) -> int:
    """``timesteps`` as an int; a clear error unless it is an integer >= 1."""
    if isinstance(timesteps, bool) or not isinstance(timesteps, (int, np.integer)):
        raise ValueError(f"timesteps must be an integer >= 1, got {timesteps!r}")
    if timesteps < 1:
        raise ValueError(f"timesteps must be >= 1, got {timesteps}")
    return int(timesteps)


def check_images(x, where: str = "input"):
    """Raise ValueError if ``x`` holds NaN or inf values; return ``x`` unchanged otherwise.

    ``where`` names the data in the message (e.g. "train", "test", "input").
    """
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.inexact):
        return x
    finite = np.isfinite(arr)
    if finite.all():
        return x
    n_nan = int(np.isnan(arr).sum())
    n_inf = int(arr.size - finite.sum()) - n_nan
    raise ValueError(
        f"{where} data contains non-finite values: {n_nan} NaN and {n_inf} inf "
        f"(of {arr.size} values, array shape {arr.shape}). Remove or impute them first.")
