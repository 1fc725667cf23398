"""TensorBoard logs of an experiment, read back through TensorBoard's own HTTP API."""

import json
import time
import urllib.parse
import urllib.request

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("tensorboard")

from tfsnn.experiment import Experiment  # noqa: E402

TIMEOUT = 10  # seconds per request
LOAD_WAIT = 90  # seconds until TensorBoard has read the logs


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("tblogs")
    exp = Experiment(name="tbtest", dataset="digits", model="mlp", epochs=1, timesteps=20,
                     n_test=64, logdir=logdir, verbose=0, run="run1")
    result = exp.run()
    return exp, result, logdir


@pytest.fixture(scope="module")
def tensorboard(logged):
    """TensorBoard's server in this process on a free loopback port; stopped afterwards."""
    from tensorboard import program

    servers = []

    def make_server(app, flags):
        server = program.WerkzeugServer(app, flags)
        servers.append(server)
        return server

    tb = program.TensorBoard(server_class=make_server)
    tb.configure(argv=[None, "--logdir", str(logged[2]), "--host", "127.0.0.1", "--port", "0",
                       "--load_fast", "false", "--reload_interval", "1"])
    url = tb.launch().rstrip("/")
    assert url.startswith("http://127.0.0.1:")
    try:
        yield url
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def _get(url, path, **params):
    q = f"?{urllib.parse.urlencode(params)}" if params else ""
    with urllib.request.urlopen(f"{url}{path}{q}", timeout=TIMEOUT) as r:
        return json.loads(r.read())


