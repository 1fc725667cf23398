"""Binding the cell classes to one encoding: ``encoding_cell(encoding, dynamics)`` is the class
decorator each encoding module puts on its named cells."""

from __future__ import annotations

import keras

#: spec kind -> public cell class name (``(spiking, readout)`` for dense)
CELL_NAMES = {
    "dense": ("LifNeuronCell", "IntegratorNeuronCell"),
    "conv2d": ("LifNeuronCellConv2D", "LifNeuronCellConv2D"),
    "avgpool": ("LifNeuronCellAvgPool2D", "LifNeuronCellAvgPool2D"),
    "maxpool": ("LifNeuronCellMaxPool2D", "LifNeuronCellMaxPool2D"),
    "conv1d": ("LifNeuronCellConv1D", "LifNeuronCellConv1D"),
    "avgpool1d": ("LifNeuronCellAvgPool1D", "LifNeuronCellAvgPool1D"),
    "maxpool1d": ("LifNeuronCellMaxPool1D", "LifNeuronCellMaxPool1D"),
    "depthwise_conv2d": ("LifNeuronCellDepthwiseConv2D", "LifNeuronCellDepthwiseConv2D"),
    "separable_conv2d": ("LifNeuronCellSeparableConv2D", "LifNeuronCellSeparableConv2D"),
    "add": ("LifNeuronCellAdd", "LifNeuronCellAdd"),
}


def encoding_cell(encoding: str, dynamics):
    """Class decorator: bind ``dynamics`` and register the class for ``.keras`` files as
    ``tfsnn.<encoding>>ClassName``."""
    def bind(cls):
        cls.dynamics = dynamics
        cls.encoding = encoding
        return keras.saving.register_keras_serializable(
            package=f"tfsnn.{encoding}", name=cls.__name__)(cls)
    return bind


def cell_class(module, kind: str, readout: bool):
    """The named cell class of an encoding module for a spec kind."""
    if kind not in CELL_NAMES:
        raise ValueError(f"layer kind {kind!r} has no spiking cell; cells exist for "
                         f"{sorted(CELL_NAMES)}")
    return getattr(module, CELL_NAMES[kind][int(bool(readout))])
