"""The worker side of :class:`core.engine.LocalEngine` (private; see that module).

``worker_main`` is the body of the spawned worker process: it imports JAX and the simulators,
says it is ready, imports the optimizers while it waits, then runs each job it is sent with a
``report`` that batches events on a sender thread (never blocking the job on the pipe) and an
``is_cancelled`` that reads the flag the engine shares with it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pickle
import signal
import threading
import time
import traceback
from collections.abc import Callable, Hashable
from typing import Any

from .errors import BrainfitError, JobCancelled
from .events import Event, FitProgress, SimulationProgress

QUEUED, RUNNING, FINISHED, CANCELLED, FAILED = "queued", "running", "finished", "cancelled", "failed"
ENDED = (FINISHED, CANCELLED, FAILED)


def _outcome(job_run: Callable[[], Any], cancelled: Callable[[], bool]) -> tuple[str, Any, str, str]:
    """Run a job and classify how it ended: (state, value, message, details)."""
    try:
        result = job_run()
    except JobCancelled as exc:
        return CANCELLED, getattr(exc, "partial", None), str(exc), ""
    except BrainfitError as exc:
        return FAILED, None, str(exc), ""
    except BaseException as exc:  # unexpected (SystemExit too): the caller must survive it
        return FAILED, None, f"{type(exc).__name__}: {exc}", traceback.format_exc()
    if cancelled() and getattr(result, "cancelled", False):
        return CANCELLED, result, "", ""
    return FINISHED, result, "", ""





def _stream_key(job_id: int, event: Any, serial: int) -> Hashable:
    """Events with the same key replace each other within a batch (latest wins)."""
    if not isinstance(event, Event) or not getattr(type(event), "coalesce", True):
        return ("keep", serial)
    if isinstance(event, SimulationProgress) and event.preview is not None:
        return ("keep", serial)  # each chunk's spikes and traces are new data
    if isinstance(event, FitProgress):
        return (job_id, type(event), event.job, event.method, event.seed)
    return (job_id, type(event), event.job)


class _Outbox:
    """Worker side of the pipe: batches events at a bounded rate on a sender thread; the job's
    ``report`` never waits on the pipe."""

    def __init__(self, conn, interval: float):
        self.conn = conn
        self.interval = interval
        self.send_lock = threading.Lock()  # one message at a time, batches in order
        self.cond = threading.Condition()
        self.pending: dict[Hashable, tuple[int, Any]] = {}
        self.serial = itertools.count()
        self.last = 0.0
        threading.Thread(target=self._loop, name="brainfit-events", daemon=True).start()

    def reporter(self, job_id: int) -> Callable[[Any], None]:
        def report(event: Any) -> None:
            with self.cond:
                key = _stream_key(job_id, event, next(self.serial))
                self.pending.pop(key, None)
                self.pending[key] = (job_id, event)
                self.cond.notify()
        return report

    def _loop(self) -> None:
        while True:
            with self.cond:
                while not self.pending:
                    self.cond.wait()
            delay = self.last + self.interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                self.flush()
            except OSError:  # the parent went away; the main thread notices and exits
                return

    def flush(self) -> None:
        with self.send_lock:
            with self.cond:
                batch = list(self.pending.values())
                self.pending.clear()
            if batch:
                try:
                    data = pickle.dumps(("events", batch), protocol=pickle.HIGHEST_PROTOCOL)
                except Exception:  # one bad event must not lose the others
                    good = []
                    for item in batch:
                        try:
                            pickle.dumps(item[1])
                        except Exception:
                            continue
                        good.append(item)
                    data = pickle.dumps(("events", good), protocol=pickle.HIGHEST_PROTOCOL)
                self.conn.send_bytes(data)
                self.last = time.monotonic()

    def send(self, message: tuple) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with self.send_lock:
            self.conn.send_bytes(data)


def _lower_priority(increment: int) -> None:
    if increment <= 0:
        return
    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(increment)
        return
    try:  # Windows: below-normal priority class, where psutil is installed
        import psutil

        psutil.Process().nice(psutil.BELOW_NORMAL_PRIORITY_CLASS)
    except Exception:
        pass


def worker_main(conn, cancel_flag, interval: float, nice: int, warm: tuple[str, ...],
                warm_idle: tuple[str, ...] = ()) -> None:
    """Body of the worker process: import, say ready, then run jobs until told to stop or until
    the parent goes away."""
    t0 = time.perf_counter()
    with contextlib.suppress(ValueError, OSError, AttributeError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the window's, not ours
    with contextlib.suppress(Exception):
        import faulthandler

        faulthandler.enable()  # a segfault leaves a Python stack on stderr
    _lower_priority(nice)
    import importlib

    import core  # noqa: F401  (float64, the persistent compilation cache)

    def warm_up(name: str) -> bool:
        try:
            importlib.import_module(name)
        except ImportError:
            return False
        return True

    warmed = [name for name in warm if warm_up(name)]
    later = list(warm_idle)
    device, devices = "", None
    with contextlib.suppress(Exception):
        import jax

        from .devices import device_info

        device, devices = str(jax.devices()[0]), device_info()
    outbox = _Outbox(conn, interval)
    outbox.send(("ready", {"pid": os.getpid(), "seconds": time.perf_counter() - t0,
                           "modules": warmed, "device": device, "devices": devices}))
    while True:
        try:
            while later and not conn.poll(0):  # nothing to do: import what jobs will need
                warm_up(later.pop(0))
            data = conn.recv_bytes()
        except (EOFError, OSError):
            break
        kind, job_id, payload = pickle.loads(data)
        if kind == "stop":
            break
        try:
            job = pickle.loads(payload)
        except Exception as exc:
            outbox.send(("done", job_id, FAILED, None,
                         f"the worker cannot load the job ({type(exc).__name__}: {exc})",
                         traceback.format_exc()))
            continue
        outbox.send(("started", job_id))
        state, value, message, details = _run_in_worker(job, job_id, outbox, cancel_flag)
        del job
        outbox.flush()  # the last events arrive before the result
        try:
            outbox.send(("done", job_id, state, value, message, details))
        except (EOFError, OSError):
            break
        except Exception as exc:  # the result does not pickle
            outbox.send(("done", job_id, FAILED, None,
                         f"the result ({type(value).__name__}) cannot be sent back from the "
                         f"worker ({type(exc).__name__}: {exc})", traceback.format_exc()))


def _run_in_worker(job: Any, job_id: int, outbox: _Outbox, cancel_flag) -> tuple:
    def is_cancelled() -> bool:
        return cancel_flag.value == job_id

    return _outcome(lambda: job.run(outbox.reporter(job_id), is_cancelled), is_cancelled)
