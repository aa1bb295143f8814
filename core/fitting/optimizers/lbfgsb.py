"""SciPy L-BFGS-B driven by jitted JAX value-and-gradient, K starts batched with ``vmap``.

SciPy's L-BFGS-B is sequential, so K independent starts run in K worker threads that meet at a
barrier: each thread asks for ``f(x), grad f(x)`` and blocks; when every still-running start has
asked, their points are evaluated in **one** ``vmap``-ed simulation (padded to K rows, one
compiled shape) and the threads continue. Each such round is one iteration (one FitProgress).
Starts come from a scrambled Sobol sequence over the bounds (or ``x0`` for the first start).
"""

from __future__ import annotations

import threading
from functools import partial
from types import SimpleNamespace
from typing import ClassVar

import numpy as np
from scipy.optimize import minimize

from ...errors import OptimizerError
from .base import Optimizer, OptOutcome, Tracker, sobol_points


class _Abort(Exception):
    pass


class _RoundsDone(Exception):
    pass


def lockstep_lbfgsb(tracker: Tracker, Z0: np.ndarray, *, maxiter: int = 1000,
                    ftol: float = 1e-12, gtol: float = 1e-8, maxcor: int = 20,
                    message: str = "L-BFGS-B", aux=None, max_rounds: int | None = None,
                    count_weight: float | None = None, prune: float | None = None) -> list:
    """Run L-BFGS-B from every row of ``Z0`` in lockstep; returns SciPy results (None for a
    start interrupted by the tracker). Re-raises the tracker's StopOptimization afterwards.
    ``aux``: a staging ``value_and_grad(Z)`` used instead of the objective's (see
    :meth:`Tracker.evaluate_aux`). ``max_rounds``: stop after that many batched rounds; starts
    still running then come back as a SimpleNamespace with the best ``x`` they evaluated.
    ``count_weight``: minimise ``loss + count_weight * spike-count mismatch`` (see
    :meth:`Tracker.value_and_grad_counted`). ``prune``: once a start has converged at value
    ``f*``, stop the starts whose value is above ``prune * f* + 1`` (in another basin: every
    round costs the same however few starts remain, so they would only add wall time); they
    come back as None."""
    Z0 = np.atleast_2d(np.asarray(Z0, float))
    K, d = Z0.shape
    cond = threading.Condition()
    pending: dict[int, np.ndarray] = {}
    results: dict[int, tuple[float, np.ndarray]] = {}
    active = set(range(K))
    error: list[BaseException | None] = [None]
    outs: list = [None] * K
    best: list = [(np.inf, Z0[i].copy()) for i in range(K)]
    rounds = [0]
    converged = [np.inf]  # best value of a start that L-BFGS-B ended with success
    pruned: set[int] = set()

    def flush() -> None:  # lock held
        idx = sorted(pending)
        Z = np.stack([pending[i] for i in idx])
        if len(idx) < K:
            Z = np.concatenate([Z, np.repeat(Z[:1], K - len(idx), axis=0)])
        pending.clear()
        try:
            if aux is None and count_weight is not None:
                v, g = tracker.value_and_grad_counted(Z, count=len(idx),
                                                      count_weight=count_weight)
            elif aux is None:
                v, g = tracker.value_and_grad(Z, count=len(idx))
            else:
                v, g = tracker.evaluate_aux(aux, Z, count=len(idx))
            for j, i in enumerate(idx):
                results[i] = (float(v[j]), np.array(g[j]))
                if v[j] < best[i][0]:
                    best[i] = (float(v[j]), np.array(Z[j]))
                if prune is not None and best[i][0] > prune * converged[0] + 1.0:
                    pruned.add(i)
            tracker.end_iteration(message)
            rounds[0] += 1
            if max_rounds is not None and rounds[0] >= max_rounds:
                raise _RoundsDone
        except BaseException as exc:  # noqa: BLE001 - handed to every thread, re-raised below
            error[0] = exc
        cond.notify_all()

    def fun(i: int, x: np.ndarray):
        with cond:
            if error[0] is not None:
                raise _Abort
            pending[i] = np.array(x, float)
            if len(pending) == len(active):
                flush()
            while i not in results and error[0] is None:
                cond.wait()
            if i in pruned:
                raise _Abort
            if i in results:
                return results.pop(i)
            raise _Abort

    def worker(i: int) -> None:
        try:
            outs[i] = minimize(lambda x: fun(i, x), Z0[i], jac=True, method="L-BFGS-B",
                               bounds=[(0.0, 1.0)] * d,
                               options={"maxiter": maxiter, "ftol": ftol, "gtol": gtol,
                                        "maxcor": maxcor, "maxls": 30})
            if outs[i].success:
                with cond:
                    converged[0] = min(converged[0], float(outs[i].fun))
        except _Abort:
            outs[i] = None
        except BaseException as exc:  # noqa: BLE001
            with cond:
                if error[0] is None:
                    error[0] = exc
        finally:
            with cond:
                active.discard(i)
                if pending and len(pending) == len(active):
                    flush()
                cond.notify_all()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(K)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if isinstance(error[0], _RoundsDone):
        return [o if o is not None else SimpleNamespace(x=best[i][1], fun=best[i][0],
                                                          success=False, message="max rounds")
                for i, o in enumerate(outs)]
    if error[0] is not None:
        raise error[0]
    return outs


