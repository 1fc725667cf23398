"""Helpers shared by the benchmark scripts: the trained mnist5k models, cached on disk.

Weights are cached in ``benchmarks/.cache`` (git-ignored), one file per recipe, in Keras'
backend-independent ``.weights.h5`` format, so TensorFlow and JAX runs share them.
"""

from __future__ import annotations

from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"


def trained(name, ds, epochs, seed=0, clamp=None, activity_l1=0.0, batchnorm=False):
    """``build_model(name)`` for ``ds`` trained ``epochs`` epochs (batch 64) with ``seed``.

    ``clamp``: ClampedReLU(clamp) activations instead of ReLU; ``activity_l1`` and
    ``batchnorm`` as in ``build_model``. Loaded from the cache when the same recipe was
    trained before.
    """
    import keras

    from tfsnn.layers import clamped_relu_factory
    from tfsnn.models import build_model
    from tfsnn.training import train_ann

    tag = "" if clamp is None else f"_clamp{clamp:g}"
    tag += f"_l1{activity_l1:g}" if activity_l1 else ""
    tag += "_bn" if batchnorm else ""
    path = CACHE / f"{name}{tag}_{ds.name}_e{epochs}_s{seed}.weights.h5"
    keras.utils.set_random_seed(seed)
    kw = {} if clamp is None else {"activation": clamped_relu_factory(clamp)}
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
