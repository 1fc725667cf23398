"""Fixed residual / padding models through the fuzzing properties (``fuzz_checks``): every
layer's spike count within the proven bound of its ANN activation, the same spikes on the
engine and the cell path (constant and Poisson input), and a save/load round trip."""

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
from fuzz_nets import Arch, Op, build, images, reference

import tfsnn
from tfsnn.simulation import FastPathOptions


def _conv(name, inp, filters, k=3, act="relu", strides=1, padding="same"):
    return Op(name, "conv", [inp], {"filters": filters, "kernel_size": k, "strides": strides,
                                    "padding": padding, "activation": act},
              clip=name if act == "relu" else None)


def resnet_arch():
    """conv1 -> identity block (BN on the branch, Activation after the Add) -> padding ->
    projection block (stride 2; 1x1 conv + BN shortcut; ReLU layer) -> cropping ->
    reshape -> flatten -> Dense."""
    ops = [
        _conv("conv1", "input", 3),
        _conv("b1a", "conv1", 3),
        _conv("b1b", "b1a", 3, act=None), Op("b1b_bn", "bn", ["b1b"]),
        Op("b1_add", "add", ["b1b_bn", "conv1"]),
        Op("b1_act", "activation", ["b1_add"], {"activation": "relu"}, clip="b1_add"),
        Op("pad", "zeropad", ["b1_act"], {"padding": ((1, 0), (0, 1))}),
        _conv("b2a", "pad", 4, strides=2),
        _conv("b2b", "b2a", 4, act=None),
        _conv("b2p", "pad", 4, k=1, act=None, strides=2, padding="valid"),
        Op("b2p_bn", "bn", ["b2p"]),
        Op("b2_add", "add", ["b2p_bn", "b2b"]),
        Op("b2_relu", "relu", ["b2_add"], clip="b2_add"),
        Op("crop", "crop", ["b2_relu"], {"cropping": ((1, 1), (0, 0))}),
        Op("rs", "reshape", ["crop"], {"target_shape": (8, 4)}),
        Op("flatten", "flatten", ["rs"]),
        Op("out", "dense", ["flatten"], {"units": 3, "activation": "softmax"}),
    ]
    return Arch((7, 7, 2), ops, functional=True)


T = 12


def test_exact_residual_model():
    arch = resnet_arch()
    ann = build(arch, seed=3, exact=True)
    snn = tfsnn.convert(ann, normalization=None, v_init=0.5)
    assert [s.kind for s in snn.specs].count("add") == 2
    x = images(np.random.default_rng(0), arch.input_shape, 4)
    exp = expected(snn, reference(ann, arch, x))
    check_weights(snn, exp, tol=1e-6)
    outs = snn.run_cells(x, T)
    check_rates(snn, outs, exp, T, 0.5, tol=1e-6)
    check_save_load(snn, x, T, outs)
    labels = np.arange(4) % 3
    snn.fast_path = FastPathOptions(fold=True, chunk=5)
    with max_unroll(2):
        check_paths(snn, x, T, outs, 3, "constant", 7, labels)
    snn.fast_path = FastPathOptions(fold=False)
    outs = snn.run_cells(x, T, input_mode="poisson", seed=7)
    check_paths(snn, x, T, outs, 4, "poisson", 7, labels)


@pytest.mark.jax
def test_normalized_residual_model():
    """Float weights, per-channel max normalization: the residual sums' common scale."""
    arch = resnet_arch()
    ann = build(arch, seed=5, exact=False, gain=2.0)
    rng = np.random.default_rng(1)
    x_norm = images(rng, arch.input_shape, 16, exact=False)
    snn = tfsnn.convert(ann, x_norm, normalization="max", channelwise=True, v_init=0.5)
    x = images(rng, arch.input_shape, 3, exact=False)
    lam = {s.name: s.config["lambda"] for s in snn.specs}
    exp = expected(snn, reference(ann, arch, x, lam))
    check_weights(snn, exp, tol=1e-4)
    check_rates(snn, snn.run_cells(x, 32), exp, 32, 0.5, tol=1e-4)
