"""Attaching a stimulus to a recording whose file does not hold one.

``step_stimulus`` builds the injected current of a step protocol; ``attach_stimulus_from`` takes
it from another file (for example the companion stimulus file of an ABF protocol, or a CSV with
the current). Both return a new :class:`Recording`; the provenance says what was attached.
"""

from __future__ import annotations

import os

import numpy as np

from .errors import LengthMismatchError, RecordingError, StimulusMissingError
from .recording import Recording


def step_stimulus(recording: Recording, amplitudes_nA, start_ms: float, stop_ms: float,
                  baseline_nA: float = 0.0) -> Recording:
    """Attach ``I(t) = baseline + amplitude`` for ``start_ms <= t < stop_ms``, else ``baseline``.

    ``amplitudes_nA`` is one number for every sweep or one per sweep; times are on each sweep's
    own time axis (``sweep.t``, ms).
    """
    amps = np.atleast_1d(np.asarray(amplitudes_nA, dtype=float))
    n = recording.n_sweeps
    if amps.ndim != 1 or amps.size not in (1, n):
        raise LengthMismatchError(f"{recording.name}: {amps.size} step amplitudes for {n} sweeps")
    if not (np.all(np.isfinite(amps)) and np.isfinite(start_ms) and np.isfinite(stop_ms)
            and np.isfinite(baseline_nA)):
        raise RecordingError(f"{recording.name}: step stimulus values must be finite numbers")
    if not stop_ms > start_ms:
        raise RecordingError(f"{recording.name}: step must end after it starts "
                             f"({start_ms:g} -> {stop_ms:g} ms)")
    amps = np.broadcast_to(amps, (n,))
    currents = []
    for s, a in zip(recording.sweeps, amps, strict=True):
        t = s.t
        currents.append(np.where((t >= start_ms) & (t < stop_ms), baseline_nA + a, baseline_nA))
    shown = f"{amps[0]:g}" if np.all(amps == amps[0]) else f"{amps.min():g}..{amps.max():g}"
    note = (f"step stimulus attached: {shown} nA from {start_ms:g} to {stop_ms:g} ms on a "
            f"baseline of {baseline_nA:g} nA")
    return recording.with_stimulus(currents, note)


def attach_stimulus_from(recording: Recording, other_path, **options) -> Recording:
    """Attach the injected current read from ``other_path`` (any supported format).

    The other file must have one sweep (used for every sweep) or as many sweeps as
    ``recording``, with the same sampling interval and number of samples.
    """
    from .open import open_recording

    other = open_recording(other_path, **options)
    name = os.path.basename(os.fspath(other_path))
    if not other.has_stimulus:
        raise StimulusMissingError(f"{other_path}: holds no stimulus (injected current) to attach")
    if other.n_sweeps not in (1, recording.n_sweeps):
        raise LengthMismatchError(f"{other_path}: {other.n_sweeps} sweeps, but "
                                  f"{recording.name} has {recording.n_sweeps}")
    currents = []
    for k, s in enumerate(recording.sweeps):
        o = other.sweeps[k if other.n_sweeps > 1 else 0]
        if abs(o.dt - s.dt) > 1e-6 * s.dt:
            raise LengthMismatchError(f"{other_path}: sampled every {o.dt:g} ms but "
                                      f"{recording.name} every {s.dt:g} ms")
        if o.I.size != s.V.size:
            raise LengthMismatchError(f"{other_path}: sweep {o.number} has {o.I.size} samples "
                                      f"but sweep {s.number} of {recording.name} has {s.V.size}")
        currents.append(o.I)
    return recording.with_stimulus(currents, f"stimulus attached from {name}")
