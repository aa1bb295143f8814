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
