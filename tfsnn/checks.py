"""Argument checks shared by every stage (defined once, imported from here).

- numbers: ``check_timesteps``, ``check_number`` (finite, positive, in a range);
- images: ``check_images`` (NaN/inf), ``check_image_range`` (tfsnn takes data in [0, 1]),
  ``check_sample_shape`` (a batch of samples of the model's shape), ``check_inputs`` (all
  of them: what a model is given to run on);
- labels: ``check_labels`` (class indices, an ``(N, 1)`` column or one-hot rows -> indices).
"""

from __future__ import annotations

import math

import numpy as np

#: how far float data may exceed [0, 1] (round-off) before it counts as out of range
RANGE_TOL = 1e-6
#: how far a probability row's sum may be from 1
ROW_SUM_TOL = 1e-3


def check_timesteps(timesteps) -> int:
    """``timesteps`` as an int; a clear error unless it is an integer >= 1."""
    if isinstance(timesteps, bool) or not isinstance(timesteps, (int, np.integer)):
        raise ValueError(f"timesteps must be an integer >= 1, got {timesteps!r}")
    if timesteps < 1:
        raise ValueError(f"timesteps must be >= 1, got {timesteps}")
    return int(timesteps)


def check_number(value, name: str, *, positive: bool = False, high: float | None = None,
                 none_ok: bool = False) -> float | None:
    """``value`` as a float: a real number (not a bool, string or complex), finite, ``> 0`` with
    ``positive``, ``<= high`` if given; None passes with ``none_ok``. The ValueError starts
    with ``name`` and says what is accepted."""
    if value is None and none_ok:
        return None
    v = math.nan
    if not isinstance(value, (str, bytes, bool, np.bool_, complex, np.complexfloating)):
        try:
            v = float(value)
        except (TypeError, ValueError):
            pass
    if math.isfinite(v) and not (positive and v <= 0) and not (high is not None and v > high):
        return v
    if positive and high is not None:
        need = f"a number in (0, {high:g}]"
    else:
        need = "a finite number" + (" > 0" if positive else "")
    raise ValueError(f"{name} must be {need}{' or None' if none_ok else ''}, got {value!r}")


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


def check_image_range(x, where: str = "input"):
    """Raise ValueError unless the values of ``x`` lie in [0, 1] (within ``RANGE_TOL``).

    tfsnn's images and features are intensities in [0, 1] (``load_dataset`` scales them):
    the normalization takes 1 as the input's scale, Poisson input takes them as spike
    probabilities. Negative values are refused too (z-scored data: rescale it to [0, 1]).
    Returns ``x`` unchanged.
    """
    arr = np.asarray(x)
    if arr.size == 0:
        return x
    lo, hi = float(arr.min()), float(arr.max())
    if lo >= -RANGE_TOL and hi <= 1.0 + RANGE_TOL:
        return x
    if lo >= 0 and hi <= 255:
        why = f"max {hi:g}: looks like 8-bit pixel values (0-255); divide by 255 (x / 255.0)"
    elif lo < 0:
        why = (f"min {lo:g}: looks like standardized (z-scored) data; rescale it to [0, 1], "
               "e.g. (x - x.min()) / (x.max() - x.min()) with the training set's min and max")
    else:
        why = ("scale it first (e.g. x / 255.0 for 8-bit images, or "
               "(x - x.min()) / (x.max() - x.min()))")
    raise ValueError(
        f"{where} ({arr.dtype}) has values in [{lo:g}, {hi:g}] but must lie in [0, 1]: {why}. "
        "load_dataset scales its data that way (uint8 images are divided by 255).")


def _fits(given: tuple, expected: tuple) -> bool:
    return len(given) == len(expected) and all(e is None or e == g
                                               for e, g in zip(expected, given))


def check_sample_shape(x, sample_shape, where: str = "x", owner: str = "the model"):
    """``x`` as an array of samples ``(N,) + sample_shape`` (``None`` in ``sample_shape``:
    any size). One sample without the batch axis gets one; anything else that does not fit
    raises a ValueError saying what ``owner`` expects and what to do."""
    x = np.asarray(x)
    expected = tuple(sample_shape)
    if _fits(x.shape[1:], expected):
        return x
    if _fits(x.shape, expected):  # a single sample
        return x[None]
    given = x.shape[1:] if x.ndim else x.shape
    hint = ""
    if expected and expected[-1] == 1 and _fits(x.shape[1:] + (1,), expected):
        hint = ": add a channel axis (x[..., None])"
    elif expected and expected[-1] == 1 and _fits(x.shape + (1,), expected):
        given, hint = x.shape, ": add a batch and a channel axis (x[None, ..., None])"
    raise ValueError(f"{where} has samples of shape {tuple(given)} (array shape {x.shape}) "
                     f"but {owner} expects {expected}{hint}")


