"""Backend helpers: compile a pure ``keras.ops`` function with the active backend's compiler.

TensorFlow: ``tf.function`` (graph mode; XLA only on request: XLA's CPU convolutions were 2-3x
slower than TensorFlow's oneDNN kernels here); JAX: ``jax.jit``; other backends run eagerly.
Frameworks are imported lazily here only, so the core modules import without TensorFlow.
"""

from __future__ import annotations

import keras


def backend_name() -> str:
    return keras.backend.backend()


def device_kind() -> str:
    """``"cpu"``, ``"gpu"`` or ``"tpu"``: where the active backend runs compiled functions."""
    name = backend_name()
    if name == "jax":
        import jax

        return jax.default_backend()
    if name == "tensorflow":
        import tensorflow as tf

        return "gpu" if tf.config.list_logical_devices("GPU") else "cpu"
    if name == "torch":
        import torch

        return "gpu" if torch.cuda.is_available() else "cpu"
    return "cpu"


def jit(fn, xla: bool = False):
    """Compile ``fn`` (positional tensor arguments only) for the active backend."""
    name = backend_name()
    if name == "tensorflow":
        import tensorflow as tf

        f = tf.function(fn, jit_compile=xla, reduce_retracing=True)
        # A new function per converted model or simulation setting is by design (weights are
        # traced in). TensorFlow's "frequent retracing" warning counts traces per code
        # object, so it fires after a few conversions in one process (sweeps): opt out, as
        # Keras does for its own per-model functions.
        f._omit_frequent_tracing_warning = True
        return f
    if name == "jax":
        import jax

        return jax.jit(fn)
    return fn


def add(a, b):
    """``a + b`` for two state-shaped tensors. On TensorFlow ``keras.ops.add`` turns an add
    whose second operand looks like a bias (one non-unit axis, e.g. ``(1, H, 1, 1)``) into an
    NCHW ``bias_add``, which fails on CPU; ``tf.math.add`` is the plain sum."""
    if backend_name() == "tensorflow":
        import tensorflow as tf

        return tf.math.add(a, b)
    return keras.ops.add(a, b)


def add_n(tensors):
    """Elementwise sum of a list of same-shaped tensors in one pass (``tf.add_n``)."""
    tensors = list(tensors)
    if len(tensors) == 1:
        return tensors[0]
    if backend_name() == "tensorflow":
        import tensorflow as tf

        return tf.add_n(tensors)
    out = tensors[0]
    for t in tensors[1:]:  # XLA fuses the chain
        out = keras.ops.add(out, t)
    return out


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def scan(f, init, xs=None, length=None, parallel_iterations=None):
    """``jax.lax.scan`` semantics on every backend: ``f(carry, x) -> (carry, y)``.

    Unlike ``keras.ops.scan`` on TensorFlow, ``y`` may have any structure and shape. ``length``
    (or the leading axis of ``xs``) must be static. ``parallel_iterations`` is passed to
    ``tf.while_loop`` (TensorFlow only; default 10).
    """
    name = backend_name()
    if name == "jax":
        import jax

        return jax.lax.scan(f, init, xs, length=length)
    tree = keras.tree
    xs_flat = tree.flatten(xs) if xs is not None else []
    n = int(length) if length is not None else int(xs_flat[0].shape[0])

    def x_at(i):
        if xs is None:
            return None
        return tree.pack_sequence_as(xs, [a[i] for a in xs_flat])

    if name != "tensorflow" or n == 1:
        carry, ys = init, []
        for i in range(n):
            carry, y = f(carry, x_at(i))
            ys.append(y)
        return carry, tree.map_structure(lambda *a: keras.ops.stack(a, 0), *ys)
    import tensorflow as tf

    # peel step 0 to learn the structure of y, then loop over 1..n-1 with TensorArrays
    carry, y0 = f(init, x_at(0))
    y0_flat = tree.flatten(y0)
    arrays = [tf.TensorArray(v.dtype, size=n, element_shape=v.shape).write(0, v)
              for v in y0_flat]
    carry_flat = tree.flatten(carry)

    def body(i, c_flat, arrs):
        c = tree.pack_sequence_as(carry, c_flat)
        xi = None if xs is None else tree.pack_sequence_as(xs, [tf.gather(a, i) for a in xs_flat])
        c2, y = f(c, xi)
        arrs = [a.write(i, v) for a, v in zip(arrs, tree.flatten(y))]
        return i + 1, [tf.convert_to_tensor(v) for v in tree.flatten(c2)], arrs

    _, c_flat, arrays = tf.while_loop(
        lambda i, *_: i < n, body, (tf.constant(1), carry_flat, arrays),
        shape_invariants=(tf.TensorShape([]), [v.shape for v in carry_flat],
                          [tf.TensorShape(None)] * len(arrays)),
        parallel_iterations=parallel_iterations or 10)
    ys = tree.pack_sequence_as(y0, [a.stack() for a in arrays])
    return tree.pack_sequence_as(carry, c_flat), ys
