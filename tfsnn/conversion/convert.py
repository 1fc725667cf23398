"""``convert``: a trained Keras ANN -> a ``SpikingModel`` (parse and fold, normalize, build)."""

from __future__ import annotations

import numpy as np

from tfsnn.cells import encoding_module
from tfsnn.checks import check_images
from tfsnn.conversion.errors import ConversionError
from tfsnn.conversion.normalize import normalize
from tfsnn.conversion.parse import parse
from tfsnn.simulation import SpikingModel


def convert(ann, x_norm=None, encoding="rate", normalization="percentile", percentile=99.9,
            channelwise=True, scale=None, threshold=1.0, v_init=None, tau=None,
            batch_size=256, progress=False, **dyn_params):
    """Convert a trained Keras model into a ``SpikingModel``.

    Args:
        ann: a built Keras model (Sequential or Functional) of supported layers.
        x_norm: normalization set (images like the training data), streamed in batches.
        encoding: "rate" (others: see ``tfsnn.cells.ENCODINGS``).
        normalization: "max", "percentile", "scale" (with ``scale=``) or None.
        percentile: for "percentile" (default 99.9).
        channelwise: one scale per output channel (default) instead of one per layer; with
            ``v_init=0.5`` the best low-latency setting measured (docs/accuracy.md).
        threshold: firing threshold theta of the spiking neurons.
        v_init: initial membrane potential as a fraction of theta (default: the encoding's,
            0.5 for rate coding).
        tau: leak time constant in timesteps (None: IF neurons, no leak).
        dyn_params: encoding-specific parameters.
    """
    module = encoding_module(encoding)  # unknown encodings fail before any work
    v_init, dyn = _neuron_params(module, v_init, dyn_params)
    specs = parse(ann)
    unsupported = [s for s in specs if s.kind not in module.SUPPORTED_KINDS]
    if unsupported:
        s = unsupported[0]
        raise ConversionError(
            f"layer {s.name!r} ({s.kind}) is not supported by the {encoding!r} encoding; "
            f"supported: {list(module.SUPPORTED_KINDS)}")
    if x_norm is not None:
        x_norm = _normalization_set(x_norm, specs[0].output_shape)
    norm_specs, lambdas = normalize(specs, x_norm, normalization, percentile, channelwise,
                                    scale, batch_size, progress)
    meta = {"normalization": normalization, "percentile": percentile,
            "channelwise": channelwise,
            "lambdas": {k: float(np.max(v)) for k, v in lambdas.items()}}
    norm_specs, dyn = module.prepare(norm_specs, dyn)  # the encoding's step of the conversion
    return SpikingModel(norm_specs, encoding, threshold, v_init, tau, dyn, meta=meta)


def _neuron_params(module, v_init, dyn_params) -> tuple[float, dict]:
    """``v_init`` (the encoding's default unless given) and the encoding's parameters: its
    ``DEFAULTS`` updated by ``dyn_params``."""
    defaults = dict(module.DEFAULTS)
    if v_init is None:
        v_init = defaults.pop("v_init", 0.0)
    else:
        defaults.pop("v_init", None)
    return v_init, {**defaults, **dyn_params}


def _normalization_set(x_norm, input_shape) -> np.ndarray:
    """``x_norm`` as float32, checked against the model's input shape and for NaN/inf."""
    x_norm = np.asarray(x_norm, dtype=np.float32)
    if tuple(x_norm.shape[1:]) != tuple(input_shape):
        raise ValueError(f"normalization set has shape {tuple(x_norm.shape[1:])} per "
                         f"sample, but the model expects {tuple(input_shape)}")
    check_images(x_norm, where="normalization set")
    return x_norm
