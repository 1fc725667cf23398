"""Training and evaluating the ANN before conversion.

    model = build_model("lenet", ds.input_shape, ds.num_classes)
    train_ann(model, ds, epochs=5)
    print(evaluate_ann(model, ds.x_test, ds.y_test))
"""

from __future__ import annotations

import keras
import numpy as np

from tfsnn.checks import check_images, check_labels, check_sample_shape
from tfsnn.datasets import Dataset, load_dataset

__all__ = ["train_ann", "evaluate_ann", "ann_predict"]

DEFAULT_PATIENCE = 3


def _sample_shape(model: keras.Model) -> tuple:
    """The shape of one sample the model takes (``None``: any size)."""
    expected = model.input_shape
    if isinstance(expected, list):
        if len(expected) != 1:
            raise ValueError(f"model {model.name!r} has {len(expected)} inputs; only "
                             "single-input models are supported")
        expected = expected[0]
    return tuple(expected[1:])


def _check_input_shape(model: keras.Model, x) -> np.ndarray:
    """``x`` as a batch of samples that fit the model's input (``check_sample_shape``)."""
    return check_sample_shape(x, _sample_shape(model), "x", f"model {model.name!r}")


def _num_outputs(model: keras.Model) -> int | None:
    shape = model.output_shape
    return None if isinstance(shape, list) else shape[-1]


def _check_num_classes(model: keras.Model, num_classes: int) -> None:
    units = _num_outputs(model)
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
    x = _check_input_shape(model, x)
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0))


def evaluate_ann(model: keras.Model, x, y, batch_size: int = 256) -> float:
    """Top-1 accuracy of ``argmax(model.predict(x))`` against labels (class indices, an
    ``(N, 1)`` column or one-hot rows: ``tfsnn.checks.check_labels``)."""
    x = _check_input_shape(model, x)
    y = check_labels(y, _num_outputs(model), len(x), "y")
    if len(y) == 0:
        raise ValueError("cannot evaluate on an empty set (x has 0 samples)")
    scores = ann_predict(model, x, batch_size=batch_size)
    return float(np.mean(scores.argmax(axis=-1) == y))
