"""The main window: docks around a central trace view, a status bar with the JAX device."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtWidgets import QLabel, QMainWindow, QMessageBox, QStatusBar

from core import __version__
from core.integrate.jobs import SimulateRecordingJob
from core.io import read_brainfit_hdf5

from .plots.trace import TracePlot
from .runner import JobRunner
from .session import Session


def jax_device_label() -> str:
    import jax

    devices = jax.devices()
    kinds = sorted({d.platform.upper() for d in devices})
    return f"JAX: {', '.join(kinds)} ({len(devices)} device{'s' if len(devices) > 1 else ''})"


class MainWindow(QMainWindow):
    def __init__(self, session: Session | None = None):
        super().__init__()
        self.session = session or Session()
        self.runner = JobRunner(self)
        self.setWindowTitle(f"Brainfit Workbench {__version__}")
        self.resize(1200, 760)
        self.trace = TracePlot(self)
        self.setCentralWidget(self.trace)
        self.setStatusBar(QStatusBar(self))
        self.device_label = QLabel(jax_device_label())
        self.statusBar().addPermanentWidget(self.device_label)
        self._preview_id = 0
        self.session.subscribe(self._on_session_changed)
        self.runner.finished.connect(self._on_job_finished)
        self.runner.failed.connect(self._on_job_failed)

    # ---- opening files ------------------------------------------------------------------------
    def open_recording(self, path: str | Path) -> bool:
        from core.errors import BrainfitError

        try:
            recording = read_brainfit_hdf5(str(path))
        except BrainfitError as exc:
            QMessageBox.critical(self, "Cannot open recording", str(exc))
            return False
        self.session.set_recording(recording, str(path))
        return True

    # ---- reacting to the session ----------------------------------------------------------
    def _on_session_changed(self, what: str) -> None:
        rec = self.session.recording
        if rec is None:
            return
        sweep = rec.sweeps[self.session.sweep]
        self.trace.show_sweep(sweep.t, sweep.V, sweep.I)
        self.statusBar().showMessage(f"{rec.name}: sweep {self.session.sweep + 1}/{rec.n_sweeps}")
        self.request_preview()

    def request_preview(self) -> None:
        rec = self.session.recording
        if rec is None or not rec.has_stimulus or self.runner.busy:
            return
        self._preview_id += 1
        self.runner.submit(SimulateRecordingJob(self.session.model, rec, (self.session.sweep,),
                                                request_id=self._preview_id, name="preview"))

    def _on_job_finished(self, result) -> None:
        if getattr(result, "request_id", None) == self._preview_id:
            rec = self.session.recording
            sweep = rec.sweeps[result.sweeps[0]]
            self.trace.show_model(sweep.t, result.V[0])

    def _on_job_failed(self, message: str, details: str) -> None:
        self.statusBar().showMessage(message)

    def closeEvent(self, event) -> None:
        self.runner.shutdown()
        super().closeEvent(event)
