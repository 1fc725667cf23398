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
