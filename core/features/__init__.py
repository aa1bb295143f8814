"""Electrophysiology measurements of a recording: the cell's own values that start every model.

``measure_cell(recording)`` -> :class:`CellMeasurements` (resting potential, input resistance,
time constant, capacitance, spike threshold, AP shape, reset, rheobase, F-I curve, adaptation,
intrinsic reliability), with a warning for every value that was implausible (and then not used)
and a note of how each value was obtained.
"""

from .measure import CellMeasurements, measure_cell, repeated_stimulus
from .reliability import reliability

__all__ = ["CellMeasurements", "measure_cell", "reliability", "repeated_stimulus"]
