"""Labels enter tfsnn at the ANN's evaluation, the SNN's, the statistics and the datasets: every
entry takes the same forms (``tfsnn.checks.check_labels``) and refuses the same mistakes."""

import keras
import numpy as np
import pytest

import tfsnn
from tfsnn.analysis.statistics import snn_activation_analysis
from tfsnn.training import evaluate_ann

X = np.array([[0.9, 0.1, 0.2], [0.1, 0.8, 0.0], [0.0, 0.1, 0.9], [0.2, 0.95, 0.1]],
             np.float32)
Y = np.array([0, 1, 2, 1])  # argmax of each row


@pytest.fixture(scope="module")
def nets():
    """An ANN (and its SNN) that predicts argmax(x): identity weights, ReLU hidden layer."""
    ann = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3, activation="relu",
                                                                  name="hidden"),
                            keras.layers.Dense(3, name="out")])
    for name in ("hidden", "out"):
        ann.get_layer(name).set_weights([np.eye(3, dtype="float32"), np.zeros(3, "float32")])
    return ann, tfsnn.convert(ann, normalization=None, v_init=0.0)


def _accuracies(nets, labels):
    ann, snn = nets
    stats = snn_activation_analysis(ann, snn, X, labels, 16, n_correlation=2)["network"]
    return evaluate_ann(ann, X, labels), stats["snn_accuracy"], stats["ann_accuracy"]


@pytest.mark.parametrize("labels", [Y, Y[:, None], np.eye(3)[Y]],
                         ids=["indices", "column", "one-hot"])
def test_column_labels_score_like_indices_everywhere(nets, labels):
    """The statistics argmax'd ``(N, 1)`` labels to 0 (SNN accuracy 0.25 here)."""
    assert _accuracies(nets, labels) == (1.0, 1.0, 1.0)


@pytest.mark.parametrize("labels, match", [
    ([0, 1, 7, 1], r"labels go up to 7 but num_classes=3"),
    ([0, 1, -2, 1], r"negative labels"),
    ([0.5, 1, 2, 1], r"non-integer labels"),
    (np.eye(5)[Y], r"one-hot rows of width 5"),
])
def test_ann_evaluation_and_statistics_refuse_bad_labels(nets, labels, match):
    ann, snn = nets
    with pytest.raises(ValueError, match=match):
        evaluate_ann(ann, X, np.array(labels))
    with pytest.raises(ValueError, match=match):
        snn_activation_analysis(ann, snn, X, np.array(labels), 16, n_correlation=2)
