"""The one in-memory type every reader produces: a current-clamp ``Recording``.

Core units: time in ms, membrane voltage in mV, injected current in nA. ``Provenance`` keeps what
the file said (original units, channel names, protocol) and every conversion applied on reading.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from ..errors import RecordingError
from .errors import EmptySweepError, LengthMismatchError, StimulusMissingError


@dataclass(frozen=True)
class Provenance:
    path: str = ""
    format: str = ""
    sweep_numbers: tuple[int, ...] = ()
    channel_names: tuple[str, ...] = ()
    protocol: str = ""
    original_units: dict = field(default_factory=dict)
    conversions: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    stimulus: str = ""  # where the injected current came from; "" when it is missing
    files: tuple[str, ...] = ()  # every file read into this recording (open_cell, Igor pairs)

    def with_note(self, note: str) -> Provenance:
        return dataclasses.replace(self, notes=self.notes + (note,))


@dataclass(frozen=True, eq=False)
class Sweep:
    """One sweep sampled every ``dt`` ms from ``t0`` ms: voltage ``V`` (mV), current ``I`` (nA or
    None when the file holds no stimulus)."""

    V: np.ndarray
    I: np.ndarray | None
    dt: float
    t0: float = 0.0
    number: int = 0

    def __post_init__(self) -> None:
        V = np.asarray(self.V, dtype=float)
        object.__setattr__(self, "V", V)
        if V.ndim != 1 or V.size == 0:
            raise EmptySweepError(f"sweep {self.number} is empty or not one-dimensional")
        if self.I is not None:
            I = np.asarray(self.I, dtype=float)
            object.__setattr__(self, "I", I)
            if I.shape != V.shape:
                raise LengthMismatchError(
                    f"sweep {self.number}: current has {I.size} samples but voltage has {V.size}")
        if not (np.isfinite(self.dt) and self.dt > 0):
            raise RecordingError(f"sweep {self.number}: sampling interval must be > 0, got {self.dt}")

    @property
    def t(self) -> np.ndarray:
        return self.t0 + self.dt * np.arange(self.V.size)

    @property
    def duration(self) -> float:
        return self.V.size * self.dt

    def window(self, start: float | None, stop: float | None) -> Sweep:
        """The samples with ``start <= t < stop`` (ms)."""
        t = self.t
        lo = 0 if start is None else int(np.searchsorted(t, start - 1e-9 * self.dt))
        hi = self.V.size if stop is None else int(np.searchsorted(t, stop - 1e-9 * self.dt))
        if hi <= lo:
            raise RecordingError(f"time window [{start}, {stop}) ms holds no samples of sweep "
                                 f"{self.number} ({self.t0:g}–{self.t0 + self.duration:g} ms)")
        return Sweep(self.V[lo:hi], None if self.I is None else self.I[lo:hi], self.dt,
                     float(t[lo]), self.number)

    def spike_times(self, threshold: float = -20.0) -> np.ndarray:
        """Upward crossings of ``threshold`` mV, in ms."""
        above = self.V >= threshold
        idx = np.nonzero(above[1:] & ~above[:-1])[0] + 1
        return self.t[idx]


@dataclass(frozen=True, eq=False)
class Recording:
    """A current-clamp recording: sweeps in core units plus where they came from."""

    sweeps: tuple[Sweep, ...]
    provenance: Provenance = field(default_factory=Provenance)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sweeps", tuple(self.sweeps))
        if not self.sweeps:
            raise RecordingError(f"{self.provenance.path or 'recording'} holds no sweeps")

    @property
    def n_sweeps(self) -> int:
        return len(self.sweeps)

    @property
    def dt(self) -> float:
        return self.sweeps[0].dt

    @property
    def sampling_rate_hz(self) -> float:
        return 1000.0 / self.dt

    @property
    def has_stimulus(self) -> bool:
        return all(s.I is not None for s in self.sweeps)

    @property
    def name(self) -> str:
        import os

        return os.path.basename(self.provenance.path) or "recording"

    def select(self, sweeps=None, window: tuple[float | None, float | None] | None = None) -> Recording:
        """Keep the sweeps at positions ``sweeps`` and the samples inside ``window`` (ms)."""
        chosen = self.sweeps if sweeps is None else tuple(self._sweep_at(i) for i in sweeps)
        if window is not None:
            chosen = tuple(s.window(*window) for s in chosen)
        return Recording(chosen, self.provenance)

    def _sweep_at(self, i: int) -> Sweep:
        if not 0 <= i < len(self.sweeps):
            raise RecordingError(f"sweep {i} does not exist; {self.name} has sweeps 0–{len(self.sweeps) - 1}")
        return self.sweeps[i]

    def with_stimulus(self, currents, note: str = "stimulus attached by the user") -> Recording:
        """Attach injected currents (nA), one array per sweep (or one array for all sweeps)."""
        if isinstance(currents, np.ndarray) and currents.ndim == 1:
            currents = [currents] * len(self.sweeps)
        currents = list(currents)
        if len(currents) != len(self.sweeps):
            raise LengthMismatchError(
                f"{self.name}: {len(currents)} stimulus arrays for {len(self.sweeps)} sweeps")
        for s, c in zip(self.sweeps, currents):
            c = np.asarray(c, float)
            if c.shape != s.V.shape:
                raise LengthMismatchError(f"{self.name}: stimulus for sweep {s.number} has "
                                          f"{c.size} samples but the sweep has {s.V.size}")
            if not np.all(np.isfinite(c)):
                raise RecordingError(f"{self.name}: stimulus for sweep {s.number} holds NaN/inf")
        sweeps = tuple(dataclasses.replace(s, I=np.asarray(c, float)) for s, c in zip(self.sweeps, currents))
        prov = dataclasses.replace(self.provenance.with_note(note), stimulus=note)
        return Recording(sweeps, prov)

    @property
    def duration(self) -> float:
        """Duration of the longest sweep (ms)."""
        return max(s.duration for s in self.sweeps)

    def summary(self, threshold: float = -20.0) -> dict:
        """What was read, as plain JSON-able data (the CLI's ``info`` and the GUI show this)."""
        p = self.provenance
        return {
            "path": p.path, "format": p.format, "n_sweeps": self.n_sweeps,
            "sweep_numbers": [s.number for s in self.sweeps],
            "sampling_rate_hz": self.sampling_rate_hz, "dt_ms": self.dt,
            "samples_per_sweep": [int(s.V.size) for s in self.sweeps],
            "duration_ms": self.duration, "channels": list(p.channel_names),
            "protocol": p.protocol, "original_units": dict(p.original_units),
            "core_units": {"time": "ms", "voltage": "mV", "current": "nA"},
            "conversions": list(p.conversions), "stimulus_present": self.has_stimulus,
            "stimulus": p.stimulus, "notes": list(p.notes),
            "spike_threshold_mV": threshold,
            "spikes_per_sweep": [int(s.spike_times(threshold).size) for s in self.sweeps],
        }

    def stacked(self) -> tuple[np.ndarray, np.ndarray]:
        """(V, I) as (n_sweeps, n_samples) arrays; sweeps must have equal length and a stimulus."""
        lengths = {s.V.size for s in self.sweeps}
        if len(lengths) != 1:
            raise RecordingError(f"{self.name}: sweeps have different lengths {sorted(lengths)}")
        if not self.has_stimulus:
            raise StimulusMissingError(f"{self.name}: the stimulus (injected current) is missing; "
                                 "attach one before simulating or fitting")
        return np.stack([s.V for s in self.sweeps]), np.stack([s.I for s in self.sweeps])
