"""``tfsnn.checks``: the one definition of what labels, images and numbers tfsnn accepts."""

import math

import numpy as np
import pytest

from tfsnn.checks import (
    check_image_range,
    check_inputs,
    check_labels,
    check_number,
    check_sample_shape,
)
from tfsnn.datasets import load_dataset


# ----------------------------------------------------------------------------- labels
@pytest.mark.parametrize("y", [
    [2, 0, 1],                                  # class indices
    [[2], [0], [1]],                            # (N, 1): what keras.datasets.cifar10 returns
    [2.0, 0.0, 1.0],                            # integer-valued floats
    np.eye(3)[[2, 0, 1]],                       # one-hot
    [[0.1, 0.2, 0.7], [0.8, 0.1, 0.1], [0, 1, 0]],  # class probabilities
    np.array([2, 0, 1], np.uint8),
])
def test_accepted_label_forms_give_class_indices(y):
    out = check_labels(y, num_classes=3, n=3)
    assert out.dtype == np.int64 and out.shape == (3,)
    np.testing.assert_array_equal(out, [2, 0, 1])


def test_column_labels_are_not_taken_for_one_hot():
    """(N, 1) labels used to be argmax'd over their single column: every label became 0."""
    y = np.array([[3], [7], [1]])
    np.testing.assert_array_equal(check_labels(y, 10, 3), [3, 7, 1])


def test_none_and_a_single_label():
    assert check_labels(None, 10, 5) is None
    np.testing.assert_array_equal(check_labels(4, 10, 1), [4])  # one image, one label


@pytest.mark.parametrize("y, n, match", [
    ([1, 2], 3, r"x has 3 samples but y has 2 labels"),
    ([0, 10, 2], 3, r"labels go up to 10 but num_classes=10 .*0\.\.9"),
    ([0, -1, 2], 3, r"negative labels \(min -1\)"),
    ([0, 1.5, 2], 3, r"non-integer labels \(e\.g\. 1\.5 at index 1\)"),
    ([0, np.nan, 2], 3, r"1 NaN"),
    ([0, np.inf, 2], 3, r"1 inf"),
    (["cat", "dog", "cat"], 3, r"numeric class labels.*dtype <U3"),
    (np.array([0, 1, 2], object), 3, r"numeric class labels.*dtype object"),
    (np.eye(5)[[0, 1, 2]], 3, r"one-hot rows of width 5 .*10 classes"),
    ([[1, 1, 0, 0, 0, 0, 0, 0, 0, 0]] * 3, 3, r"not one-hot.*row 0"),  # two hot
    ([[0.5, 0.5] + [0] * 8] * 3, 3, r"not one-hot.*single largest value"),  # a tie
    ([[-1, 2] + [0] * 8] * 3, 3, r"not one-hot.*values in \[0, 1\]"),
    (np.zeros((3, 2, 2)), 3, r"shape \(3, 2, 2\); pass 1-D class indices"),
    ([1 + 2j, 0, 1], 3, r"numeric class labels.*complex"),
])
def test_bad_labels_raise_naming_the_problem(y, n, match):
    with pytest.raises(ValueError, match=match):
        check_labels(np.array(y) if not isinstance(y, np.ndarray) else y, 10, n)


def test_labels_of_user_datasets_use_the_same_rules(rng):
    x = rng.random((6, 4, 4, 3)).astype(np.float32)
    ds = load_dataset((x, np.arange(6)[:, None] % 3, x, np.arange(6)[:, None] % 3))
    np.testing.assert_array_equal(ds.y_train, np.arange(6) % 3)  # (N, 1) like cifar10
    assert ds.num_classes == 3
    with pytest.raises(ValueError, match=r"y_train holds non-integer labels"):
        load_dataset((x, np.full(6, 0.5), x, np.zeros(6)))
    with pytest.raises(ValueError, match=r"y_test has one-hot rows of width 3 .*4 classes"):
        load_dataset((x, np.eye(4)[np.arange(6) % 4], x, np.eye(3)[np.arange(6) % 3]))
    with pytest.raises(ValueError, match=r"y_train: labels go up to 5 but num_classes=3"):
        load_dataset((x, np.arange(6), x, np.zeros(6)), num_classes=3)


