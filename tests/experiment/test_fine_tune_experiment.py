"""``Experiment(..., fine_tune_epochs=E, fine_tune_timesteps=T)``: settings, config files, the
run and its TensorBoard logs."""

import pytest

from tfsnn.analysis.tensorboard import log_run
from tfsnn.experiment import Experiment, ExperimentConfig, load_experiment_config
from tfsnn.sweeps import DiscreteInterval, OptimizableValue
from tfsnn.sweeps.settings import check_experiment_settings


@pytest.mark.parametrize("changes, message", [
    (dict(fine_tune_epochs=-1), "fine_tune_epochs must be a non-negative integer"),
    (dict(fine_tune_timesteps=0), "fine_tune_timesteps must be >= 1"),
    (dict(fine_tune_learning_rate=0.0), "fine_tune_learning_rate must be"),
    (dict(fine_tune_epochs=1, encoding="ttfs"), "fine_tune_epochs: fine-tuning supports"),
    (dict(fine_tune_epochs=1, input_mode="poisson"), "fine_tune_epochs: .*constant-current"),
    (dict(fine_tune_epochs=1, fine_tune_params={"lr": 1}), "unknown fine-tuning parameter"),
    (dict(fine_tune_params=3), "fine_tune_params must be a mapping"),
])
def test_bad_fine_tune_settings(changes, message):
    with pytest.raises(ValueError, match=message):
        ExperimentConfig(**changes)


def test_fine_tune_keys_in_config_files(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text("experiment:\n  timesteps: 20\n  fine_tune_epochs: 3\n"
                    "  fine_tune_timesteps: 2\n  fine_tune_params: {train_leak: true}\n")
    cfg = load_experiment_config(path)
    assert (cfg.fine_tune_epochs, cfg.fine_tune_timesteps) == (3, 2)
    assert cfg.fine_tune_params == {"train_leak": True}
    assert cfg.hparams()["fine_tune_timesteps"] == 2
    assert "fine_tune_epochs" in ExperimentConfig.stage_fields("snn")  # the ANN cache is kept


def test_sweeps_take_the_fine_tune_keys():
    search = {"fine_tune_epochs": OptimizableValue("fine_tune_epochs",
                                                   DiscreteInterval(0, 4, 1))}
    label = str
    check_experiment_settings(Experiment, {"encoding": "rate"}, search, {}, label, label)
    with pytest.raises(ValueError, match="fine_tune_epochs value 3.*fine-tuning supports"):
        check_experiment_settings(Experiment, {"encoding": "ttfs"}, search, {}, label, label)


def test_experiment_fine_tunes_and_logs(tmp_path):
    pytest.importorskip("tensorflow")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    exp = Experiment(name="ft", dataset="digits", model="mlp", epochs=1, timesteps=2,
                     fine_tune_epochs=1, fine_tune_learning_rate=1e-3, n_test=60, n_norm=200,
                     fine_tune_params={"batch_size": 128}, logdir=None, analysis=False,
                     verbose=0)
    res = exp.run()
    ft = res.fine_tune
    assert ft["timesteps"] == 2 and ft["epochs"] == 1
    assert exp.snn is not exp.snn_converted
    assert res.snn_accuracy == pytest.approx(ft["accuracy_after"])  # the same T: the same SNN
    assert set(ft["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    m = res.metrics()
    assert m["fine_tune_accuracy_after"] == ft["accuracy_after"]
    assert "fine-tuned        1 epochs at T=2" in res.summary()
    log_run(tmp_path, {"network": {}, "layers": {}}, m, exp.hparams(), plots=False,
            fine_tune=ft)
    acc = EventAccumulator(str(tmp_path), size_guidance={"tensors": 0})
    acc.Reload()
    tags = set(acc.Tags()["tensors"])
    assert {"fine_tune/val_accuracy", "fine_tune/accuracy_per_step_before",
            "fine_tune/accuracy_after", "fine_tune/spikes_per_image_before"} <= tags
    assert any(t.startswith("fine_tune_layers/") for t in tags)
    assert [e.step for e in acc.Tensors("fine_tune/accuracy_per_step_after")] == [1, 2]
