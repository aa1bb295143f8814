"""The one place where the workbench runs engine jobs: in the engine's worker process.

``JobRunner.submit(job)`` sends ``job`` (a picklable :mod:`core.jobs` job) to a
:class:`core.engine.LocalEngine` and returns a :class:`RunnerJob`, a handle with its own signals
``started(name)``, ``progress(event)``, ``finished(result)``, ``failed(message, details)``,
``cancelled(result_or_None)`` and ``ended()``. The runner re-emits the same signals for every
job it tracks (the interface the windows were written against; ``submit(job, broadcast=False)``
keeps them on the handle), and ``idle()`` when none is left running or queued.

The engine's messages are read on the GUI thread when its pipe becomes readable (a
``QSocketNotifier``; on Windows, where pipes cannot be watched, a 10 ms timer while a job runs),
so the GUI thread never waits on a job: optimizers hold the GIL of *their* process, not ours.

- ``submit(job)`` refuses (returns False) while a job of this runner runs, as it always did;
  ``submit(job, queue=True)`` queues it behind.
- ``drop(name)`` sets a running job (a model preview the user's next action supersedes) aside
  without waiting: it is cancelled, its signals stay on its own handle, ``busy`` is False at once
  and the next ``submit`` goes to the engine, which starts it when the worker is free (at most
  2 s later: a job that ignores cancel is killed and its worker replaced).
- A job whose worker died ``failed`` with a clear message; a worker killed after a cancel or a
  death also emits ``worker_restarted(message)``.

``JobRunner(engine=ThreadEngine())`` runs jobs on a thread of this process instead (the old way;
the latency benchmark's baseline). ``BRAINFIT_ENGINE=thread`` makes that the default.
"""

from __future__ import annotations

import atexit
import os
import sys
import time
from typing import Any

from PyQt6.QtCore import QObject, QSocketNotifier, QTimer, pyqtSignal

from core.engine import LocalEngine, ThreadEngine

_default_engine: Any = None


def default_engine():
    """The engine every :class:`JobRunner` without an explicit one shares (started on first use,
    closed at exit)."""
    global _default_engine
    if _default_engine is None or _default_engine.closed:
        if os.environ.get("BRAINFIT_ENGINE", "").lower() == "thread":
            _default_engine = ThreadEngine()
        else:
            _default_engine = LocalEngine()
    return _default_engine


def set_default_engine(engine) -> Any:
    """Make ``engine`` (or None: a fresh one at the next use) the shared engine; returns the old."""
    global _default_engine
    old, _default_engine = _default_engine, engine
    return old


@atexit.register
def _close_default_engine() -> None:
    if _default_engine is not None:
        _default_engine.close(timeout=2.0)
        _Pump._pumps.clear()


def close_engine(engine, timeout: float = 5.0) -> None:
    """Close ``engine`` and stop watching its descriptors (use this, not ``engine.close()``, for
    an engine runners have watched)."""
    pump = _Pump._pumps.pop(id(engine), None)
    if pump is not None and pump.engine is engine:
        pump.release()
    engine.close(timeout)


def _emit(signal, *args) -> None:
    try:
        signal.emit(*args)
    except RuntimeError:  # the receiver's C++ object is gone (a window closed mid-job)
        pass


