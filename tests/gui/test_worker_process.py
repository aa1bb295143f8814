"""The window's jobs run in the engine's worker process: a fit's events and result come through
the pipe, cancel hands back the best so far within a second, a job that ignores cancel is killed
and its worker replaced, a worker that dies is a message, and the window lives through all of it.
"""

from __future__ import annotations

import os
import pickle
import threading
import time

import numpy as np
import pytest
from PyQt6.QtWidgets import QMainWindow, QMessageBox

from core.engine import LocalEngine, ThreadEngine
from tests import engine_jobs as J
from tests.gui.flows import setup_short_gif_fit
from tests.leaks import Snapshot, assert_no_leaks, new_threads
from workbench.resources import example_recording_path
from workbench.runner import JobRunner, close_engine


def _error_dialogs(window):
    return [w for w in window.findChildren(QMessageBox) if w.objectName() == "errorDialog"]


def _with_example(make_workbench, qtbot):
    window = make_workbench()
    window.open_recording(example_recording_path())
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=120000)  # the model preview
    return window


def test_the_window_runs_its_jobs_in_the_worker_process(make_workbench, engine):
    window = make_workbench()
    assert window.runner.engine is engine and isinstance(engine, LocalEngine)
    assert engine.worker_pid not in (None, os.getpid())


def test_a_fits_events_and_result_arrive_through_the_process(make_workbench, qtbot, engine):
    window = _with_example(make_workbench, qtbot)
    setup_short_gif_fit(window, ("lbfgsb",), 40)
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=60000)
    events = []
    with qtbot.waitSignal(window.runner.finished, timeout=180000) as done:
        assert window.fits.start()
        job = window.runner.current
        assert job is not None and job.name == "compare" and job.handle.engine is engine
        job.progress.connect(events.append)
    comparison = done.args[0]
    assert job.state == "finished" and job.handle.n_events == len(events) > 0
    fit = comparison.fits[0]
    assert fit.method == "lbfgsb" and fit.loss < fit.start_loss
    assert events[-1].best_loss == pytest.approx(min(f.loss for f in comparison.fits), rel=1e-6)
    assert window.convergence.n_points() > 0
    assert window.session.comparison is comparison  # the controller stored what the worker sent


def test_cancel_returns_the_partial_best_within_one_second(make_workbench, qtbot):
    window = _with_example(make_workbench, qtbot)
    setup_short_gif_fit(window, ("de", "pso"), 5000)
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=60000)
    before = Snapshot.take(with_windows=False)
    assert window.fits.start()
    qtbot.waitUntil(lambda: window.convergence.n_points() >= 3, timeout=120000)
    with qtbot.waitSignal(window.runner.cancelled, timeout=10000) as cancelled:
        t0 = time.perf_counter()
        window.optimizer_panel.cancel_button.click()
    assert time.perf_counter() - t0 < 1.0
    partial = cancelled.args[0]
    assert partial is not None and partial.fits and partial.cancelled
    assert all(np.isfinite(f.loss) for f in partial.fits)
    assert window.optimizer_panel.run_button.isEnabled()
    assert not new_threads(before), "the GUI process started no thread for the fit"


def test_a_job_that_ignores_cancel_is_killed_and_the_worker_respawns(make_workbench, qtbot, engine):
    window = _with_example(make_workbench, qtbot)
    first_pid = engine.worker_pid
    restarts = []
    window.runner.worker_restarted.connect(restarts.append)
    with qtbot.waitSignal(window.runner.started, timeout=60000):
        job = window.runner.submit(J.IgnoresCancel(seconds=120))
    assert job
    with qtbot.waitSignals([job.cancelled, window.runner.cancelled, window.runner.idle],
                           timeout=10000, order="strict"):
        t0 = time.perf_counter()
        window.runner.cancel()
    assert time.perf_counter() - t0 < 2.5 + 0.5
    assert job.state == "cancelled" and job.handle.killed and "did not stop" in job.message
    assert restarts and "fresh one" in restarts[0]
    assert engine.worker_pid != first_pid
    with qtbot.waitSignal(window.runner.finished, timeout=120000):  # the new worker serves
        window.request_preview()
    assert window.session.recording is not None


def test_a_job_that_kills_its_worker_fails_and_the_next_job_runs(make_workbench, qtbot, engine):
    window = _with_example(make_workbench, qtbot)
    first_pid = engine.worker_pid
    with qtbot.waitSignal(window.runner.failed, timeout=60000) as failed:
        assert window.runner.submit(J.Exits(1))
    assert "exited with code 1" in failed.args[0] and "exits" in failed.args[0]
    box = _error_dialogs(window)[-1]
    assert "worker process stopped" in box.text()
    box.close()
    with qtbot.waitSignal(window.runner.finished, timeout=120000) as done:
        assert window.runner.submit(J.Echo("alive"))
    assert done.args[0]["value"] == "alive" and done.args[0]["pid"] not in (first_pid, os.getpid())


