"""The default cell path in the window: measurements in the Recording panel, data-derived
starts in the Model panel (marked, resettable), "Fit cell" ending in the held-out validation
view, and all of it saved with the project."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import Qt

from workbench.project import load_project, save_project
from workbench.resources import example_recording_path


def _open_example(window, qtbot):
    window.open_recording(example_recording_path())
    qtbot.waitUntil(lambda: window.session.data_defaults is not None, timeout=120000)
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=60000)


def _from_column(window, name):
    table = window.model_panel.table
    for row in range(table.rowCount()):
        if table.item(row, 0).text() == name:
            return table.item(row, 6).text(), table.item(row, 1)
    raise AssertionError(name)


def test_open_measures_the_cell_and_starts_the_model_from_it(make_workbench, qtbot):
    window = make_workbench()
    _open_example(window, qtbot)
    s = window.session
    m = s.measurements
    assert m is not None and m.r_in is not None
    info = window.recording_panel.info.toPlainText()
    assert "Cell measurements" in info and "Input resistance" in info
    assert f"{m.r_in:.0f} MOhm" in info
    # the GIF's start comes from the cell, marked as such
    d = s.data_defaults
    assert d.model == "gif" == s.model_name
    assert s.parameters["R"].value == np.float64(d.values["R"])
    assert s.free_parameters() == d.free
    source, _item = _from_column(window, "R")
    assert source == "data"
    assert "from data" in window.model_panel.origin.text()
    # an edit is marked as the user's, and "Reset to data-derived" brings the cell's value back
    _source, item = _from_column(window, "V_th")
    item.setText(f"{s.parameters['V_th'].value - 1.0:g}")
    assert _from_column(window, "V_th")[0] == "you"
    window.model_panel.reset_button.click()
    assert _from_column(window, "V_th")[0] == "data"
    assert s.parameters["V_th"].value == d.values["V_th"]


def test_edits_made_before_the_defaults_arrive_are_kept(make_workbench, qtbot):
    window = make_workbench()
    window.open_recording(example_recording_path())
    window.session.set_parameter("R", free=not window.session.parameters["R"].free)
    chosen = window.session.parameters["R"]
    qtbot.waitUntil(lambda: window.session.data_defaults is not None, timeout=120000)
    assert window.session.parameters["R"] == chosen
    assert "kept" in window.statusBar().currentMessage()


def test_fit_cell_opens_the_held_out_validation_and_saves_with_the_project(
        make_workbench, qtbot, tmp_path):
    window = make_workbench()
    _open_example(window, qtbot)
    panel = window.recording_panel
    for k in range(panel.sweeps.count()):  # three sweeps fitted, the other three held out
        item = panel.sweeps.item(k)
        item.setCheckState(Qt.CheckState.Checked if k in (2, 3, 4) else Qt.CheckState.Unchecked)
    for name, box in window.optimizer_panel.method_boxes.items():
        box.setChecked(name == "lbfgsb")
    window.optimizer_panel.budget.setValue(30)
    window.optimizer_panel.cell_fit_button.click()
    assert window.cell.running
    qtbot.waitUntil(lambda: window.cell.validation_dialog is not None, timeout=240000)
    dialog = window.cell.validation_dialog
    v = window.session.cell_validation
    sweeps = window.session.recording.sweeps
    assert [r["sweep"] for r in v["per_sweep"]] == [sweeps[k].number for k in (0, 1, 5)]
    assert dialog.scores.rowCount() == 3
    assert [dialog.sweeps.item(k).text().split(":")[0] for k in range(3)] == [
        "sweep 0", "sweep 1", "sweep 5"]
    assert dialog.scores.item(0, 1).text() == str(v["per_sweep"][0]["n_data"])
    assert "Held out" in dialog.summary.text()
    # the example's sweeps are current steps: the held-out F-I point of cell and model is drawn
    assert v["fi_curve"] and dialog.fi_plot is not None
    # the model over the first held-out sweep is what the dialog plots
    mt, mv = dialog.model_curve.getOriginalDataset()
    assert mv.size == sweeps[0].V.size and np.all(np.isfinite(mv))
    assert window.session.results and _from_column(window, "V_th")[0] == "fit"
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=60000)
    path = tmp_path / "cell.bfproj.h5"
    save_project(window.session, path)
    loaded = load_project(path)
    assert loaded.measurements.r_in == window.session.measurements.r_in
    assert loaded.data_defaults.values == window.session.data_defaults.values
    assert loaded.cell_validation == v
    assert loaded.parameter_sources["V_th"] == "fit"
    assert loaded.recording_paths == (str(example_recording_path()),)
