"""Immutable progress events that jobs send through ``report(event)``.

Events are small and frozen so that the worker thread can hand them to the GUI thread as they are.
Arrays inside events are NumPy (never JAX) copies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Event:
    """Base event: which job, how far (``done`` of ``total``), elapsed wall time in seconds."""

    job: str
    done: int = 0
    total: int | None = None
    elapsed: float = 0.0
    message: str = ""

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)


@dataclass(frozen=True)
class FitProgress(Event):
    """One optimiser iteration: best loss and parameters so far, and the evaluations used."""

    method: str = ""
    seed: int = 0
    iteration: int = 0
    evaluations: int = 0
    loss: float = float("nan")
    best_loss: float = float("nan")
    best_params: Mapping[str, float] = field(default_factory=dict)
    preview: np.ndarray | None = None


@dataclass(frozen=True)
class SimulationProgress(Event):
    """A chunk of a long simulation finished (``done``/``total`` are time steps)."""

    t_ms: float = 0.0
    spikes: int = 0
    preview: Any = None


@dataclass(frozen=True)
class TrainProgress(Event):
    """One training step: loss, accuracy."""

    step: int = 0
    loss: float = float("nan")
    accuracy: float = float("nan")
