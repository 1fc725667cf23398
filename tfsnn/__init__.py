"""tfsnn: convert trained Keras ANNs into spiking neural networks and simulate them.

    snn = tfsnn.convert(ann, x_norm, encoding="rate")
    res = snn.evaluate(x_test, y_test, timesteps=100)
    print(res.accuracy, res.accuracy_per_step[-1])
"""

from importlib import import_module

__version__ = "0.1.0"

# Public names, resolved lazily so that `import tfsnn` (and the CLI's --help) stays fast and
# `KERAS_BACKEND` can still be chosen before Keras is imported.
_EXPORTS = {
    "convert": "tfsnn.conversion",
    "check_compatibility": "tfsnn.conversion",
    "quantize": "tfsnn.quantization",
    "load_snn": "tfsnn.simulation",
    "fine_tune": "tfsnn.simulation.fine_tune",
    "SpikingModel": "tfsnn.simulation",
    "SimulationResult": "tfsnn.simulation",
    "Experiment": "tfsnn.experiment",
    "ExperimentResult": "tfsnn.experiment",
    "ExperimentConfig": "tfsnn.experiment",
    "load_dataset": "tfsnn.datasets",
    "train_ann": "tfsnn.training",
    "OptimizableValue": "tfsnn.sweeps",
    "DiscreteInterval": "tfsnn.sweeps",
    "RealInterval": "tfsnn.sweeps",
    "DiscreteValues": "tfsnn.sweeps",
    "sweep": "tfsnn.sweeps",
    "synapse_graph": "tfsnn.analysis.synapse_graph",
    "SynapseGraph": "tfsnn.analysis.synapse_graph",
    "snn_activation_analysis": "tfsnn.analysis.statistics",
    "energy_estimate": "tfsnn.analysis.energy",
    "energy_table": "tfsnn.analysis.energy",
    "register_device": "tfsnn.analysis.devices",
    "to_nir": "tfsnn.interop",
    "export_nir": "tfsnn.interop",
    "import_nir": "tfsnn.interop",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tfsnn' has no attribute {name!r}")


def __dir__():
    return __all__
