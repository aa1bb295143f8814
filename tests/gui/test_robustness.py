"""Bad input in the window becomes a message, never an aborted process."""

from __future__ import annotations

import sys

from PyQt6.QtWidgets import QMessageBox

from workbench.resources import example_recording_path


def test_fit_window_past_the_sweep_end_is_refused_with_a_message(make_workbench, qtbot):
    window = make_workbench()
    window.open_recording(example_recording_path())
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=120000)
    end = window.session.recording.sweeps[0].t0 + window.session.recording.duration
    window.session.set_window(end + 1000.0, end + 5000.0)  # what the spin boxes allow
    messages = []
    window.fits.message.connect(messages.append)
    assert window.fits.start() is False  # no exception escapes the slot
    assert not window.fits.running and not window.runner.busy
    assert messages and "sweep" in messages[-1].lower()


def test_an_exception_escaping_a_slot_is_shown_not_fatal(make_workbench, qtbot):
    from workbench.app import install_excepthook

    window = make_workbench()
    old = sys.excepthook
    try:
        install_excepthook(window)
        try:
            raise ValueError("boom in a slot")
        except ValueError as exc:
            sys.excepthook(type(exc), exc, exc.__traceback__)
    finally:
        sys.excepthook = old
    boxes = [b for b in window.findChildren(QMessageBox) if b.objectName() == "errorDialog"]
    assert boxes and "boom in a slot" in boxes[-1].text()
    assert "ValueError" in boxes[-1].detailedText()
    assert "boom in a slot" in window.statusBar().currentMessage()
    for b in boxes:
        b.close()


def test_a_large_file_is_read_in_the_worker_and_a_bad_one_keeps_what_was_open(
        make_workbench, qtbot, tmp_path, monkeypatch):
    import numpy as np

    import workbench.window_open as mw

    window = make_workbench()
    assert window.open_recording(example_recording_path())  # small: read at once
    first = window.session.recording
    monkeypatch.setattr(mw, "LARGE_FILE_BYTES", 0)  # every file is "large" now
    opened = []
    window.session.subscribe(lambda what: opened.append(what) if what == "recording" else None)
    assert window.open_recording(example_recording_path())
    assert window.session.recording is first  # not yet: it is being read in the worker
    qtbot.waitUntil(lambda: bool(opened), timeout=60000)
    assert window.session.recording is not first
    np.testing.assert_array_equal(window.session.recording.sweeps[0].V, first.sweeps[0].V)

    broken = tmp_path / "broken.abf"
    broken.write_bytes(b"ABF2" + b"\0" * 300)
    current = window.session.recording
    assert window.open_recording(broken)
    qtbot.waitUntil(lambda: any(b.objectName() == "errorDialog" and b.isVisible()
                                for b in window.findChildren(QMessageBox)), timeout=60000)
    box = [b for b in window.findChildren(QMessageBox) if b.objectName() == "errorDialog"][-1]
    assert "broken.abf" in box.text()
    assert window.session.recording is current
    assert "nothing was changed" in window.statusBar().currentMessage()
    box.close()


def test_a_large_text_file_without_time_unit_asks_for_it_then_opens(make_workbench, qtbot,
                                                                    tmp_path, monkeypatch):
    import numpy as np
    from PyQt6.QtWidgets import QInputDialog

    import workbench.window_open as mw

    t = np.arange(2000) * 0.1
    path = tmp_path / "cell.csv"
    np.savetxt(path, np.column_stack([t, -65 + np.sin(t), 0.1 * (t > 50)]), delimiter=",",
               header="time,voltage_mV,current_nA", comments="")
    monkeypatch.setattr(mw, "LARGE_FILE_BYTES", 0)
    asked = []

    def answer(*args, **kwargs):
        asked.append(args[2])
        return "ms", True

    monkeypatch.setattr(QInputDialog, "getItem", answer)
    window = make_workbench()
    assert window.open_recording(path)
    qtbot.waitUntil(lambda: window.session.recording is not None, timeout=60000)
    assert asked and "unit" in asked[0].lower()
    assert abs(window.session.recording.sweeps[0].dt - 0.1) < 1e-12
