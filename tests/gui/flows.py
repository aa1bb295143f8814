"""Steps through the window that several GUI tests share (one copy, also imported by the
subprocess script of ``test_gui_process_backend``)."""

from __future__ import annotations

from PyQt6.QtCore import Qt


def setup_short_gif_fit(window, methods, budget: int, starts: int = 2) -> None:
    """A GIF fit of R and tau_V by ``methods`` on sweep 3 of the open recording (the bundled
    example), 90-250 ms: a short window over one spiking sweep keeps a test fast."""
    panel = window.model_panel
    panel.model_box.setCurrentIndex(panel.model_box.findData("gif"))
    window.recording_panel.start.setValue(90.0)
    window.recording_panel.stop.setValue(250.0)
    for k in range(window.recording_panel.sweeps.count()):
        item = window.recording_panel.sweeps.item(k)
        item.setCheckState(Qt.CheckState.Checked if k == 3 else Qt.CheckState.Unchecked)
    for name in window.session.parameters:
        window.session.set_parameter(name, free=name in ("R", "tau_V"))
    for name, box in window.optimizer_panel.method_boxes.items():
        box.setChecked(name in methods)
    window.optimizer_panel.budget.setValue(budget)
    window.optimizer_panel.starts.setValue(starts)
