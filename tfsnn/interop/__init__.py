"""Taking a tfsnn SNN to other tools and back: NIR, the Neuromorphic Intermediate
Representation (``nir_export``: ``to_nir``, ``export_nir``; ``nir_import``: ``import_nir``;
conventions in ``nir_neurons`` and ``nir_layout``; docs/interop.md)."""

from tfsnn.interop.errors import NIRError
from tfsnn.interop.nir_export import export_nir, to_nir
from tfsnn.interop.nir_import import import_nir

__all__ = ["to_nir", "export_nir", "import_nir", "NIRError"]
