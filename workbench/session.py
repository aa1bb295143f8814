"""Qt-free application state: what the user has open and chosen. Views observe it.

Listeners are called with a short topic string ("recording", "sweep", "window", "model",
"parameters", "fit_settings", "results") after each change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.errors import ParameterError
from core.io import Recording
from core.models import MODELS, NeuronModel
from core.params import is_finite_number

DEFAULT_MODEL = "gif"


@dataclass
class ParameterSetting:
    value: float
    lower: float
    upper: float
    free: bool


@dataclass
class FitSettings:
    methods: tuple[str, ...] = ("lbfgsb",)
    loss: str = "mse"
    budget: int = 400
    bayes_budget: int = 40
    seeds: int = 1
    starts: int = 8


def parameters_from_specs(model_name: str) -> dict[str, ParameterSetting]:
    return {p.name: ParameterSetting(p.default, p.lower, p.upper, p.fitted)
            for p in MODELS[model_name].PARAMS}


@dataclass
class Session:
    recording: Recording | None = None
    recording_path: str = ""
    sweep: int = 0
    fit_sweeps: tuple[int, ...] = ()
    window: tuple[float, float] = (0.0, 0.0)
    model_name: str = DEFAULT_MODEL
    parameters: dict[str, ParameterSetting] = field(default_factory=lambda: parameters_from_specs(DEFAULT_MODEL))
    fit: FitSettings = field(default_factory=FitSettings)
    results: list[Any] = field(default_factory=list)
    comparison: Any = None
    network: Any = None
    training: Any = None  # the last evidence-task training (core EvidenceTrainResult)
    # the files that form the cell (several when a lab stores one sweep per file)
    recording_paths: tuple[str, ...] = ()
    measurements: Any = None  # core.features.CellMeasurements of the recording
    data_defaults: Any = None  # core.fitting.starts.DataDefaults for model_name
    # where each parameter's value came from: "default", "data", "fit" or "edited"
    parameter_sources: dict[str, str] = field(default_factory=dict)
    cell_validation: Any = None  # the last default fit's held-out scores (dict)
    parameters_edited: bool = False  # the user changed a value, bound or free box
    dirty: bool = False
    _listeners: list[Callable[[str], None]] = field(default_factory=list, repr=False)

    # ---- observation --------------------------------------------------------------------------
    def snapshot(self) -> Session:
        """A copy to write while the user goes on (autosave on a thread): its own containers,
        no listeners; the recording and results are shared (they are replaced, never edited)."""
        return dataclasses.replace(
            self, parameters={k: dataclasses.replace(v) for k, v in self.parameters.items()},
            fit=dataclasses.replace(self.fit), results=list(self.results),
            parameter_sources=dict(self.parameter_sources), _listeners=[])

    def subscribe(self, callback: Callable[[str], None]) -> None:
        self._listeners.append(callback)

    def _changed(self, what: str, dirty: bool = True) -> None:
        self.dirty = self.dirty or dirty
        for callback in list(self._listeners):
            callback(what)

    # ---- recording ----------------------------------------------------------------------------
    def set_recording(self, recording: Recording, path: str = "",
                      paths: tuple[str, ...] | None = None) -> None:
        self.recording, self.recording_path, self.sweep = recording, path, 0
        self.recording_paths = tuple(paths) if paths else ((path,) if path else ())
        self.measurements, self.data_defaults, self.cell_validation = None, None, None
        self.fit_sweeps = tuple(range(recording.n_sweeps))
        first = recording.sweeps[0]
        self.window = (first.t0, first.t0 + first.duration)
        self._changed("recording")

    def set_sweep(self, index: int) -> None:
        if self.recording is not None and 0 <= index < self.recording.n_sweeps and index != self.sweep:
            self.sweep = index
            self._changed("sweep", dirty=False)

    def set_fit_sweeps(self, sweeps: tuple[int, ...]) -> None:
        self.fit_sweeps = tuple(sweeps)
        self._changed("fit_sweeps")

    def set_window(self, start: float, stop: float) -> None:
        if not (is_finite_number(start) and is_finite_number(stop)) or stop <= start:
            raise ParameterError(f"the fit window must end after it starts (got {start:g}–{stop:g} ms)")
        self.window = (float(start), float(stop))
        self._changed("window")

    # ---- model ----------------------------------------------------------------------------------
    def set_model_name(self, name: str) -> None:
        if name not in MODELS:
            raise ParameterError(f"unknown model {name!r}")
        self.model_name = name
        self.parameters = parameters_from_specs(name)
        self.parameter_sources = {}
        self.data_defaults = None
        self.parameters_edited = False
        self._changed("model")

    def set_measurements(self, measurements) -> None:
        self.measurements = measurements  # derived from the recording: not an unsaved edit
        self._changed("measurements", dirty=False)

    def apply_data_defaults(self, defaults) -> None:
        """Take ``defaults`` (a ``DataDefaults`` for this model) as the parameters: values,
        bounds and free set derived from the recording, each marked "data"."""
        if defaults.model != self.model_name:
            raise ParameterError(f"defaults for {defaults.model}, but the model is {self.model_name}")
        specs = MODELS[self.model_name].specs()
        for name, value in defaults.values.items():
            if name not in specs:
                continue
            spec = specs[name]
            lo, hi = defaults.bounds.get(name, (spec.lower, spec.upper))
            lo, hi = min(lo, value), max(hi, value)
            self.parameters[name] = ParameterSetting(float(value), float(lo), float(hi),
                                                     name in defaults.free)
            self.parameter_sources[name] = "data"
        self.data_defaults = defaults
        self.parameters_edited = False
        self._changed("parameters")

    def source_of(self, name: str) -> str:
        return self.parameter_sources.get(name, "default")

    def set_parameter(self, name: str, source: str = "edited", **changes) -> None:
        """Change value/lower/upper/free of one parameter; refuses absurd settings with a message.
        ``source`` records where a new value came from ("edited" by the user, "fit")."""
        current = self.parameters[name]
        proposed = dataclasses.replace(current, **changes)
        for key in ("value", "lower", "upper"):
            if not is_finite_number(getattr(proposed, key)):
                raise ParameterError(f"{name}: {key} must be a number")
        if not proposed.lower <= proposed.value <= proposed.upper:
            raise ParameterError(f"{name}: bounds [{proposed.lower:g}, {proposed.upper:g}] must "
                                 f"bracket the value {proposed.value:g}")
        spec = MODELS[self.model_name].specs()[name]
        spec.check(proposed.value, owner=self.model_name)
        if spec.log and proposed.lower <= 0:
            raise ParameterError(f"{name}: the lower bound must be > 0 (fitted in log space)")
        self.parameters[name] = proposed
        if "value" in changes and changes["value"] != current.value:
            self.parameter_sources[name] = source
        if source == "edited" and proposed != current:
            self.parameters_edited = True  # data-derived defaults arriving later keep this
        self._changed("parameters")

    def model(self) -> NeuronModel:
        return MODELS[self.model_name](**{k: p.value for k, p in self.parameters.items()})

    def free_parameters(self) -> tuple[str, ...]:
        return tuple(k for k, p in self.parameters.items() if p.free)

    # ---- fitting -----------------------------------------------------------------------------
    def set_fit_settings(self, **changes) -> None:
        self.fit = dataclasses.replace(self.fit, **changes)
        self._changed("fit_settings")

    def add_result(self, result) -> None:
        self.results.append(result)
        self._changed("results")

    def set_comparison(self, comparison) -> None:
        self.comparison = comparison
        self._changed("results")

    # ---- network ------------------------------------------------------------------------------
    def set_network(self, result) -> None:
        """The last network simulation (a ``core.network.NetworkResult``), saved with the project."""
        self.network = result
        self._changed("network")

    # ---- training -----------------------------------------------------------------------------
    def set_training(self, result) -> None:
        """The last trained network (a ``core.training.EvidenceTrainResult``), saved with the
        project under ``/training``."""
        self.training = result
        self._changed("training")
