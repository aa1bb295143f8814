"""The ``RecordingError`` family raised by the readers in :mod:`core.io`.

Every reader turns whatever goes wrong into one of these, with a message that names the file and
the problem. The classes are importable from ``core.io``; ``StimulusMissingError`` and
``UnitError`` come from :mod:`core.errors` so that the rest of the engine can catch them too.
"""

from __future__ import annotations

from ..errors import RecordingError, StimulusMissingError, UnitError


class UnsupportedFormatError(RecordingError):
    """The file is not one of the formats Brainfit reads (ABF, NWB, HDF5, Igor .ibw, CSV/TSV/ASC)."""


class CorruptFileError(RecordingError):
    """The file is truncated or its contents are inconsistent (damaged header, bad sizes)."""


class EmptySweepError(RecordingError):
    """A sweep (or the whole file) holds no samples."""


class LengthMismatchError(RecordingError):
    """Time, voltage and current of one sweep have different numbers of samples."""


class NonFiniteSamplesError(RecordingError):
    """Samples are NaN or infinite."""


class UnitRequiredError(UnitError):
    """A column does not state its unit; pass it (``voltage_unit=``, ``current_unit=``)."""


class TimeUnitRequiredError(UnitRequiredError):
    """The time column does not state its unit: pass ``time_unit=`` (``--time-unit``)."""


class MissingPartnerError(RecordingError):
    """A recording split over two files (Igor waves: voltage and current) lacks its partner file;
    the message says which names were looked for and to pass ``current=`` (``--current FILE``)."""


class IncompatibleFilesError(RecordingError):
    """Files opened together as one cell do not fit together (different sampling intervals, a
    stimulus in one and not in another)."""


class ImplausibleUnitsError(UnitError):
    """Values are implausible for the unit the file claims (volts labelled as mV, ...)."""


__all__ = ["CorruptFileError", "EmptySweepError", "ImplausibleUnitsError", "IncompatibleFilesError",
           "LengthMismatchError", "MissingPartnerError", "NonFiniteSamplesError", "RecordingError",
           "StimulusMissingError", "TimeUnitRequiredError", "UnitError", "UnitRequiredError",
           "UnsupportedFormatError"]
