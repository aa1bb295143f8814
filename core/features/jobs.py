"""The job that measures a recording (runs in the worker, like every other job)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..events import Event
from ..jobs import check_cancelled
from .measure import CellMeasurements, measure_cell


@dataclass
class MeasureJob:
    """Measure ``recording`` (spikes: upward crossings of ``spike_threshold`` mV)."""

    recording: object
    spike_threshold: float = -20.0
    name: str = "measure"

    def run(self, report, is_cancelled) -> CellMeasurements:
        start = time.perf_counter()
        check_cancelled(is_cancelled)
        report(Event(job=self.name, done=0, total=1, message="measuring the cell"))
        m = measure_cell(self.recording, spike_threshold=self.spike_threshold)
        report(Event(job=self.name, done=1, total=1, elapsed=time.perf_counter() - start,
                     message=f"measured: {len(m.warnings)} warning(s)"))
        return m
