"""Keras-style weight options of the cells with synapses (initializers, regularizers,
constraints), created and serialized in one place."""

from __future__ import annotations

import keras


class WeightOptions:
    """``kernel_*`` / ``bias_*`` initializer, regularizer and constraint of a layer."""

    def __init__(self, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None):
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)

    def add_weights(self, layer, kernel_shape, n_out, use_bias=True):
        """Create ``(kernel, bias)`` on ``layer`` (``bias`` None without ``use_bias``)."""
        kernel = layer.add_weight(shape=kernel_shape, initializer=self.kernel_initializer,
                                  regularizer=self.kernel_regularizer,
                                  constraint=self.kernel_constraint, name="kernel")
        bias = None
        if use_bias:
            bias = layer.add_weight(shape=(n_out,), initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint, name="bias")
        return kernel, bias

    def get_config(self) -> dict:
        ser = keras.saving.serialize_keras_object
        return {"kernel_initializer": ser(self.kernel_initializer),
                "bias_initializer": ser(self.bias_initializer),
                "kernel_regularizer": ser(self.kernel_regularizer),
                "bias_regularizer": ser(self.bias_regularizer),
                "kernel_constraint": ser(self.kernel_constraint),
                "bias_constraint": ser(self.bias_constraint)}
