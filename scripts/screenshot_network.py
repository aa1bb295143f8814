"""Run the COBA benchmark for 1 s in the Network tab and save a screenshot:
``python scripts/screenshot_network.py [OUT.png] [DURATION_MS]`` (default docs/network-coba.png).

Run under a real X server (e.g. ``xvfb-run -s '-screen 0 1400x900x24'``) to see what users see.
Uses throwaway settings and autosave paths so the user's own are left alone.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PyQt6.QtCore import QSettings, QTimer
from PyQt6.QtWidgets import QApplication, QDockWidget

from workbench.main_window import MainWindow


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else "docs/network-coba.png"
    duration = sys.argv[2] if len(sys.argv) > 2 else "1000"
    app = QApplication(sys.argv[:1])
    tmp = Path(tempfile.mkdtemp(prefix="brainfit-shot-"))
    window = MainWindow(settings=QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat),
                        autosave_path=tmp / "autosave.bfproj.h5")
    window.resize(1400, 860)
    for dock in window.findChildren(QDockWidget):  # the single-neuron docks: the tab gets the room
        dock.hide()
    window.show()
    panel = window.network_panel
    window.tabs.setCurrentWidget(panel)
    panel.select_template("coba")
    panel.duration.setText(duration)
    outcome = {}

    def start():
        if not panel.run():
            outcome["error"] = panel.summary.text()
            app.quit()

    def shoot():
        if window.runner.busy or panel.running:
            QTimer.singleShot(200, shoot)
            return
        QApplication.processEvents()
        window.grab().save(out)
        print(panel.summary.text().replace("<br>", "\n"))
        window.session.dirty = False
        window.close()
        app.quit()

    window.runner.idle.connect(lambda: QTimer.singleShot(300, shoot))
    QTimer.singleShot(500, start)
    app.exec()
    if "error" in outcome:
        sys.exit(outcome["error"])


if __name__ == "__main__":
    main()
