"""The first window: the bundled example recording with a model simulation overlaid."""

from __future__ import annotations

import numpy as np

from core.io import read_brainfit_hdf5
from workbench.resources import example_recording_path


def test_window_shows_example_recording_and_model_overlay(make_workbench, qtbot):
    window = make_workbench()
    assert window.open_recording(example_recording_path())
    # the overlay is the model started from the cell's measurements (measured first)
    qtbot.waitUntil(lambda: window.session.data_defaults is not None, timeout=120000)
    qtbot.waitUntil(lambda: window.trace.model_curve.getOriginalDataset()[1] is not None
                    and not window.runner.busy, timeout=120000)
    expected = read_brainfit_hdf5(str(example_recording_path())).sweeps[0]
    x, y = window.trace.data_curve.getOriginalDataset()
    np.testing.assert_array_equal(y, expected.V)
    np.testing.assert_allclose(x, expected.t)
    _, current = window.trace.current_curve.getOriginalDataset()
    np.testing.assert_array_equal(current, expected.I)
    mx, my = window.trace.model_curve.getOriginalDataset()
    assert my is not None and len(my) == len(expected.V)
    assert np.all(np.isfinite(my))
    # the default model rests near the cell's resting potential, not at garbage values
    assert -100 < float(np.median(my)) < -40
    qtbot.waitUntil(lambda: "JAX: CPU" in window.device_label.text(), timeout=30000)
