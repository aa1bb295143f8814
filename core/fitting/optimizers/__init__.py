"""One interface for every optimizer: ``get_optimizer(name, **options).run(tracker, rng)``."""

from __future__ import annotations

from ...errors import OptimizerError
from .base import Budget, Optimizer, OptOutcome, StopOptimization, Tracker, sobol_points
from .hybrid import Hybrid
from .lbfgsb import LBFGSB, lockstep_lbfgsb
from .nevergrad import DE, PSO, TwoPointsDE
from .skopt import Bayes

OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (LBFGSB, Hybrid, DE, TwoPointsDE, PSO, Bayes)}


def available_methods() -> list[str]:
    """Names of the optimizers, gradient methods first."""
    return list(OPTIMIZERS)


def describe_methods() -> list[dict]:
    return [{"name": c.name, "doc": c.doc, "gradient": c.gradient,
             "default_evaluations": c.default_evaluations} for c in OPTIMIZERS.values()]


def default_budget(method: str) -> int:
    """Default evaluation budget of ``method``."""
    return _cls(method).default_evaluations


def _cls(method: str) -> type[Optimizer]:
    try:
        return OPTIMIZERS[method]
    except KeyError:
        raise OptimizerError(f"unknown optimizer {method!r}; known: "
                             f"{', '.join(OPTIMIZERS)}") from None


def get_optimizer(method: str, **options) -> Optimizer:
    return _cls(method)(**options)


__all__ = ["Budget", "OPTIMIZERS", "OptOutcome", "Optimizer", "StopOptimization", "Tracker",
           "available_methods", "default_budget", "describe_methods", "get_optimizer",
           "lockstep_lbfgsb", "sobol_points", "LBFGSB", "Hybrid", "DE", "TwoPointsDE", "PSO",
           "Bayes"]
