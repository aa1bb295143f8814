"""Where jobs run: an :class:`Engine` takes a job and gives back a :class:`JobHandle`.

``engine.submit(job)`` accepts any picklable object with ``run(report, is_cancelled) -> result``
(:mod:`core.jobs`) and returns at once. Engines run one job at a time, in submission order.

- :class:`LocalEngine` (the default): one persistent worker process, *spawned* (never forked: JAX
  and Qt do not survive a fork), at lower priority, with JAX, its persistent compilation cache,
  nevergrad and scikit-optimize imported once (the optimizers while it waits for its first
  fit). Events come back over a pipe at a bounded rate;
  cancel is a shared flag that ``is_cancelled()`` reads; a job that has not returned
  ``cancel_grace`` s after a cancel (or the job's own ``cancel_grace`` attribute, when longer:
  a training step that takes seconds), or a worker that dies (``os._exit``, a segfault, XLA out of
  memory), costs that job and nothing else: the worker is replaced and the next job runs.
- :class:`ThreadEngine`: the same interface on a Python thread of this process (notebooks,
  scripts, and the baseline the GUI-latency benchmark measures the worker process against). It
  cannot kill a job that ignores cancel.

Engines own no thread in the caller's process (the worker process has one, for sending events).
They are driven by whoever owns them, from one thread: :meth:`poll` reads what the worker sent
and calls the handles' callbacks; :meth:`fileno` is a descriptor that becomes readable when there
is something to read (the workbench watches it with a ``QSocketNotifier``); ``handle.result()``
polls by itself. Callbacks never run inside :meth:`submit`.

Event rate: the worker sends at most one batch of events per ``event_interval`` s. Within a batch
the latest event of a kind replaces older ones of the same kind (kind: the event's class and job,
and for :class:`~core.events.FitProgress` the method and seed). The last event of a job always
arrives, before its result. Events that carry their own data (a network chunk's spikes: a
:class:`~core.events.SimulationProgress` with a ``preview``, or any event class with
``coalesce = False``) and objects that are not :class:`~core.events.Event` are never dropped.

The Dask engine of issue 16 implements the same :class:`Engine` protocol.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import os
import pickle
import signal
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing import connection as mp_connection
from typing import Any, Protocol

from ._worker import (
    CANCELLED,
    ENDED,
    FAILED,
    FINISHED,
    QUEUED,
    RUNNING,
    _outcome,
    worker_main,
)
from .errors import BrainfitError

#: seconds a job has to return after a cooperative cancel before its worker is killed
CANCEL_GRACE_S = 2.0
#: at most one batch of events per this many seconds (50 Hz)
EVENT_INTERVAL_S = 0.02
#: how much lower the worker's priority is than the window's (``BRAINFIT_WORKER_NICE`` overrides)
WORKER_NICE = 5
#: modules the worker imports before it says it is ready (what a model preview needs) ...
WARM_MODULES = ("jax", "core.integrate")
#: ... and those it imports afterwards while it has no job (the optimizers: a first preview
#: does not wait for them, a first fit finds them imported)
WARM_IDLE_MODULES = ("core.fitting", "core.features", "scipy.stats", "nevergrad", "skopt")



class EngineError(BrainfitError):
    """The engine could not run a job (it cannot be sent, its worker died or would not start)."""


class JobFailed(BrainfitError):
    """Raised by :meth:`JobHandle.result` for a failed job; ``details`` holds the traceback."""

    def __init__(self, message: str, details: str = ""):
        super().__init__(message)
        self.details = details


# --------------------------------------------------------------------------------------------
# the handle and the protocol
# --------------------------------------------------------------------------------------------
class JobHandle:
    """One submitted job: its state, outcome, last event, callbacks and cancel.

    ``state`` goes ``queued`` -> ``running`` -> ``finished`` | ``cancelled`` | ``failed``. When it
    has ended, ``value`` is the job's result (for ``cancelled``: the partial result, or None),
    ``message``/``details`` say why it failed or how it was stopped. Callbacks take the handle
    (event callbacks: the handle and the event) and run on the thread that polls the engine.
    """

    def __init__(self, engine: Any, job_id: int, name: str, resources: Any = None):
        self.engine = engine
        self.id = job_id
        self.name = name
        self.resources = resources
        self.state = QUEUED
        self.value: Any = None
        self.message = ""
        self.details = ""
        self.killed = False  # stopped by killing its worker (cancel ignored, or hard=True)
        self.last_event: Any = None
        self.n_events = 0
        self.cancel_requested = False
        self.cancel_grace: float | None = None  # the job's own (longer) grace, if it declares one
        self.submitted_at = time.perf_counter()
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self._started: list[Callable] = []
        self._events: list[Callable] = []
        self._done: list[Callable] = []

    def __repr__(self) -> str:
        return f"<JobHandle {self.id} {self.name!r} {self.state}>"

    # ---- callbacks --------------------------------------------------------------------------
    def add_started_callback(self, fn: Callable[[JobHandle], None]) -> None:
        self._started.append(fn)

    def add_event_callback(self, fn: Callable[[JobHandle, Any], None]) -> None:
        self._events.append(fn)

    def add_done_callback(self, fn: Callable[[JobHandle], None]) -> None:
        """``fn(handle)`` once the job has ended (at the next poll if it already has)."""
        if self.done():
            self.engine._later(lambda: fn(self))
        else:
            self._done.append(fn)

    # ---- state ------------------------------------------------------------------------------
    def done(self) -> bool:
        return self.state in ENDED

    @property
    def cancelled(self) -> bool:
        return self.state == CANCELLED

    def cancel(self, hard: bool = False) -> None:
        """Ask the job to stop (``is_cancelled()`` turns true); it returns its partial result.
        ``hard=True`` does not wait: the worker running it is killed at once (LocalEngine)."""
        self.engine._cancel(self, hard)

    def result(self, timeout: float | None = None) -> Any:
        """Wait (polling the engine) until the job ends. Returns its result, or its partial
        result when cancelled; raises :class:`JobFailed` when it failed and ``TimeoutError``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.done():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError(f"job {self.name!r} still {self.state} after {timeout} s")
            self.engine.poll(0.05 if left is None else min(0.05, left))
        if self.state == FAILED:
            raise JobFailed(self.message, self.details)
        return self.value

    # ---- called by the engine ---------------------------------------------------------------
    def _set_started(self) -> None:
        self.state = RUNNING
        self.started_at = time.perf_counter()
        for fn in list(self._started):
            fn(self)

    def _set_event(self, event: Any) -> None:
        self.last_event = event
        self.n_events += 1
        for fn in list(self._events):
            fn(self, event)

    def _set_done(self, state: str, value: Any = None, message: str = "", details: str = "") -> None:
        if self.done():
            return
        self.state, self.value, self.message, self.details = state, value, message, details
        self.ended_at = time.perf_counter()
        callbacks, self._done = self._done, []
        for fn in callbacks:
            fn(self)


