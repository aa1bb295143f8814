"""Methods x seeds on the same objective -> a table (the seed paper's Tables S2/S3)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from ..errors import JobCancelled, OptimizerError
from .fit import run_fit
from .objective import Objective
from .optimizers import OPTIMIZERS, Budget
from .results import ComparisonResult, FitResult, table_rows


def compare(objective: Objective, methods: Sequence[str], seeds: Sequence[int] | int = 3, *,
            budgets: Mapping[str, Budget | int] | None = None,
            options: Mapping[str, Mapping] | None = None, report: Callable | None = None,
            is_cancelled: Callable[[], bool] | None = None, uncertainty: bool = False,
            preview_interval: float | None = None, job: str = "compare") -> ComparisonResult:
    """Run every method with every seed; a cancel stops the comparison after keeping the
    interrupted run's best point (the table then covers the runs done so far)."""
    methods = list(methods)
    if not methods:
        raise OptimizerError("no optimizer chosen for the comparison")
    bad = [m for m in methods if m not in OPTIMIZERS]
    if bad:
        raise OptimizerError(f"unknown optimizer(s) {', '.join(bad)}; known: {', '.join(OPTIMIZERS)}")
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if not seeds:
        raise OptimizerError("a comparison needs at least one seed")
    budgets = dict(budgets or {})
    options = dict(options or {})
    fits: list[FitResult] = []
    cancelled = False
    for method in methods:
        for seed in seeds:
            try:
                fit = run_fit(objective, method, seed=seed, budget=budgets.get(method),
                              options=options.get(method), report=report,
                              is_cancelled=is_cancelled, uncertainty=uncertainty,
                              preview_interval=preview_interval, job=job)
            except JobCancelled:
                cancelled = True
                break
            fits.append(fit)
            if fit.cancelled:
                cancelled = True
                break
        if cancelled:
            break
    settings = {"objective": objective.settings(), "methods": methods, "seeds": seeds,
                "budgets": {m: (b.evaluations if isinstance(b, Budget) else b)
                            for m, b in budgets.items()}}
    return ComparisonResult(table_rows(fits) if fits else [], fits, settings, cancelled)
