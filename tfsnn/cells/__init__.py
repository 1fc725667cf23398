"""Spiking neuron cells (Keras RNN cells), one module per encoding.

Each encoding module (``tfsnn.cells.rate``, ``.ttfs``, ``.ttfs_dynthresh``,
``.ttfs_clamped``) declares ``IntegratorNeuronCell``, ``LifNeuronCell``,
``LifNeuronCellConv2D``, ``LifNeuronCellMaxPool2D`` (and ``LifNeuronCellAvgPool2D``) as thin
subclasses of the cells in ``dense``, ``conv`` and ``pooling`` bound to its neuron dynamics
(``tfsnn.neurons``), plus ``DYNAMICS``, ``DEFAULTS``, ``SUPPORTED_KINDS`` and ``prepare``
(the encoding's step of the conversion).
"""

from importlib import import_module

from tfsnn.cells.binding import CELL_NAMES, cell_class
from tfsnn.cells.rnn import SpikingRNN

#: encoding name -> module
ENCODINGS = {
    "rate": "tfsnn.cells.rate",
    "ttfs": "tfsnn.cells.ttfs",
    "ttfs_dyn_thresh": "tfsnn.cells.ttfs_dynthresh",
    "ttfs_clamped": "tfsnn.cells.ttfs_clamped",
}

__all__ = ["ENCODINGS", "CELL_NAMES", "SpikingRNN", "cell_class", "encoding_module",
           "import_all"]


def encoding_module(encoding: str):
    """The cell module of an encoding; a clear error for unknown names."""
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}; supported: {sorted(ENCODINGS)}")
    return import_module(ENCODINGS[encoding])


def import_all():
    """Import every encoding module (registers all cells for deserialization)."""
    for enc in ENCODINGS:
        encoding_module(enc)
