"""GUI fixtures: a main window that must not leak threads or top-level windows."""

from __future__ import annotations

import threading

import pytest


@pytest.fixture
def make_workbench(qtbot):
    from PyQt6.QtWidgets import QApplication

    from workbench.main_window import MainWindow

    before_threads = set(threading.enumerate())
    windows = []

    def make(**kwargs):
        window = MainWindow(**kwargs)
        qtbot.addWidget(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.runner.shutdown(30000)
        window.close()
    QApplication.processEvents()
    leaked = [t for t in threading.enumerate() if t not in before_threads and t.is_alive()
              and not t.daemon]
    assert not leaked, f"threads leaked: {leaked}"
