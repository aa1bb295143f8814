"""Application start-up: QApplication, main window, the bundled example."""

from __future__ import annotations

import sys

from PyQt6.QtWidgets import QApplication

from .resources import example_recording_path, resources_dir


def configure_app(app: QApplication) -> None:
    """Application name, version and icon; pyqtgraph's look (also used by the self-test)."""
    import pyqtgraph as pg
    from PyQt6.QtGui import QIcon

    from core import __version__

    pg.setConfigOptions(antialias=False, background="w", foreground="k")
    app.setApplicationName("Brainfit Workbench")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("brainfit")  # packaging/brainfit.desktop; the Wayland app id
    icon = QIcon()
    for png in sorted((resources_dir() / "icons").glob("brainfit-*.png")):
        icon.addFile(str(png))
    app.setWindowIcon(icon)


def run_app(files=(), demo: bool = False, self_test: bool = False) -> int:
    if self_test:
        from .selftest import run_self_test

        return run_self_test(files[0] if files else None)
    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    configure_app(app)
    window = MainWindow()
    window.open_recording(files[0] if files else example_recording_path())
    window.show()
    return app.exec()
