"""The error raised where a tfsnn SNN and a NIR graph cannot be mapped onto each other."""

from __future__ import annotations

from tfsnn.conversion.errors import ConversionError


class NIRError(ConversionError):
    """A tfsnn feature NIR cannot express (export), or a NIR node or parameter tfsnn cannot
    simulate (import); the message names the layer or node, its type and what is supported."""
