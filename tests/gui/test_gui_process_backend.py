"""The window never starts a JAX backend in the GUI process: on a GPU host that would take the
device (and by default most of its memory) from the worker that runs the jobs."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import sys
    if __name__ == "__main__":
        from PyQt6.QtWidgets import QApplication
        app = QApplication(sys.argv)
        from PyQt6.QtCore import QSettings
        from workbench.main_window import MainWindow
        from workbench.resources import example_recording_path
        import tempfile, os, time
        tmp = tempfile.mkdtemp()
        w = MainWindow(settings=QSettings(os.path.join(tmp, "s.ini"), QSettings.Format.IniFormat),
                       autosave_path=os.path.join(tmp, "a.h5"))
        assert w.open_recording(example_recording_path())
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (w.runner.busy or
                w.trace.model_curve.getOriginalDataset()[1] is None or
                w.device_info is None):
            app.processEvents()
            time.sleep(0.01)
        assert w.trace.model_curve.getOriginalDataset()[1] is not None, "no preview arrived"
        assert w.device_info.count >= 1
        w.show_about()
        app.processEvents()
        backends = {}
        if "jax" in sys.modules:
            from jax._src import xla_bridge
            backends = dict(xla_bridge._backends)
        print("BACKENDS", sorted(backends))
        w.runner.shutdown(10000)
        w.session.dirty = False
        w.close()
""")


def test_window_preview_and_about_start_no_jax_backend_in_the_gui_process(tmp_path):
    env_script = tmp_path / "gui_backend.py"
    env_script.write_text(SCRIPT)
    import os

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, str(env_script)], capture_output=True, text=True,
                         timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("BACKENDS")][-1]
    assert line == "BACKENDS []", line
