"""``brainfit --demo``: the bundled example, a cortical HH model with three unknown conductances,
and every optimizer compared live — for demonstrations.

The example cell was generated with known parameters (its provenance notes hold them); the demo
fixes the others at those values and leaves gNa, gK and gL free, as in the seed paper's HH
benchmark, so the comparison table can show the parameter error too."""

from __future__ import annotations

import json

from PyQt6.QtCore import Qt, QTimer

DEMO_METHODS = ("lbfgsb", "hybrid", "de", "twopointsde", "pso", "bayes")
DEMO_BUDGET = 600
DEMO_BAYES_BUDGET = 30
DEMO_FREE = ("gNa", "gK", "gL")
DEMO_WINDOW = (80.0, 330.0)
DEMO_SWEEPS = (3,)


def example_truth(recording) -> dict[str, float]:
    for note in recording.provenance.notes:
        if note.startswith("truth: "):
            return json.loads(note[len("truth: "):])
    return {}


def configure_demo(window) -> None:
    """Set the session up for the demo comparison (recording must be the bundled example)."""
    s = window.session
    truth = example_truth(s.recording)
    window.model_panel.model_box.setCurrentIndex(window.model_panel.model_box.findData("hh_cortical"))
    for name in s.parameters:
        s.set_parameter(name, free=name in DEMO_FREE)
        if name in truth and name not in DEMO_FREE:
            s.set_parameter(name, value=truth[name])
    window.model_panel.refresh()
    panel = window.recording_panel
    for k in range(panel.sweeps.count()):
        panel.sweeps.item(k).setCheckState(Qt.CheckState.Checked if k in DEMO_SWEEPS else Qt.CheckState.Unchecked)
    panel.start.setValue(DEMO_WINDOW[0])
    panel.stop.setValue(DEMO_WINDOW[1])
    opt = window.optimizer_panel
    for name, box in opt.method_boxes.items():
        box.setChecked(name in DEMO_METHODS)
    opt.budget.setValue(DEMO_BUDGET)
    opt.bayes_budget.setValue(DEMO_BAYES_BUDGET)
    opt.seeds.setValue(1)
    opt.starts.setValue(4)


def start_demo(window, delay_ms: int = 500) -> None:
    configure_demo(window)
    window.statusBar().showMessage("Demo: comparing every optimizer on the example cell…")
    QTimer.singleShot(delay_ms, window.fits.start)
