"""Spiking neuron cells, one module per encoding.

Each encoding module exports ``IntegratorNeuronCell``, ``LifNeuronCell``,
``LifNeuronCellConv2D``, ``LifNeuronCellMaxPool2D`` (and ``LifNeuronCellAvgPool2D``), plus
``DYNAMICS``, ``CELLS`` and ``SUPPORTED_KINDS``.
"""

from importlib import import_module

#: encoding name -> module
ENCODINGS = {
    "rate": "tfsnn.cells.rate",
    "ttfs": "tfsnn.cells.ttfs",
    "ttfs_dyn_thresh": "tfsnn.cells.ttfs_dynthresh",
    "ttfs_clamped": "tfsnn.cells.ttfs_clamped",
}


def encoding_module(encoding: str):
    """The cell module of an encoding; a clear error for unknown names."""
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}; supported: {sorted(ENCODINGS)}")
    return import_module(ENCODINGS[encoding])


def import_all():
    """Import every encoding module (registers all cells for deserialization)."""
    for enc in ENCODINGS:
        encoding_module(enc)