class _Pump(QObject):
    """Polls one engine on the GUI thread when it has something to say (one per engine, shared
    by its runners: two notifiers on one descriptor would confuse Qt)."""

    _pumps: dict[int, _Pump] = {}

    @classmethod
    def for_engine(cls, engine) -> _Pump:
        for key, old in list(cls._pumps.items()):  # engines closed without close_engine()
            if old.engine.closed:
                old.release()
                del cls._pumps[key]
        pump = cls._pumps.get(id(engine))
        if pump is None or pump.engine is not engine:
            pump = cls._pumps[id(engine)] = cls(engine)
        return pump

    def __init__(self, engine):
        super().__init__()
        self.engine = engine
        self._watch_pipes = not sys.platform.startswith("win")
        self._generation = None
        self._notifiers: list[QSocketNotifier] = []
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.poll)
        self._watch()

    def _watch(self) -> None:
        generation = getattr(self.engine, "generation", 0)
        if generation == self._generation or not self._watch_pipes or self.engine.closed:
            return
        self._generation = generation
        for n in self._notifiers:
            n.setEnabled(False)
            n.deleteLater()
        fds = {self.engine.fileno(), self.engine.wake_fileno()}
        self._notifiers = []
        for fd in fds:
            n = QSocketNotifier(fd, QSocketNotifier.Type.Read, self)
            n.activated.connect(self.poll)
            self._notifiers.append(n)

    def release(self) -> None:
        self._timer.stop()
        for n in self._notifiers:
            n.setEnabled(False)
            n.deleteLater()
        self._notifiers = []

    def poll(self, *_args, timeout: float = 0.0) -> bool:
        if self.engine.closed:
            self.release()
            return False
        happened = self.engine.poll(timeout)
        self._watch()
        self.schedule()
        return happened

    def schedule(self) -> None:
        """Keep a timer while a job runs: for a cancel's deadline, and on Windows for reading."""
        if self.engine.closed or not self.engine.busy:
            self._timer.stop()
            return
        interval = 100 if self._watch_pipes else 10
        left = self.engine.next_deadline()
        if left is not None:
            interval = min(interval, max(1, int(left * 1000) + 1))
        if not self._timer.isActive() or self._timer.interval() != interval:
            self._timer.start(interval)


class RunnerJob(QObject):
    """The handle of one job submitted through a :class:`JobRunner` (always truthy)."""

    started = pyqtSignal(str)
    progress = pyqtSignal(object)  # not "event": that would shadow QObject.event()
    finished = pyqtSignal(object)
    failed = pyqtSignal(str, str)
    cancelled = pyqtSignal(object)
    ended = pyqtSignal()

    def __init__(self, runner: JobRunner, handle, parent: QObject | None = None):
        super().__init__(parent)
        self.runner = runner
        self.handle = handle
        self.name = handle.name
        self.detached = False  # dropped: the runner no longer re-emits its signals
        self.broadcast = True  # False: the runner never re-emits them

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"<RunnerJob {self.name!r} {self.state}>"

    @property
    def state(self) -> str:
        return self.handle.state

    @property
    def message(self) -> str:
        return self.handle.message

    def done(self) -> bool:
        return self.handle.done()

    def cancel(self, hard: bool = False) -> None:
        self.handle.cancel(hard)
        self.runner._pump.schedule()

    def wait(self, timeout_ms: int = 30000) -> bool:
        """Block, handling the engine's messages, until this job ended; True if it did."""
        return self.runner._wait_for(lambda: self.done(), timeout_ms)


