"""The Speed panel through the real JobRunner and worker process, at tiny sizes: the plots get
their points while the race runs and draw exactly what was measured, the result lines come from
the race's result (speed-up, identical outputs), cancel keeps what was measured, bad sizes are
refused with a message, a race that fails in the worker leaves the panel usable."""

from __future__ import annotations

import numpy as np
import pytest

from core.training.speed import (
    FeedForwardRaceResult,
    MemoryRaceResult,
    SpeedSample,
    SynapseRaceJob,
    SynapseRaceResult,
)
from tests.leaks import Snapshot, assert_no_leaks
from workbench.panels.speed import SpeedPanel

TIMEOUT = 180_000


@pytest.fixture
def panel(qtbot, engine):
    from workbench.runner import JobRunner

    before = Snapshot.take()
    runner = JobRunner(engine=engine)
    widget = SpeedPanel(runner)
    qtbot.addWidget(widget)
    widget.resize(1200, 800)
    widget.show()
    yield widget
    assert runner.shutdown(30000), "a race did not end"
    assert not engine.busy
    assert_no_leaks(before, allowed_children=(engine.worker_pid,))


def _tiny_network(panel, repeats=4):
    panel.depth.setValue(2)
    panel.width.setValue(16)
    panel.T.setValue(10)
    panel.batch.setValue(2)
    panel.repeats.setValue(repeats)


def _watch(panel):
    """Points on the plot each time a sample arrives (the panel's slot runs first)."""
    seen = []
    panel._handle.progress.connect(
        lambda e: seen.append((e.kind, panel.plots.n_points(e.race)))
        if isinstance(e, SpeedSample) else None)
    return seen


def test_feedforward_race_plots_live_and_shows_the_speedup(panel, qtbot):
    _tiny_network(panel)
    messages = []
    panel.message.connect(messages.append)
    with qtbot.waitSignal(panel.race_finished, timeout=TIMEOUT) as done:
        assert panel.run("feedforward")
        assert not panel.run_buttons["feedforward"].isEnabled()
        assert panel.cancel_buttons["feedforward"].isEnabled()
        assert not panel.cancel_buttons["synapse"].isEnabled()
        assert not panel.run("synapse")  # one race at a time
        seen = _watch(panel)
    race, result = done.args
    assert race == "feedforward" and isinstance(result, FeedForwardRaceResult)
    assert not result.cancelled and result.identical is True
    # live: the plot had one more point after each timed batch, as it arrived
    assert [n for kind, n in seen if kind == "time"] == list(range(1, 9))
    for mode in ("layer_first", "step_first"):
        x, y = panel.plots.shown("feedforward", mode)
        np.testing.assert_array_equal(x, [1, 2, 3, 4])
        np.testing.assert_allclose(y, 1e3 * np.asarray(result.times_s[mode]))
        assert panel.plots.medians[mode].value() == pytest.approx(result.median_ms(mode))
    line = panel.lines["feedforward"].text()
    assert "speed-up" in line and f"{result.speedup:.2f}×" in line
    assert "identical spikes and outputs: yes" in line and "16-16-16-10" in line
    assert "compile" in line
    assert any("compiled" in m for m in messages)
    assert panel.run_buttons["feedforward"].isEnabled()
    assert not any(b.isEnabled() for b in panel.cancel_buttons.values())
    assert panel.results["feedforward"] is result


