"""Parameter specifications, declared once per model.

The GUI form, optimizer bounds, log-space transforms, HDF5 metadata and docs all read these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .errors import ParameterError

Constraint = Literal["any", "positive", "nonnegative"]


@dataclass(frozen=True)
class ParamSpec:
    """One model parameter.

    Parameters
    ----------
    name : identifier used in code, files and the CLI (``tau_V``).
    default : value in core units.
    lower, upper : default fitting bounds in core units.
    unit : core unit string (``ms``, ``mV``, ``nA``, ``uS``, ``nF``, ``MOhm``, ``1/ms``...).
    fitted : whether it is usually a free parameter.
    doc : one line for tooltips and docs.
    constraint : physical validity ("positive" forbids <= 0, "nonnegative" forbids < 0).
    log : fit in log space (only for strictly positive bounds).
    """

    name: str
    default: float
    lower: float
    upper: float
    unit: str
    fitted: bool = False
    doc: str = ""
    constraint: Constraint = "any"
    log: bool = False

    def __post_init__(self) -> None:
        if not self.lower <= self.default <= self.upper:
            raise ValueError(f"{self.name}: default {self.default} outside [{self.lower}, {self.upper}]")
        if self.log and self.lower <= 0:
            raise ValueError(f"{self.name}: log-space parameter needs a positive lower bound")

    def check(self, value, owner: str = "") -> None:
        """Raise :class:`ParameterError` when ``value`` (scalar or array) is physically invalid."""
        arr = np.asarray(value, dtype=float)
        where = f"{owner}." if owner else ""
        if not np.all(np.isfinite(arr)):
            raise ParameterError(f"{where}{self.name} must be a finite number, got {value!r}")
        if self.constraint == "positive" and np.any(arr <= 0):
            raise ParameterError(
                f"{where}{self.name} must be > 0 {self.unit}, got {_show(arr)} ({self.doc})"
            )
        if self.constraint == "nonnegative" and np.any(arr < 0):
            raise ParameterError(
                f"{where}{self.name} must be >= 0 {self.unit}, got {_show(arr)} ({self.doc})"
            )

    def coerce(self, value, owner: str = "") -> float | int:
        """``value`` (a number or its text) as this parameter takes it, or
        :class:`ParameterError` saying why not: not a number, outside its constraint or its range
        [lower, upper], or a fraction where a count is asked for (never rounded silently)."""
        where = f"{owner}." if owner else ""
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ParameterError(f"{where}{self.name}: {value!r} is not a number") from None
        self.check(number, owner)
        if not self.lower <= number <= self.upper:
            raise ParameterError(f"{where}{self.name} must lie in [{self.lower:g}, {self.upper:g}]"
                                 f" {self.unit}, got {number:g}".rstrip())
        if isinstance(self.default, int) and not isinstance(self.default, bool):
            if number != int(number):
                raise ParameterError(f"{where}{self.name} must be a whole number, got {number:g}")
            return int(number)
        return number

    def to_unconstrained(self, value):
        """Map a value to the optimiser's space (log for log parameters)."""
        return np.log(value) if self.log else value

    def from_unconstrained(self, value):
        return np.exp(value) if self.log else value


def _show(arr: np.ndarray) -> str:
    if arr.ndim == 0:
        return f"{float(arr):g}"
    bad = arr.ravel()
    return f"{bad.min():g}..{bad.max():g}"


def spec_table(specs: tuple[ParamSpec, ...]) -> dict[str, ParamSpec]:
    return {s.name: s for s in specs}


def is_finite_number(x) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False