# ----------------------------------------------------------------------------- images
def test_image_range_accepts_unit_interval_within_round_off():
    x = np.array([0.0, 0.5, 1.0 + 1e-7, -1e-7], np.float32)
    assert check_image_range(x) is x
    check_image_range(np.zeros((0, 3)))


@pytest.mark.parametrize("x, match", [
    (np.array([[0, 3, 255]], np.uint8), r"\[0, 255\] but must lie in \[0, 1\]: max 255: looks "
                                     r"like 8-bit .*x / 255"),
    (np.linspace(0, 254.5, 6), r"max 254\.5: looks like 8-bit"),
    (np.linspace(-2, 2, 6), r"min -2: looks like standardized .*rescale it to \[0, 1\]"),
    (np.linspace(0, 1000, 6), r"\[0, 1000\].*scale it first"),
])
def test_image_range_names_what_it_found_and_what_to_do(x, match):
    with pytest.raises(ValueError, match=match):
        check_image_range(x, "x")


def test_sample_shape_adds_a_batch_axis_or_says_what_is_missing():
    assert check_sample_shape(np.zeros((5, 4, 4, 1)), (4, 4, 1)).shape == (5, 4, 4, 1)
    assert check_sample_shape(np.zeros((4, 4, 1)), (4, 4, 1)).shape == (1, 4, 4, 1)
    assert check_sample_shape(np.zeros((5, 7)), (None,)).shape == (5, 7)
    with pytest.raises(ValueError, match=r"samples of shape \(4, 4\) .*expects \(4, 4, 1\): add "
                                         r"a channel axis \(x\[\.\.\., None\]\)"):
        check_sample_shape(np.zeros((5, 4, 4)), (4, 4, 1))
    with pytest.raises(ValueError, match=r"x\[None, \.\.\., None\]"):
        check_sample_shape(np.zeros((4, 4)), (4, 4, 1))
    with pytest.raises(ValueError, match=r"samples of shape \(4, 4, 3\) .*the model expects "
                                         r"\(4, 4, 1\)$"):
        check_sample_shape(np.zeros((2, 4, 4, 3)), (4, 4, 1))


def test_inputs_are_non_empty_numeric_finite_and_in_range():
    x = check_inputs(np.ones((2, 3), np.float64), (3,))
    assert x.dtype == np.float32
    with pytest.raises(ValueError, match=r"x has no samples"):
        check_inputs(np.zeros((0, 3)), (3,))
    with pytest.raises(ValueError, match=r"numeric array, got dtype <U1"):
        check_inputs(np.array([["a", "b", "c"]]), (3,))
    with pytest.raises(ValueError, match=r"NaN"):
        check_inputs(np.array([[np.nan, 0, 0]]), (3,))
    with pytest.raises(ValueError, match=r"8-bit"):
        check_inputs(np.array([[0, 128, 255]], np.uint8), (3,))


# ----------------------------------------------------------------------------- numbers
def test_check_number():
    assert check_number(2, "theta", positive=True) == 2.0
    assert check_number(np.float32(0.5), "v") == 0.5
    assert check_number(None, "tau", none_ok=True) is None
    assert check_number(100, "percentile", positive=True, high=100.0) == 100.0
    for bad in (math.nan, math.inf, -math.inf, "1.0", True, None, [1.0], 1j):
        with pytest.raises(ValueError, match=r"^v_init must be a finite number, got"):
            check_number(bad, "v_init")
    for bad in (0, -1, math.nan, math.inf):
        with pytest.raises(ValueError, match=r"^threshold must be a finite number > 0"):
            check_number(bad, "threshold", positive=True)
    for bad in ("99", 0, 100.5, math.nan):
        with pytest.raises(ValueError, match=r"^percentile must be a number in \(0, 100\]"):
            check_number(bad, "percentile", positive=True, high=100.0)
