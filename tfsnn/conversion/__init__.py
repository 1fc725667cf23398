"""ANN -> SNN conversion: parse (rule table) and fold, normalize, build the spiking model."""

from tfsnn.conversion.compat import PRESETS, check_compatibility
from tfsnn.conversion.convert import convert
from tfsnn.conversion.errors import ConversionError
from tfsnn.conversion.forward import analog_forward
from tfsnn.conversion.normalize import normalize
from tfsnn.conversion.parse import SUPPORTED_LAYERS, parse
from tfsnn.ir import LayerSpec

__all__ = ["convert", "parse", "normalize", "analog_forward", "LayerSpec", "ConversionError",
           "SUPPORTED_LAYERS", "check_compatibility", "PRESETS"]
