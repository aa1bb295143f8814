"""The :class:`~core.engine.Engine` protocol on Dask distributed (the optional ``scale`` extra).

``DaskEngine()`` starts a loopback-only ``LocalCluster`` (worker *processes*, spawned, one per
core, ``threads_per_worker=1``, bound to 127.0.0.1, no dashboard); ``DaskEngine("tcp://host:8786")``
(or ``tls://…``) attaches to a running scheduler, ``DaskEngine(cluster=obj)`` to a cluster object
(``dask-jobqueue``'s ``SLURMCluster``, say). Unlike the local engines, jobs run *concurrently*, as
many as the cluster has worker threads, and they start in the order they were submitted (each
gets a Dask priority by submission; without one Dask starts the newest queued task first).

- **Cancel**: each job gets a ``distributed.Event``; its ``is_cancelled()`` reads it (at most every
  ``cancel_poll`` s, the scheduler is not asked on every call). A job that has not started yet
  is cancelled in the scheduler. ``hard=True`` also releases the future (Dask cannot kill a
  running task; the worker finishes the chunk it is in and the result is dropped).
- **Events** travel through Dask's structured event log (``Worker.log_event`` on the worker,
  ``Client.subscribe_topic`` here), pickled, at most one batch per ``event_interval`` s per job;
  within a batch the latest event of a kind replaces older ones (as in the local engine), and the
  last events of a job are flushed before it returns. Events reach the handles on :meth:`poll`.
- **Security**: Dask ships pickled code: whoever can reach the scheduler can run code on every
  worker, and the scheduler can run code here. The default cluster listens on loopback only; a
  non-loopback address gives a :class:`DaskSecurityWarning`. For a shared cluster use TLS
  (``tls://`` addresses and Dask's ``distributed.comm.tls`` configuration / a
  ``distributed.security.Security`` object passed as ``security=``).

Dask is imported only when a :class:`DaskEngine` is made; without it :class:`EngineError` says
``pip install brainfit[scale]``.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import pickle
import time
import uuid
import warnings
from collections.abc import Callable
from multiprocessing import connection as mp_connection
from typing import Any

from ._worker import CANCELLED, FAILED, FINISHED, RUNNING, _outcome, _stream_key
from .cpu_affinity import allowed_cpus, blas_single_thread_env, core_blocks
from .engine import (
    WARM_IDLE_MODULES,
    WARM_MODULES,
    EngineError,
    JobHandle,
    _drain,
    _EngineBase,
    _wake,
    _wake_pair,
)

INSTALL_HINT = "Dask is not installed: pip install brainfit[scale]"
EVENT_INTERVAL_S = 0.1
CANCEL_POLL_S = 0.25
#: how long a finished job's result waits for its last events (they travel separately)
END_WAIT_S = 1.0
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]", "ip6-localhost")


class DaskSecurityWarning(UserWarning):
    """A Dask scheduler that is not on this machine: pickled code travels both ways."""


def dask_available() -> bool:
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def _distributed():
    try:
        import distributed
    except ImportError:
        raise EngineError(INSTALL_HINT) from None
    return distributed


def address_host(address: str) -> str:
    """``"tcp://host:8786"`` -> ``"host"`` (IPv6 in brackets kept without them)."""
    rest = address.split("://", 1)[-1]
    if rest.startswith("["):
        return rest[1:].split("]", 1)[0]
    return rest.rsplit(":", 1)[0] if ":" in rest else rest


def is_loopback(address: str) -> bool:
    host = address_host(address).lower()
    return host in LOOPBACK_HOSTS or host.startswith("127.") or address.startswith("inproc://")


def security_warning(address: str) -> str:
    return (f"Dask scheduler {address} is not on this machine: Dask ships pickled code, so "
            "whoever runs or can reach that scheduler can run code here and on every worker. "
            "Use it only on a cluster you trust; for shared clusters use a tls:// address with "
            "Dask's TLS configuration (distributed.comm.tls).")


# --------------------------------------------------------------------------------------------
# worker side
# --------------------------------------------------------------------------------------------
class _WorkerOutbox:
    """Rate-limited, coalescing event sender on the worker (runs on the job's thread)."""

    def __init__(self, topic: str, job_id: int, interval: float):
        from distributed import get_worker

        self.worker = get_worker()
        self.topic, self.job_id, self.interval = topic, job_id, interval
        self.pending: dict = {}
        self.serial = 0
        self.last = 0.0

    def send(self, kind: str, payload: Any = None) -> None:
        with contextlib.suppress(Exception):  # never let event delivery fail the job
            self.worker.log_event(self.topic, {"job": self.job_id, "kind": kind,
                                                "data": pickle.dumps(payload)})

    def report(self, event: Any) -> None:
        self.serial += 1
        self.pending[_stream_key(self.job_id, event, self.serial)] = event
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            events, self.pending = list(self.pending.values()), {}
            self.send("events", events)
        self.last = time.monotonic()


def _run_on_worker(job: Any, job_id: int, topic: str, cancel_name: str, interval: float,
                   cancel_poll: float):
    """The task Dask runs: the job with a report and an is_cancelled wired to this engine."""
    from distributed import Event as DEvent

    outbox = _WorkerOutbox(topic, job_id, interval)
    flag = DEvent(cancel_name)
    state = {"checked": 0.0, "set": False}

    def is_cancelled() -> bool:
        if state["set"]:
            return True
        now = time.monotonic()
        if now - state["checked"] >= cancel_poll:
            state["checked"] = now
            with contextlib.suppress(Exception):
                state["set"] = bool(flag.is_set())
        return state["set"]

    outbox.send("started", os.getpid())
    outcome = _outcome(lambda: job.run(outbox.report, is_cancelled), is_cancelled)
    outbox.flush()
    outbox.send("end")
    return outcome


# --------------------------------------------------------------------------------------------
# client side
# --------------------------------------------------------------------------------------------
class DaskEngine(_EngineBase):
    """See the module docstring. ``n_workers`` sizes the default LocalCluster (default: the
    number of cores); ``warn`` receives the security warning text (default: ``warnings.warn``)."""

    def __init__(self, address: str | None = None, *, cluster: Any = None,
                 n_workers: int | None = None, event_interval: float = EVENT_INTERVAL_S,
                 cancel_poll: float = CANCEL_POLL_S, security: Any = None,
                 warn: Callable[[str], None] | None = None, timeout: float = 60.0):
        super().__init__()
        distributed = _distributed()
        self.event_interval, self.cancel_poll = event_interval, cancel_poll
        self._cluster = None
        self.address = address
        blocks = None
        if cluster is not None:
            self.client = distributed.Client(cluster, timeout=timeout, security=security)
        elif address is None:
            cpus = allowed_cpus()
            n = int(n_workers or len(cpus))
            blocks = core_blocks(n, cpus)
            one_core_each = blocks is not None and len(blocks[0]) == 1
            self._cluster = distributed.LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None, silence_logs=logging.WARNING, protocol="tcp://",
                env=blas_single_thread_env() if one_core_each else {})
            self.client = distributed.Client(self._cluster, timeout=timeout)
        else:
            if not is_loopback(address):
                (warn or (lambda m: warnings.warn(m, DaskSecurityWarning, stacklevel=3)))(
                    security_warning(address))
            try:
                self.client = distributed.Client(address, timeout=timeout, security=security)
            except (OSError, TimeoutError) as exc:
                raise EngineError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        self.scheduler_address = self.client.scheduler.address
        from ._dask_setup import WorkerSetup

        # every worker, also one that joins or is restarted later, pins (local cluster only)
        # and imports the fitting stack before its first task, as the local worker does
        try:
            self.client.register_plugin(WorkerSetup(blocks, WARM_MODULES + WARM_IDLE_MODULES))
        except Exception as exc:  # noqa: BLE001 - a remote worker without brainfit, say
            self.client.close()
            if self._cluster is not None:
                self._cluster.close()
            raise EngineError(f"the Dask workers could not be set up ({type(exc).__name__}: "
                              f"{exc}); brainfit must be installed on every worker") from exc
        self._topic = f"brainfit-events-{uuid.uuid4().hex}"
        self._inbox: collections.deque = collections.deque()
        self._wake_r, self._wake_w = _wake_pair()
        self._jobs: dict[int, tuple[JobHandle, Any, Any]] = {}  # id -> (handle, future, Event)
        self._ended: set[int] = set()
        self.client.subscribe_topic(self._topic, self._on_topic)

    # ---- info -------------------------------------------------------------------------------
    @property
    def n_workers(self) -> int:
        return len(self.client.scheduler_info().get("workers", {}))

    @property
    def busy(self) -> bool:
        return bool(self._jobs)

    def worker_addresses(self) -> list[str]:
        return sorted(self.client.scheduler_info().get("workers", {}))

    # ---- submit / cancel --------------------------------------------------------------------
    def submit(self, job: Any, resources: Any = None) -> JobHandle:
        distributed = _distributed()
        handle = self._new_handle(job, resources)
        cancel_name = f"brainfit-cancel-{uuid.uuid4().hex}"
        flag = distributed.Event(cancel_name, client=self.client)
        try:
            future = self.client.submit(
                _run_on_worker, job, handle.id, self._topic, cancel_name, self.event_interval,
                self.cancel_poll, key=f"{handle.name}-{uuid.uuid4().hex[:12]}", pure=False,
                resources=resources, priority=-handle.id)
        except Exception as exc:  # noqa: BLE001 - not picklable, scheduler gone
            raise EngineError(f"cannot send {handle.name!r} to Dask: {exc}") from exc
        self._jobs[handle.id] = (handle, future, flag)
        future.add_done_callback(lambda _f, hid=handle.id: self._post(("finished", hid)))
        return handle

    def _cancel(self, handle: JobHandle, hard: bool) -> None:
        if handle.done() or handle.id not in self._jobs:
            return
        handle.cancel_requested = True
        _h, future, flag = self._jobs[handle.id]
        with contextlib.suppress(Exception):
            flag.set()
        if handle.state != RUNNING or hard:
            # not started (or hard): drop it in the scheduler; a running task cannot be killed,
            # its result is dropped
            self.client.cancel(future)
            self._jobs.pop(handle.id, None)
            handle.killed = hard and handle.state == RUNNING
            self._later(lambda: handle._set_done(
                CANCELLED, None, "cancelled" if hard else "cancelled before it started"))
            self._delete_flag(flag)

    @staticmethod
    def _delete_flag(flag) -> None:
        with contextlib.suppress(Exception):
            flag.clear()

    # ---- events -----------------------------------------------------------------------------
    def _post(self, item: tuple) -> None:  # any thread
        self._inbox.append(item)
        _wake(self._wake_w)

    def _on_topic(self, event) -> None:  # the client's event loop thread
        _ts, msg = event
        self._post(("msg", msg))

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
            item = self._inbox.popleft()
            happened = True
            if item[0] == "msg":
                self._message(item[1])
            else:
                self._finished(item[1])
        return self._run_deferred() or happened

    def _message(self, msg: dict) -> None:
        entry = self._jobs.get(msg.get("job"))
        if entry is None:
            return
        handle = entry[0]
        try:
            data = pickle.loads(msg["data"])
        except Exception:  # noqa: BLE001 - an event class this side cannot import
            return
        if msg["kind"] == "end":
            self._ended.add(handle.id)
        elif msg["kind"] == "started":
            if handle.state != RUNNING:
                handle._set_started()
        elif msg["kind"] == "events":
            if handle.state != RUNNING:
                handle._set_started()
            for e in data:
                handle._set_event(e)

    def _finished(self, job_id: int) -> None:
        entry = self._jobs.get(job_id)
        if entry is None:
            return
        handle, future, flag = entry
        # events logged before the task returned travel through the scheduler on another path
        # than the result: wait briefly for the job's "end" mark so the last event comes first
        deadline = time.monotonic() + END_WAIT_S
        while True:
            self._drain_messages(job_id)
            if job_id in self._ended or future.status != "finished" \
                    or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        if future.status in ("lost", "pending"):
            # its worker died holding the result (or before running it): Dask computes it again
            # for the future we hold, so wait for that run (and its own end mark) instead of
            # calling the job failed
            self._ended.discard(job_id)
            future.add_done_callback(lambda _f, hid=job_id: self._post(("finished", hid)))
            return
        self._ended.discard(job_id)
        self._jobs.pop(job_id, None)
        if handle.state != RUNNING and not handle.done():
            handle._set_started()
        if future.status == "finished":
            try:
                state, value, message, details = future.result()
            except Exception as exc:  # noqa: BLE001 - the result could not be read here
                state, value, message, details = FAILED, None, f"{type(exc).__name__}: {exc}", ""
        elif future.status == "cancelled":
            state, value, message, details = CANCELLED, None, "cancelled", ""
        else:
            exc = future.exception()
            import traceback

            state, value = FAILED, None
            message = f"{type(exc).__name__}: {exc}" if exc is not None else "failed in Dask"
            details = "".join(traceback.format_exception(exc)) if exc is not None else ""
        if state == FINISHED and handle.cancel_requested and getattr(value, "cancelled", False):
            state = CANCELLED
        handle._set_done(state, value, message, details)
        self._delete_flag(flag)

    def _drain_messages(self, job_id: int) -> None:
        keep = collections.deque()
        while self._inbox:
            item = self._inbox.popleft()
            if item[0] == "msg" and item[1].get("job") == job_id:
                self._message(item[1])
            else:
                keep.append(item)
        self._inbox.extendleft(reversed(keep))

    # ---- close ------------------------------------------------------------------------------
    def close(self, timeout: float = 5.0) -> None:
        if self.closed:
            return
        self.closed = True
        for handle, future, flag in list(self._jobs.values()):
            with contextlib.suppress(Exception):
                flag.set()
            with contextlib.suppress(Exception):
                self.client.cancel(future)
            handle._set_done(CANCELLED, None, "the engine was closed")
        self._jobs.clear()
        with contextlib.suppress(Exception):
            self.client.unsubscribe_topic(self._topic)
        with contextlib.suppress(Exception):
            self.client.close(timeout=timeout)
        if self._cluster is not None:
            with contextlib.suppress(Exception):
                self._cluster.close(timeout=timeout)
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> DaskEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["DaskEngine", "DaskSecurityWarning", "INSTALL_HINT", "address_host", "dask_available",
           "is_loopback", "security_warning"]
