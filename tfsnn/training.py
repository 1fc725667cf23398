"""Training and evaluating the ANN before conversion.

    model = build_model("lenet", ds.input_shape, ds.num_classes)
    train_ann(model, ds, epochs=5)
    print(evaluate_ann(model, ds.x_test, ds.y_test))
"""

from __future__ import annotations

import keras
import numpy as np

from tfsnn.datasets import Dataset, check_images, load_dataset

__all__ = ["train_ann", "evaluate_ann", "ann_predict"]

DEFAULT_PATIENCE = 3


def _check_input_shape(model: keras.Model, x: np.ndarray) -> None:
    """Raise ValueError when the samples' shape does not fit the model's input."""
    expected = model.input_shape
    if isinstance(expected, list):
        if len(expected) != 1:
            raise ValueError(f"model {model.name!r} has {len(expected)} inputs; only "
                             "single-input models are supported")
        expected = expected[0]
    expected = tuple(expected[1:])
    given = tuple(x.shape[1:])
    fits = len(expected) == len(given) and all(e is None or e == g
                                               for e, g in zip(expected, given))
    if fits:
        return
    hint = ""
    if len(given) + 1 == len(expected) and expected[-1] == 1:
        hint = " (add a channel axis: x[..., None])"
    raise ValueError(f"model {model.name!r} expects samples of shape {expected} but the data "
                     f"has samples of shape {given}{hint}")


def _labels(y) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        y = y.argmax(axis=1)
    return y.reshape(len(y)).astype(np.int64)


def _check_num_classes(model: keras.Model, num_classes: int) -> None:
    units = model.output_shape[-1] if not isinstance(model.output_shape, list) else None
    if units is not None and num_classes > units:
        raise ValueError(f"the data has {num_classes} classes but model {model.name!r} has "
                         f"only {units} outputs; build it with num_classes={num_classes}")


def train_ann(model: keras.Model, dataset, epochs: int = 5, batch_size: int = 128,
              seed: int = 0, learning_rate: float = 1e-3, early_stopping: bool | int = False,
              validation_split: float = 0.1, verbose: int = 1,
              callbacks=None) -> keras.callbacks.History:
    """Fit ``model`` on ``dataset`` (a Dataset or anything :func:`load_dataset` accepts).

    Compiles with Adam(learning_rate), sparse categorical cross-entropy and accuracy unless the
    model is already compiled (then its own optimizer is kept). ``seed`` seeds Python, numpy
    and the backend (shuffling, dropout); build the model after seeding for reproducible
    initial weights. ``early_stopping`` is False, True (patience 3) or a patience; it watches
    the validation loss (training loss without a validation split) and restores the best
    weights. ``verbose`` is passed to ``fit`` (1 shows the progress bar); extra Keras
    ``callbacks`` (e.g. TensorBoard) are appended.
    """
    ds = dataset if isinstance(dataset, Dataset) else load_dataset(dataset)
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
    _check_input_shape(model, ds.x_train)
    _check_num_classes(model, ds.num_classes)
    keras.utils.set_random_seed(seed)
    if not model.compiled:
        model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    callbacks = list(callbacks or [])
    if early_stopping is not False and early_stopping is not None:
        patience = DEFAULT_PATIENCE if early_stopping is True else int(early_stopping)
        if patience < 0:
            raise ValueError(f"early_stopping patience must be >= 0, got {early_stopping}")
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_loss" if validation_split > 0 else "loss", patience=patience,
            restore_best_weights=True, verbose=min(int(verbose), 1)))
    return model.fit(ds.x_train, ds.y_train, epochs=epochs, batch_size=batch_size,
                     validation_split=validation_split, callbacks=callbacks, shuffle=True,
                     verbose=verbose)


def ann_predict(model: keras.Model, x, batch_size: int = 256) -> np.ndarray:
    """Class scores ``(N, num_classes)`` as a numpy array."""
    x = np.asarray(x)
    check_images(x, "input")
    _check_input_shape(model, x)
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0))


def evaluate_ann(model: keras.Model, x, y, batch_size: int = 256) -> float:
    """Top-1 accuracy of ``argmax(model.predict(x))`` against labels (indices or one-hot)."""
    y = _labels(y)
    if len(y) != len(x):
        raise ValueError(f"x has {len(x)} samples but y has {len(y)}")
    if len(y) == 0:
        raise ValueError("cannot evaluate on an empty set (x has 0 samples)")
    scores = ann_predict(model, x, batch_size=batch_size)
    return float(np.mean(scores.argmax(axis=-1) == y))
