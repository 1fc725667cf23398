"""Property-based fuzzing of the converter (docs/reliability.md).

Hypothesis draws random supported Keras models (``fuzz_nets.architectures``: Sequential or
Functional, 0-4 blocks of Conv2D (valid/same, strides 1-2, kernels 1-3, ReLU inside, as a
layer or after a BatchNormalization with random statistics, optional Dropout), average and
max pooling, zero padding, concatenated branches, residual blocks (a ReLU conv, a linear conv
with or without BatchNorm, added to the block's input or to a 1x1 projection of it, then a
ReLU); then Flatten or global average pooling, up to two hidden
Dense layers and a linear or softmax Dense output, or a linear Conv2D / ReLU maps read out
through global average pooling), input maps of 4-10 pixels with 1-3 channels, random weights
from a drawn seed and a drawn scale (``gain``), and random images in [0, 1]. Each model
either is refused with a ``ConversionError`` naming one of its layers (only the few drawn to
be refused, e.g. a BatchNormalization after a ReLU) or converts to an SNN that has:

(a) rates of its ANN: every layer's spike count after T steps of constant input is within
    the bound proved in ``fuzz_checks`` (the docstring there) of T times the ANN's
    normalized activation, clipped to [0, 1] where the normalization clips (its readout's
    ``V_T`` of T times the pre-softmax output). For a first layer that is
    ``max(v_init, 1 - v_init) / T`` in rate, within the documented 1/T; deeper layers add the
    deviation their inputs showed, weighted by the absolute weights. The converted weights
    reproduce the ANN's pre-activations (``check_weights``).
(b) the same spikes on both execution paths: the Keras cell path (``run_cells``) and the
    engine (``evaluate`` with random labels) with ``fast_path`` options (fold, chunk), the
    unroll limit, batch size and input mode (constant or Poisson) drawn at random; the
    engine's accuracy per step is the cell path's;
(c) a save/load round trip that gives the same scores, spike counts and trains.

``test_exact_*`` uses exactly representable networks (``fuzz_nets``: weights multiples of
1/64, inputs of 1/16, no normalization) so that (a) holds with no float tolerance and (b) is
bitwise. ``test_normalized_*`` uses float weights and images with data-based normalization
(max or percentile, per layer or per channel) and checks (a) with a float tolerance and (c).
CI runs ``CI_EXACT`` and ``CI_NORMALIZED`` models (about a minute on 2 cores); ``-m slow``
runs ``SLOW_EXAMPLES`` of each. ``test_*_depthwise_separable_*`` draw DepthwiseConv2D and
SeparableConv2D layers among the convolutions (``CI_WINDOWS`` models).
"""

import numpy as np
import pytest
from fuzz_checks import (
    check_paths,
    check_rates,
    check_save_load,
    check_weights,
    expected,
    max_unroll,
)
from fuzz_nets import architectures, build, images, reference
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

import tfsnn
from tfsnn.conversion import ConversionError
from tfsnn.simulation import FastPathOptions

