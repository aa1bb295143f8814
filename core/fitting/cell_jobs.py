"""Job-seam forms of the default cell path: measure + data-derived defaults, and the validated
default fit (what the window runs after opening a cell and on "Fit cell")."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..events import Event
from ..features import CellMeasurements, measure_cell
from ..jobs import IsCancelled, Report, check_cancelled
from .cell import (
    SPIKE_THRESHOLD,
    CellFit,
    Split,
    cell_defaults,
    fit_cell,
    selection_split,
)
from .optimizers import Budget
from .predict import Prediction, predict
from .starts import DataDefaults


@dataclass
class CellSetup:
    """What opening a cell produces: its measurements and ``model``'s data-derived defaults
    (None, with ``defaults_error`` saying why, when the data cannot give them)."""

    measurements: CellMeasurements
    defaults: DataDefaults | None
    defaults_error: str = ""


@dataclass
class CellSetupJob:
    """Measure ``recording`` and derive ``model``'s starts, bounds and free set from the chosen
    ``sweeps`` inside ``window`` (ms)."""

    recording: Any
    model: str
    sweeps: Sequence[int] | None = None
    window: tuple[float | None, float | None] | None = None
    name: str = "cell_setup"

    def run(self, report: Report, is_cancelled: IsCancelled) -> CellSetup:
        from ..errors import BrainfitError

        t0 = time.perf_counter()
        report(Event(job=self.name, done=0, total=2, message="measuring the cell"))
        measurements = measure_cell(self.recording, spike_threshold=SPIKE_THRESHOLD)
        check_cancelled(is_cancelled)
        report(Event(job=self.name, done=1, total=2, elapsed=time.perf_counter() - t0,
                     message=f"deriving {self.model} defaults from the data"))
        if not self.recording.has_stimulus:
            return CellSetup(measurements, None, "the recording holds no injected current, so "
                             "no model start can be derived; attach the current file")
        try:
            # the part the default fit trains on (see selection_split), so that the window's
            # "from data" values are the fit's start
            split = selection_split(self.recording, self.sweeps, self.window)
            part = self.recording.select(split.train_sweeps, split.train_window)
            whole = part.n_sweeps == self.recording.n_sweeps and split.train_window is None
            defaults = cell_defaults(part, self.model, measurements if whole else None)
        except BrainfitError as exc:
            return CellSetup(measurements, None, str(exc))
        report(Event(job=self.name, done=2, total=2, elapsed=time.perf_counter() - t0,
                     message="defaults derived"))
        return CellSetup(measurements, defaults)


@dataclass
class CellFitOutcome:
    """A validated default fit and the model's prediction of the held-out part (for plots)."""

    cell_fit: CellFit
    prediction: Prediction

    @property
    def cancelled(self) -> bool:
        return bool(self.cell_fit.fit.cancelled)


@dataclass
class FitCellJob:
    """:func:`~.cell.fit_cell` with the product defaults on ``recording``, then the prediction
    of the held-out part. The split is ``split`` when given, else that of the user's choice of
    ``sweeps`` and ``window`` (:func:`~.cell.selection_split`; both None: the default split)."""

    recording: Any
    model: str = "gif"
    method: str = "hybrid"
    seconds: float | None = 60.0
    evaluations: int | None = None
    seed: int = 0
    split: Split | None = None
    uncertainty: bool = True
    decimate: int = 1
    sweeps: Sequence[int] | None = None
    window: tuple[float | None, float | None] | None = None
    name: str = "fit_cell"

    def run(self, report: Report, is_cancelled: IsCancelled) -> CellFitOutcome:
        split = self.split or selection_split(self.recording, self.sweeps, self.window)
        budget = (Budget(evaluations=self.evaluations, seconds=self.seconds)
                  if self.seconds or self.evaluations else None)
        cf = fit_cell(self.recording, self.model, self.method, split=split, seed=self.seed,
                      budget=budget, report=report, is_cancelled=is_cancelled,
                      uncertainty=self.uncertainty, decimate=self.decimate)
        report(Event(job=self.name, done=1, total=1, message="predicting the held-out part"))
        # on the whole recording, so that the prediction's sweeps are the recording's positions
        return CellFitOutcome(cf, predict(cf.fit, self.recording, split.test_sweeps,
                                          split.test_window))
