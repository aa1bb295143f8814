"""Open the workbench, let it settle, save a screenshot: ``python scripts/screenshot.py OUT.png [FILE]``.

Run under a real X server (e.g. ``xvfb-run -s '-screen 0 1400x900x24'``) to see what users see.
"""

from __future__ import annotations

import sys

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication

from workbench.main_window import MainWindow
from workbench.resources import example_recording_path


def main() -> None:
    out = sys.argv[1]
    path = sys.argv[2] if len(sys.argv) > 2 else str(example_recording_path())
    app = QApplication(sys.argv[:1])
    window = MainWindow()
    window.show()
    window.open_recording(path)

    def shoot():
        if window.runner.busy:
            QTimer.singleShot(200, shoot)
            return
        QApplication.processEvents()
        window.grab().save(out)
        window.close()
        app.quit()

    QTimer.singleShot(1500, shoot)
    app.exec()


if __name__ == "__main__":
    main()
