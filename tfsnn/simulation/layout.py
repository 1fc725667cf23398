"""What every layer is in one simulation run: the engine's static analysis of the network.

Derived once per compiled function from the specs, the cells and the input mode:

- ``linear``: layers applied to spikes without neurons (flatten, concat, average pooling
  except as the readout; the kind table's ``linear`` column), and the branches into a
  residual sum (``LayerSpec.is_branch``: their output is a current);
- ``static``: values that are the same at every step (the constant input and linear maps of
  it): computed once per batch;
- ``neurons``: layers with neuron state; ``spiking``: those whose spikes are counted (all
  but the readout, plus the input under Poisson coding);
- ``closed``: layers under a constant current whose counts follow from their final state
  (``cell.has_constant_counts``), so the time loop need not count them;
- ``pooled``: linear pooling layers whose time-summed output is reported too;
- ``tot_via``: layer -> (average pool that tiles it, window area): per-step totals from the
  pooled map, ``sum(s) = area * sum(avgpool(s))``, exact for power-of-two areas;
- ``signed``: the spiking layers of a network with signed neurons (``signed=True``): their
  spikes may be -1 (a max pool passes those on), so totals are of ``|s|`` and the engine
  counts events (``|s|`` summed) besides the net counts;
- ``fractional``: counted layers whose output need not be 0/1: the analog input, and max
  pools that gate analog values or window means (they pass their input's values).
"""

from __future__ import annotations

import numpy as np

from tfsnn.ir import LayerSpec, by_name, post_readout
from tfsnn.neurons import is_signed


def tiling_area(pool: LayerSpec, src: LayerSpec) -> int:
    """The window area of an average pool whose windows tile its input exactly (stride =
    window, sizes divisible), if that area is a power of two (window means of 0/1 spikes
    are then exact in float); else 0."""
    size = pool.window
    if tuple(int(v) for v in pool.config["strides"]) != size:
        return 0
    area = int(np.prod(size))
    if any(int(n) % k for n, k in zip(src.output_shape[:-1], size)) or area & (area - 1):
        return 0
    return area


class Layout:
    """The roles of the layers in one run (see module docstring)."""

    def _fractional(self, specs, cells, constant) -> set:
        binary = {self.inp: not constant}  # does the layer output only 0/1 values?
        for s in specs[1:]:
            ins = [binary[i] for i in s.inputs]
            if s.name in self.linear:  # pooling averages spikes; flatten/concat keep them
                binary[s.name] = all(ins) and s.row.pool != "avg" and not s.is_branch
            elif s.row.pool == "max":  # the gate passes its input's values
                binary[s.name] = all(ins)
            else:
                binary[s.name] = s.name in cells
        return {n for n, b in binary.items() if not b}

    def __init__(self, specs, cells, readout, constant: bool, timesteps: int,
                 unit_scales=frozenset()):
        self.specs = specs
        self.named = by_name(specs)
        self.inp = specs[0].name
        self.out_name = next(s.name for s in specs if s.is_output)
        self.linear = {s.name for s in specs[1:]
                       if s.is_linear and not (s.row.pool == "avg" and s is readout)}
        self.static = {self.inp} if constant else set()
        for s in specs[1:]:
            if s.name in self.linear and all(i in self.static for i in s.inputs):
                self.static.add(s.name)
        self.neurons = [s.name for s in specs[1:]
                        if s.name in cells and s.name not in self.linear]
        self.spiking = [n for n in self.neurons if n != readout.name]
        self.closed = set()
        if constant:
            self.closed = {n for n in self.spiking
                           if all(i in self.static for i in self.named[n].inputs)
                           and cells[n].has_constant_counts(timesteps)}
        else:
            self.spiking.insert(0, self.inp)
        after = set(post_readout(specs))
        self.pooled = [s.name for s in specs[1:] if s.row.pool == "avg"
                       and s.name in self.linear and s.name not in after]
        self.fractional = self._fractional(specs, cells, constant)
        # signed neurons anywhere: every spiking layer may send negative spikes (a max pool
        # passes them on), so spikes are totalled as |s| and counted as events too
        signed = any(is_signed(cells[n].params) for n in self.spiking
                     if n in cells)
        self.signed = set(self.spiking) - {self.inp} if signed else set()
        self.tot_via = {}
        for s in specs[1:]:
            if s.name in self.linear and s.row.pool == "avg" and s.name in unit_scales:
                src = s.inputs[0]
                area = tiling_area(s, self.named[src])
                if area and src in self.spiking and src not in self.tot_via \
                        and src not in self.signed:
                    self.tot_via[src] = (s.name, area)
