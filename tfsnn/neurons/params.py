"""Typed neuron parameters (one frozen dataclass per family of dynamics).

``threshold`` theta, ``v_init`` (initial membrane potential as a fraction of theta) and ``tau``
(leak time constant in timesteps; ``None`` = integrate-and-fire, no leak) are common to all
neurons; an encoding's dynamics extend them (e.g. ``TTFSParams``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from tfsnn.checks import check_number


@dataclass(frozen=True)
class NeuronParams:
    threshold: float = 1.0
    v_init: float = 0.0
    tau: float | None = None

    def __post_init__(self):
        """Validate (finite numbers: theta > 0, tau > 0 timesteps or None) and store floats."""
        object.__setattr__(self, "threshold", check_number(self.threshold, "threshold",
                                                           positive=True))
        object.__setattr__(self, "v_init", check_number(self.v_init, "v_init"))
        object.__setattr__(self, "tau", check_number(self.tau, "tau (leak time constant in "
                                                     "timesteps)", positive=True,
                                                     none_ok=True))

    @property
    def leak(self) -> float:
        """``exp(-1 / tau)`` for a LIF neuron; 1.0 (no leak, an IF neuron) when ``tau`` is None."""
        return 1.0 if self.tau is None else math.exp(-1.0 / self.tau)

    @property
    def v0(self) -> float:
        """The initial membrane potential ``v_init * theta``."""
        return self.v_init * self.threshold

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_dict(cls, values: dict):
        """The parameters among ``values`` that this class has (others are ignored: they are
        conversion options such as ``timesteps`` or ``latency``, kept by the caller)."""
        names = cls.field_names()
        return cls(**{k: v for k, v in values.items() if k in names})

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class RateParams(NeuronParams):
    """Rate-coded neuron parameters: ``signed`` adds negative spikes (signed IF neurons,
    ``tfsnn.neurons.rate``)."""

    signed: bool = False

    def __post_init__(self):
        super().__post_init__()
        if isinstance(self.signed, str) or self.signed not in (True, False):
            raise ValueError(f"signed must be True or False, got {self.signed!r}")
        object.__setattr__(self, "signed", bool(self.signed))


def is_one(x) -> bool:
    """Whether ``x`` is the Python number 1 (a tensor, e.g. a trainable threshold, is not:
    the dynamics then keep the multiplication)."""
    return isinstance(x, (int, float)) and x == 1.0


class TensorParams:
    """Neuron parameters with tensors in place of some floats: what a cell with trainable
    thresholds or leaks (DIET-SNN, Rathi & Roy 2021) hands its dynamics while training.

    ``threshold`` and ``leak`` override those of ``base`` (a ``NeuronParams``); every other
    field is the base's. ``v0 = v_init * threshold`` follows a trained threshold.
    """

    def __init__(self, base: NeuronParams, threshold=None, leak=None):
        self.base = base
        self.threshold = base.threshold if threshold is None else threshold
        self.leak = base.leak if leak is None else leak

    def __getattr__(self, name):
        return getattr(self.base, name)

    @property
    def v0(self):
        return self.threshold * self.base.v_init
