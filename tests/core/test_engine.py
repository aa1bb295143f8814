"""The local engine: jobs run in one persistent, spawned worker process; events come back at a
bounded rate; cancel is cooperative, then forced; a dying worker costs one job, not the caller."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core.engine import EngineError, JobFailed, LocalEngine, ThreadEngine
from tests import engine_jobs as J

EXAMPLE = Path(__file__).resolve().parents[2] / "resources" / "examples" / "example_cell.h5"


@pytest.fixture(scope="module")
def engine():
    """One worker for the module (spawning one costs seconds); tests that kill it get a new one."""
    eng = LocalEngine(warm=("jax",), warm_idle=())
    restarts = []
    eng.add_restart_callback(restarts.append)
    eng.restart_messages = restarts
    yield eng
    eng.close()
    assert eng._proc is None


def _wait_events(handle, n, timeout=30.0):
    deadline = time.monotonic() + timeout
    while handle.n_events < n and time.monotonic() < deadline and not handle.done():
        handle.engine.poll(0.05)
    assert handle.n_events >= n, f"{handle} sent only {handle.n_events} events"


def test_events_and_result_arrive_through_the_worker_process(engine):
    seen = {"started": 0, "events": [], "done": []}
    handle = engine.submit(J.Echo("hello"))
    handle.add_started_callback(lambda h: seen.__setitem__("started", seen["started"] + 1))
    handle.add_event_callback(lambda h, e: seen["events"].append(e))
    handle.add_done_callback(seen["done"].append)
    assert not seen["done"]  # callbacks never run inside submit
    value = handle.result(timeout=120)
    assert value["value"] == "hello"
    assert value["pid"] == engine.worker_pid != os.getpid()
    assert handle.state == "finished" and seen["started"] == 1 and seen["done"] == [handle]
    assert [e.message for e in seen["events"]] == ["echo"]
    assert engine.startup_seconds is not None and engine.startup_seconds > 0
    assert engine.worker_info["pid"] == engine.worker_pid
    late = []
    handle.add_done_callback(late.append)  # registered after the end: called at the next poll
    engine.poll()
    assert late == [handle]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_worker_is_spawned_not_forked_and_runs_at_lower_priority(engine):
    engine.submit(J.Echo()).result(timeout=120)
    cmdline = Path(f"/proc/{engine.worker_pid}/cmdline").read_bytes().replace(b"\0", b" ")
    assert b"multiprocessing.spawn" in cmdline  # a fresh interpreter, not a fork of this one
    assert os.getpriority(os.PRIO_PROCESS, engine.worker_pid) > os.getpriority(os.PRIO_PROCESS, 0)


def test_a_fit_runs_in_the_worker_with_its_events_and_result(engine):
    from core.events import FitProgress
    from core.fitting.jobs import FitJob
    from core.io import open_recording

    rec = open_recording(str(EXAMPLE))
    job = FitJob(rec, "lif", ["R", "V_rest"], method="lbfgsb", budget=40, sweeps=(0,),
                 window=(0.0, 200.0), uncertainty=False, preview_interval=0.0)
    events = []
    handle = engine.submit(job)
    handle.add_event_callback(lambda h, e: events.append(e))
    fit = handle.result(timeout=300)
    assert handle.state == "finished" and fit.method == "lbfgsb"
    assert np.isfinite(fit.loss) and fit.loss < fit.start_loss
    progress = [e for e in events if isinstance(e, FitProgress)]
    assert progress and progress[-1].best_loss == pytest.approx(fit.loss, rel=1e-6)
    assert all(np.diff([e.best_loss for e in progress]) <= 1e-12)
    previews = [e.preview for e in progress if e.preview is not None]
    assert previews and isinstance(previews[-1], np.ndarray)  # NumPy, never JAX


def test_cancel_returns_the_partial_result_within_one_second(engine):
    handle = engine.submit(J.PartialSteps(n=100000, dt=0.005))
    _wait_events(handle, 3)
    t0 = time.perf_counter()
    handle.cancel()
    value = handle.result(timeout=10)
    assert time.perf_counter() - t0 < 1.0
    assert handle.state == "cancelled" and not handle.killed
    assert value["cancelled"] and value["best"] is not None and value["best"] >= 2
    before = engine.worker_pid
    assert engine.submit(J.Echo()).result(timeout=30)["pid"] == before  # same worker


def test_a_cancelled_job_raising_jobcancelled_hands_back_its_partial(engine):
    handle = engine.submit(J.RaisesCancelled())
    while handle.state == "queued":
        engine.poll(0.05)
    handle.cancel()
    assert handle.result(timeout=10) == {"kept": 42} and handle.state == "cancelled"


def test_a_job_that_ignores_cancel_is_killed_and_the_worker_respawns(engine):
    first = engine.submit(J.Echo()).result(timeout=120)["pid"]
    restarts = len(engine.restart_messages)
    handle = engine.submit(J.IgnoresCancel(seconds=60))
    _wait_events(handle, 1)
    t0 = time.perf_counter()
    handle.cancel()
    assert handle.result(timeout=10) is None
    waited = time.perf_counter() - t0
    assert 1.9 < waited < 2.5 + 0.5  # the grace period, then the kill
    assert handle.state == "cancelled" and handle.killed
    assert "did not stop within 2 s" in handle.message
    assert len(engine.restart_messages) == restarts + 1
    again = engine.submit(J.Echo("next")).result(timeout=120)
    assert again["value"] == "next" and again["pid"] != first


def test_a_job_may_declare_a_longer_cancel_grace(engine):
    handle = engine.submit(J.SlowToStop(stop_seconds=3.0, cancel_grace=10.0))
    _wait_events(handle, 1)
    t0 = time.perf_counter()
    handle.cancel()
    value = handle.result(timeout=20)
    assert 2.9 < time.perf_counter() - t0 < 9.0  # past the engine's 2 s, within the job's 10
    assert handle.state == "cancelled" and not handle.killed
    assert value["kept"] == "best weights"


def test_hard_cancel_kills_at_once(engine):
    handle = engine.submit(J.IgnoresCancel(seconds=60))
    _wait_events(handle, 1)
    t0 = time.perf_counter()
    handle.cancel(hard=True)
    handle.result(timeout=5)
    assert time.perf_counter() - t0 < 1.0 and handle.killed and handle.state == "cancelled"
    assert engine.submit(J.Echo(1)).result(timeout=120)["value"] == 1


@pytest.mark.parametrize("job, needle", [(J.Exits(1), "exited with code 1"),
                                         (J.Segfaults(), "SIGSEGV")])
def test_a_dying_worker_fails_its_job_and_the_next_job_runs(engine, job, needle):
    first = engine.submit(J.Echo()).result(timeout=120)["pid"]
    handle = engine.submit(job)
    queued = engine.submit(J.Echo("after"))  # waiting behind the job that kills the worker
    with pytest.raises(JobFailed, match=needle):
        handle.result(timeout=60)
    assert handle.state == "failed" and f"'{job.name}'" in handle.message
    assert "fresh worker" in handle.message
    value = queued.result(timeout=120)
    assert value["value"] == "after" and value["pid"] != first


def test_errors_become_messages_with_details_for_the_unexpected(engine):
    expected = engine.submit(J.Fails(expected=True))
    with pytest.raises(JobFailed, match="tau_m must be > 0") as info:
        expected.result(timeout=60)
    assert info.value.details == ""
    unexpected = engine.submit(J.Fails(expected=False))
    with pytest.raises(JobFailed, match="RuntimeError: boom inside the engine") as info:
        unexpected.result(timeout=60)
    assert "Traceback" in info.value.details and "engine_jobs.py" in info.value.details


def test_what_cannot_be_pickled_fails_with_a_message(engine):
    bad = J.Echo(value=lambda: None)
    handle = engine.submit(bad)
    with pytest.raises(JobFailed, match="cannot be sent to the engine's worker process"):
        handle.result(timeout=5)
    result = engine.submit(J.Unpicklable())
    with pytest.raises(JobFailed, match="cannot be sent back"):
        result.result(timeout=60)
    assert engine.submit(J.Echo(3)).result(timeout=60)["value"] == 3


def test_events_are_rate_bounded_and_the_last_one_always_arrives(engine):
    handle = engine.submit(J.Burst(n=20000))
    events = []
    handle.add_event_callback(lambda h, e: events.append(e))
    assert handle.result(timeout=60) == 20000
    de = [e for e in events if e.method == "de"]
    assert len(de) < 2000, "latest-wins per stream: a burst is not forwarded event by event"
    assert de[-1].evaluations == 20000  # the last one is never dropped
    assert [e.evaluations for e in de] == sorted(e.evaluations for e in de)
    assert [e.method for e in events if e.method == "pso"] == ["pso"]


def test_jobs_queue_in_order_and_a_queued_job_can_be_cancelled(engine):
    order = []
    handles = [engine.submit(J.Echo(k)) for k in range(3)]
    for h in handles:
        h.add_done_callback(lambda h: order.append(h.value["value"] if h.value else None))
    handles[1].cancel()
    for h in handles:
        h.result(timeout=60)
    assert order == [None, 0, 2]  # the queued job ends at once, the others in order
    assert handles[1].state == "cancelled" and handles[1].started_at is None


def test_close_stops_the_worker_and_refuses_new_jobs():
    eng = LocalEngine(warm=(), warm_idle=(), start=False)
    assert eng.worker_pid is None  # spawned at the first submit
    h = eng.submit(J.PartialSteps(n=100000, dt=0.005))
    _wait_events(h, 1, timeout=120)
    pid = eng.worker_pid
    eng.close(timeout=5)
    assert h.state == "cancelled" and h.value["cancelled"]  # it stopped cooperatively
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # gone and reaped
    with pytest.raises(EngineError, match="closed"):
        eng.submit(J.Echo())


def test_thread_engine_has_the_same_interface():
    eng = ThreadEngine()
    try:
        assert eng.submit(J.Echo("x")).result(timeout=10)["pid"] == os.getpid()
        h = eng.submit(J.PartialSteps(n=100000, dt=0.002))
        _wait_events(h, 3)
        h.cancel()
        assert h.result(timeout=5)["cancelled"] and h.state == "cancelled"
        with pytest.raises(JobFailed, match="tau_m"):
            eng.submit(J.Fails()).result(timeout=5)
    finally:
        eng.close()


def test_the_optimizers_are_imported_while_the_worker_waits():
    eng = LocalEngine(warm=(), warm_idle=("nevergrad", "skopt"))
    try:
        first = eng.submit(J.Imported(("nevergrad", "skopt"))).result(timeout=120)
        assert eng.worker_info["modules"] == []  # ready before importing them
        deadline = time.monotonic() + 120
        seen = first
        while not all(seen.values()) and time.monotonic() < deadline:
            time.sleep(0.5)
            seen = eng.submit(J.Imported(("nevergrad", "skopt"))).result(timeout=120)
        assert all(seen.values()), seen
    finally:
        eng.close()
