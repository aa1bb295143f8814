"""Application start-up: QApplication, main window, the bundled example."""

from __future__ import annotations

import sys

from PyQt6.QtWidgets import QApplication

from .resources import example_recording_path


def run_app(files=(), demo: bool = False, self_test: bool = False) -> int:
    import pyqtgraph as pg

    from .main_window import MainWindow

    pg.setConfigOptions(antialias=False, background="w", foreground="k")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Brainfit Workbench")
    window = MainWindow()
    window.open_recording(files[0] if files else example_recording_path())
    window.show()
    return app.exec()