CI_EXACT, CI_NORMALIZED = 20, 25
SLOW_EXAMPLES = 300
_SETTINGS = dict(deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


#: models per CI run (exact, normalized) with depthwise and separable convolutions among the
#: convolutions (the slow run: ``SLOW_EXAMPLES // 3`` exact ones)
CI_WINDOWS = (4, 3)
WINDOW_CONVS = ("conv", "dwconv", "sepconv")


@st.composite
def runs(draw, exact=True, convs=("conv",)):
    """A model and how to run it."""
    return {
        "arch": draw(architectures(exact=exact, convs=convs)),
        "seed": draw(st.integers(0, 2**32 - 1)),
        "gain": draw(st.sampled_from([1.0, 0.5, 2.0, 4.0])),
        "n": draw(st.integers(1, 5)),
        "T": draw(st.integers(1, 24)),
        "v_init": draw(st.sampled_from([0.5, 0.0, 0.25])),
        "fold": draw(st.sampled_from([None, False, "synapses", True])),
        "chunk": draw(st.none() | st.integers(1, 8)),
        "unroll": draw(st.sampled_from([None, 2])),
        "batch": draw(st.integers(1, 5)),
        "mode": draw(st.sampled_from(["constant", "constant", "poisson"])),
        "norm": draw(st.sampled_from([("max", 100.0), ("percentile", 99.9),
                                      ("percentile", 90.0)])),
        "channelwise": draw(st.booleans()),
    }


def convert_or_refuse(ann, arch, x_norm=None, **kwargs):
    """The SNN, or None when conversion refused a model drawn to be refused, with a
    ``ConversionError`` naming one of its layers (any other exception fails the test)."""
    try:
        snn = tfsnn.convert(ann, x_norm, encoding="rate", **kwargs)
    except ConversionError as e:
        named = [layer.name for layer in ann.layers if f"'{layer.name}'" in str(e)]
        assert named, f"the refusal names no layer of the model: {e}"
        assert arch.refused, f"a supported model was refused: {e}"
        return None
    assert not arch.refused, f"converted a model that must be refused ({arch.refused})"
    return snn


def exact_property(run):
    arch, T, v0 = run["arch"], run["T"], run["v_init"]
    ann = build(arch, run["seed"], exact=True, gain=run["gain"])
    snn = convert_or_refuse(ann, arch, normalization=None, v_init=v0)
    if snn is None:
        return
    n, batch = run["n"], run["batch"]
    x = images(np.random.default_rng(run["seed"]), arch.input_shape, n)
    exp = expected(snn, reference(ann, arch, x))
    check_weights(snn, exp, tol=1e-6)
    outs = snn.run_cells(x, T)
    check_rates(snn, outs, exp, T, v0, tol=1e-6)
    check_save_load(snn, x, T, outs)
    snn.fast_path = FastPathOptions(fold=run["fold"], chunk=run["chunk"])
    if run["mode"] == "poisson":
        outs = snn.run_cells(x, T, input_mode="poisson", seed=run["seed"] % 1000)
    labels = np.random.default_rng(run["seed"] + 1).integers(0, snn.num_classes, n)
    with max_unroll(run["unroll"]):
        check_paths(snn, x, T, outs, batch, run["mode"], run["seed"] % 1000, labels)


def normalized_property(run):
    arch, T, v0 = run["arch"], run["T"], run["v_init"]
    mode, pct = run["norm"]
    ann = build(arch, run["seed"], exact=False, gain=run["gain"])
    rng = np.random.default_rng(run["seed"])
    x_norm = images(rng, arch.input_shape, 16, exact=False)
    snn = convert_or_refuse(ann, arch, x_norm, normalization=mode, percentile=pct,
                            channelwise=run["channelwise"], v_init=v0)
    if snn is None:
        return
    x = images(rng, arch.input_shape, run["n"], exact=False)
    lam = {s.name: s.config["lambda"] for s in snn.specs}
    exp = expected(snn, reference(ann, arch, x, lam))
    check_weights(snn, exp, tol=1e-4)
    outs = snn.run_cells(x, T)
    check_rates(snn, outs, exp, T, v0, tol=1e-4)
    check_save_load(snn, x, T, outs)


def _note(run):
    """The failing example in a form that pastes into a regression test, and what was
    drawn (``--hypothesis-show-statistics`` counts it)."""
    arch = run["arch"]
    note(repr(arch))
    note(repr({k: v for k, v in run.items() if k != "arch"}))
    event("refused" if arch.refused else "converted")
    event("functional" if arch.functional else "sequential")
    event(f"ends with {arch.end}")
    for kind in sorted({op.kind for op in arch.ops}):
        event(f"has {kind}")


@settings(max_examples=CI_EXACT, **_SETTINGS)
@given(runs(exact=True))
def test_exact_models_convert_faithfully(run):
    _note(run)
    exact_property(run)


@settings(max_examples=CI_NORMALIZED, **_SETTINGS)
@given(runs(exact=False))
def test_normalized_models_convert_faithfully(run):
    _note(run)
    normalized_property(run)


@settings(max_examples=CI_WINDOWS[0], **_SETTINGS)
@given(runs(exact=True, convs=WINDOW_CONVS))
def test_exact_depthwise_separable_models_convert_faithfully(run):
    _note(run)
    exact_property(run)


@settings(max_examples=CI_WINDOWS[1], **_SETTINGS)
@given(runs(exact=False, convs=WINDOW_CONVS))
def test_normalized_depthwise_separable_models_convert_faithfully(run):
    _note(run)
    normalized_property(run)


@pytest.mark.slow
@settings(max_examples=SLOW_EXAMPLES // 3, **_SETTINGS)
@given(runs(exact=True, convs=WINDOW_CONVS))
def test_exact_depthwise_separable_models_convert_faithfully_many(run):
    _note(run)
    exact_property(run)


@pytest.mark.slow
@settings(max_examples=SLOW_EXAMPLES, **_SETTINGS)
@given(runs(exact=True))
def test_exact_models_convert_faithfully_many(run):
    _note(run)
    exact_property(run)


@pytest.mark.slow
@settings(max_examples=SLOW_EXAMPLES, **_SETTINGS)
@given(runs(exact=False))
def test_normalized_models_convert_faithfully_many(run):
    _note(run)
    normalized_property(run)
