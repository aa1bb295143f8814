"""The main window's files: projects (open, save, autosave), figure and table exports, and
validation of a fit on another recording. A mixin of :class:`~.main_window.MainWindow`."""

from __future__ import annotations

import threading
from pathlib import Path

from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtWidgets import QFileDialog

from core.errors import BrainfitError
from core.fitting.predict import PredictJob
from core.io import open_recording

from .dialogs.errors import show_error
from .project import load_project, save_project
from .session import Session

PROJECT_FILTER = "Brainfit projects (*.bfproj.h5 *.h5);;All files (*)"
FILE_FILTER = ("Recordings (*.abf *.nwb *.h5 *.hdf5 *.csv *.tsv *.txt *.asc *.dat *.ibw);;"
               "All files (*)")


class _AutosaveReport(QObject):
    """Carries an autosave failure from the writing thread to the GUI thread (queued signal)."""

    failed = pyqtSignal(str)


def _render_svg(widget, path: str) -> None:
    from PyQt6.QtCore import QRect, QSize
    from PyQt6.QtGui import QPainter
    from PyQt6.QtSvg import QSvgGenerator

    generator = QSvgGenerator()
    generator.setFileName(path)
    generator.setSize(QSize(widget.width(), widget.height()))
    generator.setViewBox(QRect(0, 0, widget.width(), widget.height()))
    generator.setTitle("Brainfit Workbench figure")
    painter = QPainter()
    if not painter.begin(generator):
        raise OSError("cannot write the SVG file")
    try:
        widget.render(painter)
    finally:
        painter.end()


