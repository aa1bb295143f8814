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


def test_preview_of_a_long_sweep_comes_back_decimated_over_the_whole_sweep(make_workbench, qtbot,
                                                                           tmp_path):
    from core.io import Recording, Sweep, write_recording
    from workbench.main_window import PREVIEW_POINTS

    n = 200_000  # 10 s at 20 kHz
    current = np.where((np.arange(n) > 40_000) & (np.arange(n) < 160_000), 0.5, 0.0)
    v = -65.0 + np.random.default_rng(0).normal(0, 0.2, n)
    path = tmp_path / "long.h5"
    write_recording(Recording((Sweep(v, current, 0.05),)), path)
    window = make_workbench()
    assert window.open_recording(path)
    qtbot.waitUntil(lambda: window.trace.model_curve.getOriginalDataset()[1] is not None
                    and not window.runner.busy, timeout=120000)
    t, y = window.trace.model_curve.getOriginalDataset()
    assert len(y) <= PREVIEW_POINTS and len(t) == len(y)
    assert t[0] == 0.0 and abs(t[-1] - (n - 1) * 0.05) < 1.0
    assert np.all(np.diff(t) >= 0) and np.all(np.isfinite(y))
