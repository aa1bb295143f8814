"""Run one optimizer on one objective: ``run_fit`` -> :class:`~core.fitting.results.FitResult`.

Compilation is done before the clock starts (``compile_seconds``, which includes one warm-up
batch), so ``seconds`` is the optimizer's own wall time. A cancelled or time-limited run returns
the best point found so far with ``cancelled`` / ``stop_reason`` set.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..errors import BrainfitError, DivergenceError, JobCancelled, OptimizerError
from .objective import PENALTY, Objective
from .optimizers import Budget, StopOptimization, Tracker, get_optimizer
from .results import FitResult
from .uncertainty import hessian_uncertainty


def run_fit(objective: Objective, method: str, *, seed: int = 0,
            budget: Budget | int | None = None, options: Mapping[str, Any] | None = None,
            report: Callable | None = None, is_cancelled: Callable[[], bool] | None = None,
            uncertainty: bool = True, preview_interval: float | None = 0.2,
            job: str = "fit") -> FitResult:
    """Minimise ``objective`` with optimizer ``method`` (see ``available_methods()``).

    ``budget``: a :class:`Budget`, an evaluation count, or None for the method's default.
    Raises :class:`JobCancelled` only when cancelled before a single evaluation finished."""
    optimizer = get_optimizer(method, **dict(options or {}))
    if optimizer.gradient and objective.loss_spec.kind == "gamma":
        raise OptimizerError(f"{method} follows gradients, and the gamma-factor loss has none "
                             "(it counts coincident spikes); use it with de, twopointsde, pso "
                             "or bayes, or the default voltage + spike-timing loss")
    if budget is None:
        budget = Budget(evaluations=optimizer.default_evaluations)
    elif isinstance(budget, (int, np.integer)):
        budget = Budget(evaluations=int(budget))
    if is_cancelled is not None and is_cancelled():
        raise JobCancelled("cancelled by the user")
    t0 = time.perf_counter()
    try:
        optimizer.warmup(objective)
    except BrainfitError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise OptimizerError(f"{method}: could not compile the objective ({exc})") from exc
    compile_seconds = time.perf_counter() - t0
    tracker = Tracker(objective, budget, method=method, seed=int(seed), report=report,
                      is_cancelled=is_cancelled, job=job, preview_interval=preview_interval)
    stop_reason, message = "converged", ""
    try:
        outcome = optimizer.run(tracker, np.random.default_rng(seed))
        message = outcome.message
    except StopOptimization as stop:
        stop_reason = stop.reason
    except BrainfitError:
        raise
    except Exception as exc:  # noqa: BLE001 - a library failing inside the optimizer
        raise OptimizerError(f"{method} failed: {type(exc).__name__}: {exc}") from exc
    seconds = tracker.elapsed
    cancelled = stop_reason == "cancelled"
    if tracker.best_z is None:
        if cancelled:
            raise JobCancelled("cancelled before the first evaluation finished")
        raise OptimizerError(f"{method} stopped without evaluating any parameter set")
    if tracker.best_loss >= PENALTY:
        raise DivergenceError(
            f"{method}: every evaluated parameter set made the simulation diverge (NaN or |V| "
            "out of range); narrow the bounds, reduce the time step or change the solver")
    return finish_result(objective, tracker, method=method, seed=int(seed), seconds=seconds,
                         compile_seconds=compile_seconds, stop_reason=stop_reason,
                         message=message, cancelled=cancelled,
                         uncertainty=uncertainty and not cancelled,
                         settings={"optimizer": optimizer.settings(),
                                   "budget": {"evaluations": budget.evaluations,
                                              "seconds": budget.seconds}})


def finish_result(objective: Objective, tracker: Tracker, *, method: str, seed: int,
                  seconds: float, compile_seconds: float, stop_reason: str, message: str,
                  cancelled: bool, uncertainty: bool, settings: dict) -> FitResult:
    z = tracker.best_z
    ev = objective.evaluate(z)
    fitted = objective.to_params(z)
    stderr: dict[str, float] = {}
    corr = None
    notes: list[str] = []
    if uncertainty:
        try:
            u = hessian_uncertainty(objective, z, ev["loss"])
            stderr, corr, notes = u.stderr_dict(), u.correlation, list(u.notes)
        except Exception as exc:  # noqa: BLE001 - uncertainty is a bonus, never lose the fit
            message = f"{message}; uncertainty failed: {exc}"
    param_error = None
    if objective.truth:
        param_error = {n: abs(fitted[n] - objective.truth[n]) / abs(objective.truth[n])
                       for n in objective.free if n in objective.truth and objective.truth[n]}
    return FitResult(
        method=method, seed=seed, model=objective.model_class.name, free=list(objective.free),
        params=objective.all_params(z), fitted=fitted, loss=ev["loss"],
        objective=float(tracker.best_loss), gamma=ev["gamma"], gamma_loss=ev["gamma_loss"],
        n_model_spikes=ev["n_model_spikes"], n_data_spikes=ev["n_data_spikes"],
        evaluations=tracker.evaluations, iterations=tracker.iteration, seconds=seconds,
        compile_seconds=compile_seconds,
        start_loss=float(tracker.start_loss if tracker.start_loss is not None else np.nan),
        stop_reason=stop_reason, message=message, cancelled=cancelled,
        loss_at_truth=objective.loss_at_truth(), param_error=param_error, stderr=stderr,
        identifiability=notes,
        correlation=corr, history=np.asarray(tracker.history, float).reshape(-1, 3),
        settings={**objective.settings(), **settings})
