"""What every optimizer shares: the budget/cancel/progress bookkeeping (:class:`Tracker`) and
the abstract :class:`Optimizer`.

An optimizer works in the unit cube ``[0, 1]^d`` of :class:`~core.fitting.objective.Objective`
and evaluates candidates only through the tracker, which counts evaluations, keeps the best
point, records the history ``(evaluations, elapsed, best_loss)``, emits one
:class:`~core.events.FitProgress` per iteration (with a preview trace of the best model at most
every ``preview_interval`` seconds) and raises :class:`StopOptimization` when the job is
cancelled or the budget is spent. The optimizer lets it propagate; the runner keeps the best
point found so far, so a cancelled fit still returns a result.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ...errors import ParameterError
from ...events import FitProgress
from ..objective import PENALTY, Objective


@dataclass
class Budget:
    """Stop after ``evaluations`` loss evaluations (one simulation each, gradient included),
    ``seconds`` of the optimizer's wall time, or at ``deadline`` (a ``time.monotonic()``
    instant: what a caller that must finish more than the optimizer by a given time sets),
    whichever comes first (None: no limit of that kind)."""

    evaluations: int | None = None
    seconds: float | None = None
    extra: dict = field(default_factory=dict)
    deadline: float | None = None

    def __post_init__(self) -> None:
        if self.evaluations is not None and int(self.evaluations) < 1:
            raise ParameterError(f"evaluation budget must be >= 1, got {self.evaluations}")
        if self.seconds is not None and not (self.seconds > 0):
            raise ParameterError(f"time budget must be > 0 s, got {self.seconds}")
        if self.evaluations is None and self.seconds is None and self.deadline is None:
            raise ParameterError("a budget needs evaluations, seconds or a deadline")

class StopOptimization(Exception):
    """Raised by the tracker: ``reason`` is "cancelled", "evaluations" or "time"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Tracker:
    objective: Objective
    budget: Budget
    method: str = ""
    seed: int = 0
    report: Callable | None = None
    is_cancelled: Callable[[], bool] | None = None
    job: str = "fit"
    preview_interval: float | None = 0.2
    evaluations: int = 0
    iteration: int = 0
    best_loss: float = float("inf")
    best_z: np.ndarray | None = None
    start_loss: float | None = None
    history: list = field(default_factory=list)
    last_loss: float = float("nan")
    _t0: float = field(default_factory=time.perf_counter)
    _last_preview: float = -1e9
    _preview_dirty: bool = False

    # ---- budget -----------------------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self._t0

    def remaining(self) -> int | None:
        if self.budget.evaluations is None:
            return None
        return max(0, int(self.budget.evaluations) - self.evaluations)

    def check(self) -> None:
        """Raise StopOptimization when cancelled or out of budget."""
        if self.is_cancelled is not None and self.is_cancelled():
            raise StopOptimization("cancelled")
        if self.budget.evaluations is not None and self.evaluations >= self.budget.evaluations:
            raise StopOptimization("evaluations")
        if self.budget.seconds is not None and self.elapsed >= self.budget.seconds:
            raise StopOptimization("time")
        # past the deadline, but never before a first result
        if (self.budget.deadline is not None and self.best_z is not None
                and time.monotonic() >= self.budget.deadline):
            raise StopOptimization("time")

    # ---- evaluations ------------------------------------------------------------------------
    def _record(self, Z: np.ndarray, values: np.ndarray, count: int) -> None:
        Z, values = Z[:count], values[:count]
        self.evaluations += count
        i = int(np.argmin(values))
        self.last_loss = float(values[i])
        if self.start_loss is None:
            self.start_loss = float(values[i])
        if values[i] < self.best_loss:
            self.best_loss = float(values[i])
            self.best_z = np.array(Z[i], dtype=float)
            self._preview_dirty = True

    def evaluate_aux(self, fn, Z, count: int | None = None):
        """Evaluate an auxiliary (staging) loss ``fn(Z)``: counted as evaluations, but its values
        are not the fit's loss and never become the best point."""
        if self.is_cancelled is not None and self.is_cancelled():
            raise StopOptimization("cancelled")
        Z = np.clip(np.atleast_2d(np.asarray(Z, float)), 0.0, 1.0)
        self.evaluations += Z.shape[0] if count is None else count
        return fn(Z)

    def evaluate(self, Z, count: int | None = None) -> np.ndarray:
        """Losses of the rows of ``Z``; only the first ``count`` rows are real candidates
        (the rest pad the batch to a compiled shape)."""
        if self.is_cancelled is not None and self.is_cancelled():
            raise StopOptimization("cancelled")
        Z = np.clip(np.atleast_2d(np.asarray(Z, float)), 0.0, 1.0)
        count = Z.shape[0] if count is None else count
        values = self.objective.batch("loss", Z)
        self._record(Z, values, count)
        return values

    def screen(self, Z, count: int | None = None,
               count_weight: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`evaluate`, also returning each row's spike-count mismatch. With
        ``count_weight`` the recorded (best-point) value is ``loss + count_weight * mismatch``
        (see :meth:`value_and_grad_counted`); the returned values are the plain losses."""
        if self.is_cancelled is not None and self.is_cancelled():
            raise StopOptimization("cancelled")
        Z = np.clip(np.atleast_2d(np.asarray(Z, float)), 0.0, 1.0)
        count = Z.shape[0] if count is None else count
        values, counts = self.objective.batch("screen", Z)
        self._record(Z, values if count_weight is None else
                     values + count_weight * np.minimum(counts, 1e6), count)
        return values, counts

    def value_and_grad_counted(self, Z, count: int | None = None, *,
                               count_weight: float) -> tuple[np.ndarray, np.ndarray]:
        """Value ``loss + count_weight * spike-count mismatch`` and the loss gradient. The
        mismatch term is piecewise constant: it adds nothing to the gradient but makes a line
        search that would jump onto a plateau with more wrong spikes (the silent cell) see a
        worse value and backtrack, like a trust region around the spike count."""
        if self.is_cancelled is not None and self.is_cancelled():
            raise StopOptimization("cancelled")
        Z = np.clip(np.atleast_2d(np.asarray(Z, float)), 0.0, 1.0)
        count = Z.shape[0] if count is None else count
        values, grads, counts = self.objective.batch("counted_value_and_grad", Z)
        values = np.where(values >= PENALTY, values,
                          values + count_weight * np.minimum(counts, 1e6))
        self._record(Z, values, count)
        return values, grads

    def value_and_grad(self, Z, count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        if self.is_cancelled is not None and self.is_cancelled():
            raise StopOptimization("cancelled")
        Z = np.clip(np.atleast_2d(np.asarray(Z, float)), 0.0, 1.0)
        count = Z.shape[0] if count is None else count
        values, grads = self.objective.batch("value_and_grad", Z)
        self._record(Z, values, count)
        return values, grads

    # ---- iterations -------------------------------------------------------------------------
    def end_iteration(self, message: str = "") -> None:
        """Record history, report one FitProgress, then stop if cancelled/out of budget."""
        self.iteration += 1
        elapsed = self.elapsed
        self.history.append((self.evaluations, elapsed, self.best_loss))
        if self.report is not None:
            preview = None
            if (self.preview_interval is not None and self._preview_dirty
                    and self.best_z is not None and self.best_loss < PENALTY
                    and elapsed - self._last_preview >= self.preview_interval):
                V, _, _ = self.objective.simulate(self.best_z)
                preview = np.array(V[0])
                self._last_preview = elapsed
                self._preview_dirty = False
            total = self.budget.evaluations
            best = (self.objective.to_params(self.best_z) if self.best_z is not None else {})
            self.report(FitProgress(
                job=self.job, done=self.evaluations, total=total, elapsed=elapsed,
                message=message, method=self.method, seed=self.seed, iteration=self.iteration,
                evaluations=self.evaluations, loss=self.last_loss, best_loss=self.best_loss,
                best_params=best, preview=preview))
        self.check()


@dataclass
class OptOutcome:
    """What an optimizer hands back besides the tracker's best point."""

    message: str = ""
    converged: bool = False
    extra: dict = field(default_factory=dict)


class Optimizer(abc.ABC):
    """A minimiser over the unit cube. Subclasses set ``name``, ``doc``, ``default_budget``."""

    name: ClassVar[str]
    doc: ClassVar[str]
    gradient: ClassVar[bool] = False
    #: default budget (evaluations) for a fit with this method
    default_evaluations: ClassVar[int] = 2000

    def __init__(self, **options: Any) -> None:
        self.options = options

    @abc.abstractmethod
    def run(self, tracker: Tracker, rng: np.random.Generator) -> OptOutcome:
        """Minimise ``tracker.objective`` until converged or the tracker stops it."""

    def warmup(self, objective: Objective) -> None:
        """Compile the batch shapes this optimizer will use (not counted in its time)."""

    def settings(self) -> dict:
        return {"method": self.name, **self.options}


def sobol_points(n: int, d: int, seed: int) -> np.ndarray:
    """``n`` scrambled Sobol points in ``[0, 1]^d`` (quasi-random, reproducible by seed)."""
    from scipy.stats import qmc

    m = int(np.ceil(np.log2(max(n, 1))))
    pts = qmc.Sobol(d, scramble=True, seed=np.random.default_rng(seed)).random_base2(m)
    return pts[:n]
