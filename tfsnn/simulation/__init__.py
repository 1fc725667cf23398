"""Running a spiking model over time: the ``SpikingModel`` facade (``model``), the compiled
``Engine`` (``engine``, with the per-run ``Layout`` and the device ``plan``), input
``encoders``, ``results``, the Keras ``cellpath``, ``.keras`` ``persistence`` and
``fine_tune`` (hybrid training by BPTT through the cells)."""

from tfsnn.simulation.encoders import INPUT_MODES, poisson_spikes
from tfsnn.simulation.engine import Engine
from tfsnn.simulation.model import SpikingModel, load_snn
from tfsnn.simulation.persistence import META_FILE
from tfsnn.simulation.plan import (
    DEFAULT_CHUNK_BYTES,
    MAX_UNROLL,
    UNROLL_STEPS,
    FastPathOptions,
    plan,
)
from tfsnn.simulation.results import LayerStats, SimulationResult

__all__ = ["SpikingModel", "load_snn", "SimulationResult", "LayerStats", "FastPathOptions",
           "Engine", "plan", "INPUT_MODES", "poisson_spikes", "META_FILE",
           "DEFAULT_CHUNK_BYTES", "UNROLL_STEPS", "MAX_UNROLL"]
