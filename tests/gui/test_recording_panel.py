"""The recording panel: open real files, navigate sweeps, choose the fit window, survive bad files."""

from __future__ import annotations

import numpy as np
import pyabf
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QMessageBox

from workbench.resources import example_recording_path


@pytest.fixture
def window(make_workbench, qtbot, tmp_path):
    from PyQt6.QtCore import QSettings

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    return make_workbench(settings=settings)


def _shown_voltage(window):
    return window.trace.data_curve.getOriginalDataset()[1]


def test_open_real_abf_and_navigate_sweeps(window, qtbot, shared_data):
    path = shared_data / "real" / "171116sh_0018.abf"
    assert window.open_recording(path)
    abf = pyabf.ABF(str(path))
    panel = window.recording_panel
    assert panel.sweeps.count() == abf.sweepCount == 17
    abf.setSweep(0)
    np.testing.assert_allclose(_shown_voltage(window), abf.sweepY, rtol=1e-6)
    panel.sweeps.setFocus()
    for _ in range(12):
        qtbot.keyClick(panel.sweeps, Qt.Key.Key_Down)
    assert window.session.sweep == 12
    abf.setSweep(12)
    np.testing.assert_allclose(_shown_voltage(window), abf.sweepY, rtol=1e-6)
    _, current = window.trace.current_curve.getOriginalDataset()
    np.testing.assert_allclose(current, abf.sweepC / 1000.0, rtol=1e-6)  # pA -> nA
    qtbot.keyClick(panel.sweeps, Qt.Key.Key_Up)
    assert window.session.sweep == 11
    assert "171116sh_0018.abf" in window.settings.value("recent", [], type=list)[0]
    assert "20 kHz" in panel.info.toPlainText()


def test_fit_window_from_spin_boxes_and_region(window, qtbot):
    window.open_recording(example_recording_path())
    panel = window.recording_panel
    panel.start.setValue(100.0)
    panel.stop.setValue(450.0)
    assert window.session.window == (100.0, 450.0)
    assert window.trace.region.getRegion() == pytest.approx((100.0, 450.0))
    window.trace.region.setRegion((50.0, 300.0))
    window.trace.region.sigRegionChangeFinished.emit(window.trace.region)
    assert window.session.window == pytest.approx((50.0, 300.0))
    assert (panel.start.value(), panel.stop.value()) == pytest.approx((50.0, 300.0))


def test_unchecking_sweeps_changes_fit_selection(window):
    window.open_recording(example_recording_path())
    item = window.recording_panel.sweeps.item(0)
    item.setCheckState(Qt.CheckState.Unchecked)
    assert window.session.fit_sweeps == (1, 2, 3, 4, 5)


@pytest.mark.parametrize("content,expected", [
    (b"", "empty"),
    (b"ABF2" + bytes(200), "ABF"),
    (b"\x89HDF\r\n\x1a\n" + bytes(100), "HDF5"),
])
def test_corrupt_file_shows_dialog_and_keeps_previous_recording(window, qtbot, tmp_path, content, expected):
    window.open_recording(example_recording_path())
    before = _shown_voltage(window).copy()
    bad = tmp_path / ("bad.abf" if content.startswith(b"ABF") else "bad.h5")
    bad.write_bytes(content)
    assert not window.open_recording(bad)
    dialogs = [w for w in window.findChildren(QMessageBox) if w.objectName() == "errorDialog"]
    assert dialogs and dialogs[-1].isVisible()
    assert "bad." in dialogs[-1].text() and expected.lower() in dialogs[-1].text().lower()
    np.testing.assert_array_equal(_shown_voltage(window), before)
    assert window.session.recording.name == "example_cell.h5"
    dialogs[-1].close()
