"""Jobs for the GUI and the CLI: :class:`FitJob` and :class:`CompareJob`.

Both follow the job seam ``run(report, is_cancelled) -> result``: they build the
:class:`~core.fitting.objective.Objective` (compiled functions are cached, so a second run with
the same model, free set and shapes does not recompile), send one
:class:`~core.events.FitProgress` per optimizer iteration (with a preview trace of the best model's
first sweep at most every ``preview_interval`` s) and stop within one iteration of a cancel,
returning the best point so far (``FitResult.cancelled``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..jobs import IsCancelled, Report
from .compare import compare
from .fit import run_fit
from .objective import LossSpec, Objective
from .optimizers import Budget
from .results import ComparisonResult, FitResult


@dataclass
class ObjectiveSpec:
    """How to build the objective from a recording (all plain data, GUI-editable)."""

    recording: Any
    model: str
    free: Sequence[str]
    bounds: Mapping[str, tuple[float, float]] | None = None
    fixed: Mapping[str, float] | None = None
    loss: LossSpec | None = None
    sweeps: Sequence[int] | None = None
    window: tuple[float | None, float | None] | None = None
    decimate: int = 1
    solver: str = "exp_euler"
    surrogate: str = "sigmoid"
    surrogate_params: Mapping[str, float] | None = None
    data_spikes: Any = None
    truth: Mapping[str, float] | None = None
    spike_threshold: float = -20.0

    def build(self) -> Objective:
        return Objective.from_recording(
            self.recording, self.model, self.free, sweeps=self.sweeps, window=self.window,
            bounds=self.bounds, fixed=self.fixed, loss=self.loss, decimate=self.decimate,
            solver=self.solver, surrogate=self.surrogate, surrogate_params=self.surrogate_params,
            data_spikes=self.data_spikes, truth=self.truth, spike_threshold=self.spike_threshold)


def _budget(b) -> Budget | None:
    if b is None or isinstance(b, Budget):
        return b
    if isinstance(b, Mapping):
        return Budget(**b)
    return Budget(evaluations=int(b))


@dataclass
class FitJob:
    """Fit ``model`` to ``recording``: ``FitJob(rec, "gif", ["A1", "A2"], method="lbfgsb")``.

    ``budget``: evaluations (int), a :class:`Budget` or ``{"evaluations":..,"seconds":..}``;
    None uses ``default_budget(method)``. ``options`` go to the optimizer (e.g. ``starts``)."""

    recording: Any
    model: str
    free: Sequence[str]
    bounds: Mapping[str, tuple[float, float]] | None = None
    fixed: Mapping[str, float] | None = None
    loss: LossSpec | None = None
    method: str = "lbfgsb"
    seed: int = 0
    budget: Any = None
    options: Mapping[str, Any] | None = None
    sweeps: Sequence[int] | None = None
    window: tuple[float | None, float | None] | None = None
    decimate: int = 1
    solver: str = "exp_euler"
    data_spikes: Any = None
    truth: Mapping[str, float] | None = None
    uncertainty: bool = True
    preview_interval: float | None = 0.2
    name: str = "fit"
    extra: dict = field(default_factory=dict)

    def objective(self) -> Objective:
        return ObjectiveSpec(self.recording, self.model, self.free, self.bounds, self.fixed,
                             self.loss, self.sweeps, self.window, self.decimate, self.solver,
                             data_spikes=self.data_spikes, truth=self.truth, **self.extra).build()

    def run(self, report: Report, is_cancelled: IsCancelled) -> FitResult:
        objective = self.objective()
        return run_fit(objective, self.method, seed=self.seed, budget=_budget(self.budget),
                       options=self.options, report=report, is_cancelled=is_cancelled,
                       uncertainty=self.uncertainty, preview_interval=self.preview_interval,
                       job=self.name)


@dataclass
class CompareJob:
    """Every method in ``methods`` with every seed on one objective -> ComparisonResult."""

    recording: Any
    model: str
    free: Sequence[str]
    methods: Sequence[str] = ("lbfgsb", "hybrid", "de", "twopointsde", "pso", "bayes")
    seeds: Sequence[int] | int = 3
    bounds: Mapping[str, tuple[float, float]] | None = None
    fixed: Mapping[str, float] | None = None
    loss: LossSpec | None = None
    budgets: Mapping[str, Any] | None = None
    options: Mapping[str, Mapping] | None = None
    sweeps: Sequence[int] | None = None
    window: tuple[float | None, float | None] | None = None
    decimate: int = 1
    solver: str = "exp_euler"
    data_spikes: Any = None
    truth: Mapping[str, float] | None = None
    uncertainty: bool = False
    preview_interval: float | None = 0.2
    name: str = "compare"
    extra: dict = field(default_factory=dict)

    def run(self, report: Report, is_cancelled: IsCancelled) -> ComparisonResult:
        objective = ObjectiveSpec(self.recording, self.model, self.free, self.bounds, self.fixed,
                                  self.loss, self.sweeps, self.window, self.decimate, self.solver,
                                  data_spikes=self.data_spikes, truth=self.truth,
                                  **self.extra).build()
        budgets = {m: _budget(b) for m, b in dict(self.budgets or {}).items()}
        return compare(objective, self.methods, self.seeds, budgets=budgets,
                       options=self.options, report=report, is_cancelled=is_cancelled,
                       uncertainty=self.uncertainty, preview_interval=self.preview_interval,
                       job=self.name)
