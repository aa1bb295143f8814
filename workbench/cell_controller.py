"""The default cell path in the window: measure what was opened, start the model from the data,
fit with the defaults and open the held-out validation.

After a recording opens (or the model changes) a :class:`~core.fitting.cell_jobs.CellSetupJob`
measures the cell and derives the model's starts; they become the Model panel's values (marked
"from data") unless the user has already typed values in, and "Reset to data-derived" brings
them back. "Fit cell" runs :class:`~core.fitting.cell_jobs.FitCellJob` and opens the validation
view with the held-out scores and the model over the held-out sweeps.
"""

from __future__ import annotations

import time
from pathlib import Path

from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtWidgets import QFileDialog

from core.errors import BrainfitError
from core.events import FitProgress

SETUP_JOB, FIT_JOB = "cell_setup", "fit_cell"
FIT_SECONDS = 60.0  # a default fit stops after this long (or the panel's budget), best kept


class CellController(QObject):
    message = pyqtSignal(str)
    running_changed = pyqtSignal(bool)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.session = window.session
        self.running = False
        self._started = 0.0
        self.validation_dialog = None
        self._setup_job = None
        self.session.subscribe(self._on_session)
        window.model_panel.reset_to_data_requested.connect(self.reset_to_data)

    # ---- opening several files as one cell ---------------------------------------------------
    def ask_open_cell(self) -> None:
        from .window_files import FILE_FILTER

        paths, _ = QFileDialog.getOpenFileNames(self.window, "Open the files of one cell",
                                                str(Path.home()), FILE_FILTER)
        if paths:
            self.open_cell(paths)

    def open_cell(self, paths) -> bool:
        """Open ``paths`` as one cell (their sweeps joined); on failure keep what was open."""
        from core.io import open_cell

        from .dialogs.errors import show_error

        paths = [str(p) for p in paths]
        try:
            recording = open_cell(paths)
        except BrainfitError as exc:
            show_error(self.window, "Cannot open these files as one cell", str(exc))
            self.window.statusBar().showMessage("nothing was changed")
            return False
        self.session.set_recording(recording, paths[0], tuple(paths))
        self.window.statusBar().showMessage(
            f"{len(paths)} files, {recording.n_sweeps} sweeps opened as one cell")
        return True

    # ---- measurements and data-derived starts ------------------------------------------------
    def _on_session(self, what: str) -> None:
        if what in ("recording", "model") and self.session.recording is not None:
            self.request_setup()
        if what == "measurements":
            self.window.recording_panel.show_measurements(self.session.measurements)

    def request_setup(self) -> None:
        """Queue the measurement + defaults job (the worker runs it after what runs now)."""
        from core.fitting.cell_jobs import CellSetupJob

        s = self.session
        if self._setup_job is not None and not self._setup_job.done():
            self.window.runner.drop(SETUP_JOB)  # superseded (another file or model)
        window = tuple(s.window) if s.window[1] > s.window[0] else None
        job = CellSetupJob(s.recording, s.model_name, tuple(s.fit_sweeps) or None, window,
                           name=SETUP_JOB)
        rjob = self.window.runner.submit(job, queue=True)
        if rjob:
            rjob.finished.connect(self._adopt_setup)
            self._setup_job = rjob

    def reset_to_data(self) -> None:
        d = self.session.data_defaults
        if d is None:
            self.message.emit("no data-derived values yet: open a recording with its current")
            return
        self.session.apply_data_defaults(d)
        self.window.model_panel.refresh()
        self.window.request_preview()
        self.message.emit("parameters reset to the values derived from the recording")

    def _adopt_setup(self, setup) -> None:
        s = self.session
        s.set_measurements(setup.measurements)
        if setup.defaults is None:
            self.message.emit(f"no data-derived start: {setup.defaults_error}")
            self.window.model_panel.refresh()
            return
        if setup.defaults.model != s.model_name:
            return  # the model changed meanwhile; its own setup is queued
        if s.parameters_edited or any(v == "fit" for v in s.parameter_sources.values()):
            s.data_defaults = setup.defaults
            self.message.emit("data-derived values are ready (Model panel: Reset to data-derived); "
                              "your values were kept")
            self.window.model_panel.refresh()
            return
        s.apply_data_defaults(setup.defaults)
        self.window.model_panel.refresh()
        self.window.request_preview()
        m = setup.measurements
        self.message.emit(f"{s.recording.name}: started {s.model_name} from the cell "
                          f"(V_rest {_fmt(m.v_rest)} mV, R_in {_fmt(m.r_in)} MOhm, "
                          f"tau {_fmt(m.tau_m)} ms)")

    # ---- the default fit with validation -----------------------------------------------------
    def start_fit(self) -> bool:
        from core.fitting.cell_jobs import FitCellJob

        s = self.session
        runner = self.window.runner
        if self.running or self.window.fits.running:
            self.message.emit("a job is already running")
            return False
        if s.recording is None:
            self.message.emit("open a recording first")
            return False
        if not s.recording.has_stimulus:
            self.message.emit(f"{s.recording.name} has no injected current: open the current "
                              "file with it (or pass --current FILE on the command line)")
            return False
        if not s.fit_sweeps:
            self.message.emit("check at least one sweep")
            return False
        try:
            window = tuple(s.window) if s.window[1] > s.window[0] else None
            s.recording.select(tuple(s.fit_sweeps), window)  # a bad choice is said here
        except BrainfitError as exc:
            self.message.emit(str(exc))
            return False
        method = next((m for m in s.fit.methods if m != "bayes"), "hybrid")
        runner.drop("preview")  # the setup job, if it still runs, goes first (queued)
        self.window.convergence.clear_runs()
        self._started = time.perf_counter()
        job = FitCellJob(s.recording, s.model_name, method, seconds=FIT_SECONDS,
                         evaluations=s.fit.budget, sweeps=tuple(s.fit_sweeps), window=window,
                         name=FIT_JOB)
        rjob = runner.submit(job, queue=True)
        if not rjob:
            self.message.emit("could not start the fit: the worker is closed")
            return False
        rjob.progress.connect(self._on_event)
        rjob.finished.connect(self._on_done)
        rjob.cancelled.connect(self._on_cancelled)
        rjob.failed.connect(lambda _m, _d: self._finish())
        self._fit_job = rjob
        self._set_running(True)
        self.message.emit(f"fitting {s.model_name} ({method}) with the data-derived defaults; "
                          "the held-out part validates it")
        return True

    def cancel(self) -> None:
        if self.running:
            self._fit_job.cancel()
            self.message.emit("cancelling… (the best fit so far is kept and validated)")

    def _on_event(self, event) -> None:
        if isinstance(event, FitProgress):
            self.window.convergence.add_point(event.method, event.seed, event.evaluations,
                                              event.elapsed, event.best_loss)
            if event.fraction is not None:
                self.window.show_progress(f"{event.method}", event.fraction)

    def _on_done(self, outcome) -> None:
        self._finish()
        self._store(outcome)

    def _on_cancelled(self, outcome) -> None:
        self._finish()
        if outcome is not None:
            self._store(outcome)
        self.message.emit("fit cancelled" + (" (best so far kept and validated)"
                                             if outcome is not None else ""))

    def _finish(self) -> None:
        self._set_running(False)
        self.window.convergence.redraw()
        self.window.show_progress("", None)

    def _store(self, outcome) -> None:
        from .dialogs.validation import CellValidationDialog

        cf = outcome.cell_fit
        s = self.session
        s.add_result(cf.fit)
        s.cell_validation = cf.validation
        for name, value in cf.fit.fitted.items():
            p = s.parameters.get(name)
            if p is None:
                continue
            try:
                s.set_parameter(name, source="fit", value=float(min(max(value, p.lower), p.upper)))
            except BrainfitError as exc:  # shown, not swallowed: the value stays the old one
                self.message.emit(f"{name}: fitted value {value:g} not taken ({exc})")
        self.window.model_panel.refresh()
        self.window.fit_result.show_result(cf.fit, self.window.fits._units())
        self.window.request_preview()
        self.validation_dialog = CellValidationDialog(outcome, self.window)
        self.validation_dialog.open()
        v = cf.validation
        self.message.emit(
            f"fit in {time.perf_counter() - self._started:.0f} s; held out: spikes model "
            f"{v['n_model_spikes']} / data {v['n_data_spikes']}, gamma(±4 ms) "
            f"{_fmt(v.get('mean_gamma_4ms'), '.2f')}")

    def _set_running(self, running: bool) -> None:
        self.running = running
        self.running_changed.emit(running)


def _fmt(value, spec: str = ".3g") -> str:
    return "—" if value is None else format(value, spec)
