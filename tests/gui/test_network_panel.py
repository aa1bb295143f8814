"""The Network panel through the real JobRunner: what is drawn is the result, cancel keeps the
finished chunks, bad numbers are refused, the result travels with the project."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtWidgets import QMessageBox

from core.events import SimulationProgress
from core.network import NetworkResult
from workbench.panels.network import BAD, live_chunk_ms, parse_indices
from workbench.plots.raster import MAX_DRAWN
from workbench.project import load_project


def _small_coba(panel, duration="200", record="0, 1, 450"):
    panel.select_template("coba")
    panel.set_parameter("n_exc", 400)
    panel.set_parameter("n_inh", 100)
    panel.duration.setText(duration)
    panel.record.setText(record)


def _assert_shows(panel, result: NetworkResult, qtbot):
    """Every spike of ``result`` is drawn, or, beyond the tick budget, an even subset of them
    with a title saying so, and every spike once the view is zoomed in far enough."""
    plots = panel.plots
    qtbot.waitUntil(lambda: not plots.view_timer.isActive(), timeout=5000)  # ticks drawn
    t, i = plots.shown_spikes()
    order = np.lexsort((result.spike_i, result.spike_t))
    rt, ri = result.spike_t[order], result.spike_i[order]
    if result.n_spikes <= MAX_DRAWN:
        np.testing.assert_array_equal(t, rt)
        np.testing.assert_array_equal(i, ri)
        assert not plots.raster.titleLabel.isVisible()
    else:
        assert MAX_DRAWN - len(result.populations) <= t.size <= MAX_DRAWN
        assert set(zip(t.tolist(), i.tolist())) <= set(zip(rt.tolist(), ri.tolist()))
        assert f"{t.size:,} of the {result.n_spikes:,} spikes" in plots.raster.titleLabel.text
        x1 = float(rt[MAX_DRAWN // 2])  # zoomed in to half the budget's worth of spikes
        plots.raster.setRange(xRange=(0.0, x1), yRange=(-0.5, result.n_neurons - 0.5),
                              padding=0)
        x0, x1 = plots.raster.vb.viewRange()[0]
        inside = (rt >= x0) & (rt <= x1)
        qtbot.waitUntil(lambda: plots.shown_spikes()[0].size == int(inside.sum()), timeout=5000)
        t, i = plots.shown_spikes()
        np.testing.assert_array_equal(t, rt[inside])
        np.testing.assert_array_equal(i, ri[inside])
        assert not plots.raster.titleLabel.isVisible()
    counts = np.bincount(result.spike_i, minlength=result.n_neurons)
    for p in result.populations:  # the rate curve integrates to the population's spikes
        _x, rate = panel.plots.shown_rates()[p.name]
        bin_s = panel.plots._bin_ms / 1000.0
        assert np.sum(rate) * bin_s * p.size == pytest.approx(counts[p.start:p.stop].sum())
    traces = panel.plots.shown_traces()
    assert sorted(traces) == sorted(int(k) for k in result.trace_indices)
    for j, k in enumerate(result.trace_indices):
        tt, vv = traces[int(k)]
        np.testing.assert_allclose(tt, result.trace_t)
        np.testing.assert_array_equal(vv, result.traces[:, j])


def test_coba_run_draws_exactly_the_result(make_workbench, qtbot):
    window = make_workbench()
    panel = window.network_panel
    window.tabs.setCurrentWidget(panel)
    _small_coba(panel)
    chunks = []
    window.runner.progress.connect(lambda e: chunks.append(e) if isinstance(e, SimulationProgress) else None)
    with qtbot.waitSignal(window.runner.finished, timeout=120000) as done:
        assert panel.run()
        assert not panel.run_button.isEnabled() and panel.cancel_button.isEnabled()
    result = done.args[0]
    assert isinstance(result, NetworkResult) and result.complete
    assert result.n_neurons == 500 and result.n_spikes > 100
    assert len(chunks) == 10  # a live raster: ten chunks of 20 ms
    _assert_shows(panel, result, qtbot)
    assert panel.plots.colours == ["#d6453d", "#2a6fb0"]  # E red, I blue
    assert window.session.network is result and window.session.dirty
    assert "500 neurons" in panel.summary.text() and f"{result.n_spikes:,} spikes" in panel.summary.text()
    assert panel.run_button.isEnabled() and not panel.cancel_button.isEnabled()
    assert not window.progress.isVisible()


def test_session_save_and_load_restore_the_network(make_workbench, qtbot, tmp_path):
    window = make_workbench()
    panel = window.network_panel
    panel.select_template("ei")
    panel.duration.setText("100")
    with qtbot.waitSignal(window.runner.finished, timeout=120000) as done:
        assert panel.run()
    result = done.args[0]
    path = tmp_path / "net.bfproj.h5"
    assert window.save_project(path)
    loaded = load_project(path).network
    np.testing.assert_array_equal(loaded.spike_t, result.spike_t)
    np.testing.assert_array_equal(loaded.spike_i, result.spike_i)
    np.testing.assert_array_equal(loaded.traces, result.traces)
    assert [p.name for p in loaded.populations] == [p.name for p in result.populations]

    other = make_workbench()
    assert other.open_project(path)
    restored = other.session.network
    assert restored.template == "ei" and restored.n_spikes == result.n_spikes
    _assert_shows(other.network_panel, restored, qtbot)
    assert other.network_panel.template_name() == "ei"
    assert "500 neurons" in other.network_panel.summary.text()


def test_cancel_keeps_the_finished_chunks(make_workbench, qtbot):
    window = make_workbench()
    panel = window.network_panel
    _small_coba(panel, duration="100000")
    with qtbot.waitSignal(window.runner.progress, timeout=120000,
                          check_params_cb=lambda e: isinstance(e, SimulationProgress)):
        assert panel.run()
    with qtbot.waitSignal(window.runner.cancelled, timeout=60000) as stopped:
        panel.cancel_button.click()
    partial = stopped.args[0]
    assert isinstance(partial, NetworkResult) and not partial.complete
    assert 0 < partial.duration_ms < 100000
    assert partial.spike_t.size == partial.n_spikes and partial.spike_t.max() < partial.duration_ms
    _assert_shows(panel, partial, qtbot)
    assert window.session.network is partial
    assert "partial" in panel.summary.text()
    assert not window.runner.busy and panel.run_button.isEnabled()


def test_bad_numbers_are_refused_with_a_message(make_workbench, qtbot):
    window = make_workbench()
    panel = window.network_panel
    panel.select_template("coba")
    for name, text, needle in (("tau_m", "-5", "tau_m"), ("n_exc", "abc", "n_exc"),
                               ("n_exc", "12.5", "whole number"), ("p", "2", "[0, 1]")):
        panel.set_parameter(name, text)
        assert panel.fields[name].styleSheet() == BAD
        assert not panel.run()
        assert needle in window.statusBar().currentMessage()
        assert needle in panel.summary.text()
        assert not window.runner.busy
        panel.set_parameter(name, {"tau_m": 20, "n_exc": 3200, "p": 0.02}[name])
        assert panel.fields[name].styleSheet() == ""
    for widget, text, needle in ((panel.duration, "0", "duration"),
                                 (panel.duration, "1e9", "brainfit simulate"),
                                 (panel.record, "0, x", "recorded neurons")):
        old = widget.text()
        widget.setText(text)
        assert not panel.run()
        assert needle in window.statusBar().currentMessage()
        widget.setText(old)
    assert not window.runner.busy


def test_engine_errors_leave_the_window_usable(make_workbench, qtbot):
    window = make_workbench()
    panel = window.network_panel
    _small_coba(panel, duration="10", record="0, 999999")  # beyond the 500 neurons
    with qtbot.waitSignal(window.runner.failed, timeout=120000) as failed:
        assert panel.run()
    assert "999999" in failed.args[0]
    assert "Failed" in panel.summary.text()
    boxes = [w for w in window.findChildren(QMessageBox) if w.objectName() == "errorDialog"]
    assert boxes and "999999" in boxes[-1].text()
    boxes[-1].close()
    assert panel.run_button.isEnabled() and window.session.network is None


def test_form_helpers():
    assert parse_indices("0-3, 7; 7") == [0, 1, 2, 3, 7]
    assert live_chunk_ms(1000.0, 0.1, 1000.0) == pytest.approx(100.0)
    assert live_chunk_ms(100000.0, 0.1, 1000.0) == pytest.approx(1000.0)
    n = round(333.3 / 0.1)
    assert n % round(live_chunk_ms(333.3, 0.1, 1000.0) / 0.1) == 0
