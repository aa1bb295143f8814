"""The unit system of the engine: ms, mV, nA, uS, nF, MOhm (uS*mV = nA, nF*mV/ms = nA, MOhm*nA = mV).

``to_core(values, unit, quantity)`` converts file units into core units and returns the factor used
so that readers can state the conversion they applied.
"""

from __future__ import annotations

import re

import numpy as np

from .errors import UnitError

CORE_UNITS = {"time": "ms", "voltage": "mV", "current": "nA", "conductance": "uS",
              "capacitance": "nF", "resistance": "MOhm"}

_SI_BASE = {"time": "s", "voltage": "V", "current": "A", "conductance": "S",
            "capacitance": "F", "resistance": "Ohm"}
_PREFIX = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "m": 1e-3, "u": 1e-6, "µ": 1e-6, "μ": 1e-6,
           "n": 1e-9, "p": 1e-12, "f": 1e-15}
_ALIASES = {"sec": "s", "secs": "s", "second": "s", "seconds": "s", "msec": "ms", "ohm": "Ohm",
            "Ω": "Ohm", "ohms": "Ohm", "siemens": "S", "volt": "V", "volts": "V", "amp": "A",
            "amps": "A", "ampere": "A", "amperes": "A", "farad": "F", "mho": "S"}


def _scale_of(unit: str, quantity: str) -> float:
    """SI factor of ``unit`` for ``quantity`` (``'mV'`` -> 1e-3) or raise UnitError."""
    u = unit.strip()
    u = _ALIASES.get(u, _ALIASES.get(u.lower(), u))
    u = u.replace("Ω", "Ohm").replace("ohm", "Ohm")
    base = _SI_BASE[quantity]
    m = re.fullmatch(rf"([kMGmuµμnpf]?){re.escape(base)}", u)
    if not m:
        raise UnitError(f"unknown {quantity} unit {unit!r} (expected e.g. {_examples(quantity)})")
    return _PREFIX[m.group(1)]


def _examples(quantity: str) -> str:
    return {"time": "s, ms", "voltage": "V, mV", "current": "A, nA, pA",
            "conductance": "S, uS, nS", "capacitance": "F, nF, pF",
            "resistance": "Ohm, MOhm"}[quantity]


def conversion_factor(unit: str, quantity: str) -> float:
    """Factor that multiplies values in ``unit`` to give core units for ``quantity``."""
    if quantity not in CORE_UNITS:
        raise UnitError(f"unknown quantity {quantity!r}")
    return _scale_of(unit, quantity) / _scale_of(CORE_UNITS[quantity], quantity)


def to_core(values, unit: str, quantity: str) -> tuple[np.ndarray, float]:
    """Convert ``values`` in ``unit`` into core units. Returns (converted, factor)."""
    factor = conversion_factor(unit, quantity)
    return np.asarray(values, dtype=float) * factor, factor
