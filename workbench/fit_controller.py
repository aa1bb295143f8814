"""Runs fits and comparisons from the session and routes their events to the views.

Events only update state (the convergence points, the latest event and preview); the views
redraw on timers (<= 10 Hz), so a burst of events costs the GUI thread almost nothing."""

from __future__ import annotations

import time

import numpy as np
from PyQt6.QtCore import QObject, QTimer, pyqtSignal

from core.errors import BrainfitError
from core.events import FitProgress
from core.models import MODELS

PREVIEW_MS = 100
#: weight (mV^2 per squared van Rossum distance) of the spike-timing term of "mse+spikes"
SPIKE_WEIGHT = 50.0
JOB_NAME = "compare"


class FitController(QObject):
    """Owns the fit/compare lifecycle: build the job, follow its events, store its results."""

    message = pyqtSignal(str)
    running_changed = pyqtSignal(bool)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.session = window.session
        self.running = False
        self._latest_preview: np.ndarray | None = None
        self._latest_event: FitProgress | None = None
        self._preview_t: np.ndarray | None = None
        self._started = 0.0
        self._preview_timer = QTimer(self, interval=PREVIEW_MS)
        self._preview_timer.timeout.connect(self._draw_preview)
        self._job = None  # the running fit's RunnerJob: its own signals, nobody else's

    # ---- starting -----------------------------------------------------------------------------
    def build_job(self):
        from core.fitting import LossSpec
        from core.fitting.jobs import CompareJob

        s = self.session
        if s.recording is None:
            raise BrainfitError("open a recording first")
        if not s.recording.has_stimulus:
            raise BrainfitError(f"{s.recording.name} has no stimulus: attach one before fitting")
        if not s.fit.methods:
            raise BrainfitError("choose at least one optimizer")
        free = s.free_parameters()
        if not free:
            raise BrainfitError("mark at least one parameter as free")
        if not s.fit_sweeps:
            raise BrainfitError("check at least one sweep to fit")
        bounds = {k: (s.parameters[k].lower, s.parameters[k].upper) for k in free}
        fixed = {k: p.value for k, p in s.parameters.items() if not p.free}
        loss = LossSpec(spike_weight=SPIKE_WEIGHT if s.fit.loss == "mse+spikes" else 0.0)
        starts = {"starts": s.fit.starts}
        return CompareJob(recording=s.recording, model=s.model_name, free=free, bounds=bounds,
                          fixed=fixed, methods=tuple(s.fit.methods), seeds=s.fit.seeds,
                          budgets={m: s.fit.bayes_budget if m == "bayes" else s.fit.budget
                                   for m in s.fit.methods}, loss=loss,
                          options={"lbfgsb": starts}, sweeps=tuple(s.fit_sweeps),
                          window=tuple(s.window), uncertainty=True, name=JOB_NAME)

    def start(self) -> bool:
        runner = self.window.runner
        if self.running or getattr(self.window.cell, "running", False):
            self.message.emit("a fit is already running")
            return False
        try:
            job = self.build_job()
            # the window must lie inside the sweeps: refused here, with a message, instead of
            # an exception inside a slot
            first = self.session.recording.select((self.session.fit_sweeps[0],),
                                                  self.session.window).sweeps[0]
        except BrainfitError as exc:
            self.message.emit(str(exc))
            return False
        self.running = True  # from here on no model preview is submitted
        runner.drop("preview")  # the fit shows its own model trace
        self._preview_t = first.t
        self.window.show_fit_sweep(self.session.fit_sweeps[0])
        self.window.convergence.clear_runs()
        self._latest_preview = None
        self._latest_event = None
        self._started = time.perf_counter()
        rjob = runner.submit(job, queue=True)
        if not rjob:
            self.running = False
            self.message.emit("could not start the fit: the worker is shut down")
            return False
        rjob.progress.connect(self._on_event)
        rjob.finished.connect(self._on_finished)
        rjob.cancelled.connect(self._on_cancelled)
        rjob.failed.connect(self._on_failed)
        self._job = rjob
        self._set_running(True)
        self._preview_timer.start()
        return True

    def cancel(self) -> None:
        if self.running and self._job is not None:
            self._job.cancel()
            self.message.emit("cancelling… (a job that does not stop within 2 s is stopped by "
                              "restarting the worker)")

    # ---- events -------------------------------------------------------------------------------
    def _units(self) -> dict[str, str]:
        return {p.name: p.unit for p in MODELS[self.session.model_name].PARAMS}

    def _on_event(self, event) -> None:
        if not isinstance(event, FitProgress):
            return
        self.window.convergence.add_point(event.method, event.seed, event.evaluations,
                                          event.elapsed, event.best_loss)
        if event.preview is not None:
            self._latest_preview = np.asarray(event.preview)
        self._latest_event = event

    def _draw_preview(self) -> None:
        event, self._latest_event = self._latest_event, None
        if event is not None:
            self.window.fit_result.show_progress(event.method, event.seed, event.evaluations,
                                                 event.best_loss, dict(event.best_params),
                                                 self._units())
            if event.fraction is not None:
                self.window.show_progress(event.message or f"{event.method} seed {event.seed}",
                                          event.fraction)
        V = self._latest_preview
        if V is not None and self._preview_t is not None and V.size == self._preview_t.size:
            self.window.trace.show_model(self._preview_t, V)
            self._latest_preview = None

    # ---- endings ------------------------------------------------------------------------------
    def _store(self, comparison) -> None:
        if comparison is None:
            return
        self.session.set_comparison(comparison)
        for fit in comparison.fits:
            self.session.add_result(fit)
        self.window.comparison.show_rows(comparison.rows)
        if comparison.fits:
            best = min(comparison.fits, key=lambda f: f.loss)
            self.window.fit_result.show_result(best, self._units())
            for name, value in best.fitted.items():
                try:
                    self.session.set_parameter(name, source="fit", value=float(np.clip(
                        value, self.session.parameters[name].lower, self.session.parameters[name].upper)))
                except BrainfitError as exc:  # shown, not swallowed: the old value stays
                    self.message.emit(f"{name}: fitted value {value:g} not taken ({exc})")
            self.window.model_panel.refresh()
            self.window.request_preview()  # the trace shows the best fit, not the last method's

    def _on_finished(self, result) -> None:
        self._finish()
        self._store(result)
        self.message.emit(f"fit finished in {time.perf_counter() - self._started:.1f} s")

    def _on_cancelled(self, result) -> None:
        self._finish()
        self._store(result)
        kept = "best-so-far results kept" if result is not None else "nothing finished yet"
        self.message.emit(f"fit cancelled ({kept})")

    def _on_failed(self, _message: str, _details: str) -> None:
        self._finish()  # the window shows the failure (MainWindow._on_job_failed)

    def _finish(self) -> None:
        self._draw_preview()
        self._preview_timer.stop()
        self.window.convergence.redraw()
        self._set_running(False)
        self.window.show_progress("", None)

    def _set_running(self, running: bool) -> None:
        self.running = running
        self.running_changed.emit(running)
