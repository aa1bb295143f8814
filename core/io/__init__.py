"""Reading and writing recordings and results. ``open_recording`` picks the reader by content."""

from .recording import Provenance, Recording, Sweep
from .hdf5 import read_brainfit_hdf5, write_recording

__all__ = ["Provenance", "Recording", "Sweep", "read_brainfit_hdf5", "write_recording"]
