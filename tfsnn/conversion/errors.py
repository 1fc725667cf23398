"""The error every conversion stage raises for a model it cannot convert."""

from __future__ import annotations


class ConversionError(ValueError):
    """A model cannot be converted; the message names the layer and what is supported."""