class LBFGSB(Optimizer):
    """Options: ``starts`` (K, default 8), ``x0`` (unit-cube point for the first start),
    ``maxiter`` per start, ``ftol``, ``gtol``, ``forced`` (default True: for models with a reset
    and data with spikes, first minimise the teacher-forced loss, then the free-running MSE;
    ``forced=False`` is the naive surrogate-gradient L-BFGS-B)."""

    name: ClassVar[str] = "lbfgsb"
    doc: ClassVar[str] = "L-BFGS-B with exact JAX gradients, K quasi-random starts in one vmap"
    gradient: ClassVar[bool] = True
    default_evaluations: ClassVar[int] = 2000

    def starts(self, d: int, seed: int) -> np.ndarray:
        K = int(self.options.get("starts", 8))
        if K < 1:
            raise OptimizerError(f"lbfgsb needs at least one start, got {K}")
        Z0 = sobol_points(K, d, seed)
        x0 = self.options.get("x0")
        if x0 is not None:
            Z0[0] = np.clip(np.asarray(x0, float), 0.0, 1.0)
        return Z0

    def warmup(self, objective) -> None:
        K = int(self.options.get("starts", 8))
        objective.batch("value_and_grad", np.full((K, objective.dim), 0.5))
        if self.options.get("forced", True) and objective.can_force_spikes:
            objective.batch("loss", np.full((K, objective.dim), 0.5))
            objective.batch("forced_value_and_grad", np.full((K, objective.dim), 0.5))

    def run(self, tracker: Tracker, rng: np.random.Generator) -> OptOutcome:
        Z0 = self.starts(tracker.objective.dim, tracker.seed)
        obj = tracker.objective
        if self.options.get("forced", True) and obj.can_force_spikes:
            # staged fit for models with a reset: the starts' own loss first (the reference
            # every improvement is measured against), then L-BFGS-B on the teacher-forced loss
            # (smooth: see Objective.batch), then the free-running MSE from there
            tracker.evaluate(Z0)
            tracker.end_iteration("L-BFGS-B: starting points")
            rem = tracker.remaining()
            outs = lockstep_lbfgsb(tracker, Z0, maxiter=int(self.options.get("maxiter_a", 200)),
                                   message="L-BFGS-B on the forced-spike loss",
                                   aux=partial(obj.batch, "forced_value_and_grad"),
                                   max_rounds=None if rem is None else max(1, rem // len(Z0) // 2))
            Z0 = np.stack([o.x if o is not None else z for o, z in zip(outs, Z0)])
        outs = lockstep_lbfgsb(tracker, Z0, maxiter=int(self.options.get("maxiter", 1000)),
                               ftol=float(self.options.get("ftol", 1e-12)),
                               gtol=float(self.options.get("gtol", 1e-8)))
        msgs = sorted({str(o.message) for o in outs if o is not None})
        return OptOutcome(message="; ".join(msgs), converged=all(o is not None and o.success
                                                                  for o in outs))
