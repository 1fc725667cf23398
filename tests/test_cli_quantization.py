"""``tfsnn quantize / convert / evaluate / check`` end to end on a tiny model and .npz."""

import keras
import numpy as np
import pytest

import tfsnn
from tfsnn import cli
from tfsnn.quantization import QuantizedConv2D, QuantizedReLU


@pytest.fixture
def files(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.Conv2D(3, 3, activation="relu", name="c1"),
        keras.layers.Flatten(name="f"), keras.layers.Dense(3, activation="softmax",
                                                           name="out")])
    model.save(tmp_path / "m.keras")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "data.npz",
             x_train=rng.integers(0, 256, (24, 8, 8, 1), dtype=np.uint8),
             y_train=rng.integers(0, 3, 24), x_test=rng.integers(0, 256, (12, 8, 8, 1),
                                                                 dtype=np.uint8),
             y_test=rng.integers(0, 3, 12))
    return tmp_path


def test_quantize_convert_evaluate_check(files, capsys):
    m, data = files / "m.keras", files / "data.npz"
    assert cli.main(["quantize", "-m", str(m), "-wq", "4", "-aq", "2", "-iq", "8",
                     "--calibration", str(data)]) == 0
    q_path = files / "m_iq8_wq4_aq2.keras"
    q = keras.models.load_model(q_path)
    assert isinstance(q.get_layer("c1"), QuantizedConv2D) and q.get_layer("c1").weight_bits == 8
    assert isinstance(q.get_layer("c1_relu"), QuantizedReLU)
    assert q.get_layer("c1_relu").levels == 3 and q.get_layer("c1_relu").clip_value != 1.0

    assert cli.main(["check", "-m", str(q_path), "--preset", "akida"]) == 0
    assert "compatible" in capsys.readouterr().out
    assert cli.main(["check", "-m", str(m), "--preset", "akida"]) == 1
    out = capsys.readouterr().out
    assert "3 problem(s)" in out and "'c1' (the input layer) has float weights" in out

    snn_path = files / "snn.keras"
    assert cli.main(["convert", "-m", str(q_path), "--data", str(data), "-o",
                     str(snn_path)]) == 0
    assert snn_path.exists()
    assert cli.main(["evaluate", str(snn_path), "--data", str(data), "-T", "6"]) == 0
    out = capsys.readouterr().out
    assert "accuracy on 12 test images" in out and "T=6" in out and "T=4" in out
    assert "spikes per image" in out and "energy per image" in out
    assert cli.main(["convert", "-m", str(m), "--data", str(data)]) == 0  # float model
    assert (files / "m_snn.keras").exists()
    signed_path = files / "signed.keras"
    assert cli.main(["convert", "-m", str(q_path), "--signed", "-o", str(signed_path)]) == 0
    assert tfsnn.load_snn(signed_path).dyn_params["signed"] is True
    assert cli.main(["evaluate", str(signed_path), "--data", str(data), "-T", "3"]) == 0


@pytest.mark.parametrize("argv, text", [
    (["quantize", "-m", "nope.keras"], "model nope.keras: no such file"),
    (["quantize", "-m", "{data}"], "expected a .keras file"),
    (["quantize", "-m", "{m}", "--calibration", "missing.npz"], "data missing.npz: no such file"),
    (["convert", "-m", "{m}"], "needs a non-empty normalization set"),
    (["convert", "-m", "{m}", "--data", "{data}", "--encoding", "morse"], "morse"),
    (["evaluate", "{m}", "--data", "{data}"], "{m}"),
    (["check", "-m", "{m}", "--preset", "loihi9"], "unknown preset 'loihi9'"),
])
def test_bad_arguments_give_one_line_errors(files, capsys, argv, text):
    fmt = {"m": str(files / "m.keras"), "data": str(files / "data.npz")}
    assert cli.main([a.format(**fmt) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("tfsnn: error: "), err
    assert text.format(**fmt) in err[0]


def test_bad_bit_widths_are_usage_errors(files, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["quantize", "-m", str(files / "m.keras"), "-wq", "0"])
    assert info.value.code == 2
    assert "-wq/--weight-bits: must be a bit width from 1 to 16" in capsys.readouterr().err