class JobRunner(QObject):
    """Runs jobs through an engine (by default the shared worker process); see the module doc."""

    started = pyqtSignal(str)
    progress = pyqtSignal(object)  # not "event": that would shadow QObject.event()
    finished = pyqtSignal(object)
    failed = pyqtSignal(str, str)
    cancelled = pyqtSignal(object)
    idle = pyqtSignal()
    worker_restarted = pyqtSignal(str)

    def __init__(self, parent: QObject | None = None, engine=None):
        super().__init__(parent)
        self.engine = engine if engine is not None else default_engine()
        self._pump = _Pump.for_engine(self.engine)
        self._jobs: list[RunnerJob] = []  # tracked: running first, then queued
        self._detached: list[RunnerJob] = []  # dropped, still ending in the engine
        self._job_name = ""
        self._started_at = 0.0
        self._closed = False
        signal = self.worker_restarted

        def on_restart(message: str, signal=signal) -> None:
            _emit(signal, message)

        self._on_restart = on_restart
        self.engine.add_restart_callback(on_restart)

    # ---- the interface the windows use ------------------------------------------------------
    @property
    def busy(self) -> bool:
        """A job of this runner runs or waits (dropped jobs do not count)."""
        return bool(self._jobs)

    @property
    def job_name(self) -> str:
        """The running job's name (the last one's, once the runner is idle)."""
        return self._job_name

    @property
    def current(self) -> RunnerJob | None:
        return self._jobs[0] if self._jobs else None

    def submit(self, job, *, queue: bool = False, broadcast: bool = True) -> RunnerJob | bool:
        """Send ``job`` to the engine; returns its :class:`RunnerJob`, or False (and does
        nothing) while another job of this runner runs and ``queue`` is False.
        ``broadcast=False``: its signals are on its handle only, not re-emitted by the runner
        (it still counts for ``busy``, ``job_name`` and ``idle``)."""
        if self._closed or (self._jobs and not queue):
            return False
        handle = self.engine.submit(job)
        rjob = RunnerJob(self, handle)
        rjob.broadcast = broadcast
        handle.add_started_callback(lambda _h: self._on_started(rjob))
        handle.add_event_callback(lambda _h, event: self._on_event(rjob, event))
        handle.add_done_callback(lambda _h: self._on_done(rjob))
        self._jobs.append(rjob)
        if len(self._jobs) == 1:
            self._job_name = rjob.name
            self._started_at = time.perf_counter()
        QTimer.singleShot(0, self._pump.poll)  # a job that could not be sent fails at once
        self._pump.schedule()
        return rjob

    def cancel(self) -> None:
        """Ask the running job to stop (it hands back its partial result)."""
        if self._jobs:
            self._jobs[0].cancel()

    def wait(self, timeout_ms: int = 30000) -> bool:
        """Block until this runner's jobs ended, delivering their signals (used on close); True
        if none is left."""
        return self._wait_for(lambda: not self._jobs, timeout_ms)

    def drop(self, name_or_job) -> None:
        """Set aside the jobs called ``name`` (or that one :class:`RunnerJob`), running or
        queued: a model preview the user's next action supersedes. They are cancelled and no
        longer followed (their own handles still end), without waiting, so that ``submit`` is
        free at once. No ``idle`` is emitted: the caller is about to submit."""
        dropped = [j for j in self._jobs if j is name_or_job or j.name == name_or_job]
        for rjob in dropped:
            self._jobs.remove(rjob)
            rjob.detached = True
            self._detached.append(rjob)
            rjob.cancel()
        if dropped and self._jobs:
            self._job_name = self._jobs[0].name

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Cancel this runner's jobs (dropped ones too) and wait for them; True if all ended.
        The runner accepts no jobs afterwards; the shared engine stays for other runners."""
        self._closed = True  # what the last signals trigger (a pending preview) is refused
        for rjob in self._jobs[1:] + self._detached + self._jobs[:1]:
            rjob.cancel()
        ok = self._wait_for(lambda: not self._jobs and not self._detached, timeout_ms)
        if ok:
            self.engine.remove_restart_callback(self._on_restart)
        return ok

    # ---- the engine's callbacks -------------------------------------------------------------
    def _wait_for(self, condition, timeout_ms: int) -> bool:
        deadline = time.monotonic() + timeout_ms / 1000.0
        while not condition():
            left = deadline - time.monotonic()
            if left <= 0 or self.engine.closed:
                return condition()
            self._pump.poll(timeout=min(0.05, left))
        return True

    def _on_started(self, rjob: RunnerJob) -> None:
        _emit(rjob.started, rjob.name)
        if rjob.broadcast and not rjob.detached:
            _emit(self.started, rjob.name)

    def _on_event(self, rjob: RunnerJob, event) -> None:
        _emit(rjob.progress, event)
        if rjob.broadcast and not rjob.detached:
            _emit(self.progress, event)

    def _on_done(self, rjob: RunnerJob) -> None:
        h = rjob.handle
        tracked = not rjob.detached and rjob in self._jobs
        if tracked:
            self._jobs.remove(rjob)
        elif rjob in self._detached:
            self._detached.remove(rjob)
        outcome = {"finished": (rjob.finished, (h.value,)),
                   "cancelled": (rjob.cancelled, (h.value,)),
                   "failed": (rjob.failed, (h.message, h.details))}[h.state]
        _emit(outcome[0], *outcome[1])
        _emit(rjob.ended)
        if tracked:
            if rjob.broadcast:
                mine = {"finished": self.finished, "cancelled": self.cancelled,
                        "failed": self.failed}[h.state]
                _emit(mine, *outcome[1])
            if self._jobs:
                self._job_name = self._jobs[0].name
            else:  # nothing of ours runs or waits any more
                _emit(self.idle)
