"""Fake experiments and helpers shared by the sweep tests (tests/sweeps/test_sweep_*.py).

Sweeps run against fake experiments (a deterministic function of the parameters) so they take
seconds.
"""

import json
from pathlib import Path

from optuna.trial import TrialState

from tfsnn.sweeps import DiscreteInterval, RealInterval, sweep

REPO = Path(__file__).resolve().parents[2]


class FakeResult:
    def __init__(self, snn_accuracy, spikes_per_image):
        self.ann_accuracy = 0.97
        self.snn_accuracy = snn_accuracy
        self.spikes_per_image = spikes_per_image
        self.accuracy_per_step = [snn_accuracy]

    def metrics(self):
        return {"ann_accuracy": self.ann_accuracy, "snn_accuracy": self.snn_accuracy,
                "spikes_per_image": self.spikes_per_image}


class FakeExperiment:
    """Deterministic function of its parameters; fails when ``fail`` says so."""

    calls: list = []
    fail = staticmethod(lambda kw: False)

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.ann = None

    def run(self):
        kw = self.kwargs
        FakeExperiment.calls.append(kw)
        if FakeExperiment.fail(kw):
            raise RuntimeError(f"simulated failure at timesteps={kw['timesteps']}")
        self.ann = kw["model"] if not isinstance(kw["model"], str) else object()
        acc = 0.9 - abs(kw["timesteps"] - 30) / 100 + (kw.get("percentile", 99.0) - 99.0) / 50
        return FakeResult(acc, spikes_per_image=10.0 * kw["timesteps"])


SEARCH = {"timesteps": DiscreteInterval(10, 60, 10),
          "percentile": RealInterval("uniform", low=99.0, high=100.0)}
BASE = {"dataset": "digits", "model": "mlp", "epochs": 1}


def run_sweep(tmp_path, n, **kw):
    kw.setdefault("storage", f"sqlite:///{tmp_path / 'study.db'}")
    kw.setdefault("study_name", "s")
    kw.setdefault("logdir", None)
    kw.setdefault("experiment_factory", FakeExperiment)
    kw.setdefault("progress", False)
    return sweep(BASE, kw.pop("search", SEARCH), n, **kw)


def complete_trials(study):
    return study.get_trials(states=(TrialState.COMPLETE,))


def plugin_tags(directory: Path) -> set:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(directory))
    acc.Reload()
    return {"hparams": set(acc.PluginTagToContent("hparams")),
            "tensors": set(acc.Tags()["tensors"])}


FAKE_MODULE = '''
import os, time
from pathlib import Path

class Result:
    def __init__(self, acc):
        self.snn_accuracy = acc
    def metrics(self):
        return {"snn_accuracy": self.snn_accuracy}

class SlowFake:
    passed_barrier = False

    def __init__(self, delay=0.0, barrier_dir=None, barrier_n=0, hang_file=None, **kwargs):
        self.delay, self.kwargs, self.hang_file = delay, kwargs, hang_file
        self.barrier_dir, self.barrier_n = barrier_dir, barrier_n

    def run(self):
        if self.barrier_dir and not SlowFake.passed_barrier:  # wait for barrier_n processes
            d = Path(self.barrier_dir)
            (d / str(os.getpid())).touch()
            t0 = time.time()
            while len(list(d.iterdir())) < self.barrier_n and time.time() - t0 < 30:
                time.sleep(0.05)
            SlowFake.passed_barrier = True
        time.sleep(self.delay)
        mine = f"{self.hang_file}.{os.getpid()}"
        if self.hang_file and (os.path.exists(self.hang_file) or os.path.exists(mine)):
            Path(f"{mine}.hanging").touch()  # tells the test: a trial is RUNNING, stuck here
            time.sleep(600)                  # stay RUNNING until killed
        return Result(1.0 - abs(self.kwargs["timesteps"] - 30) / 100)
'''


def write_fake_config(tmp_path, delay, barrier_n=0, hang_file=None, **options):
    (tmp_path / "fake_sweep_exp.py").write_text(FAKE_MODULE)
    experiment = {"delay": delay, "hang_file": hang_file}
    if barrier_n:
        (tmp_path / "barrier").mkdir()
        experiment.update(barrier_dir=str(tmp_path / "barrier"), barrier_n=barrier_n)
    cfg = {"study": "fake", "experiment_factory": "fake_sweep_exp:SlowFake", "logdir": None,
           "heartbeat_interval": 1, "grace_period": 3, "experiment": experiment,
           "search": {"timesteps": {"DiscreteInterval": [10, 60, 10]}}, **options}
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(cfg))
    return path
