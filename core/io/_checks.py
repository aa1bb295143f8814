"""Unit conversion with a report, and the sanity checks every reader applies before returning.

Plausible ranges in core units (what a current-clamp recording of a neuron can hold):
voltage within ±1000 mV and not everywhere below 1 mV in magnitude, current within ±100 nA,
sampling interval between 1 µs and 10 ms. Outside them the unit the file claims is almost
certainly wrong, so the reader raises :class:`ImplausibleUnitsError` instead of guessing.
"""

from __future__ import annotations

import numpy as np

from ..units import CORE_UNITS, conversion_factor
from .errors import (
    EmptySweepError,
    ImplausibleUnitsError,
    LengthMismatchError,
    NonFiniteSamplesError,
    UnitError,
)

V_MAX_MV = 1000.0
V_MIN_SPAN_MV = 1.0
I_MAX_NA = 100.0
I_TINY_NA = 1e-6
DT_MIN_MS = 1e-3
DT_MAX_MS = 10.0


def factor_for(unit: str, quantity: str, where: str) -> float:
    """Factor from ``unit`` to core units, or a UnitError that names ``where`` (file, column)."""
    try:
        return conversion_factor(str(unit), quantity)
    except UnitError as exc:
        raise UnitError(f"{where}: {exc}") from None


def describe_conversion(quantity: str, unit: str, factor: float) -> str | None:
    """``'voltage: V -> mV (x 1000)'``, or None when the values were already in core units."""
    if factor == 1.0:
        return None
    return f"{quantity}: {unit} -> {CORE_UNITS[quantity]} (x {factor:g})"


def finite_array(values, where: str) -> np.ndarray:
    """``values`` as a 1-D float64 array, refusing empty arrays and NaN/inf samples."""
    try:
        a = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise NonFiniteSamplesError(f"{where}: samples are not numbers ({exc})") from None
    a = a.reshape(-1) if a.ndim != 1 else a
    if a.size == 0:
        raise EmptySweepError(f"{where}: holds no samples")
    bad = ~np.isfinite(a)
    if bad.any():
        first = int(np.argmax(bad))
        raise NonFiniteSamplesError(
            f"{where}: {int(bad.sum())} NaN or infinite sample(s), the first at index {first}")
    return a


def check_same_length(where: str, **arrays) -> None:
    sizes = {name: np.asarray(a).size for name, a in arrays.items() if a is not None}
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{k} has {n}" for k, n in sizes.items())
        raise LengthMismatchError(f"{where}: lengths do not match ({listed} samples)")


def check_plausible(recording, units: dict | None = None) -> None:
    """Raise ImplausibleUnitsError when magnitudes do not fit the units the file stated.

    ``units`` maps 'time'/'voltage'/'current' to the unit the file claimed, for the message.
    Bounds that one sample can break (|V| > 1 V, |I| > 100 nA, the sampling interval) are
    checked per sweep. The "too small" hints are judged over the whole file, because a unit is
    the file's: one sweep whose current is zero up to float rounding (a 0 pA step, a command
    rebuilt from epochs) or whose voltage is flat is normal among others, and only a file whose
    every sweep is tiny (0 < max |I| < I_TINY_NA, or max |V| < 1 mV) gets the unit hint.
    """
    units = units or {}
    path = recording.provenance.path or "recording"
    v_file = 0.0
    i_file = 0.0
    for s in recording.sweeps:
        where = f"{path}, sweep {s.number}"
        if not (DT_MIN_MS <= s.dt <= DT_MAX_MS):
            raise ImplausibleUnitsError(
                f"{where}: sampling interval {s.dt:g} ms ({1000.0 / s.dt:g} Hz) is implausible for "
                f"a recording; is the time unit ({units.get('time', 'as stated')}) right? "
                "Pass time_unit= (--time-unit) to override")
        vmax = float(np.max(np.abs(s.V)))
        v_file = max(v_file, vmax)
        if vmax > V_MAX_MV:
            raise ImplausibleUnitsError(
                f"{where}: voltage reaches {vmax:g} mV, beyond 1 V; the stated voltage unit "
                f"({units.get('voltage', 'mV')}) is probably wrong (pass voltage_unit=)")
        if s.I is not None:
            imax = float(np.max(np.abs(s.I)))
            i_file = max(i_file, imax)
            if imax > I_MAX_NA:
                raise ImplausibleUnitsError(
                    f"{where}: current reaches {imax:g} nA, beyond 100 nA; the stated current "
                    f"unit ({units.get('current', 'nA')}) is probably wrong (pass current_unit=)")
    every = "every sweep: " if len(recording.sweeps) > 1 else ""
    if v_file < V_MIN_SPAN_MV:
        raise ImplausibleUnitsError(
            f"{path}: {every}voltage never exceeds {v_file:g} mV in magnitude; this looks like "
            f"volts labelled as {units.get('voltage', 'mV')} (pass voltage_unit='V')")
    if 0.0 < i_file < I_TINY_NA:
        raise ImplausibleUnitsError(
            f"{path}: {every}current never exceeds {i_file:g} nA; the stated current unit "
            f"({units.get('current', 'nA')}) is probably too large (amperes labelled "
            "as pA?); pass current_unit=")
