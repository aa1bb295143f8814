"""Error dialogs: a clear message for expected errors, a copyable report for unexpected ones."""

from __future__ import annotations

from PyQt6.QtWidgets import QMessageBox, QWidget


def show_error(parent: QWidget | None, title: str, message: str, details: str = "") -> QMessageBox:
    """Show ``message``; ``details`` (a traceback) goes into the expandable, copyable section.

    Non-blocking (``open``): the event loop, and so running jobs, keep going."""
    box = QMessageBox(QMessageBox.Icon.Critical if details else QMessageBox.Icon.Warning, title,
                      message, QMessageBox.StandardButton.Ok, parent)
    if details:
        box.setInformativeText("An unexpected error occurred. Your session is intact; the report "
                               "below can be copied into a bug report.")
        box.setDetailedText(details)
    box.setObjectName("errorDialog")
    box.open()
    return box
