"""TensorBoard HParams summaries of a sweep."""

import sys

import pytest
from sweep_fakes import complete_trials, plugin_tags, run_sweep


def test_tensorboard_hparams_summaries(tmp_path, fake):
    run_sweep(tmp_path, 2, logdir=str(tmp_path / "tb"), study_name="tbstudy")
    root = tmp_path / "tb" / "tbstudy"
    assert "_hparams_/experiment" in plugin_tags(root)["hparams"]
    trial = plugin_tags(root / "trial_0000")
    assert "_hparams_/session_start_info" in trial["hparams"]
    assert "sweep/snn_accuracy" in trial["tensors"]


def test_tensorboard_missing_is_a_warning(tmp_path, fake, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    with pytest.warns(UserWarning, match="TensorFlow is not importable"):
        study = run_sweep(tmp_path, 1, logdir=str(tmp_path / "tb"))
    assert len(complete_trials(study)) == 1
    assert not (tmp_path / "tb").exists()