def check_inputs(x, sample_shape, where: str = "x", owner: str = "the model") -> np.ndarray:
    """What a model runs on: a non-empty float32 array ``(N,) + sample_shape`` of finite
    values in [0, 1] (``check_sample_shape``, ``check_images``, ``check_image_range``)."""
    x = np.asarray(x)
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise ValueError(f"{where} must be a numeric array, got dtype {x.dtype}")
    x = check_sample_shape(x, sample_shape, where, owner)
    if len(x) == 0:
        raise ValueError(f"{where} has no samples (array shape {x.shape})")
    x = x.astype(np.float32, copy=False)
    check_images(x, where)
    check_image_range(x, where)
    return x


def _one_hot_rows(y: np.ndarray, num_classes, where: str) -> np.ndarray:
    """Class indices from one-hot or class-probability rows (one largest value each)."""
    if num_classes is not None and y.shape[1] != num_classes:
        raise ValueError(f"{where} has one-hot rows of width {y.shape[1]} (shape {y.shape}) "
                         f"but there are {num_classes} classes; pass rows of width "
                         f"{num_classes} or class indices")
    top = y.max(axis=1, keepdims=True)
    bad = ((y < 0) | (y > 1)).any(axis=1) | (np.abs(y.sum(axis=1) - 1) > ROW_SUM_TOL) | (
        (y == top).sum(axis=1) != 1)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"{where} has shape {y.shape} but is not one-hot or class probabilities: row {i} "
            f"is {y[i].tolist()} (rows need values in [0, 1] summing to 1 with a single "
            "largest value); pass integer class labels instead")
    return y.argmax(axis=1)


def _indices(y: np.ndarray, num_classes, where: str) -> np.ndarray:
    """1-D labels checked as class indices (integer-valued, 0..num_classes-1)."""
    if np.issubdtype(y.dtype, np.floating):
        frac = y != np.round(y)
        if frac.any():
            i = int(np.argmax(frac))
            raise ValueError(f"{where} holds non-integer labels (e.g. {y[i]:g} at index {i}); "
                             "pass integer class indices")
    if len(y) and y.min() < 0:
        raise ValueError(f"{where} holds negative labels (min {y.min():g}); labels must be "
                         "class indices 0..num_classes-1")
    if num_classes is not None and len(y) and y.max() >= num_classes:
        raise ValueError(f"{where}: labels go up to {y.max():g} but num_classes={num_classes} "
                         f"(labels must be class indices 0..{num_classes - 1})")
    return y


def check_labels(y, num_classes: int | None = None, n: int | None = None,
                 where: str = "y") -> np.ndarray | None:
    """Labels as int64 class indices ``(N,)``; None stays None (no labels).

    Accepted: 1-D class indices (integers, or floats holding integers), an ``(N, 1)``
    column (what ``keras.datasets.cifar10`` returns), one label for one sample, and one-hot
    or class-probability rows ``(N, num_classes)`` (their argmax). ``n``: the number of
    samples the labels belong to; ``num_classes``: the class count (None: not checked).
    Anything else (wrong length, out of range, negative, fractional, NaN, non-numeric,
    one-hot of the wrong width) raises a ValueError naming the problem.
    """
    if y is None:
        return None
    y = np.asarray(y)
    if y.dtype == bool:
        y = y.astype(np.int64)
    if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
        raise ValueError(f"{where} must hold numeric class labels (integers 0..num_classes-1 "
                         f"or one-hot rows), got dtype {y.dtype}")
    if y.ndim == 0:
        y = y.reshape(1)
    elif y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    elif y.ndim != 1 and y.ndim != 2:
        raise ValueError(f"{where} has shape {y.shape}; pass 1-D class indices (N,), an (N, 1) "
                         "column or one-hot rows (N, num_classes)")
    if n is not None and len(y) != n:
        raise ValueError(f"x has {n} samples but {where} has {len(y)} labels")
    check_images(y, where)
    if y.ndim == 2:
        return _one_hot_rows(y, num_classes, where).astype(np.int64)
    return _indices(y, num_classes, where).astype(np.int64)
