"""The point-and-click fitting flow on the bundled example, through the real JobRunner."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.gui.flows import setup_short_gif_fit
from tests.leaks import Snapshot, new_threads
from workbench.project import load_project
from workbench.resources import example_recording_path


def _setup_gif_fit(window, methods, budget):
    window.open_recording(example_recording_path())
    setup_short_gif_fit(window, methods, budget)
    s = window.session
    assert s.fit.methods == tuple(m for m in window.optimizer_panel.method_boxes if m in methods)


def test_short_lbfgsb_fit_updates_convergence_trace_and_table(make_workbench, qtbot):
    window = make_workbench()
    _setup_gif_fit(window, ("lbfgsb",), 60)
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=60000)
    with qtbot.waitSignal(window.runner.finished, timeout=180000) as done:
        assert window.fits.start()
    comparison = done.args[0]
    assert window.convergence.n_points() > 0
    window.convergence.redraw()
    curve = window.convergence.curves[("lbfgsb", 0)][0]
    xs, ys = curve.getOriginalDataset()
    assert len(xs) > 0 and np.all(np.diff(ys) <= 1e-12)  # best loss never increases
    fit = comparison.fits[0]
    assert fit.loss < fit.start_loss
    # live, the trace shows the best model on the fitted window; at the end the fitted
    # parameters are simulated on the whole sweep
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=60000)
    sweep = window.session.recording.sweeps[3]
    mt, mv = window.trace.model_curve.getOriginalDataset()
    np.testing.assert_allclose(mt, sweep.t)
    assert np.all(np.isfinite(mv))
    assert window.comparison.table.rowCount() == 1
    assert window.comparison.cell(0, "method") == "lbfgsb"
    assert window.fit_result.table.rowCount() == 2
    assert window.session.parameters["R"].value == pytest.approx(fit.fitted["R"])
    assert window.session.results and window.session.comparison is comparison


def test_cancel_two_optimizers_keeps_best_so_far_without_leaks(make_workbench, qtbot):
    window = make_workbench()
    _setup_gif_fit(window, ("de", "pso"), 5000)
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=60000)
    before = Snapshot.take(with_windows=False)
    assert window.fits.start()
    qtbot.waitUntil(lambda: window.convergence.n_points() >= 3, timeout=120000)
    with qtbot.waitSignal(window.runner.cancelled, timeout=30000) as cancelled:
        t0 = time.perf_counter()
        window.optimizer_panel.cancel_button.click()
    assert time.perf_counter() - t0 < 30
    partial = cancelled.args[0]
    assert partial is not None and partial.fits, "best-so-far result must be kept"
    assert all(np.isfinite(f.loss) for f in partial.fits)
    assert window.optimizer_panel.run_button.isEnabled()
    # threads by identity, daemon ones included (every thread here is a daemon). A count was
    # wrong both ways: with psutil installed, a job's QThread left a threading._DummyThread
    # entry that never goes away (the old test timed out on it), and a leak could hide behind
    # a thread that ended. Jobs now run in the worker process: the fit starts no thread here.
    qtbot.waitUntil(lambda: not new_threads(before), timeout=10000)


def test_invalid_parameter_input_is_refused(make_workbench, qtbot):
    window = make_workbench()
    panel = window.model_panel
    panel.model_box.setCurrentIndex(panel.model_box.findData("gif"))
    row = list(window.session.parameters).index("tau_V")
    before = window.session.parameters["tau_V"].value
    panel.table.item(row, 1).setText("abc")
    assert "not a number" in panel.message.text()
    assert panel.table.item(row, 1).text() == f"{before:g}"
    panel.table.item(row, 1).setText("-5")
    assert "tau_V" in panel.message.text() and window.session.parameters["tau_V"].value == before
    panel.table.item(row, 2).setText("500")  # lower bound above the value
    assert "bracket" in panel.message.text()
    panel.table.item(row, 1).setText("30")
    assert window.session.parameters["tau_V"].value == 30.0 and panel.message.text() == ""


def test_session_save_close_open_restores_settings_and_results(make_workbench, qtbot, tmp_path):
    window = make_workbench()
    _setup_gif_fit(window, ("lbfgsb",), 40)
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=60000)
    with qtbot.waitSignal(window.runner.finished, timeout=180000):
        window.fits.start()
    path = tmp_path / "session.bfproj.h5"
    assert window.save_project(path)
    saved = window.session
    window.close()

    again = make_workbench()
    assert again.open_project(path)
    s = again.session
    assert s.model_name == "gif" and s.window == saved.window and s.fit_sweeps == (3,)
    assert s.fit.methods == ("lbfgsb",) and s.fit.budget == 40
    assert {k: (p.value, p.free) for k, p in s.parameters.items()} == \
        {k: (p.value, p.free) for k, p in saved.parameters.items()}
    assert [f.loss for f in s.results] == [f.loss for f in saved.results]
    np.testing.assert_array_equal(s.recording.sweeps[3].V, saved.recording.sweeps[3].V)
    assert again.comparison.table.rowCount() == 1
    assert again.model_panel.model_box.currentData() == "gif"
    assert load_project(path).comparison.rows[0]["method"] == "lbfgsb"


def test_validate_on_other_sweeps_shows_scores_and_exports(make_workbench, qtbot, tmp_path):
    from core.fitting.predict import predict
    from core.io import open_recording

    window = make_workbench()
    assert not window.validate_on(example_recording_path())  # no fit yet: refused, said why
    assert "no fit" in window.statusBar().currentMessage()
    _setup_gif_fit(window, ("lbfgsb",), 30)
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=60000)
    with qtbot.waitSignal(window.runner.finished, timeout=180000):
        window.fits.start()
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=60000)  # the fitted model's preview
    with qtbot.waitSignal(window.runner.finished, timeout=120000):
        assert window.validate_on(example_recording_path(), sweeps=(2, 4))
    dialog = window.validation_dialog
    p = dialog.prediction
    assert p.sweeps == [2, 4] and p.V.shape == p.V_data.shape and p.V.shape[0] == 2
    # the same numbers as the engine's own predict on the same data (independent call)
    best = min(window.session.results, key=lambda f: f.loss)
    direct = predict(best, open_recording(example_recording_path()), (2, 4))
    assert p.loss == pytest.approx(direct.loss) and np.isfinite(p.loss)
    assert p.loss == pytest.approx(float(np.mean((p.V - p.V_data) ** 2)), rel=1e-6)
    assert p.n_data_spikes == sum(np.size(d) for d in p.data_spikes) > 0
    xs, ys = dialog.model_curve.getOriginalDataset()
    np.testing.assert_allclose(ys, p.V[0])
    dialog.sweeps.setCurrentRow(1)
    np.testing.assert_allclose(dialog.data_curve.getOriginalDataset()[1], p.V_data[1])
    assert dialog.export(str(tmp_path / "pred.csv"))
    table = np.loadtxt(tmp_path / "pred.csv", delimiter=",", skiprows=1)
    assert table.shape == (p.V.shape[1], 5)
    np.testing.assert_allclose(table[:, 4], p.V[1], rtol=1e-6, atol=1e-6)


def test_validate_on_corrupt_file_keeps_session(make_workbench, qtbot, tmp_path):
    from PyQt6.QtWidgets import QMessageBox

    from core.fitting.results import FitResult

    window = make_workbench()
    window.open_recording(example_recording_path())
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=60000)
    bad = tmp_path / "broken.abf"
    bad.write_bytes(b"ABF2" + b"\x00" * 40)
    window.session.results.append(FitResult(
        method="lbfgsb", seed=0, model="gif", free=["R"], params={}, fitted={"R": 100.0}, loss=1.0,
        objective=1.0, gamma=1.0, gamma_loss=0.0, n_model_spikes=0, n_data_spikes=0,
        evaluations=1, iterations=1, seconds=0.0, compile_seconds=0.0, start_loss=2.0))
    before = window.session.recording
    assert not window.validate_on(bad)
    dialogs = [w for w in window.findChildren(QMessageBox) if w.objectName() == "errorDialog"]
    assert dialogs and "broken.abf" in dialogs[-1].text()
    dialogs[-1].close()
    assert window.session.recording is before and not window.runner.busy
    assert len(window.session.results) == 1
