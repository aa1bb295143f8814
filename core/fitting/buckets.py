"""Compile once per shape: sweeps padded to a few length buckets, and a compilation counter.

JAX compiles a fit's functions once per array shape. A batch of cells whose recordings differ by
a few samples would compile every function again for every cell (seconds each); with
:class:`LengthBuckets` an :class:`~core.fitting.objective.Objective` pads its arrays (after any
decimation) to the next bucket, ``(sweeps, samples)``, so a worker compiles once per bucket.

Padding never changes a loss: the simulation freezes its state after the last real sample
(``simulate_arrays(n_valid=...)``), every loss term sums only the real samples of the real
sweeps (a mask) and divides by their count, padded sweeps are copies of the first sweep (so
they cannot diverge where it does not) and are masked out of the spike-count mismatch; what the
objective returns to NumPy (``simulate``, the gamma factor) is cut back to the real shape.
The cost: up to ``ratio - 1`` more samples simulated (25 % by default) and the padded sweeps.

:class:`CompileCounter` counts XLA compilations and their seconds (tracing, lowering and
backend compile, from ``jax.monitoring``) while it is active: real behaviour, not timings of a
first call. An executable loaded from JAX's persistent compilation cache (``core`` turns it on)
counts as a compilation too, with its tracing, lowering and load seconds; a function reused
from the process's own jit cache counts nothing.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

#: the sweep counts a padded objective is rounded up to (beyond the last: multiples of it)
SWEEP_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)


@dataclass(frozen=True)
class LengthBuckets:
    """Bucket sizes: samples grow geometrically from ``minimum`` by ``ratio`` (each bucket
    rounded up to a multiple of ``multiple``); sweeps round up to :data:`SWEEP_BUCKETS`
    (``sweeps=False``: the sweep count is kept)."""

    ratio: float = 1.25
    minimum: int = 512
    multiple: int = 64
    sweeps: bool = True

    def __post_init__(self) -> None:
        if not self.ratio > 1.0:
            raise ValueError(f"bucket ratio must be > 1, got {self.ratio}")
        if self.minimum < 1 or self.multiple < 1:
            raise ValueError("bucket minimum and multiple must be positive")

    def samples(self, n: int) -> int:
        """The smallest bucket holding ``n`` samples."""
        b = int(math.ceil(self.minimum / self.multiple)) * self.multiple
        while b < n:
            b = max(b + self.multiple,
                    int(math.ceil(b * self.ratio / self.multiple)) * self.multiple)
        return b

    def n_sweeps(self, n: int) -> int:
        if not self.sweeps:
            return int(n)
        for b in SWEEP_BUCKETS:
            if b >= n:
                return b
        last = SWEEP_BUCKETS[-1]
        return int(math.ceil(n / last)) * last

    def shape(self, n_sweeps: int, n_samples: int) -> tuple[int, int]:
        """(sweeps, samples) of the bucket holding an (n_sweeps, n_samples) recording."""
        return self.n_sweeps(n_sweeps), self.samples(n_samples)

    def as_dict(self) -> dict:
        return {"ratio": self.ratio, "minimum": self.minimum, "multiple": self.multiple,
                "sweeps": self.sweeps}


DEFAULT_BUCKETS = LengthBuckets()

# --------------------------------------------------------------------------------------------
# counting compilations
# --------------------------------------------------------------------------------------------
_BACKEND = "/jax/core/compile/backend_compile_duration"
_PREFIX = "/jax/core/compile/"
_lock = threading.Lock()
_totals = {"compiles": 0, "seconds": 0.0}
_installed = False


def _listener(event: str, duration: float, **_kw) -> None:
    if not event.startswith(_PREFIX):
        return
    with _lock:
        _totals["seconds"] += float(duration)
        if event == _BACKEND:
            _totals["compiles"] += 1


def _install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    import jax.monitoring

    jax.monitoring.register_event_duration_secs_listener(_listener)


class CompileCounter:
    """``with CompileCounter() as c: ...`` then ``c.compiles`` (XLA backend compilations) and
    ``c.seconds`` (tracing + lowering + compiling) of everything compiled in this process
    meanwhile (jobs running at the same time in other threads are counted too)."""

    def __init__(self) -> None:
        _install()
        self._start = dict(_totals)
        self.compiles = 0
        self.seconds = 0.0

    def __enter__(self) -> CompileCounter:
        with _lock:
            self._start = dict(_totals)
        return self

    def update(self) -> CompileCounter:
        with _lock:
            self.compiles = _totals["compiles"] - self._start["compiles"]
            self.seconds = _totals["seconds"] - self._start["seconds"]
        return self

    def __exit__(self, *exc) -> None:
        self.update()


__all__ = ["DEFAULT_BUCKETS", "SWEEP_BUCKETS", "CompileCounter", "LengthBuckets"]
