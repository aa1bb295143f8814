"""The one place where the workbench runs engine jobs: a worker thread per job.

``JobRunner.submit(job)`` runs ``job.run(report, is_cancelled)`` on a worker thread and re-emits
``started(name)``, ``progress(Event)``, ``finished(result)``, ``failed(message, details)`` and
``cancelled(result_or_None)`` on the GUI thread. Widgets never start threads of their own.
"""

from __future__ import annotations

import threading
import time
import traceback
from typing import Any

from PyQt6.QtCore import QCoreApplication, QObject, QThread, pyqtSignal

from core.errors import BrainfitError, JobCancelled


class _Worker(QThread):
    progress = pyqtSignal(object)  # not "event": that would shadow QObject.event()
    done = pyqtSignal(str, object, str)  # outcome, payload, details

    def __init__(self, job, cancel_flag: threading.Event):
        super().__init__()
        self.job = job
        self.cancel_flag = cancel_flag

    def run(self) -> None:  # worker thread
        try:
            result = self.job.run(self.progress.emit, self.cancel_flag.is_set)
        except JobCancelled as exc:
            self.done.emit("cancelled", getattr(exc, "partial", None), "")
        except BrainfitError as exc:
            self.done.emit("failed", str(exc), "")
        except Exception as exc:  # unexpected: the window must survive and show a report
            self.done.emit("failed", f"{type(exc).__name__}: {exc}", traceback.format_exc())
        else:
            if self.cancel_flag.is_set() and getattr(result, "cancelled", False):
                self.done.emit("cancelled", result, "")
            else:
                self.done.emit("finished", result, "")


class JobRunner(QObject):
    """Runs one job at a time on a worker thread; the GUI thread never waits on JAX."""

    started = pyqtSignal(str)
    progress = pyqtSignal(object)  # not "event": that would shadow QObject.event()
    finished = pyqtSignal(object)
    failed = pyqtSignal(str, str)
    cancelled = pyqtSignal(object)
    idle = pyqtSignal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._worker: _Worker | None = None
        self._cancel = threading.Event()
        self._job_name = ""
        self._started_at = 0.0

    @property
    def busy(self) -> bool:
        return self._worker is not None

    @property
    def job_name(self) -> str:
        return self._job_name

    def submit(self, job) -> bool:
        """Start ``job``; returns False (and does nothing) while another job runs."""
        if self.busy:
            return False
        self._cancel = threading.Event()
        self._job_name = getattr(job, "name", type(job).__name__)
        self._started_at = time.perf_counter()
        worker = _Worker(job, self._cancel)
        worker.progress.connect(self.progress.emit)
        worker.done.connect(self._on_done)
        self._worker = worker
        worker.start()
        self.started.emit(self._job_name)
        return True

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout_ms: int = 30000) -> bool:
        """Block until the current job ends (used on close); True if no job is left running."""
        worker = self._worker
        if worker is None:
            return True
        return worker.wait(timeout_ms)

    def drop(self, name: str) -> None:
        """Cancel the running job if it is ``name`` (a model preview the user's next action
        supersedes), wait for it and deliver its last signals, so that ``submit`` is free."""
        if self.busy and self._job_name == name:
            self.cancel()
            self.wait()
            QCoreApplication.sendPostedEvents()
            QCoreApplication.processEvents()

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        self.cancel()
        ok = self.wait(timeout_ms)
        if self._worker is not None and ok:
            self._worker.deleteLater()
            self._worker = None
        return ok

    def _on_done(self, outcome: str, payload: Any, details: str) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.wait()
            worker.deleteLater()
        if outcome == "finished":
            self.finished.emit(payload)
        elif outcome == "cancelled":
            self.cancelled.emit(payload)
        else:
            self.failed.emit(str(payload), details)
        self.idle.emit()
