"""Window behaviour around the fits: demo set-up, crash recovery, closing with unsaved work,
unexpected job errors, exports, About, the Network tab's layout."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from PyQt6.QtWidgets import QDockWidget, QMessageBox

from workbench.resources import example_recording_path


def _with_example(make_workbench, qtbot, **kwargs):
    """A window with the bundled example open and its model preview finished."""
    window = make_workbench(**kwargs)
    window.open_recording(example_recording_path())
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=60000)
    return window


def _error_dialogs(window):
    return [w for w in window.findChildren(QMessageBox) if w.objectName() == "errorDialog"]


def test_demo_sets_up_every_optimizer_on_the_hh_example(make_workbench, qtbot):
    from workbench.demo import DEMO_FREE, DEMO_METHODS, configure_demo, example_truth

    window = _with_example(make_workbench, qtbot)
    configure_demo(window)
    job = window.fits.build_job()
    truth = example_truth(window.session.recording)
    assert truth, "the bundled example records its true parameters"
    assert job.model == "hh_cortical" and tuple(job.free) == DEMO_FREE
    assert set(job.methods) == set(DEMO_METHODS) & set(window.optimizer_panel.method_boxes)
    assert job.budgets["bayes"] < job.budgets["de"]  # the Bayesian optimizer gets its own budget
    for name, value in job.fixed.items():  # the rest is fixed at the generating values
        if name in truth:
            assert value == pytest.approx(truth[name])
    for name in DEMO_FREE:
        lo, hi = job.bounds[name]
        assert lo < truth[name] < hi


def test_recovery_after_a_crash_restores_the_autosaved_session(make_workbench, qtbot, tmp_path,
                                                               monkeypatch):
    from workbench.app import offer_recovery

    autosave = tmp_path / "autosave.bfproj.h5"
    crashed = _with_example(make_workbench, qtbot, autosave_path=autosave)
    crashed.session.set_parameter("tau_V", value=33.0)
    assert crashed.autosave() is not None and crashed.wait_for_autosave()
    assert autosave.exists()
    crashed.runner.shutdown()  # the process "dies": no clean close, the autosave stays

    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.Yes)
    fresh = make_workbench(autosave_path=autosave)
    assert offer_recovery(fresh) and asked
    assert fresh.session.parameters["tau_V"].value == 33.0
    assert fresh.session.recording.name == "example_cell.h5"
    assert fresh.session.dirty, "recovered work is not saved anywhere yet"

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    assert not offer_recovery(make_workbench(autosave_path=autosave))


def test_close_with_unsaved_changes_asks_and_cancel_keeps_the_window(make_workbench, qtbot,
                                                                   tmp_path, monkeypatch):
    autosave = tmp_path / "autosave.bfproj.h5"
    window = _with_example(make_workbench, qtbot, autosave_path=autosave)
    window.session.set_parameter("tau_V", value=31.0)
    window.autosave()
    assert window.wait_for_autosave()
    assert window.session.dirty and autosave.exists()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Cancel)
    window.show()
    assert not window.close() and window.isVisible()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Discard)
    assert window.close()
    assert not autosave.exists(), "a clean close leaves nothing to recover"


@dataclass
class _BrokenJob:
    name: str = "broken"

    def run(self, report, is_cancelled):
        raise RuntimeError("boom inside the engine")


def test_unexpected_job_error_shows_a_copyable_report_and_the_window_stays_usable(
        make_workbench, qtbot):
    window = _with_example(make_workbench, qtbot)
    with qtbot.waitSignal(window.runner.failed, timeout=10000):
        assert window.runner.submit(_BrokenJob())
    box = _error_dialogs(window)[-1]
    assert "boom inside the engine" in box.text()
    assert "Traceback" in box.detailedText() and "RuntimeError" in box.detailedText()
    box.close()
    with qtbot.waitSignal(window.runner.finished, timeout=60000):  # still works: a preview runs
        window.request_preview()
    assert window.session.recording is not None


def test_export_figure_png_svg_and_results_csv(make_workbench, qtbot, tmp_path):
    import csv

    from core.fitting.results import ComparisonResult, FitResult, table_rows

    window = _with_example(make_workbench, qtbot)
    assert window.export_figure(str(tmp_path / "fig.png"))
    assert window.export_figure(str(tmp_path / "fig.svg"))
    assert (tmp_path / "fig.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = (tmp_path / "fig.svg").read_text()
    assert "<svg" in svg and svg.count("<path") > 3  # axes and the recorded trace are vectors
    window.tabs.setCurrentWidget(window.network_panel)
    assert window.export_figure(str(tmp_path / "network.svg"))
    assert "<svg" in (tmp_path / "network.svg").read_text()
    window.tabs.setCurrentIndex(0)
    assert not window.export_results(str(tmp_path / "none.csv"))  # nothing yet: said so
    fit = FitResult(method="de", seed=1, model="gif", free=["R"], params={}, fitted={"R": 90.0},
                    loss=2.5, objective=2.5, gamma=0.8, gamma_loss=0.2, n_model_spikes=3,
                    n_data_spikes=4, evaluations=100, iterations=5, seconds=1.5,
                    compile_seconds=0.1, start_loss=9.0)
    window.session.set_comparison(ComparisonResult(table_rows([fit]), [fit]))
    assert window.export_results(str(tmp_path / "table.csv"))
    with open(tmp_path / "table.csv") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["method"] == "de" and float(row["loss_mean"]) == 2.5
    assert float(row["seconds_mean"]) == 1.5 and float(row["gamma_mean"]) == 0.8
    assert window.export_results(str(tmp_path / "table.h5"))
    again = ComparisonResult.from_hdf5(tmp_path / "table.h5")
    assert again.fits[0].fitted == {"R": 90.0} and again.rows[0]["loss_mean"] == 2.5


def test_about_lists_versions_and_the_devices_the_worker_reported(make_workbench, qtbot):
    from importlib import metadata

    from PyQt6.QtWidgets import QLabel

    from workbench.dialogs.about import AboutDialog

    window = make_workbench()
    qtbot.waitUntil(lambda: window.device_info is not None, timeout=30000)
    window.show_about()
    dialog = window.findChild(AboutDialog)
    text = dialog.findChild(QLabel, "aboutText").text()
    assert metadata.version("jax") in text, text
    assert window.device_info.label().removeprefix("JAX: ") in text and "CPU (" in text, text
    from core import __version__

    assert f"Brainfit Workbench {__version__}" in text
    dialog.close()


def test_network_tab_hides_the_single_neuron_docks_and_restores_them(make_workbench, qtbot):
    window = make_workbench()
    window.show()
    docks = [d for d in window.findChildren(QDockWidget) if d.isVisible()]
    assert len(docks) >= 5
    window.tabs.setCurrentWidget(window.network_panel)
    assert not any(d.isVisible() for d in docks)
    window.tabs.setCurrentIndex(0)
    assert all(d.isVisible() for d in docks)


def test_every_other_tab_hides_the_single_neuron_docks_and_going_back_restores_them(
        make_workbench, qtbot):
    window = make_workbench()
    window.show()
    labels = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert labels == ["Single neuron", "Network", "Training", "Batch", "Speed"]
    docks = [d for d in window.findChildren(QDockWidget) if d.isVisible()]
    for panel in (window.training_panel, window.batch_panel, window.speed_panel,
                  window.network_panel):  # tab to tab, never back in between
        window.tabs.setCurrentWidget(panel)
        assert not any(d.isVisible() for d in docks)
    window.tabs.setCurrentIndex(0)
    assert all(d.isVisible() for d in docks)


def test_a_batch_cell_opens_in_the_single_neuron_view(make_workbench, qtbot):
    from workbench.resources import example_recording_path

    window = make_workbench()
    window.tabs.setCurrentWidget(window.batch_panel)
    window.batch_panel.open_cell_requested.emit([str(example_recording_path())])
    assert window.tabs.currentIndex() == 0
    assert window.session.recording is not None
    assert window.session.recording_path == str(example_recording_path())
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=120000)


def test_autosave_writes_a_snapshot_on_a_thread_and_reports_a_failure(make_workbench, qtbot,
                                                                       tmp_path):
    from workbench.project import load_project

    autosave = tmp_path / "autosave.bfproj.h5"
    window = _with_example(make_workbench, qtbot, autosave_path=autosave)
    window.session.set_parameter("tau_V", value=21.0)
    thread = window.autosave()
    assert thread is not None and thread is not __import__("threading").current_thread()
    window.session.set_parameter("tau_V", value=45.0)  # after the snapshot: not in this file
    assert window.wait_for_autosave()
    assert load_project(autosave).parameters["tau_V"].value == 21.0
    assert window.session.parameters["tau_V"].value == 45.0

    blocked = tmp_path / "not_a_folder"
    blocked.write_text("a file where the autosave folder should be")
    window.autosave_path = blocked / "autosave.bfproj.h5"
    assert window.autosave() is not None and window.wait_for_autosave()
    qtbot.waitUntil(lambda: "autosave failed" in window.statusBar().currentMessage(),
                    timeout=5000)
    assert window.session.parameters["tau_V"].value == 45.0 and window.session.dirty


def test_the_scale_tabs_talk_to_the_window_status_bar_and_progress(make_workbench, qtbot):
    window = make_workbench()
    window.show()
    window.training_panel.message.emit("training: hello")
    assert window.statusBar().currentMessage() == "training: hello"
    window.speed_panel.message.emit("speed: hello")
    assert window.statusBar().currentMessage() == "speed: hello"
    window.training_panel.progress.emit("training", 0.25)
    assert window.progress.isVisible() and window.progress.value() == 25
    window.training_panel.progress.emit("", None)
    assert not window.progress.isVisible()


def test_a_tab_chosen_before_the_window_is_shown_still_hides_the_neuron_docks(make_workbench,
                                                                              qtbot):
    window = make_workbench()
    window.tabs.setCurrentWidget(window.training_panel)  # not shown yet: nothing "visible"
    window.show()
    docks = window.neuron_view.findChildren(QDockWidget)
    assert docks and not any(d.isVisible() for d in docks)
    window.tabs.setCurrentIndex(0)
    assert all(d.isVisible() for d in docks)


def test_a_dock_the_user_closed_stays_closed_across_tab_switches(make_workbench, qtbot):
    window = make_workbench()
    window.show()
    convergence = window.convergence.parentWidget()
    assert isinstance(convergence, QDockWidget) and convergence.isVisible()
    convergence.toggleViewAction().trigger()  # View → Convergence off
    window.tabs.setCurrentWidget(window.network_panel)
    window.tabs.setCurrentIndex(0)
    assert not convergence.isVisible()
    assert window.recording_panel.isVisible()
