"""Populations: named, contiguous slices of one flat neuron index space.

A network's neurons are numbered ``0 .. n-1``; each population owns the half-open range
``[start, stop)``. ``sign`` is +1 for excitatory, -1 for inhibitory and 0 when Dale's law does not
apply (input or mixed populations).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError


@dataclass(frozen=True)
class Population:
    """A named range of neurons of one model (``model`` is a registry name or a short label)."""

    name: str
    start: int
    stop: int
    model: str = ""
    sign: int = 0

    @property
    def size(self) -> int:
        return self.stop - self.start

    @property
    def slice(self) -> slice:
        return slice(self.start, self.stop)

    def as_dict(self) -> dict:
        return {"name": self.name, "start": self.start, "stop": self.stop, "model": self.model,
                "sign": self.sign}


def layout(*groups: tuple) -> tuple[Population, ...]:
    """Consecutive populations from ``(name, size[, model[, sign]])`` tuples.

    >>> [p.slice for p in layout(("E", 3), ("I", 1))]
    [slice(0, 3, None), slice(3, 4, None)]
    """
    pops, start = [], 0
    names = set()
    for g in groups:
        name, size = g[0], int(g[1])
        if size < 0:
            raise ParameterError(f"population {name!r} has a negative size ({size})")
        if name in names:
            raise ParameterError(f"two populations are named {name!r}")
        names.add(name)
        model = g[2] if len(g) > 2 else ""
        sign = int(g[3]) if len(g) > 3 else 0
        pops.append(Population(name, start, start + size, model, sign))
        start += size
    return tuple(pops)


def population_of(pops: Sequence[Population], index) -> np.ndarray:
    """Population number of each neuron index (array in, array out)."""
    stops = np.array([p.stop for p in pops])
    return np.searchsorted(stops, np.asarray(index), side="right")


def mean_rates(pops: Sequence[Population], counts: np.ndarray, duration_ms: float) -> dict:
    """Mean firing rate (Hz) of each population from per-neuron spike counts."""
    seconds = duration_ms / 1000.0
    out = {}
    for p in pops:
        n = max(p.size, 1)
        out[p.name] = float(np.sum(counts[p.start:p.stop]) / n / seconds) if seconds > 0 else 0.0
    return out
