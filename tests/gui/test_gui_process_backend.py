"""The window's process never imports JAX: every computation runs in the worker, and what comes
back (fit results, predictions, network runs) and what is read from a project are NumPy. On a GPU
host a JAX backend in the GUI process would also take the device (and by default most of its
memory) from the worker that runs the jobs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent("""
    import sys
    import time

    def wait(app, done, timeout=180):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not done():
            app.processEvents()
            time.sleep(0.01)
        assert done(), "timed out"

    if __name__ == "__main__":
        import os, tempfile
        from PyQt6.QtCore import QSettings
        from PyQt6.QtWidgets import QApplication
        app = QApplication(sys.argv)
        from tests.gui.flows import setup_short_gif_fit
        from workbench.main_window import MainWindow
        from workbench.resources import example_recording_path
        tmp = tempfile.mkdtemp()
        w = MainWindow(settings=QSettings(os.path.join(tmp, "s.ini"), QSettings.Format.IniFormat),
                       autosave_path=os.path.join(tmp, "a.h5"))
        w.show()
        assert w.open_recording(example_recording_path())
        wait(app, lambda: not w.runner.busy and w.device_info is not None
             and w.trace.model_curve.getOriginalDataset()[1] is not None)
        assert w.device_info.count >= 1
        w.show_about()
        print("AFTER_PREVIEW", "jax" in sys.modules)

        # a short fit, its validation on other sweeps, a project saved and opened again
        setup_short_gif_fit(w, ("lbfgsb",), 20, starts=1)
        wait(app, lambda: not w.runner.busy)
        assert w.fits.start()
        wait(app, lambda: bool(w.session.results) and not w.runner.busy)
        assert w.validate_on(example_recording_path(), sweeps=(2, 4))
        wait(app, lambda: not w.runner.busy and w.validation_dialog is not None)
        path = os.path.join(tmp, "p.bfproj.h5")
        assert w.save_project(path)
        w.session.dirty = False
        assert w.open_project(path)
        wait(app, lambda: not w.runner.busy)
        print("AFTER_FIT", "jax" in sys.modules)

        # a small network run, and every tab shown once
        net = w.network_panel
        w.tabs.setCurrentWidget(net)
        net.select_template("coba")
        net.set_parameter("n_exc", 80)
        net.set_parameter("n_inh", 20)
        net.duration.setText("40")
        net.record.setText("0, 1, 50")
        assert net.run()
        wait(app, lambda: w.session.network is not None and not w.runner.busy)
        for k in range(w.tabs.count()):
            w.tabs.setCurrentIndex(k)
            app.processEvents()
        print("AFTER_NETWORK", "jax" in sys.modules)

        # a fit window past the sweeps' end, through the buttons' slots: here no pytest-qt hook
        # catches what escapes a slot (PyQt6 would abort the process), so the window must say it
        w.tabs.setCurrentIndex(0)
        rec = w.session.recording
        end = rec.sweeps[0].t0 + rec.duration
        w.session.set_window(end + 1000.0, end + 5000.0)
        for button in (w.optimizer_panel.run_button, w.optimizer_panel.cell_fit_button):
            button.click()
            app.processEvents()
            print("BAD_WINDOW", w.fits.running or w.cell.running or w.runner.busy,
                  "sweep" in w.statusBar().currentMessage().lower())
        w.runner.shutdown(10000)
        w.session.dirty = False
        w.close()
""")


def test_window_runs_fit_validation_project_and_network_without_jax_in_its_process(tmp_path):
    script = tmp_path / "gui_no_jax.py"
    script.write_text(SCRIPT)
    root = str(Path(__file__).resolve().parents[2])  # the script imports tests.gui.flows
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=400, env=env, cwd=os.getcwd())
    assert out.returncode == 0, out.stderr[-3000:]
    marks = dict(line.split() for line in out.stdout.splitlines()
                 if line.startswith(("AFTER_PREVIEW", "AFTER_FIT", "AFTER_NETWORK")))
    assert marks == {"AFTER_PREVIEW": "False", "AFTER_FIT": "False", "AFTER_NETWORK": "False"}, \
        (marks, out.stderr[-2000:])
    # a bad fit window refused with a message by Run and by Fit cell, the process alive after
    bad = [line.split()[1:] for line in out.stdout.splitlines() if line.startswith("BAD_WINDOW")]
    assert bad == [["False", "True"], ["False", "True"]], (bad, out.stderr[-2000:])
