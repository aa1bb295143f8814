"""The main window: tabs for the three scales, docks around the single-neuron trace view, menus,
status bar, model previews. Opening recordings lives in :mod:`.window_open`; projects, autosave,
exports and validation in :mod:`.window_files`."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QSettings, QStandardPaths, Qt, QTimer
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QStatusBar,
    QTabWidget,
)

from core import __version__
from core.errors import BrainfitError
from core.fitting.predict import Prediction
from core.integrate.jobs import SimulateRecordingJob

from .dialogs.errors import show_error
from .fit_controller import FitController
from .panels.model import ModelPanel
from .panels.optimizers import OptimizerPanel
from .panels.recording import RecordingPanel
from .panels.results import ComparisonPanel, FitResultPanel
from .plots.convergence import ConvergencePlot
from .plots.trace import TracePlot
from .runner import JobRunner
from .session import Session
from .window_files import ProjectFilesMixin
from .window_open import RecordingOpenMixin

AUTOSAVE_MS = 60_000
PREVIEW_POINTS = 20_000  # min/max pairs: more than a screen is wide, so nothing visible is lost


def default_autosave_path() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".brainfit") / "autosave.bfproj.h5"


def _available_methods() -> list[str]:
    try:
        from core.fitting import available_methods
    except ImportError:
        return []
    return available_methods()


class MainWindow(RecordingOpenMixin, ProjectFilesMixin, QMainWindow):
    def __init__(self, session: Session | None = None, settings: QSettings | None = None,
                 autosave_path: str | Path | None = None):
        super().__init__()
        self.session = session or Session()
        self.settings = settings or QSettings("Brainfit", "Workbench")
        self.autosave_path = Path(autosave_path) if autosave_path else default_autosave_path()
        self.project_path: str = ""
        self.runner = JobRunner(self)
        self.setWindowTitle(f"Brainfit Workbench {__version__}")
        self.resize(1400, 860)
        self.setAcceptDrops(True)

        # the single-neuron tab is a main window of its own: the trace view with its docks. A
        # tab switch then only shows another page (the docks hid and showed again before,
        # laying the whole window out twice: 30-45 ms of the event loop per switch)
        self.neuron_view = QMainWindow(self, Qt.WindowType.Widget)
        self.neuron_view.setObjectName("neuron_view")
        self.neuron_view.setDockNestingEnabled(True)
        self.trace = TracePlot(self.neuron_view)
        self.neuron_view.setCentralWidget(self.trace)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.neuron_view, "Single neuron")
        self.setCentralWidget(self.tabs)
        from .panels.network import NetworkPanel

        self.network_panel = NetworkPanel(self)
        self.tabs.addTab(self.network_panel, "Network")
        self._add_scale_tabs()
        left, right, bottom = (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea,
                               Qt.DockWidgetArea.BottomDockWidgetArea)
        self.recording_panel = RecordingPanel(self)
        self.model_panel = ModelPanel(self.session, self)
        self.optimizer_panel = OptimizerPanel(self.session, _available_methods(), self)
        self.convergence = ConvergencePlot(self)
        self.fit_result = FitResultPanel(self)
        self.comparison = ComparisonPanel(self)
        recording_dock = self._dock("Recording", self.recording_panel, left)
        model_dock = self._dock("Model", self.model_panel, right)
        self._dock("Optimizers", self.optimizer_panel, right)
        convergence_dock = self._dock("Convergence", self.convergence, bottom)
        fit_dock = self._dock("Fit", self.fit_result, bottom)
        view = self.neuron_view
        view.tabifyDockWidget(fit_dock, self._dock("Comparison", self.comparison, bottom))
        fit_dock.raise_()
        view.resizeDocks([recording_dock, model_dock], [290, 430], Qt.Orientation.Horizontal)
        view.resizeDocks([convergence_dock], [250], Qt.Orientation.Vertical)
        view.resizeDocks([convergence_dock, fit_dock], [640, 760], Qt.Orientation.Horizontal)

        self.setStatusBar(QStatusBar(self))
        self.progress = QProgressBar(maximumWidth=220, minimumWidth=220, textVisible=True)
        # its place is kept while hidden: showing it for a job does not lay the status bar out
        # again (a few ms at every job's start and end)
        policy = self.progress.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.progress.setSizePolicy(policy)
        self.progress.hide()
        self.device_label = QLabel("JAX: starting the worker…")
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.device_label)
        self._connect_scale_tabs()
        self._preview_id = 0
        self._preview_sweep = 0
        self._preview_pending = False
        self.fits = FitController(self)
        from .cell_controller import CellController

        self.cell = CellController(self)
        self._build_menus()
        self._restore_layout()

        self.session.subscribe(self._on_session_changed)
        self.recording_panel.sweep_selected.connect(self.session.set_sweep)
        self.recording_panel.fit_sweeps_changed.connect(self.session.set_fit_sweeps)
        self.recording_panel.window_changed.connect(self._set_window)
        self.trace.window_changed.connect(self._set_window)
        self.model_panel.preview_requested.connect(self.request_preview)
        self.model_panel.rejected.connect(self.statusBar().showMessage)
        self.optimizer_panel.run_requested.connect(self.fits.start)
        self.optimizer_panel.cancel_requested.connect(self.fits.cancel)
        self.optimizer_panel.cell_fit_requested.connect(self.cell.start_fit)
        self.optimizer_panel.cancel_requested.connect(self.cell.cancel)
        self.cell.running_changed.connect(self.optimizer_panel.set_running)
        self.cell.message.connect(self.statusBar().showMessage)
        self.comparison.export_button.clicked.connect(self.export_results)
        self.fits.running_changed.connect(self.optimizer_panel.set_running)
        self.fits.message.connect(self.statusBar().showMessage)
        self.runner.finished.connect(self._on_job_finished)
        self.runner.failed.connect(self._on_job_failed)
        self.runner.idle.connect(self._on_runner_idle)
        self.runner.worker_restarted.connect(self.statusBar().showMessage)
        self.device_info = None
        self._device_timer = QTimer(self, interval=250)
        self._device_timer.timeout.connect(self._show_devices)
        self._device_timer.start()
        self.runner.worker_restarted.connect(lambda _msg: self._device_timer.start())
        self.autosave_timer = QTimer(self, interval=AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()

    # ---- construction -------------------------------------------------------------------------
    def _add_scale_tabs(self) -> None:
        """Training (the evidence task), Batch (many cells) and Speed (live measurements)."""
        from .panels.batch import BatchPanel
        from .panels.speed import SpeedPanel
        from .panels.training import TrainingPanel

        self.training_panel = TrainingPanel(self.runner, self.session, self)
        self.batch_panel = BatchPanel(self.runner, self.settings, self)
        self.speed_panel = SpeedPanel(self.runner, self)
        self.tabs.addTab(self.training_panel, "Training")
        self.tabs.addTab(self.batch_panel, "Batch")
        self.tabs.addTab(self.speed_panel, "Speed")
        self.batch_panel.open_cell_requested.connect(self._open_batch_cell)

    def _connect_scale_tabs(self) -> None:
        """Their messages and progress go to the status bar (once it exists)."""
        for panel in (self.training_panel, self.speed_panel):
            panel.message.connect(self.statusBar().showMessage)
        self.training_panel.progress.connect(self.show_progress)

    def _open_batch_cell(self, paths: list) -> None:
        """A finished cell of a batch, opened in the single-neuron view."""
        opened = self.cell.open_cell(paths) if len(paths) > 1 else self.open_recording(paths[0])
        if opened:
            self.tabs.setCurrentIndex(0)

    def _show_devices(self) -> None:
        """The worker says what JAX runs on when it is ready (the GUI process never starts a
        JAX backend); asked again after a worker restart."""
        from core.devices import engine_devices

        info = engine_devices(self.runner.engine)
        if info is None:
            return
        self.device_info = info
        self.device_label.setText(info.label())
        self._device_timer.stop()

    def _dock(self, title: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self.neuron_view)
        dock.setObjectName(f"dock_{title.lower().replace(' ', '_')}")
        dock.setWidget(widget)
        self.neuron_view.addDockWidget(area, dock)
        return dock

    def _action(self, menu, text: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        keys = QKeySequence.StandardKey
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&Open recording…", self._ask_open, keys.Open)
        self._action(file_menu, "Open &cell (several files)…", self.cell.ask_open_cell)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self._refresh_recent()
        file_menu.addSeparator()
        self._action(file_menu, "Open &project…", self._ask_open_project)
        self._action(file_menu, "&Save project", self.save, keys.Save)
        self._action(file_menu, "Save project &as…", self.save_as, keys.SaveAs)
        file_menu.addSeparator()
        self._action(file_menu, "Export &figure…", self.export_figure)
        self._action(file_menu, "Export &results…", self.export_results)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, keys.Quit)
        fit_menu = self.menuBar().addMenu("F&it")
        self._action(fit_menu, "Fit &cell (data-derived defaults, validated)", self.cell.start_fit)
        self._action(fit_menu, "&Run optimizers", self.fits.start)
        self._action(fit_menu, "&Cancel", self.fits.cancel)
        fit_menu.addSeparator()
        self._action(fit_menu, "&Validate best fit on…", lambda: self.validate_on())
        self.view_menu = self.menuBar().addMenu("&View")
        for dock in self.findChildren(QDockWidget):
            self.view_menu.addAction(dock.toggleViewAction())
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&About Brainfit Workbench", self.show_about)

    def _restore_layout(self) -> None:
        state = self.settings.value("window/neuron_docks")  # the single-neuron tab's docks
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.neuron_view.restoreState(state)

    def show_about(self) -> None:
        from .dialogs.about import AboutDialog

        info = self.device_info
        AboutDialog(self, info.label().removeprefix("JAX: ") if info else "").open()

    # ---- reacting to the session ----------------------------------------------------------
    def show_fit_sweep(self, index: int) -> None:
        self.recording_panel.sweeps.setCurrentRow(index)

    def show_progress(self, text: str, fraction: float | None) -> None:
        if fraction is None:
            self.progress.hide()
            return
        self.progress.show()
        self.progress.setValue(int(100 * fraction))
        self.progress.setFormat(f"{text} %p%")

    def _set_window(self, start: float, stop: float) -> None:
        try:
            self.session.set_window(start, stop)
        except BrainfitError as exc:
            self.statusBar().showMessage(str(exc))

    def _on_session_changed(self, what: str) -> None:
        rec = self.session.recording
        if what == "model":
            self.model_panel.refresh()
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

    def request_preview(self) -> None:
        """Simulate the current model on the shown sweep (latest request wins)."""
        rec = self.session.recording
        if rec is None or not rec.has_stimulus or self.fits.running:
            return
        if self.runner.busy:
            self._preview_pending = True
            return
        try:
            model = self.session.model()
        except BrainfitError as exc:
            self.statusBar().showMessage(str(exc))
            return
        self._preview_id += 1
        self._preview_sweep = self.session.sweep
        # only the shown sweep crosses the pipe, and only what the plot can draw comes back
        self.runner.submit(SimulateRecordingJob(model, rec.select((self.session.sweep,)), (0,),
                                                request_id=self._preview_id, name="preview",
                                                max_points=PREVIEW_POINTS))

    def _on_runner_idle(self) -> None:
        if self._preview_pending:
            self._preview_pending = False
            self.request_preview()

    def _on_job_finished(self, result) -> None:
        if isinstance(result, Prediction):
            self._show_validation(result)
            return
        if getattr(result, "request_id", None) == self._preview_id and not self._preview_pending:
            rec = self.session.recording
            if rec is not None and self._preview_sweep == self.session.sweep:
                t = result.t[0] if result.t is not None else rec.sweeps[self.session.sweep].t
                self.trace.show_model(t, result.V[0])

    def _on_job_failed(self, message: str, details: str) -> None:
        if self.runner.job_name == "preview":  # a diverging preview: no dialog per edit
            self.statusBar().showMessage(f"model preview: {message}")
            return
        self.statusBar().showMessage(message)
        show_error(self, "Job failed", message, details)

    # ---- closing ------------------------------------------------------------------------------
    def confirm_discard(self) -> bool:
        """Ask about unsaved changes; True when it is fine to close."""
        if not self.session.dirty:
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes", "Save the session before closing?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def closeEvent(self, event) -> None:
        if not self.confirm_discard():
            event.ignore()
            return
        if not self.runner.shutdown(5000):
            self.statusBar().showMessage("a job did not stop; its worker is killed on exit")
        self.autosave_timer.stop()
        if not self.wait_for_autosave(30.0):
            self.statusBar().showMessage("the autosave write did not finish")
        self.settings.setValue("window/neuron_docks", self.neuron_view.saveState())
        self.settings.setValue("window/geometry", self.saveGeometry())
        if self.autosave_path.exists():  # a clean close: nothing to recover next time
            self.autosave_path.unlink()
        super().closeEvent(event)
