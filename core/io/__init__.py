"""Reading and writing recordings. ``open_recording`` picks the reader by content.

Readers (one module each, registered with :func:`register_reader`): ABF1/ABF2
(:func:`read_abf`), NWB 2 (:func:`read_nwb`), Brainfit's HDF5 layout (:func:`read_brainfit_hdf5`),
plain HDF5 (:func:`read_plain_hdf5`), Igor binary waves (:func:`read_ibw`), CSV/TSV/ASC text
(:func:`read_text`). ``open_cell`` joins several files of one cell into one recording. All return a :class:`Recording` in ms, mV, nA and raise the
:class:`RecordingError` family (:mod:`core.io.errors`) with a message naming the file.
"""

from .abf import read_abf
from .cell import open_cell
from .errors import (
                     CorruptFileError,
                     EmptySweepError,
                     ImplausibleUnitsError,
                     IncompatibleFilesError,
                     LengthMismatchError,
                     MissingPartnerError,
                     NonFiniteSamplesError,
                     RecordingError,
                     StimulusMissingError,
                     TimeUnitRequiredError,
                     UnitError,
                     UnitRequiredError,
                     UnsupportedFormatError,
)
from .hdf5 import read_brainfit_hdf5, read_plain_hdf5, write_recording
from .ibw import read_ibw
from .nwb import read_nwb
from .open import Reader, detect_format, open_recording, register_reader
from .recording import Provenance, Recording, Sweep
from .stimulus import attach_stimulus_from, step_stimulus
from .text import read_text

__all__ = ["CorruptFileError", "EmptySweepError", "ImplausibleUnitsError", "IncompatibleFilesError",
           "LengthMismatchError", "MissingPartnerError", "NonFiniteSamplesError", "Provenance",
           "Reader", "Recording", "RecordingError", "StimulusMissingError", "Sweep",
           "TimeUnitRequiredError", "UnitError", "UnitRequiredError", "UnsupportedFormatError",
           "attach_stimulus_from", "detect_format", "open_cell", "open_recording", "read_abf",
           "read_brainfit_hdf5", "read_ibw", "read_nwb", "read_plain_hdf5", "read_text",
           "register_reader", "step_stimulus", "write_recording"]