class ProjectFilesMixin:
    """Needs ``session``, ``runner``, ``statusBar()``, the panels and ``project_path``."""

    # ---- projects -----------------------------------------------------------------------------
    def _ask_open_project(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open project", str(Path.home()), PROJECT_FILTER)
        if path:
            self.open_project(path)

    def open_project(self, path: str | Path) -> bool:
        try:
            loaded = load_project(path)
        except BrainfitError as exc:
            show_error(self, "Cannot open project", str(exc))
            return False
        self.adopt_session(loaded)
        self.project_path = str(path)
        return True

    def adopt_session(self, loaded: Session) -> None:
        """Replace the session's content with ``loaded`` and refresh every view."""
        listeners = self.session._listeners
        for name in ("recording", "recording_path", "sweep", "fit_sweeps", "window", "model_name",
                     "parameters", "fit", "results", "comparison", "network", "recording_paths",
                     "measurements", "data_defaults", "parameter_sources", "cell_validation",
                     "training"):
            setattr(self.session, name, getattr(loaded, name))
        self.session._listeners = listeners
        self.network_panel.refresh()
        training_panel = getattr(self, "training_panel", None)
        if training_panel is not None:  # the trained network (paused: resumable) reopens in it
            training_panel.refresh()
        self.model_panel.refresh()
        self.optimizer_panel.refresh()
        if self.session.recording is not None:
            sweep, window = self.session.sweep, self.session.window
            self.recording_panel.show_recording(self.session.recording, self.session.fit_sweeps, window)
            if self.session.measurements is not None:
                self.recording_panel.show_measurements(self.session.measurements)
            self.recording_panel.sweeps.setCurrentRow(sweep)
            self._on_session_changed("sweep")
            self.trace.set_window(*window)
        if self.session.comparison is not None:
            self.comparison.show_rows(self.session.comparison.rows)
        if self.session.results:
            best = min(self.session.results, key=lambda f: f.loss)
            self.fit_result.show_result(best, self.fits._units())
        self.session.dirty = False

    def save(self) -> bool:
        return self.save_project(self.project_path) if self.project_path else self.save_as()

    def save_as(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(self, "Save project", str(Path.home() / "session.bfproj.h5"),
                                              PROJECT_FILTER)
        return self.save_project(path) if path else False

    def save_project(self, path: str | Path) -> bool:
        try:
            save_project(self.session, path)
        except (OSError, BrainfitError) as exc:
            show_error(self, "Cannot save project", f"{path}: {exc}")
            return False
        self.project_path = str(path)
        self.session.dirty = False
        self.statusBar().showMessage(f"saved {path}")
        return True

    def autosave(self) -> threading.Thread | None:
        """Write a snapshot of the session to the autosave file on a thread (h5py's compressed
        writes let the GUI thread run meanwhile); at most one write at a time. Returns the
        writing thread (None when nothing needed writing)."""
        if not self.session.dirty or self.autosave_running():
            return None
        snapshot, path = self.session.snapshot(), self.autosave_path
        report = getattr(self, "_autosave_report", None)
        if report is None:  # one for the window's life, not one per write
            report = self._autosave_report = _AutosaveReport(self)
            report.failed.connect(lambda message: self.statusBar().showMessage(
                f"autosave failed: {message}"))

        def write() -> None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                save_project(snapshot, path)
            except (OSError, BrainfitError) as exc:
                report.failed.emit(str(exc))

        self._autosave_thread = threading.Thread(target=write, name="brainfit-autosave",
                                                 daemon=True)
        self._autosave_thread.start()
        return self._autosave_thread

    def autosave_running(self) -> bool:
        thread = getattr(self, "_autosave_thread", None)
        return thread is not None and thread.is_alive()

    def wait_for_autosave(self, timeout_s: float = 30.0) -> bool:
        """Join the autosave thread (closing, tests); True when no write is left running."""
        thread = getattr(self, "_autosave_thread", None)
        if thread is not None:
            thread.join(timeout_s)
        return not self.autosave_running()

    # ---- export -------------------------------------------------------------------------------
    def export_figure(self, path: str | None = None) -> bool:
        """The view on the current tab as PNG (pyqtgraph's exporter) or SVG (Qt's own SVG
        generator: pyqtgraph's SVG exporter fails on the paths Qt 6 writes)."""
        import pyqtgraph.exporters as exporters

        if not path:
            path, _ = QFileDialog.getSaveFileName(self, "Export figure", str(Path.home() / "figure.png"),
                                                  "PNG image (*.png);;SVG vector (*.svg)")
            if not path:
                return False
        view = self.tabs.currentWidget()
        if view is self.neuron_view:  # the single-neuron tab: its trace view, not the docks
            view = self.trace
        try:
            if str(path).lower().endswith(".svg"):
                _render_svg(view, str(path))
            else:
                target = view.ci if hasattr(view, "ci") else view.scene()
                exporters.ImageExporter(target).export(str(path))
        except (OSError, RuntimeError, ValueError) as exc:
            show_error(self, "Cannot export figure", f"{path}: {exc}")
            return False
        self.statusBar().showMessage(f"exported {path}")
        return True

    def export_results(self, path: str | None = None) -> bool:
        comparison = self.session.comparison
        if comparison is None:
            self.statusBar().showMessage("no results to export yet")
            return False
        if not path:
            path, _ = QFileDialog.getSaveFileName(self, "Export results", str(Path.home() / "comparison.csv"),
                                                  "CSV table (*.csv);;HDF5 (*.h5)")
            if not path:
                return False
        try:
            comparison.to_csv(path) if str(path).lower().endswith(".csv") else comparison.to_hdf5(path)
        except OSError as exc:
            show_error(self, "Cannot export results", f"{path}: {exc}")
            return False
        self.statusBar().showMessage(f"exported {path}")
        return True

    # ---- validation on data not used for fitting --------------------------------------------
    def validate_on(self, path: str | Path | None = None, sweeps=None) -> bool:
        """Simulate the best fit on another recording's stimulus and show the scores."""
        if not self.session.results:
            self.statusBar().showMessage("no fit to validate yet: run an optimizer first")
            return False
        if self.runner.busy and self.runner.job_name != "preview":
            self.statusBar().showMessage("a job is already running")
            return False
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Validate on recording", str(Path.home()),
                                                  FILE_FILTER)
            if not path:
                return False
        try:
            recording = open_recording(str(path))
        except BrainfitError as exc:
            show_error(self, "Cannot open recording", str(exc))
            return False
        if not recording.has_stimulus:
            show_error(self, "Stimulus missing", f"{recording.name} holds no injected current, so "
                       "the fitted model has nothing to respond to.")
            return False
        self.runner.drop("preview")  # it can run again later
        best = min(self.session.results, key=lambda f: f.loss)
        self.statusBar().showMessage(f"validating {best.model} ({best.method}) on {recording.name}…")
        return bool(self.runner.submit(PredictJob(best, recording, sweeps=sweeps, name="validate"),
                                       queue=True))

    def _show_validation(self, prediction) -> None:
        from .dialogs.validation import ValidationDialog

        self.validation_dialog = ValidationDialog(prediction, self)
        self.validation_dialog.open()
        self.statusBar().showMessage(
            f"validation on {prediction.recording_name}: MSE {prediction.loss:.4g} mV², gamma "
            f"{prediction.gamma:.3f}")
