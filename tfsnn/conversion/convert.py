"""``convert``: a trained Keras ANN -> a ``SpikingModel`` (parse and fold, normalize, build)."""

from __future__ import annotations

import difflib
import inspect

import numpy as np

from tfsnn.cells import encoding_module
from tfsnn.checks import check_inputs
from tfsnn.conversion.calibrate import CALIBRATION_SAMPLES, calibrate_biases, mse_scales
from tfsnn.conversion.compat import all_problems_error
from tfsnn.conversion.errors import ConversionError
from tfsnn.conversion.normalize import check_normalization, normalize
from tfsnn.conversion.parse import parse
from tfsnn.simulation import SpikingModel


def convert(ann, x_norm=None, encoding="rate", normalization="percentile", percentile=99.9,
            channelwise=True, scale=None, threshold=1.0, v_init=None, tau=None,
            batch_size=256, progress=False, calibrate=None, **dyn_params):
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
        calibrate: None, or T: tune a rate-coded SNN for simulations of about T steps on
            the first ``CALIBRATION_SAMPLES`` images of ``x_norm``: scales that minimize the
            rate code's error at T (replacing ``normalization``), then bias calibration
            (``tfsnn.conversion.calibrate``; Li et al. 2021). Raises the accuracy at T on
            VGG-11, costs some at long T; the bias step hurts ResNet-20 (docs/deep.md).
        dyn_params: encoding-specific parameters (the keys of the encoding module's
            ``DEFAULTS``, e.g. ``window`` for TTFS; rate coding has none): any other name
            raises a ValueError naming it and the closest accepted name.

    Every argument is checked before any work (parse, normalization): unknown names,
    non-finite or non-positive ``threshold``/``tau``, a non-finite ``v_init``, a bad
    ``percentile`` or ``scale``; the normalization set must hold finite values in [0, 1].
    """
    module = encoding_module(encoding)  # bad arguments fail before any work
    check_encoding_params(encoding, dyn_params)
    module.DYNAMICS.make_params(threshold=threshold, v_init=v_init, tau=tau)
    check_normalization(normalization, percentile, scale)
    if calibrate is not None:
        calibrate = _check_calibrate(calibrate, encoding, x_norm)
    v_init, dyn = _neuron_params(module, v_init, dyn_params)
    try:
        specs = parse(ann)
    except ConversionError as e:  # name every problem of the model, not only the first
        raise all_problems_error(e, ann) from None
    unsupported = [s for s in specs if s.kind not in module.SUPPORTED_KINDS]
    if unsupported:
        s = unsupported[0]
        raise ConversionError(
            f"layer {s.name!r} ({s.kind}) is not supported by the {encoding!r} encoding; "
            f"supported: {list(module.SUPPORTED_KINDS)}")
    if x_norm is not None:
        x_norm = _normalization_set(x_norm, specs[0].output_shape)
    if calibrate is not None:
        normalization, scale = "scale", mse_scales(specs, x_norm[:CALIBRATION_SAMPLES],
                                                   calibrate, channelwise)
    norm_specs, lambdas = normalize(specs, x_norm, normalization, percentile, channelwise,
                                    scale, batch_size, progress)
    meta = {"normalization": normalization, "percentile": percentile,
            "channelwise": channelwise,
            "lambdas": {k: float(np.max(v)) for k, v in lambdas.items()}}
    norm_specs, dyn = module.prepare(norm_specs, dyn)  # the encoding's step of the conversion
    snn = SpikingModel(norm_specs, encoding, threshold, v_init, tau, dyn, meta=meta)
    if calibrate is not None:
        snn = calibrate_biases(snn, x_norm[:CALIBRATION_SAMPLES], calibrate)
    return snn


def _check_calibrate(calibrate, encoding, x_norm) -> int:
    """``calibrate`` as a number of timesteps; it needs rate coding and a normalization set."""
    if isinstance(calibrate, bool) or not isinstance(calibrate, (int, np.integer)) \
            or calibrate < 1:
        raise ValueError(f"calibrate must be None or the number of timesteps to calibrate "
                         f"for (an integer >= 1), got {calibrate!r}")
    if encoding != "rate":
        raise ValueError(f"calibrate applies to rate coding, not the {encoding!r} encoding")
    if x_norm is None or len(x_norm) == 0:
        raise ValueError("calibrate needs a normalization set x_norm (its first "
                         f"{CALIBRATION_SAMPLES} images calibrate the SNN)")
    return int(calibrate)


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
    """``x_norm`` as float32, checked against the model's input shape, for NaN/inf and for
    the [0, 1] range (``tfsnn.checks.check_inputs``)."""
    return check_inputs(x_norm, input_shape, "normalization set x_norm", "the model")


def _convert_arguments() -> list[str]:
    """``convert``'s own keyword arguments (those a misspelled name may have meant)."""
    skip = {"ann", "x_norm", "dyn_params"}
    return [p for p in inspect.signature(convert).parameters if p not in skip]


def check_encoding_params(encoding, params, where: str = "convert") -> None:
    """Raise a ValueError for names in ``params`` that the encoding does not take (its
    ``DEFAULTS`` but ``v_init``), naming them, a close match and what is accepted.

    ``where`` names the caller in the message ("convert", or a config field)."""
    accepted = sorted(set(encoding_module(encoding).DEFAULTS) - {"v_init"})
    unknown = sorted(set(params) - set(accepted), key=str)
    if not unknown:
        return
    own = _convert_arguments()
    hints = []
    for name in unknown:
        if name in own:
            hints.append(f"{name!r} is an argument of convert itself, not an encoding "
                         "parameter")
        else:
            close = difflib.get_close_matches(str(name), accepted + own, n=1, cutoff=0.6)
            if close:
                hints.append(f"{name!r}: did you mean {close[0]!r}?")
    takes = (f"its parameters {accepted}" if accepted else
             "no parameters of its own")
    raise ValueError(
        f"{where}: unknown parameter(s) {unknown} for the {encoding!r} encoding"
        f"{' (' + '; '.join(hints) + ')' if hints else ''}; accepted: {takes}, besides "
        f"convert's arguments {own}")
