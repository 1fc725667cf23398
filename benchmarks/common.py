"""Helpers shared by the benchmark scripts: the trained mnist5k models, cached on disk.

Weights are cached in ``benchmarks/.cache`` (git-ignored), one file per recipe, in Keras'
backend-independent ``.weights.h5`` format, so TensorFlow and JAX runs share them.
"""

from __future__ import annotations

from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"


def trained(name, ds, epochs, seed=0, clamp=None, activity_l1=0.0, batchnorm=False,
            **model_kw):
    """``build_model(name)`` for ``ds`` trained ``epochs`` epochs (batch 64) with ``seed``.

    ``clamp``: ClampedReLU(clamp) activations instead of ReLU; ``activity_l1``,
    ``batchnorm`` and further ``model_kw`` (plain values, e.g. ``activation="quant"``) as in
    ``build_model``. Loaded from the cache when the same recipe was trained before.
    """
    import keras

    from tfsnn.layers import clamped_relu_factory
    from tfsnn.models import build_model
    from tfsnn.training import train_ann

    tag = "" if clamp is None else f"_clamp{clamp:g}"
    tag += f"_l1{activity_l1:g}" if activity_l1 else ""
    tag += "_bn" if batchnorm else ""
    tag += _kw_tag(model_kw)
    path = CACHE / f"{name}{tag}_{ds.name}_e{epochs}_s{seed}.weights.h5"
    keras.utils.set_random_seed(seed)
    kw = dict(model_kw)
    if clamp is not None:
        kw["activation"] = clamped_relu_factory(clamp)
    if activity_l1:
        kw["activity_l1"] = activity_l1
    if batchnorm:
        kw["batchnorm"] = True
    model = build_model(name, ds.input_shape, ds.num_classes, **kw)
    if path.exists():
        model.load_weights(path)
    else:
        train_ann(model, ds, epochs=epochs, batch_size=64, seed=seed, verbose=0)
        CACHE.mkdir(exist_ok=True)
        model.save_weights(path)
    return model


DEV_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10_dev.npz"

# The CPU-sized recipes of the deep CIFAR-10 examples (kept stable: other benchmarks use the
# VGG-11 net as their float baseline): model options and epochs. About 10 s/epoch for vgg11,
# 30 s for resnet20 and 15 s for mobilenet on 2 CPU cores.
CIFAR_RECIPES = {
    "vgg11": dict(width=16, epochs=30),
    "resnet20": dict(width=16, epochs=15),
    "mobilenet": dict(width=16, epochs=20),
    "vgg_small": dict(batchnorm=True, pool="avg", epochs=15),
}


def cifar_dev():
    """The CIFAR-10 dev split (``../shared/data/cifar10_dev.npz``): 10,000 train, 2,000 test."""
    from tfsnn.datasets import load_dataset

    return load_dataset(DEV_DATA, name="cifar10_dev")


def _augment(x, rng, shift=4):
    """Random horizontal flips and shifts by up to ``shift`` pixels (zero padding)."""
    import numpy as np

    n, h, w, _ = x.shape
    flip = rng.random(n) < 0.5
    x = np.where(flip[:, None, None, None], x[:, :, ::-1], x)
    padded = np.pad(x, ((0, 0), (shift, shift), (shift, shift), (0, 0)))
    dy, dx = rng.integers(0, 2 * shift + 1, size=(2, n))
    rows = dy[:, None] + np.arange(h)[None]
    cols = dx[:, None] + np.arange(w)[None]
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def _kw_tag(kw):
    for k, v in kw.items():
        if not isinstance(v, (str, int, float, bool, type(None))):
            raise ValueError(f"trained models are cached by option values; {k}={v!r} is "
                             "not a plain str/int/float/bool")
    return "".join(f"_{k}{v}" for k, v in sorted(kw.items()))


def trained_cifar(name, epochs=None, seed=0, **model_kw):
    """``build_model(name)`` trained on the CIFAR-10 dev data, cached in benchmarks/.cache.

    Defaults per model in ``CIFAR_RECIPES`` (the VGG baseline is
    ``trained_cifar("vgg11")``: width 16, 30 epochs, BatchNorm, average pooling, about 5 min
    on 2 cores); ``model_kw`` override them (e.g. ``pool="max"``). Recipe: pixels / 255,
    random horizontal flips and shifts of up to 4 pixels each epoch, batch 64, Adam with a
    cosine learning rate from 1e-3 to 0, all 10,000 training images (no validation split).
    Run it under ``flock /tmp/tfsnn_heavy.lock`` when it may train.
    """
    import keras

    from tfsnn.models import build_model

    recipe = dict(CIFAR_RECIPES.get(name, {}))
    default_epochs = recipe.pop("epochs", None)
    epochs = default_epochs if epochs is None else epochs
    if epochs is None:
        raise ValueError(f"no CIFAR recipe for {name!r}; pass epochs")
    kw = {**recipe, **model_kw}
    path = CACHE / f"{name}{_kw_tag(kw)}_cifar10dev_e{epochs}_s{seed}.weights.h5"
    keras.utils.set_random_seed(seed)
    model = build_model(name, (32, 32, 3), 10, **kw)
    if path.exists():
        model.load_weights(path)
        return model
    return fit_cifar(model, cifar_dev(), epochs, 1e-3, seed, path)


def fit_cifar(model, ds, epochs, learning_rate, seed, path):
    """The CIFAR recipe's training loop: ``epochs`` epochs of ``ds``'s training images, each
    freshly flipped and shifted (``_augment``), batch 64, Adam with a cosine learning rate
    from ``learning_rate`` to 0; the weights are then saved to ``path`` (atomically)."""
    import os

    import keras
    import numpy as np

    steps = epochs * -(-len(ds.x_train) // 64)
    model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(
        learning_rate, max(steps, 1))), loss="sparse_categorical_crossentropy",
        metrics=["accuracy"])
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        model.fit(_augment(ds.x_train, rng), ds.y_train, batch_size=64, epochs=epoch + 1,
                  initial_epoch=epoch, verbose=0)
    CACHE.mkdir(exist_ok=True)
    tmp = path.with_name(f".{os.getpid()}{path.name}")
    model.save_weights(tmp)
    os.replace(tmp, path)
    return model
