"""Bayesian optimisation with scikit-optimize (Gaussian-process surrogate, ``gp_hedge``
acquisition), ask/tell with ``batch`` points per round (constant-liar ``cl_min``), each round
evaluated in one batched simulation.

Bounded cost: the acquisition function is minimised by evaluating it at ``acq_points`` random
points (skopt's ``acq_optimizer="sampling"``) rather than by multi-restart L-BFGS on the GP, which
made one ``ask`` take seconds on a loaded 2-core machine (100 evaluations took 156-781 s). Pass
``acq_optimizer="lbfgs"`` for skopt's default; combine with a ``Budget(seconds=...)`` for a hard
wall-time limit (the tracker stops between rounds)."""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np

from ...errors import OptimizerError
from .base import Optimizer, OptOutcome, Tracker


class Bayes(Optimizer):
    """Options: ``batch`` (points per round, default 5), ``initial_points`` (default 10),
    ``acq_optimizer`` ("sampling" default, or "lbfgs"), ``acq_points`` (default 2000),
    ``restarts`` (L-BFGS restarts of the acquisition optimizer with "lbfgs", default 2)."""

    name: ClassVar[str] = "bayes"
    doc: ClassVar[str] = "scikit-optimize Bayesian optimisation (GP, batched ask/tell)"
    default_evaluations: ClassVar[int] = 100

    def _batch(self) -> int:
        b = int(self.options.get("batch", 5))
        if b < 1:
            raise OptimizerError(f"bayes: batch must be >= 1, got {b}")
        return b

    def warmup(self, objective) -> None:
        objective.batch("loss", np.full((self._batch(), objective.dim), 0.5))

    def run(self, tracker: Tracker, rng: np.random.Generator) -> OptOutcome:
        from skopt import Optimizer as SkOptimizer
        from skopt.space import Real

        d = tracker.objective.dim
        batch = self._batch()
        try:
            opt = SkOptimizer([Real(0.0, 1.0) for _ in range(d)], base_estimator="GP",
                              acq_func="gp_hedge",
                              n_initial_points=int(self.options.get("initial_points", 10)),
                              initial_point_generator="halton", random_state=tracker.seed,
                              acq_optimizer=str(self.options.get("acq_optimizer", "sampling")),
                              acq_optimizer_kwargs={
                                  "n_points": int(self.options.get("acq_points", 2000)),
                                  "n_restarts_optimizer": int(self.options.get("restarts", 2)),
                                  "n_jobs": 1})
        except Exception as exc:  # noqa: BLE001
            raise OptimizerError(f"bayes: scikit-optimize could not be set up ({exc})") from exc
        while True:
            remaining = tracker.remaining()
            n = batch if remaining is None else min(batch, remaining)
            if n <= 0:
                break
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pts = opt.ask(n_points=n, strategy="cl_min") if n > 1 else [opt.ask()]
            Z = np.clip(np.asarray(pts, float), 0.0, 1.0)
            if n < batch:
                Z = np.concatenate([Z, np.repeat(Z[:1], batch - n, axis=0)])
            values = tracker.evaluate(Z, count=n)
            # the GP models log(loss): spike-train MSE spans decades
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                opt.tell([list(map(float, z)) for z in Z[:n]],
                         [float(np.log(max(v, 1e-12))) for v in values[:n]])
            tracker.end_iteration("bayes round")
        return OptOutcome(message="budget spent")
