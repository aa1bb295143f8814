"""Run ``brainfit --demo`` and save screenshots mid-fit and at the end:
``python scripts/screenshot_demo.py MID.png END.png [--mid-after SECONDS]``.

Run under a real X server (``xvfb-run -s '-screen 0 1400x900x24'``) to see what users see.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from PyQt6.QtCore import QSettings, QTimer
from PyQt6.QtWidgets import QApplication

from workbench.app import configure_app
from workbench.demo import start_demo
from workbench.main_window import MainWindow
from workbench.resources import example_recording_path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mid")
    ap.add_argument("end")
    ap.add_argument("--mid-after", type=float, default=20.0, help="seconds after the fit starts")
    a = ap.parse_args()
    app = QApplication(sys.argv[:1])
    configure_app(app)
    tmp = Path(tempfile.mkdtemp(prefix="brainfit-demo-"))
    window = MainWindow(settings=QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat),
                        autosave_path=tmp / "autosave.bfproj.h5")
    window.open_recording(example_recording_path())
    window.show()
    start_demo(window)
    t0 = time.perf_counter()
    shots = {"mid": False}

    def poll():
        QApplication.processEvents()
        if not shots["mid"] and window.fits.running and time.perf_counter() - t0 > a.mid_after:
            window.grab().save(a.mid)
            shots["mid"] = True
        started = time.perf_counter() - t0 > 2.0
        if started and not window.fits.running and not window.runner.busy:
            if not shots["mid"]:
                window.grab().save(a.mid)
            QTimer.singleShot(800, finish)
            return
        QTimer.singleShot(250, poll)

    def finish():
        QApplication.processEvents()
        window.grab().save(a.end)
        print(f"demo finished in {time.perf_counter() - t0:.1f} s; "
              f"{window.comparison.table.rowCount()} rows in the comparison table")
        window.session.dirty = False
        window.close()
        app.quit()

    QTimer.singleShot(1000, poll)
    app.exec()


if __name__ == "__main__":
    main()
