"""One error hierarchy for the whole engine.

Inside compiled code errors are values (status codes); the layer that leaves JAX turns them into
one of these exceptions, whose message is what the GUI dialog and the CLI show to the user.
"""

from __future__ import annotations


class BrainfitError(Exception):
    """Base class: every error the user should see as a clear message, not a traceback."""


class ParameterError(BrainfitError, ValueError):
    """A model or solver parameter is absurd (negative capacitance, NaN, tau <= 0, ...)."""


class RecordingError(BrainfitError):
    """A recording cannot be read or is not usable (corrupt, truncated, empty, wrong units...)."""


class StimulusMissingError(RecordingError):
    """The file holds voltage but not the injected current."""


class UnitError(RecordingError):
    """A unit string is unknown or a magnitude is implausible for the unit it claims."""


class DivergenceError(BrainfitError, ArithmeticError):
    """A simulation produced NaN/inf or left the physiological range."""


class OptimizerError(BrainfitError):
    """An optimizer failed or was configured with impossible settings."""


class ConnectivityError(BrainfitError, ValueError):
    """A connectivity specification or connectome file is invalid."""


class JobCancelled(BrainfitError):
    """Raised inside a job when ``is_cancelled()`` became true; the runner reports 'cancelled'."""
