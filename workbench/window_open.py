"""Opening recordings in the main window: the dialog, recent files, drag-and-drop, and large
files read in the worker (a mixin of :class:`~.main_window.MainWindow`)."""

from __future__ import annotations

import os
from pathlib import Path

from PyQt6.QtWidgets import QFileDialog, QInputDialog

from core.errors import BrainfitError
from core.io import TimeUnitRequiredError, open_recording

from .dialogs.errors import show_error
from .window_files import FILE_FILTER

MAX_RECENT = 8
LARGE_FILE_BYTES = 16 * 2**20  # read in the worker from this size on (a text file: ~1 s)


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:  # missing or unreadable: the reader says why
        return 0



class RecordingOpenMixin:
    def _ask_open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open recording", str(Path.home()), FILE_FILTER)
        if path:
            self.open_recording(path)

    def open_recording(self, path: str | Path, **options) -> bool:
        """Open ``path``; on failure show the reason and keep whatever was open. A file of
        ``LARGE_FILE_BYTES`` or more is read in the worker: True then means "being opened" (the
        session changes when it arrives)."""
        path = str(path)
        if _file_size(path) >= LARGE_FILE_BYTES:
            return self._open_in_worker(path, options)
        try:
            recording = open_recording(path, **options)
        except TimeUnitRequiredError as exc:
            return self._ask_time_unit(path, str(exc), options)
        except BrainfitError as exc:
            self._cannot_open(path, str(exc))
            return False
        self._opened(path, recording)
        return True

    def _open_in_worker(self, path: str, options: dict) -> bool:
        from core.io.jobs import OpenRecordingJob, TimeUnitQuestion

        rjob = self.runner.submit(OpenRecordingJob(path, dict(options)), queue=True, broadcast=False)
        if not rjob:
            self._cannot_open(path, "the workbench is closing")
            return False
        self.statusBar().showMessage(f"reading {Path(path).name} "
                                     f"({_file_size(path) / 2**20:.0f} MiB) in the worker…")

        def arrived(result) -> None:
            if isinstance(result, TimeUnitQuestion):
                self._ask_time_unit(path, result.message, options)
            else:
                self._opened(path, result)

        rjob.finished.connect(arrived)
        rjob.failed.connect(lambda message, _details: self._cannot_open(path, message))
        return True

    def _ask_time_unit(self, path: str, message: str, options: dict) -> bool:
        unit, ok = QInputDialog.getItem(self, "Time unit", f"{message}\n\nTime column unit:",
                                        ["s", "ms", "us"], 0, False)
        return self.open_recording(path, **{**options, "time_unit": unit}) if ok else False

    def _cannot_open(self, path: str, message: str) -> None:
        show_error(self, "Cannot open recording", message)
        self.statusBar().showMessage(f"Could not open {Path(path).name}; nothing was changed")

    def _opened(self, path: str, recording) -> None:
        self.session.set_recording(recording, path)
        self._remember(path)
        if not recording.has_stimulus:
            show_error(self, "Stimulus missing",
                       f"{recording.name} holds no injected current. Attach a stimulus before "
                       "simulating or fitting.")

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