def test_each_job_has_its_own_signals_and_drop_does_not_wait(make_workbench, qtbot, engine):
    window = _with_example(make_workbench, qtbot)
    runner = window.runner
    seen = []
    for name in ("started", "finished", "cancelled", "failed"):  # model previews left out
        getattr(runner, name).connect(
            lambda *a, n=name: seen.append(n) if runner.job_name != "preview" else None)
    slow = runner.submit(J.IgnoresCancel(seconds=120, name="stubborn"))
    with qtbot.waitSignal(slow.started, timeout=60000):
        pass
    t0 = time.perf_counter()
    runner.drop(slow)
    assert time.perf_counter() - t0 < 0.2  # the GUI thread did not wait for it
    assert not runner.busy
    nxt = runner.submit(J.Echo("next"))
    assert nxt and nxt is not slow and runner.job_name == "echo"
    with qtbot.waitSignals([slow.cancelled, nxt.started, nxt.progress, nxt.finished],
                           timeout=30000, order="strict"):
        pass
    assert nxt.handle.value["value"] == "next"
    qtbot.waitUntil(lambda: seen[-1:] == ["finished"], timeout=5000)
    # the dropped job's end is on its own handle only, never on the runner's signals
    assert seen == ["started", "started", "finished"]
    # queued jobs run in order; submit without queue=True still refuses while busy; idle comes
    # once nothing is left; a job submitted with broadcast=False speaks on its handle only
    idles = []
    runner.idle.connect(lambda: idles.append(runner.busy))
    a = runner.submit(J.Steps(n=20, dt=0.01))
    assert runner.submit(J.Echo()) is False
    b = runner.submit(J.Echo("b"), queue=True)
    c = runner.submit(J.Echo("quiet"), queue=True, broadcast=False)
    with qtbot.waitSignals([a.finished, b.finished, c.finished, runner.idle], timeout=30000,
                           order="strict"):
        pass
    assert idles == [False] and not runner.busy
    # drop() also takes a queued job (by name or handle) out of the queue
    d = runner.submit(J.Steps(n=30, dt=0.01))
    e = runner.submit(J.Echo("superseded", name="setup"), queue=True)
    runner.drop("setup")
    assert runner.busy and runner.job_name == "steps" and e.detached
    with qtbot.waitSignals([e.cancelled, d.finished], timeout=30000, order="strict"):
        pass
    assert e.handle.started_at is None  # it never ran
    # a, b and d on the runner's signals; c (broadcast=False) and the dropped e not
    assert seen == ["started", "started", "finished"] + ["started", "finished"] * 3


def test_the_thread_engine_stays_selectable(qtbot):
    engine = ThreadEngine()
    runner = JobRunner(engine=engine)
    try:
        with qtbot.waitSignal(runner.finished, timeout=10000) as done:
            assert runner.submit(J.Echo("here"))
        assert done.args[0]["pid"] == os.getpid()
        assert runner.shutdown(5000)
    finally:
        close_engine(engine)


def test_every_job_the_window_submits_pickles(make_workbench, qtbot, engine):
    from core.fitting.results import FitResult

    window = _with_example(make_workbench, qtbot)
    jobs = []
    original = window.runner.engine.submit

    def spy(job, resources=None):
        jobs.append(job)
        return original(job, resources)

    window.runner.engine.submit = spy
    try:
        setup_short_gif_fit(window, ("lbfgsb",), 20)
        qtbot.waitUntil(lambda: not window.runner.busy, timeout=60000)
        with qtbot.waitSignal(window.runner.finished, timeout=180000):
            assert window.fits.start()
        qtbot.waitUntil(lambda: not window.runner.busy, timeout=60000)  # the fitted preview
        window.session.results.append(FitResult(
            method="lbfgsb", seed=0, model="gif", free=["R"], params={}, fitted={"R": 100.0},
            loss=1.0, objective=1.0, gamma=1.0, gamma_loss=0.0, n_model_spikes=0,
            n_data_spikes=0, evaluations=1, iterations=1, seconds=0.0, compile_seconds=0.0,
            start_loss=2.0))
        with qtbot.waitSignal(window.runner.finished, timeout=120000):
            assert window.validate_on(example_recording_path(), sweeps=(2,))
        panel = window.network_panel
        panel.select_template("coba")
        panel.set_parameter("n_exc", 80)
        panel.set_parameter("n_inh", 20)
        panel.duration.setText("20")
        panel.record.setText("0, 1")
        with qtbot.waitSignal(window.runner.finished, timeout=120000):
            assert panel.run()
    finally:
        del window.runner.engine.submit
    names = {type(j).__name__ for j in jobs}
    assert {"CompareJob", "SimulateRecordingJob", "PredictJob"} <= names, names
    assert any("Simulate" in n and n != "SimulateRecordingJob" for n in names), names
    for job in jobs:
        again = pickle.loads(pickle.dumps(job))
        assert type(again) is type(job) and again.name == job.name


def test_the_leak_check_sees_daemon_threads_processes_and_windows(qtbot):
    """The fixture's check is not blind: each kind of leak makes it fail."""
    import multiprocessing

    before = Snapshot.take()
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, daemon=True)
    t.start()
    with pytest.raises(AssertionError, match="threads leaked"):
        assert_no_leaks(before, settle_s=0.1)
    stop.set()
    t.join()
    proc = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(30,), daemon=True)
    proc.start()
    try:
        with pytest.raises(AssertionError, match="child processes leaked"):
            assert_no_leaks(before, settle_s=0.1)
    finally:
        proc.kill()
        proc.join()
    window = QMainWindow()
    try:
        with pytest.raises(AssertionError, match="windows leaked"):
            assert_no_leaks(before, settle_s=0.1)
    finally:
        window.deleteLater()
    assert_no_leaks(before)  # and once all is cleaned up it passes
