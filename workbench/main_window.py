"""The main window: docks around a central trace view, menus, drag-and-drop, status bar."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QSettings, Qt
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (QDockWidget, QFileDialog, QInputDialog, QLabel, QMainWindow,
                             QStatusBar)

from core import __version__
from core.errors import BrainfitError
from core.integrate.jobs import SimulateRecordingJob
from core.io import TimeUnitRequiredError, open_recording

from .dialogs.errors import show_error
from .panels.recording import RecordingPanel
from .plots.trace import TracePlot
from .runner import JobRunner
from .session import Session

FILE_FILTER = ("Recordings (*.abf *.nwb *.h5 *.hdf5 *.csv *.tsv *.txt *.asc *.dat);;"
               "All files (*)")
MAX_RECENT = 8


def jax_device_label() -> str:
    import jax

    devices = jax.devices()
    kinds = sorted({d.platform.upper() for d in devices})
    return f"JAX: {', '.join(kinds)} ({len(devices)} device{'s' if len(devices) > 1 else ''})"


class MainWindow(QMainWindow):
    def __init__(self, session: Session | None = None, settings: QSettings | None = None):
        super().__init__()
        self.session = session or Session()
        self.settings = settings or QSettings("Brainfit", "Workbench")
        self.runner = JobRunner(self)
        self.setWindowTitle(f"Brainfit Workbench {__version__}")
        self.resize(1280, 800)
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)

        self.trace = TracePlot(self)
        self.setCentralWidget(self.trace)
        self.recording_panel = RecordingPanel(self)
        self.recording_dock = self._dock("Recording", self.recording_panel, Qt.DockWidgetArea.LeftDockWidgetArea)

        self.setStatusBar(QStatusBar(self))
        self.device_label = QLabel(jax_device_label())
        self.statusBar().addPermanentWidget(self.device_label)
        self._preview_id = 0
        self._build_menus()

        self.session.subscribe(self._on_session_changed)
        self.recording_panel.sweep_selected.connect(self.session.set_sweep)
        self.recording_panel.fit_sweeps_changed.connect(self.session.set_fit_sweeps)
        self.recording_panel.window_changed.connect(self._set_window)
        self.trace.window_changed.connect(self._set_window)
        self.runner.finished.connect(self._on_job_finished)
        self.runner.failed.connect(self._on_job_failed)

    # ---- construction -------------------------------------------------------------------------
    def _dock(self, title: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower().replace(' ', '_')}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_action = QAction("&Open recording…", self, shortcut=QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self._ask_open)
        file_menu.addAction(open_action)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self._refresh_recent()
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        self.view_menu = self.menuBar().addMenu("&View")
        for dock in self.findChildren(QDockWidget):
            self.view_menu.addAction(dock.toggleViewAction())

    # ---- opening files ------------------------------------------------------------------------
    def _ask_open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open recording", str(Path.home()), FILE_FILTER)
        if path:
            self.open_recording(path)

    def open_recording(self, path: str | Path, **options) -> bool:
        """Open ``path``; on failure show the reason and keep whatever was open."""
        path = str(path)
        try:
            recording = open_recording(path, **options)
        except TimeUnitRequiredError as exc:
            unit, ok = QInputDialog.getItem(self, "Time unit", f"{exc}\n\nTime column unit:",
                                            ["s", "ms", "us"], 0, False)
            return self.open_recording(path, time_unit=unit, **options) if ok else False
        except BrainfitError as exc:
            show_error(self, "Cannot open recording", str(exc))
            self.statusBar().showMessage(f"Could not open {Path(path).name}; nothing was changed")
            return False
        self.session.set_recording(recording, path)
        self._remember(path)
        if not recording.has_stimulus:
            show_error(self, "Stimulus missing",
                       f"{recording.name} holds no injected current. Attach a stimulus before "
                       "simulating or fitting.")
        return True

    def _remember(self, path: str) -> None:
        recent = [p for p in self.settings.value("recent", [], type=list) if p != path]
        self.settings.setValue("recent", [path] + recent[:MAX_RECENT - 1])
        self._refresh_recent()

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.value("recent", [], type=list)
        for path in recent:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _checked=False, p=path: self.open_recording(p))
        self.recent_menu.setEnabled(bool(recent))

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.open_recording(urls[0])

    # ---- reacting to the session ----------------------------------------------------------
    def _set_window(self, start: float, stop: float) -> None:
        try:
            self.session.set_window(start, stop)
        except BrainfitError as exc:
            self.statusBar().showMessage(str(exc))

    def _on_session_changed(self, what: str) -> None:
        rec = self.session.recording
        if rec is None:
            return
        if what == "recording":
            self.recording_panel.show_recording(rec, self.session.fit_sweeps, self.session.window)
        if what in ("recording", "sweep"):
            sweep = rec.sweeps[self.session.sweep]
            self.trace.show_sweep(sweep.t, sweep.V, sweep.I)
            self.statusBar().showMessage(f"{rec.name}: sweep {self.session.sweep + 1}/{rec.n_sweeps}")
            self.request_preview()
        if what in ("recording", "window"):
            self.trace.set_window(*self.session.window)
            self.recording_panel.set_window(*self.session.window)
        if what in ("model", "parameters"):
            self.request_preview()

    def request_preview(self) -> None:
        rec = self.session.recording
        if rec is None or not rec.has_stimulus or self.runner.busy:
            return
        self._preview_id += 1
        self.runner.submit(SimulateRecordingJob(self.session.model(), rec, (self.session.sweep,),
                                                request_id=self._preview_id, name="preview"))

    def _on_job_finished(self, result) -> None:
        if getattr(result, "request_id", None) == self._preview_id:
            rec = self.session.recording
            if result.sweeps[0] == self.session.sweep:
                self.trace.show_model(rec.sweeps[result.sweeps[0]].t, result.V[0])

    def _on_job_failed(self, message: str, details: str) -> None:
        self.statusBar().showMessage(message)
        show_error(self, "Job failed", message, details)

    def closeEvent(self, event) -> None:
        self.runner.shutdown()
        super().closeEvent(event)
