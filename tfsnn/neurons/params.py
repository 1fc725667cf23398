"""Typed neuron parameters (one frozen dataclass per family of dynamics).

``threshold`` theta, ``v_init`` (initial membrane potential as a fraction of theta) and ``tau``
(leak time constant in timesteps; ``None`` = integrate-and-fire, no leak) are common to all
neurons; an encoding's dynamics extend them (e.g. ``TTFSParams``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass


def _finite(name, value, positive=False):
    v = float(value)
    if not math.isfinite(v) or (positive and v <= 0):
        need = "> 0" if positive else "finite"
        raise ValueError(f"{name} must be {need}, got {value!r}")
    return v


@dataclass(frozen=True)
class NeuronParams:
    threshold: float = 1.0
    v_init: float = 0.0
    tau: float | None = None

    def __post_init__(self):
        if not float(self.threshold) > 0:
            raise ValueError(f"threshold must be > 0, got {self.threshold}")
        if self.tau is not None and not float(self.tau) > 0:
            raise ValueError(f"tau must be > 0 timesteps (or None for no leak), got {self.tau}")
        object.__setattr__(self, "threshold", float(self.threshold))
        object.__setattr__(self, "v_init", float(self.v_init))
        if self.tau is not None:
            object.__setattr__(self, "tau", float(self.tau))

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
