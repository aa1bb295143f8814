"""Nevergrad's DE, TwoPointsDE and PSO through ask/tell; each population is evaluated in one
batched (``vmap``) simulation call.

The search space is nevergrad's bounded ``Array`` over the unit cube; its random state is seeded,
so a seed reproduces the run. ``popsize`` candidates are asked, evaluated together (the last
batch is padded to the same compiled shape) and told back.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ...errors import OptimizerError
from .base import Optimizer, OptOutcome, Tracker

_NG_NAMES = {"de": "DE", "twopointsde": "TwoPointsDE", "pso": "PSO"}


class NevergradOptimizer(Optimizer):
    """Options: ``popsize`` (candidates per batch, default 30)."""

    name: ClassVar[str] = ""
    default_evaluations: ClassVar[int] = 2000

    def _popsize(self) -> int:
        p = int(self.options.get("popsize", 30))
        if p < 4:
            raise OptimizerError(f"{self.name}: popsize must be >= 4, got {p}")
        return p

    def warmup(self, objective) -> None:
        objective.batch("loss", np.full((self._popsize(), objective.dim), 0.5))

    def run(self, tracker: Tracker, rng: np.random.Generator) -> OptOutcome:
        import nevergrad as ng

        d = tracker.objective.dim
        pop = self._popsize()
        param = ng.p.Array(shape=(d,), lower=0.0, upper=1.0)
        param.random_state = np.random.RandomState(tracker.seed)
        budget = tracker.budget.evaluations or 10**9
        try:
            opt = ng.optimizers.registry[_NG_NAMES[self.name]](
                parametrization=param, budget=budget, num_workers=pop)
        except Exception as exc:  # noqa: BLE001 - nevergrad raises many kinds
            raise OptimizerError(f"{self.name}: nevergrad could not be set up ({exc})") from exc
        while True:
            remaining = tracker.remaining()
            n = pop if remaining is None else min(pop, remaining)
            if n <= 0:
                break
            cands = [opt.ask() for _ in range(n)]
            Z = np.stack([np.asarray(c.value, float) for c in cands])
            if n < pop:
                Z = np.concatenate([Z, np.repeat(Z[:1], pop - n, axis=0)])
            values = tracker.evaluate(Z, count=n)
            for c, v in zip(cands, values[:n]):
                opt.tell(c, float(v))
            tracker.end_iteration(f"{self.name} population")
        return OptOutcome(message="budget spent")


class DE(NevergradOptimizer):
    name: ClassVar[str] = "de"
    doc: ClassVar[str] = "nevergrad differential evolution (DE)"


class TwoPointsDE(NevergradOptimizer):
    name: ClassVar[str] = "twopointsde"
    doc: ClassVar[str] = "nevergrad TwoPointsDE (two-points crossover DE)"


class PSO(NevergradOptimizer):
    name: ClassVar[str] = "pso"
    doc: ClassVar[str] = "nevergrad particle swarm optimisation"
