"""Hybrid: a cheap batched global screen, then L-BFGS-B polishing with exact gradients.

Phase 1 evaluates ``samples`` scrambled-Sobol points over the bounds (log-spaced where the
parameter is), ``batch`` at a time, each batch one ``vmap``-ed simulation. Phase 2 starts
L-BFGS-B (lockstep, batched, see :mod:`.lbfgsb`) from the ``polish`` best *distinct* points.

Why this wins on spiking models: the voltage MSE of a spiking model is a landscape of plateaus
(silent cell, wrong spike count) cut by narrow valleys where spike times align. A gradient
started on a plateau sees almost nothing, so plain L-BFGS-B stops there; black-box methods spend
thousands of simulations to find the valley one at a time. A few hundred quasi-random points
evaluated together cost about as much as a handful of single simulations on one core and land
some points inside the valley of the true spike count; from there the gradient (smooth within
the valley: the surrogate only matters near threshold) converges in tens of iterations.
Screen points are ranked by spike-count mismatch first and loss second: the MSE alone prefers a
silent cell to a cell that fires the right number of slightly shifted spikes. The polish keeps
that order: it minimises ``MSE + count_weight * spike-count mismatch`` with the MSE's gradient
(the count term is piecewise constant). Without it, L-BFGS-B's first step (unit length in the
cube) from a start with the right spike count lands on the silent plateau, whose MSE is lower,
and stops there (HH seed 1: every start did). The truth has mismatch 0, so the optimum is
unchanged; ``FitResult.loss`` is the plain MSE at the best point.

Staged fitting for models with a reset (``forced``, default on when the data have spikes): the
screen also scores every point with the *teacher-forced* loss (model reset at the data's spike
steps, plus hinge terms on the threshold distance, see ``Objective.batch``), which is
smooth because no spike can move; L-BFGS-B first minimises that (stage A), then the free-running
voltage MSE from the best of the stage-A optima and of the screen (stage B). Stage A removes the
line-search failures that stop naive surrogate-gradient L-BFGS-B on integrate-and-fire models
(spike times move in whole steps, so the free-running MSE is piecewise smooth).
"""

from __future__ import annotations

from functools import partial
from typing import ClassVar

import numpy as np

from .base import Optimizer, OptOutcome, Tracker, sobol_points
from .lbfgsb import lockstep_lbfgsb


def _distinct_best(Z: np.ndarray, values: np.ndarray, k: int, min_dist: float) -> np.ndarray:
    order = np.argsort(values)
    chosen: list[np.ndarray] = []
    for i in order:
        if all(np.max(np.abs(Z[i] - c)) > min_dist for c in chosen):
            chosen.append(Z[i])
        if len(chosen) == k:
            break
    return np.stack(chosen)


