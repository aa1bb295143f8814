"""Job that simulates a model on the stimulus of a recording (the model preview / overlay).

A preview is drawn, not analysed: with ``max_points`` the job sends back, per sweep, at most that
many points of a min/max envelope (:func:`peak_decimate`, what pyqtgraph's peak downsampling
would draw anyway), so a 20 s sweep at 20 kHz does not cross the pipe at full length on every
edit."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from core.lazy import jnp

from ..errors import RecordingError
from ..events import SimulationProgress
from ..jobs import check_cancelled
from .simulate import simulate


@dataclass(frozen=True)
class RecordingSimulation:
    """Model voltage (mV) for each selected sweep, on that sweep's time base."""

    request_id: int
    sweeps: tuple[int, ...]
    V: tuple[np.ndarray, ...]
    spike_counts: tuple[int, ...]
    seconds: float
    t: tuple[np.ndarray, ...] | None = None  # per sweep, when V was decimated


def peak_decimate(t: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points keeping each bin's minimum and maximum in time order (a
    spike's peak and trough survive); unchanged when already short enough."""
    n = y.size
    if max_points < 4 or n <= max_points or not np.all(np.isfinite(y)):
        return t, y  # (a non-finite trace is reported by the simulation, not drawn)
    bins = max_points // 2
    starts = np.linspace(0, n, bins + 1).astype(np.int64)[:-1]
    bin_of = np.repeat(np.arange(bins), np.diff(np.append(starts, n)))

    def first_where(extreme):  # per bin, the first sample equal to its extreme (as argmin)
        hits = np.flatnonzero(y == extreme.reduceat(y, starts)[bin_of])
        return hits[np.unique(bin_of[hits], return_index=True)[1]]

    lo, hi = first_where(np.minimum), first_where(np.maximum)
    order = np.sort(np.stack([lo, hi], axis=1), axis=1).ravel()
    return t[order], y[order]


@dataclass
class SimulateRecordingJob:
    """Simulate ``model`` on the injected current of ``sweeps`` of ``recording``.

    ``request_id`` lets a live preview drop stale results (latest request wins)."""

    model: object
    recording: object
    sweeps: tuple[int, ...] = (0,)
    solver: str = "exp_euler"
    request_id: int = 0
    name: str = "simulate"
    max_points: int | None = None  # decimate the returned traces (previews)

    def run(self, report, is_cancelled) -> RecordingSimulation:
        start = time.perf_counter()
        rec = self.recording.select(self.sweeps)
        if not rec.has_stimulus:
            raise RecordingError(f"{rec.name}: no stimulus to simulate the model with")
        lengths = {s.V.size for s in rec.sweeps}
        outputs, counts = [], []
        if len(lengths) == 1:  # one batched call for all sweeps
            I = np.stack([s.I for s in rec.sweeps], axis=1)
            res = simulate(self.model, I, rec.dt, solver=self.solver, is_cancelled=is_cancelled,
                           state=_start(self.model, [s.V[0] for s in rec.sweeps])
                           ).raise_for_status("model preview")
            V = np.asarray(res.V)
            outputs = [V[:, k] for k in range(V.shape[1])]
            counts = [int(c) for c in np.asarray(res.spike_counts())]
        else:
            for s in rec.sweeps:
                check_cancelled(is_cancelled)
                res = simulate(self.model, s.I, s.dt, solver=self.solver,
                               state=_start(self.model, s.V[0])).raise_for_status("model preview")
                outputs.append(np.asarray(res.V))
                counts.append(int(res.spike_counts()))
        seconds = time.perf_counter() - start
        report(SimulationProgress(job=self.name, done=1, total=1, elapsed=seconds))
        times = None
        if self.max_points:
            pairs = [peak_decimate(s.t, v, self.max_points) for s, v in zip(rec.sweeps, outputs,
                                                                             strict=True)]
            times, outputs = [p[0] for p in pairs], [p[1] for p in pairs]
        return RecordingSimulation(self.request_id, tuple(self.sweeps), tuple(outputs),
                                   tuple(counts), seconds, None if times is None else tuple(times))


def _start(model, v0):
    """The model's resting state with V at the recording's first sample (as the fit starts)."""
    v0 = np.asarray(v0, float)
    state = model.init_state(v0.shape, jnp.float64)
    return {**state, "V": jnp.asarray(v0, jnp.float64)}