def _post(url, path, body):
    req = urllib.request.Request(f"{url}{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
        return json.loads(r.read())


def _wait_for(url, path, run, tag):
    deadline = time.monotonic() + LOAD_WAIT
    while time.monotonic() < deadline:
        tags = _get(url, path)
        if tag in tags.get(run, {}):
            return tags[run]
        time.sleep(0.5)
    pytest.fail(f"TensorBoard did not load {tag!r} of run {run!r} within {LOAD_WAIT}s")


RUN = "tbtest/run1"


def test_files_in_run_dir(logged):
    exp, result, logdir = logged
    run_dir = logdir / "tbtest" / "run1"
    assert result.logdir == str(run_dir)
    assert list(run_dir.glob("events.out.tfevents.*"))
    for name in ("spike_raster", "spike_count_histogram", "accuracy_vs_time", "ann_vs_snn",
                 "energy_per_layer"):
        assert (run_dir / "plots" / f"{name}.png").stat().st_size > 1000
    saved = json.loads((run_dir / "analysis.json").read_text())
    assert saved["network"]["snn_accuracy"] == result.snn_accuracy
    assert "_arrays" not in saved


def test_scalars(logged, tensorboard):
    exp, result, _ = logged
    tags = _wait_for(tensorboard, "/data/plugin/scalars/tags", RUN, "metrics/snn_accuracy")

    def values(tag):
        return [(step, v) for _, step, v in _get(tensorboard, "/data/plugin/scalars/scalars",
                                                 run=RUN, tag=tag)]

    assert values("metrics/snn_accuracy") == [(0, pytest.approx(result.snn_accuracy))]
    assert values("metrics/ann_accuracy") == [(0, pytest.approx(result.ann_accuracy))]
    per_step = values("accuracy/snn_per_step")
    assert [s for s, _ in per_step] == list(range(1, 21))
    np.testing.assert_allclose([v for _, v in per_step], result.accuracy_per_step, atol=1e-6)
    a = result.analysis
    for layer in ("fc1", "fc2"):
        d = a["layers"][layer]
        for stat in ("spikes_per_image", "count_mean", "count_var", "spike_time_mean",
                     "silent_pair_fraction", "rate_correlation"):
            assert values(f"layers/{layer}/{stat}")[0][1] == pytest.approx(d[stat], rel=1e-5)
    assert values("energy/ratio")[0][1] == pytest.approx(a["energy"]["ratio"], rel=1e-5)
    assert values("metrics/energy_ratio")[0][1] == pytest.approx(a["energy"]["ratio"],
                                                                 rel=1e-5)
    assert "energy_layers/fc2/snn_joules" in tags
    rows = {r["device"]: r for r in a["energy_devices"]}
    assert {"cpu", "gpu", "arm", "loihi", "spinnaker", "spinnaker2", "45nm"} <= set(rows)
    for dev in ("loihi", "spinnaker2", "cpu", "45nm"):
        for key in ("snn_joules_per_image", "snn_synops", "snn_neuron_updates",
                    "ann_cpu_joules_per_image", "ann_gpu_joules_per_image", "ratio_gpu"):
            assert values(f"energy_devices/{dev}/{key}")[0][1] == pytest.approx(
                rows[dev][key], rel=1e-5)
    # the 45 nm preset is the default model of the "energy" scalars
    assert rows["45nm"]["snn_joules_per_image"] == pytest.approx(a["energy"]["snn"]["energy"])


def test_energy_devices_text(logged, tensorboard):
    tags = _wait_for(tensorboard, "/data/plugin/text/tags", RUN, "energy_devices")
    assert "summary" in tags
    [entry] = _get(tensorboard, "/data/plugin/text/text", run=RUN, tag="energy_devices")
    for device in ("cpu", "gpu", "loihi", "spinnaker2", "45nm"):
        assert device in entry["text"]
    assert "27.1 pJ" in entry["text"]  # Loihi's energy per synop


def test_histograms(logged, tensorboard):
    exp, result, _ = logged
    tags = _wait_for(tensorboard, "/data/plugin/histograms/tags", RUN, "spike_times/fc1")
    for tag in ("spike_counts/fc1", "ann_weights/fc1/kernel", "snn_weights/fc1/kernel",
                "snn_weights/output/bias"):
        assert tag in tags

    def buckets(tag):
        [(_, step, b)] = _get(tensorboard, "/data/plugin/histograms/histograms", run=RUN,
                              tag=tag)
        return np.array(b)

    b = buckets("spike_times/fc1")  # one bucket per step: (t - 0.5, t + 0.5, spikes)
    np.testing.assert_array_equal(b[:, 0] + 0.5, np.arange(1, 21))
    np.testing.assert_array_equal(b[:, 2], result.analysis["_arrays"]["layers"]["fc1"]
                                  ["step_counts"])
    assert b[:, 2].sum() == result.spike_counts["fc1"]
    c = buckets("spike_counts/fc1")  # (image, neuron) pairs of the 64 images x 128 neurons
    assert c[:, 2].sum() == 64 * 128
    w = buckets("snn_weights/fc1/kernel")
    assert w[:, 2].sum() == exp.snn.specs[2].kernel.size


def test_images_graph_hparams(logged, tensorboard):
    exp, result, _ = logged
    tags = _wait_for(tensorboard, "/data/plugin/images/tags", RUN, "plots/accuracy_vs_time")
    assert {f"plots/{p}" for p in ("spike_raster", "spike_count_histogram", "ann_vs_snn",
                                   "energy_per_layer")} <= set(tags)
    graphs = _get(tensorboard, "/data/plugin/graphs/info")
    assert "ann" in graphs[RUN]["tags"] and graphs[RUN]["tags"]["ann"]["op_graph"]
    experiment = _post(tensorboard, "/data/plugin/hparams/experiment", {"experimentName": ""})
    hparams = {h["name"]: h for h in experiment["hparamInfos"]}
    assert set(exp.hparams()) <= set(hparams)
    assert hparams["model"]["domainDiscrete"] == ["mlp"]
    assert hparams["timesteps"]["domainInterval"]["minValue"] == 20
    metrics = {m["name"]["tag"] for m in experiment["metricInfos"]}
    assert {"metrics/snn_accuracy", "metrics/ann_accuracy", "energy/ratio"} <= metrics


def test_no_tensorflow_warns_and_writes_plots(logged, monkeypatch):
    import importlib.util

    exp, result, logdir = logged
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorflow" else real(name, *a))
    monkeypatch.setattr(exp, "run_name", "no_tf")
    with pytest.warns(UserWarning, match="TensorFlow is not installed"):
        run_dir = exp.log(result)
    assert run_dir == logdir / "tbtest" / "no_tf"
    assert (run_dir / "plots" / "energy_per_layer.png").exists()
    assert not list(run_dir.glob("events.out.tfevents.*"))


def test_log_run_takes_plain_data(logged, tmp_path):
    import math

    from tfsnn.analysis.tensorboard import log_run

    exp, result, _ = logged
    analysis = {**result.analysis, "network": {**result.analysis["network"],
                                               "readout_correlation": math.nan}}
    run_dir = log_run(tmp_path / "plain", analysis, {"snn_accuracy": 0.5}, {"timesteps": 20},
                      "a summary", plots=False)
    assert run_dir == tmp_path / "plain"
    assert list(run_dir.glob("events.out.tfevents.*"))
    assert not (run_dir / "plots").exists()
    text = (run_dir / "analysis.json").read_text()
    assert "NaN" not in text
    assert json.loads(text)["network"]["readout_correlation"] is None


def test_log_without_logdir_warns(logged):
    exp, result, _ = logged
    from tfsnn.experiment import Experiment

    quiet = Experiment(exp.config, logdir=None)
    with pytest.warns(UserWarning, match="logdir=None; nothing is logged"):
        assert quiet.log(result) is None