class Hybrid(Optimizer):
    """Options: ``samples`` (screen size, default 512), ``batch`` (screen batch, default 128),
    ``polish`` (L-BFGS-B starts, default 4), ``maxiter``, ``ftol`` (default 1e-12),
    ``count_weight`` (mV^2 per wrong spike added to the polished value when not staging,
    default 1e3; 0 turns it off), ``prune`` (default 10: once one polish start has converged at
    f*, starts still above 10 f* + 1 are stopped; None keeps every start to its end)."""

    name: ClassVar[str] = "hybrid"
    doc: ClassVar[str] = "batched quasi-random screen, then multi-start L-BFGS-B polishing"
    gradient: ClassVar[bool] = True
    default_evaluations: ClassVar[int] = 1500

    def _sizes(self) -> tuple[int, int, int]:
        return (int(self.options.get("samples", 512)), int(self.options.get("batch", 128)),
                int(self.options.get("polish", 4)))

    def warmup(self, objective) -> None:
        _, batch, polish = self._sizes()
        objective.batch("screen", np.full((batch, objective.dim), 0.5))
        if self.options.get("forced", True) and objective.can_force_spikes:
            objective.batch("forced_loss", np.full((batch, objective.dim), 0.5))
            objective.batch("forced_value_and_grad", np.full((polish, objective.dim), 0.5))
            objective.batch("loss", np.full((polish, objective.dim), 0.5))
        elif self._count_weight(objective) is not None:
            objective.batch("counted_value_and_grad", np.full((polish, objective.dim), 0.5))
            return
        objective.batch("value_and_grad", np.full((polish, objective.dim), 0.5))

    def _count_weight(self, objective) -> float | None:
        w = self.options.get("count_weight", 1e3)
        if w is None or float(w) <= 0 or not any(np.size(s) for s in objective.data_spikes):
            return None
        return float(w)

    def run(self, tracker: Tracker, rng: np.random.Generator) -> OptOutcome:
        samples, batch, polish = self._sizes()
        d = tracker.objective.dim
        remaining = tracker.remaining()
        forced = bool(self.options.get("forced", True)) and tracker.objective.can_force_spikes
        weight = None if forced else self._count_weight(tracker.objective)
        if remaining is not None:  # keep at least half of the budget for the gradient stages
            share = remaining // 2 // (2 if forced else 1)
            samples = max(min(batch, share), min(samples, share // batch * batch))
        Z = sobol_points(samples, d, tracker.seed)
        values = np.empty(samples)
        counts = np.empty(samples)
        for lo in range(0, samples, batch):
            chunk = Z[lo:lo + batch]
            n = chunk.shape[0]
            if n < batch:
                chunk = np.concatenate([chunk, np.repeat(chunk[:1], batch - n, axis=0)])
            v, c = tracker.screen(chunk, count=n, count_weight=weight)
            values[lo:lo + n], counts[lo:lo + n] = v[:n], c[:n]
            tracker.end_iteration("hybrid: global screen")
        if forced:
            obj = tracker.objective
            forced = np.empty(samples)
            for lo in range(0, samples, batch):
                chunk = Z[lo:lo + batch]
                n = chunk.shape[0]
                if n < batch:
                    chunk = np.concatenate([chunk, np.repeat(chunk[:1], batch - n, axis=0)])
                forced[lo:lo + n] = tracker.evaluate_aux(partial(obj.batch, "forced_loss"), chunk, n)[:n]
                tracker.end_iteration("hybrid: forced-spike screen")
            starts_a = _distinct_best(Z, forced, polish, min_dist=0.02)
            starts_a = np.concatenate(
                [starts_a, np.repeat(starts_a[:1], polish - starts_a.shape[0], 0)])
            rem = tracker.remaining()
            outs = lockstep_lbfgsb(tracker, starts_a, maxiter=int(self.options.get("maxiter_a", 200)),
                                   message="hybrid: L-BFGS-B on the forced-spike loss",
                                   aux=partial(obj.batch, "forced_value_and_grad"),
                                   max_rounds=None if rem is None else max(1, rem // polish // 2))
            Za = np.stack([o.x if o is not None else z for o, z in zip(outs, starts_a)])
            va = tracker.evaluate(Za)
            tracker.end_iteration("hybrid: stage A optima")
            Z = np.concatenate([Za, Z])
            values = np.concatenate([va, values])
        elif weight is not None:
            # rank by spike-count mismatch first, then loss: the voltage MSE alone prefers a
            # silent cell (the ~286 mV^2 plateau of HH) to a spiking one with shifted spikes
            values = values + weight * np.minimum(counts, 1e6)
        starts = _distinct_best(Z, values, polish, min_dist=0.02)
        if starts.shape[0] < polish:
            starts = np.concatenate([starts, np.repeat(starts[:1], polish - starts.shape[0], 0)])
        prune = self.options.get("prune", 10.0)
        outs = lockstep_lbfgsb(tracker, starts, maxiter=int(self.options.get("maxiter", 1000)),
                               ftol=float(self.options.get("ftol", 1e-12)),
                               message="hybrid: L-BFGS-B polish", count_weight=weight,
                               prune=None if prune is None else float(prune))
        msgs = sorted({str(o.message) for o in outs if o is not None})
        return OptOutcome(message="; ".join(msgs), extra={"screen_best": float(values.min())})
