"""Quantized Keras models: quantization-aware layers and ``quantize`` (docs/quantization.md).

    qann = tfsnn.quantize(ann, weight_bits=4, activation_bits=2, calibration_data=x_train)
    qann.fit(...)                      # quantization-aware training (optional)
    snn = tfsnn.convert(qann)          # thresholds = the learned clip values, V_0 = 1/2
"""

from tfsnn.quantization.layers import (
    QuantizedConv2D,
    QuantizedDense,
    QuantizedReLU,
    quantized_relu_factory,
)
from tfsnn.quantization.quantize import calibrate, mse_clip, quantize
from tfsnn.quantization.quantizers import (
    fake_quantize_weights,
    integer_weights,
    levels_from_bits,
    qcfs,
    quantize_weights,
    weight_qmax,
)

__all__ = ["quantize", "calibrate", "mse_clip", "QuantizedDense", "QuantizedConv2D", "QuantizedReLU",
           "quantized_relu_factory", "qcfs", "quantize_weights", "fake_quantize_weights", "integer_weights",
           "levels_from_bits", "weight_qmax"]
