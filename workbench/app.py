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
    install_excepthook(window)
    recovered = not demo and offer_recovery(window)
    if not recovered:
        target = str(files[0]) if files else str(example_recording_path())
        if target.endswith(".bfproj.h5"):
            window.open_project(target)
        else:
            window.open_recording(target)
    window.show()
    if demo:
        from .demo import start_demo

        start_demo(window)
    return app.exec()


def install_excepthook(window) -> None:
    """Show an exception that escapes a slot in the error dialog (PyQt6 would abort the process
    without a hook); the window and the session live on."""
    import traceback

    def hook(kind, value, tb) -> None:
        from .dialogs.errors import show_error

        details = "".join(traceback.format_exception(kind, value, tb))
        sys.__stderr__.write(details)
        try:
            window.statusBar().showMessage(f"unexpected error: {kind.__name__}: {value}")
            show_error(window, "Unexpected error", f"{kind.__name__}: {value}", details)
        except Exception:  # noqa: BLE001 - the hook itself must never raise
            pass

    sys.excepthook = hook


def offer_recovery(window) -> bool:
    """After a crash the autosave file is still there: offer to restore it."""
    from PyQt6.QtWidgets import QMessageBox

    path = window.autosave_path
    if not path.exists():
        return False
    answer = QMessageBox.question(
        window, "Recover session",
        f"Brainfit Workbench did not close normally. Restore the session autosaved at\n{path}?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    if answer == QMessageBox.StandardButton.Yes and window.open_project(path):
        window.session.dirty = True  # recovered work is not saved anywhere yet
        return True
    return False
