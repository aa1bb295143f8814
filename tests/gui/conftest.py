"""GUI fixtures: a main window that must not leak threads or top-level windows."""

from __future__ import annotations

import threading

import pytest


def _quiet_close(window) -> None:
    window.runner.shutdown(30000)
    window.session.dirty = False  # no "save changes?" prompt in tests


@pytest.fixture
def make_workbench(qtbot, tmp_path):
    from PyQt6.QtWidgets import QApplication

    from workbench.main_window import MainWindow

    before_threads = set(threading.enumerate())
    windows = []

    def make(**kwargs):
        kwargs.setdefault("autosave_path", tmp_path / "autosave.bfproj.h5")
        if "settings" not in kwargs:
            from PyQt6.QtCore import QSettings

            kwargs["settings"] = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(**kwargs)
        qtbot.addWidget(window, before_close_func=_quiet_close)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.runner.shutdown(30000)
        window.session.dirty = False  # no "save changes?" prompt in tests
        window.close()
    QApplication.processEvents()
    leaked = [t for t in threading.enumerate() if t not in before_threads and t.is_alive()
              and not t.daemon]
    assert not leaked, f"threads leaked: {leaked}"