class Engine(Protocol):
    """Runs jobs somewhere; what issue 16's Dask engine implements too."""

    def submit(self, job: Any, resources: Any = None) -> JobHandle: ...

    def close(self, timeout: float = 5.0) -> None: ...


def _job_name(job: Any) -> str:
    return str(getattr(job, "name", type(job).__name__))


def _wake_pair():
    """A connected, non-blocking socket pair (works with select and QSocketNotifier on every
    platform, unlike a pipe on Windows)."""
    import socket

    r, w = socket.socketpair()
    r.setblocking(False)
    w.setblocking(False)
    return r, w


def _wake(sock) -> None:
    with contextlib.suppress(OSError):  # full (already awake) or closed
        sock.send(b"x")


def _drain(sock) -> None:
    with contextlib.suppress(OSError):
        while sock.recv(4096):
            pass


class _EngineBase:
    """Queue, handles and deferred callbacks shared by the engines."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._queue: collections.deque[tuple[JobHandle, Any]] = collections.deque()
        self._current: JobHandle | None = None
        self._deferred: list[Callable[[], None]] = []
        self._restart_callbacks: list[Callable[[str], None]] = []
        self.closed = False

    @property
    def busy(self) -> bool:
        """A job runs or waits."""
        return self._current is not None or bool(self._queue)

    @property
    def current(self) -> JobHandle | None:
        return self._current

    def add_restart_callback(self, fn: Callable[[str], None]) -> None:
        """``fn(message)`` whenever the engine replaced its worker (a killed or dead worker)."""
        self._restart_callbacks.append(fn)

    def remove_restart_callback(self, fn: Callable[[str], None]) -> None:
        with contextlib.suppress(ValueError):
            self._restart_callbacks.remove(fn)

    def _later(self, fn: Callable[[], None]) -> None:
        self._deferred.append(fn)
        self._wake()

    def _wake(self) -> None:  # make fileno() readable so that the owner polls soon
        pass

    def _run_deferred(self) -> bool:
        ran = False
        while self._deferred:
            fn = self._deferred.pop(0)
            fn()
            ran = True
        return ran

    def _new_handle(self, job: Any, resources: Any) -> JobHandle:
        if self.closed:
            raise EngineError("the engine is closed")
        handle = JobHandle(self, next(self._ids), _job_name(job), resources)
        grace = getattr(job, "cancel_grace", None)  # a job whose steps take longer may say so
        handle.cancel_grace = float(grace) if isinstance(grace, (int, float)) else None
        return handle

    def _cancel_queued(self, handle: JobHandle) -> bool:
        for k, (h, _payload) in enumerate(self._queue):
            if h is handle:
                del self._queue[k]
                self._later(lambda: handle._set_done(CANCELLED, None, "cancelled before it started"))
                return True
        return False

    def _notify_restart(self, message: str) -> None:
        for fn in list(self._restart_callbacks):
            fn(message)

    def run(self, job: Any, report: Callable[[Any], None] | None = None,
            timeout: float | None = None) -> Any:
        """Submit ``job``, pass its events to ``report`` and wait for its result (scripts, CLI)."""
        handle = self.submit(job)
        if report is not None:
            handle.add_event_callback(lambda _h, e: report(e))
        return handle.result(timeout)
# --------------------------------------------------------------------------------------------
# the worker process (its body is core._worker)
# --------------------------------------------------------------------------------------------
def _describe_exit(code: int | None) -> str:
    if code is None:
        return "it stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"it was killed by {name}"
    return f"it exited with code {code}"


class LocalEngine(_EngineBase):
    """One persistent worker process (see the module docstring).

    ``nice``: how much lower the worker's priority is (0: the same; None: ``WORKER_NICE`` or the
    environment's ``BRAINFIT_WORKER_NICE``). ``warm``: modules the worker imports before it is
    ready; ``warm_idle``: those it imports afterwards while it has no job. ``start=False`` spawns the worker at the first submit.
    Not thread-safe: submit, poll and cancel from one thread.
    """

    def __init__(self, *, nice: int | None = None, event_interval: float = EVENT_INTERVAL_S,
                 cancel_grace: float = CANCEL_GRACE_S, warm: tuple[str, ...] = WARM_MODULES,
                 warm_idle: tuple[str, ...] = WARM_IDLE_MODULES, start: bool = True):
        super().__init__()
        import multiprocessing

        self._ctx = multiprocessing.get_context("spawn")
        if nice is None:
            try:
                nice = int(os.environ.get("BRAINFIT_WORKER_NICE", WORKER_NICE))
            except ValueError:
                nice = WORKER_NICE
        self.nice = nice
        self.event_interval = event_interval
        self.cancel_grace = cancel_grace
        self.warm = tuple(warm)
        self.warm_idle = tuple(warm_idle)
        self._cancel_flag = self._ctx.RawValue("q", -1)
        self._proc = None
        self._conn = None
        self._dying: list = []  # killed workers not reaped yet
        self._ready = False
        self._spawned_at = 0.0
        self._cancel_deadline: float | None = None
        self._startup_failures = 0
        self.startup_seconds: float | None = None  # spawn -> ready, wall time, of the last start
        self.worker_info: dict = {}
        self.restarts = 0
        self.generation = 0  # +1 per worker started: the owner re-watches fileno()
        self._wake_r, self._wake_w = _wake_pair()
        if start:
            self._spawn()

    # ---- the worker -------------------------------------------------------------------------
    @property
    def worker_pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def ready(self) -> bool:
        return self._ready

    def _spawn(self) -> None:
        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(
            target=worker_main, name="brainfit-worker", daemon=True,
            args=(child, self._cancel_flag, self.event_interval, self.nice, self.warm,
                  self.warm_idle))
        self._spawned_at = time.perf_counter()
        proc.start()
        child.close()  # only the worker holds that end: its death is our EOF
        self._proc, self._conn, self._ready = proc, parent, False
        self.generation += 1

    def _stop_worker(self, kill: bool, wait: float = 0.0) -> int | None:
        """Stop the worker; returns its exit code, or None while it is still on its way out
        (it is then reaped by a later poll: the caller's thread never waits long for it)."""
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        self._ready = False
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()
        if proc is None:
            return None
        if kill and proc.is_alive():
            proc.kill()
        proc.join(wait)
        code = proc.exitcode
        if code is None:
            self._dying.append(proc)
            return None
        with contextlib.suppress(Exception):
            proc.close()
        return code

    def _reap(self, wait: float = 0.0) -> None:
        deadline = time.monotonic() + wait
        for proc in list(self._dying):
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.exitcode is None and wait > 0:
                proc.kill()
                proc.join(1.0)
            if proc.exitcode is not None:
                self._dying.remove(proc)
                with contextlib.suppress(Exception):
                    proc.close()

    def _replace_worker(self, why: str, kill: bool) -> None:
        """Stop the worker (killing it if asked), fail its job with ``why`` and start a new one."""
        code = self._stop_worker(kill)
        self._cancel_deadline = None
        handle, self._current = self._current, None
        self.restarts += 1
        if handle is not None:
            if handle.cancel_requested:
                message = (f"'{handle.name}' did not stop within {self._grace(handle):g} s of "
                           "cancel; its worker process was stopped and a fresh one started")
                handle.killed = True
                self._later(lambda: handle._set_done(CANCELLED, None, message))
            else:
                message = (f"the engine's worker process stopped while running '{handle.name}' "
                           f"({why or _describe_exit(code)}); a fresh worker was started, the "
                           "window and the session are unaffected")
                self._later(lambda: handle._set_done(FAILED, None, message))
        else:
            message = (f"the engine's worker process stopped ({why or _describe_exit(code)}); a "
                       "fresh worker was started")
        self._later(lambda: self._notify_restart(message))
        if not self.closed:
            self._spawn()

    # ---- the protocol -----------------------------------------------------------------------
    def submit(self, job: Any, resources: Any = None) -> JobHandle:
        """Queue ``job``; returns its handle at once. A job that cannot be pickled gives a handle
        that fails (at the next poll) with a message naming what would not pickle."""
        handle = self._new_handle(job, resources)
        try:
            payload = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            message = (f"job '{handle.name}' ({type(job).__name__}) cannot be sent to the engine's "
                       f"worker process: {type(exc).__name__}: {exc}")
            self._later(lambda: handle._set_done(FAILED, None, message, traceback.format_exc()))
            return handle
        if self._proc is None and not self.closed:
            self._spawn()
        self._queue.append((handle, payload))
        self._dispatch_next()
        self._wake()
        return handle

    def _cancel(self, handle: JobHandle, hard: bool) -> None:
        if handle.done():
            return
        handle.cancel_requested = True
        if self._cancel_queued(handle):
            return
        if handle is self._current:
            self._cancel_flag.value = handle.id
            if hard:
                self._replace_worker("cancelled with hard=True", kill=True)
            elif self._cancel_deadline is None:
                self._cancel_deadline = time.monotonic() + self._grace(handle)
            self._wake()

    def _grace(self, handle: JobHandle) -> float:
        """Seconds ``handle``'s job may take to stop after a cancel: the engine's grace, or the
        job's ``cancel_grace`` attribute when longer (a training step of several seconds)."""
        return max(self.cancel_grace, handle.cancel_grace or 0.0)

    def _dispatch_next(self) -> None:
        if self._current is not None or not self._queue or not self._ready or self._conn is None:
            return
        handle, payload = self._queue.popleft()
        self._cancel_flag.value = -1
        self._current = handle
        try:
            self._conn.send_bytes(pickle.dumps(("job", handle.id, payload),
                                               protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:
            self._replace_worker("", kill=True)

    # ---- reading what the worker sent -------------------------------------------------------
    def fileno(self) -> int:
        """The pipe from the current worker (changes when the worker is replaced: see
        ``generation``)."""
        return self._conn.fileno() if self._conn is not None else self._wake_r.fileno()

    def wake_fileno(self) -> int:
        """Readable when callbacks wait for the next :meth:`poll` (stable for the engine's life)."""
        return self._wake_r.fileno()

    def _wake(self) -> None:
        _wake(self._wake_w)

    def _drain_wake(self) -> None:
        _drain(self._wake_r)

    def next_deadline(self) -> float | None:
        """Seconds until the engine must be polled even if nothing arrives (a cancel's grace)."""
        if self._cancel_deadline is None:
            return None
        return max(0.0, self._cancel_deadline - time.monotonic())

    def poll(self, timeout: float = 0.0) -> bool:
        """Handle everything the worker sent (waiting up to ``timeout`` s for the first message)
        and call the callbacks; True if anything happened."""
        self._drain_wake()
        happened = self._run_deferred()
        if self._conn is not None and not happened and timeout > 0:
            left = self.next_deadline()
            wait = timeout if left is None else min(timeout, left)
            mp_connection.wait([self._conn, self._wake_r], wait)
        elif self._conn is None and timeout > 0 and not happened:
            time.sleep(min(timeout, 0.01))
        while self._conn is not None:
            conn = self._conn
            try:
                if not conn.poll(0):
                    break
                data = conn.recv_bytes()
            except (EOFError, OSError):
                self._worker_died()
                happened = True
                break
            try:
                message = pickle.loads(data)
            except Exception as exc:
                message = ("unreadable", f"{type(exc).__name__}: {exc}", traceback.format_exc())
            self._handle(message)
            happened = True
        if (self._cancel_deadline is not None and time.monotonic() >= self._cancel_deadline
                and self._current is not None):
            self._replace_worker("", kill=True)
            happened = True
        self._dispatch_next()
        if self._dying:
            self._reap()
        self._drain_wake()
        return self._run_deferred() or happened

    def _worker_died(self) -> None:
        proc = self._proc
        if proc is not None:
            proc.join(1.0)
        if not self._ready:
            self._startup_failures += 1
        if self._startup_failures >= 2:  # it dies while importing: starting again will not help
            code = self._stop_worker(kill=True)
            message = (f"the engine's worker process could not start ({_describe_exit(code)}); "
                       "see the terminal output for the reason")
            handles = [h for h, _ in self._queue] + ([self._current] if self._current else [])
            self._queue.clear()
            self._current = None
            for h in handles:
                self._later(lambda h=h: h._set_done(FAILED, None, message))
            self._startup_failures = 0
            return
        self._replace_worker("", kill=True)

    def _handle(self, message: tuple) -> None:
        kind = message[0]
        if kind == "ready":
            self._ready = True
            self._startup_failures = 0
            self.worker_info = message[1]
            self.startup_seconds = time.perf_counter() - self._spawned_at
            return
        if kind == "events":
            for job_id, event in message[1]:
                h = self._current
                if h is not None and h.id == job_id:
                    h._set_event(event)
            return
        if kind == "started":
            h = self._current
            if h is not None and h.id == message[1]:
                h._set_started()
            return
        if kind == "done":
            _, job_id, state, value, text, details = message
            h = self._current
            if h is not None and h.id == job_id:
                self._current = None
                self._cancel_deadline = None
                h._set_done(state, value, text, details)
            return
        if kind == "unreadable":  # a result class the GUI side cannot import
            h, self._current = self._current, None
            self._cancel_deadline = None
            if h is not None:
                h._set_done(FAILED, None, f"the worker's answer cannot be read here ({message[1]})",
                            message[2])

    # ---- closing ----------------------------------------------------------------------------
    def close(self, timeout: float = 5.0) -> None:
        """Cancel what is queued and running, stop the worker (killing it after ``timeout``)."""
        if self.closed:
            return
        self.closed = True
        for h, _ in list(self._queue):
            h.cancel_requested = True
            h._set_done(CANCELLED, None, "the engine was closed")
        self._queue.clear()
        h = self._current
        if h is not None:
            h.cancel_requested = True
            self._cancel_flag.value = h.id
            deadline = time.monotonic() + timeout
            while h is self._current and self._conn is not None and time.monotonic() < deadline:
                self.poll(0.05)
        if self._conn is not None and self._ready:  # a worker still importing is just killed
            with contextlib.suppress(OSError):
                self._conn.send_bytes(pickle.dumps(("stop", 0, None)))
            if self._proc is not None:
                self._proc.join(min(timeout, 0.5))
        self._stop_worker(kill=True, wait=1.0)
        self._reap(wait=2.0)
        h, self._current = self._current, None
        if h is not None:
            h._set_done(CANCELLED, None, "the engine was closed")
        self._run_deferred()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:  # a forgotten engine must not keep its worker
        with contextlib.suppress(Exception):
            if not self.closed and self._proc is not None:
                self._proc.kill()
            for proc in self._dying:
                proc.kill()


# --------------------------------------------------------------------------------------------
# the same on a thread
# --------------------------------------------------------------------------------------------
class ThreadEngine(_EngineBase):
    """Runs each job on a Python thread of this process, one at a time (no pickling, no kill:
    ``cancel`` is cooperative only; ``hard`` is ignored)."""

    def __init__(self) -> None:
        super().__init__()
        self._inbox: collections.deque = collections.deque()
        self._thread: threading.Thread | None = None
        self._cancel_set = threading.Event()
        self._wake_r, self._wake_w = _wake_pair()
        self.generation = 1
        self.startup_seconds = 0.0

    def submit(self, job: Any, resources: Any = None) -> JobHandle:
        handle = self._new_handle(job, resources)
        self._queue.append((handle, job))
        self._dispatch_next()
        return handle

    def _post(self, item: tuple) -> None:  # worker thread
        self._inbox.append(item)
        self._wake()

    def _dispatch_next(self) -> None:
        if self._current is not None or not self._queue:
            return
        handle, job = self._queue.popleft()
        self._current = handle
        self._cancel_set = cancel = threading.Event()

        def body() -> None:
            self._post(("started", handle))
            report = lambda event: self._post(("event", handle, event))  # noqa: E731
            self._post(("done", handle, _outcome(lambda: job.run(report, cancel.is_set),
                                                  cancel.is_set)))

        self._thread = threading.Thread(target=body, name=f"brainfit-job-{handle.id}", daemon=True)
        self._thread.start()

    def _cancel(self, handle: JobHandle, hard: bool) -> None:  # type: ignore[override]
        if handle.done():
            return
        handle.cancel_requested = True
        if not self._cancel_queued(handle) and handle is self._current:
            self._cancel_set.set()

    def fileno(self) -> int:
        return self._wake_r.fileno()

    wake_fileno = fileno

    def _wake(self) -> None:
        _wake(self._wake_w)

    def next_deadline(self) -> float | None:
        return None

    def poll(self, timeout: float = 0.0) -> bool:
        if timeout > 0 and not self._inbox and not self._deferred:
            mp_connection.wait([self._wake_r], timeout)
        _drain(self._wake_r)
        happened = self._run_deferred()
        while self._inbox:
            kind, handle, *rest = self._inbox.popleft()
            happened = True
            if kind == "started":
                handle._set_started()
            elif kind == "event":
                handle._set_event(rest[0])
            else:
                thread, self._thread = self._thread, None
                if thread is not None:
                    thread.join()
                self._current = None
                handle._set_done(*rest[0])
                self._dispatch_next()
        return self._run_deferred() or happened

    def close(self, timeout: float = 5.0) -> None:
        if self.closed:
            return
        self.closed = True
        for h, _ in list(self._queue):
            h._set_done(CANCELLED, None, "the engine was closed")
        self._queue.clear()
        if self._current is not None:
            self._cancel_set.set()
            deadline = time.monotonic() + timeout
            while self._current is not None and time.monotonic() < deadline:
                self.poll(0.05)
        self._wake_r.close()
        self._wake_w.close()


def is_worker_process() -> bool:
    """True inside a LocalEngine worker (for code that must not, say, open windows)."""
    import multiprocessing

    return multiprocessing.current_process().name == "brainfit-worker"


__all__ = ["CANCEL_GRACE_S", "CANCELLED", "ENDED", "EVENT_INTERVAL_S", "FAILED", "FINISHED",
           "QUEUED", "RUNNING", "Engine", "EngineError", "JobFailed", "JobHandle",
           "LocalEngine", "ThreadEngine", "is_worker_process", "worker_main"]