def test_synapse_and_memory_races_draw_their_results(panel, qtbot):
    panel.syn_n.setValue(300)
    panel.syn_p.setText("0.05")
    panel.syn_active.setText("0.05")
    panel.syn_repeats.setValue(3)
    with qtbot.waitSignal(panel.race_finished, timeout=TIMEOUT) as done:
        assert panel.run("synapse")
    syn = done.args[1]
    assert panel.tabs.currentIndex() == 1  # running a race shows its page
    assert panel.ci is panel.plots.views["synapse"].ci  # what File > Export figure exports
    assert isinstance(syn, SynapseRaceResult) and syn.max_abs_err < 1e-4
    heights = panel.plots.bars.opts["height"]
    assert list(heights) == pytest.approx([syn.median_ms("event"), syn.median_ms("dense")])
    for s in ("event", "dense"):
        np.testing.assert_allclose(panel.plots.shown("synapse", s)[1],
                                   1e3 * np.asarray(syn.times_s[s]))
    assert "300 × 300" in panel.lines["synapse"].text()
    assert f"{syn.speedup:.2f}×" in panel.lines["synapse"].text()

    panel.mem_T.setText("120, 80")
    panel.mem_batch.setValue(2)
    panel.mem_neurons.setValue(20)
    with qtbot.waitSignal(panel.race_finished, timeout=TIMEOUT) as done:
        assert panel.run("memory")
    mem = done.args[1]
    assert isinstance(mem, MemoryRaceResult) and [r["T"] for r in mem.rows] == [80, 80, 120, 120]
    for v in ("bptt", "online"):
        T, peak = mem.series(v)
        x, y = panel.plots.shown("memory", v)
        np.testing.assert_array_equal(x, T)
        np.testing.assert_allclose(y, peak)
    assert "BPTT/online" in panel.lines["memory"].text()
    assert f"{mem.ratio_at_longest():.2f}×" in panel.lines["memory"].text()
    # the first race's line and points are untouched by the others
    assert panel.lines["feedforward"].text().endswith("not run yet.")


def test_cancel_keeps_what_was_measured(panel, qtbot):
    _tiny_network(panel, repeats=1000)
    with qtbot.waitSignal(panel.race_finished, timeout=TIMEOUT) as done:
        assert panel.run("feedforward")
        qtbot.waitUntil(lambda: panel.plots.n_points("feedforward") >= 3, timeout=TIMEOUT)
        assert "so far" in panel.lines["feedforward"].text()
        panel.cancel_buttons["feedforward"].click()
    result = done.args[1]
    assert result.cancelled
    n = len(result.times_s["layer_first"]) + len(result.times_s["step_first"])
    assert 3 <= n < 2000
    assert panel.plots.n_points("feedforward") == n  # nothing drawn that is not in the result
    assert "cancelled" in panel.lines["feedforward"].text()
    assert "cancelled" in panel.status.text()
    assert panel.run_buttons["feedforward"].isEnabled() and not panel.runner.busy

    # a new run starts from a clean plot
    _tiny_network(panel, repeats=2)
    with qtbot.waitSignal(panel.race_finished, timeout=TIMEOUT):
        assert panel.run("feedforward")
    assert panel.plots.n_points("feedforward") == 4


@pytest.mark.parametrize("setup, race, needle", [
    (lambda p: p.mem_T.setText("100, abc"), "memory", "'abc' is not a number"),
    (lambda p: p.mem_T.setText("10"), "memory", "T must lie in"),
    (lambda p: p.mem_T.setText(" "), "memory", "at least one"),
    (lambda p: p.syn_p.setText("2"), "synapse", "(0, 1]"),
    (lambda p: p.syn_active.setText("x"), "synapse", "active fraction"),
    (lambda p: [p.depth.setValue(8), p.width.setValue(4096), p.T.setValue(2000),
                p.batch.setValue(512)], "feedforward", "GiB"),
])
def test_bad_input_gives_a_message(panel, setup, race, needle):
    messages = []
    panel.message.connect(messages.append)
    setup(panel)
    assert not panel.run(race)
    assert needle in panel.status.text() and needle in messages[-1]
    assert "not run" in panel.status.text()
    assert not panel.runner.busy and not panel.running
    assert panel.run_buttons[race].isEnabled()


def test_a_race_that_fails_in_the_worker_leaves_the_panel_usable(panel, qtbot, monkeypatch):
    def broken(race):
        job = SynapseRaceJob(n=50, repeats=1)
        job.p = 2.0  # past the form's checks: CSR.random refuses it in the worker
        return job

    monkeypatch.setattr(panel, "make_job", broken)
    assert panel.run("synapse")
    qtbot.waitUntil(lambda: not panel.running, timeout=TIMEOUT)
    assert "failed" in panel.lines["synapse"].text() and "p must lie in" in panel.status.text()
    assert all(b.isEnabled() for b in panel.run_buttons.values())
    assert not any(b.isEnabled() for b in panel.cancel_buttons.values())
    assert "synapse" not in panel.results
