"""Jobs used only by the engine and runner tests.

They live in an importable module (not in a test file) so that the engine's spawned worker
process can unpickle them: it imports ``tests.engine_jobs`` by name.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from core.errors import JobCancelled, ParameterError
from core.events import Event, FitProgress


@dataclass
class Echo:
    """Returns ``value`` and the worker's pid."""

    value: object = None
    name: str = "echo"

    def run(self, report, is_cancelled):
        report(Event(job=self.name, done=1, total=1, message="echo"))
        return {"value": self.value, "pid": os.getpid()}


@dataclass
class Steps:
    """``n`` steps of ``dt`` s, one event each, polling cancel between steps; a cancelled run
    returns the best-so-far dict marked ``cancelled`` (the fits' protocol)."""

    n: int = 1000
    dt: float = 0.01
    name: str = "steps"

    def run(self, report, is_cancelled):
        best = None
        for k in range(self.n):
            if is_cancelled():
                return {"best": best, "done": k, "cancelled": True}
            time.sleep(self.dt)
            best = k
            report(Event(job=self.name, done=k + 1, total=self.n))
        return {"best": best, "done": self.n, "cancelled": False}


class CancelledDict(dict):
    @property
    def cancelled(self):
        return self.get("cancelled", False)


@dataclass
class PartialSteps(Steps):
    """:class:`Steps` whose result has a ``cancelled`` attribute (as FitResult has)."""

    name: str = "partial"

    def run(self, report, is_cancelled):
        return CancelledDict(super().run(report, is_cancelled))


@dataclass
class RaisesCancelled:
    """The networks' protocol: raise JobCancelled carrying the partial result."""

    name: str = "raises-cancelled"

    def run(self, report, is_cancelled):
        while not is_cancelled():
            time.sleep(0.01)
        exc = JobCancelled("stopped")
        exc.partial = {"kept": 42}
        raise exc


@dataclass
class IgnoresCancel:
    """Sleeps ``seconds`` without ever polling cancel (a preview inside one compiled call)."""

    seconds: float = 60.0
    name: str = "stubborn"

    def run(self, report, is_cancelled):
        report(Event(job=self.name, message="sleeping"))
        time.sleep(self.seconds)
        return "woke up"


@dataclass
class SlowToStop:
    """Polls cancel, then needs ``stop_seconds`` to stop (a training's last batch and figure);
    declares a ``cancel_grace`` long enough for that."""

    stop_seconds: float = 3.0
    cancel_grace: float = 10.0
    name: str = "slow-to-stop"

    def run(self, report, is_cancelled):
        report(Event(job=self.name, message="running"))
        while not is_cancelled():
            time.sleep(0.02)
        time.sleep(self.stop_seconds)
        return CancelledDict(cancelled=True, kept="best weights")


@dataclass
class Exits:
    """Kills its own process, as a crash in native code would."""

    code: int = 1
    name: str = "exits"

    def run(self, report, is_cancelled):
        report(Event(job=self.name, message="about to exit"))
        time.sleep(0.05)
        os._exit(self.code)


@dataclass
class Segfaults:
    name: str = "segfault"

    def run(self, report, is_cancelled):
        import ctypes

        ctypes.string_at(0)


@dataclass
class Fails:
    expected: bool = True
    name: str = "fails"

    def run(self, report, is_cancelled):
        if self.expected:
            raise ParameterError("tau_m must be > 0")
        raise RuntimeError("boom inside the engine")


@dataclass
class Burst:
    """``n`` FitProgress events as fast as possible, then one of another stream, then returns."""

    n: int = 5000
    name: str = "burst"

    def run(self, report, is_cancelled):
        for k in range(self.n):
            report(FitProgress(job=self.name, done=k + 1, total=self.n, method="de", seed=0,
                               evaluations=k + 1, best_loss=float(self.n - k)))
        report(FitProgress(job=self.name, method="pso", seed=1, evaluations=1))
        return self.n


@dataclass
class Unpicklable:
    name: str = "unpicklable-result"

    def run(self, report, is_cancelled):
        return lambda: None


@dataclass
class Imported:
    """Which of ``modules`` the worker has imported."""

    modules: tuple = ()
    name: str = "imported"

    def run(self, report, is_cancelled):
        import sys

        return {m: m in sys.modules for m in self.modules}
