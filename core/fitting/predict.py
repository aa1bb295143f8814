"""Validation on data not used for fitting: simulate a fitted model on another recording's
stimulus and score it against that recording's voltage (MSE, gamma factor, spike counts).

Used by ``brainfit predict`` and by the workbench's "Validate on…" (through :class:`PredictJob`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import JobCancelled
from ..events import Event
from ..io.atomic import atomic_open, h5_target
from ..jobs import IsCancelled, Report
from .objective import Objective
from .results import FitResult


@dataclass
class Prediction:
    """A fitted model's response to another recording. ``V``/``V_data``: (sweeps, steps) in mV
    on the time base ``t`` (ms, from the window's start); ``model_spikes``/``data_spikes``:
    spike times (ms) per sweep."""

    fit: FitResult
    recording_name: str
    sweeps: list[int]
    loss: float
    gamma: float
    n_model_spikes: int
    n_data_spikes: int
    n_coincident: int
    diverged: bool
    t: np.ndarray
    V: np.ndarray
    V_data: np.ndarray
    model_spikes: list[np.ndarray]
    data_spikes: list[np.ndarray]

    def summary(self) -> dict[str, Any]:
        """JSON-able scores (the CLI's ``--json`` line)."""
        return {"loss": float(self.loss), "gamma": float(self.gamma),
                "n_model_spikes": int(self.n_model_spikes), "n_data_spikes": int(self.n_data_spikes),
                "n_coincident": int(self.n_coincident), "diverged": bool(self.diverged),
                "sweeps": list(self.sweeps),
                "per_sweep_spikes": {"model": [int(np.size(m)) for m in self.model_spikes],
                                     "data": [int(np.size(d)) for d in self.data_spikes]}}

    def export(self, path: str) -> None:
        """Predicted and recorded traces with the model's spike times: ``.csv`` (plus a
        ``_spikes.json`` beside it) or HDF5 (any other suffix)."""
        path = str(path)
        if path.lower().endswith(".csv"):
            cols = [self.t] + [c for k in range(self.V.shape[0]) for c in (self.V_data[k], self.V[k])]
            head = "t_ms," + ",".join(f"V_data_{s}_mV,V_model_{s}_mV" for s in self.sweeps)
            with atomic_open(path, "w") as fh:
                np.savetxt(fh, np.column_stack(cols), delimiter=",", header=head, comments="")
            with atomic_open(path[:-4] + "_spikes.json", "w") as fh:
                json.dump({"sweeps": self.sweeps, "model": [m.tolist() for m in self.model_spikes],
                           "data": [d.tolist() for d in self.data_spikes]}, fh)
            return
        with h5_target(path) as f:
            g = f.create_group("prediction")
            g.attrs["dt_ms"] = float(self.t[1] - self.t[0]) if self.t.size > 1 else 0.0
            g.attrs["recording"] = self.recording_name
            g.attrs["model"] = self.fit.model
            g.attrs["scores"] = json.dumps(self.summary())
            g.create_dataset("t", data=self.t).attrs["units"] = "ms"
            g.create_dataset("V_model", data=self.V).attrs["units"] = "mV"
            g.create_dataset("V_data", data=self.V_data).attrs["units"] = "mV"
            for k, m in enumerate(self.model_spikes):
                g.create_dataset(f"spike_times_{k:04d}", data=np.asarray(m)).attrs["units"] = "ms"


def predict(fit: FitResult, recording, sweeps: Sequence[int] | None = None,
            window: tuple[float | None, float | None] | None = None) -> Prediction:
    """Simulate ``fit``'s model on ``recording``'s stimulus (same solver, decimation and fixed
    parameters as the fit) and score it against the recorded voltage."""
    s = fit.settings
    objective = Objective.from_recording(
        recording, fit.model, fit.free, sweeps=sweeps, window=window,
        bounds={k: tuple(v) for k, v in s.get("bounds", {}).items()},
        fixed={k: v for k, v in fit.params.items() if k not in fit.free},
        decimate=int(s.get("decimate", 1)), solver=s.get("solver", "exp_euler"))
    z = objective.to_unit(fit.fitted)
    V, S, _status = objective.simulate(z)
    ev = objective.evaluate(z)
    V = np.asarray(V)
    chosen = list(range(recording.n_sweeps)) if sweeps is None else [int(k) for k in sweeps]
    return Prediction(fit=fit, recording_name=recording.name, sweeps=chosen, loss=float(ev["loss"]),
                      gamma=float(ev["gamma"]), n_model_spikes=int(ev["n_model_spikes"]),
                      n_data_spikes=int(ev["n_data_spikes"]), n_coincident=int(ev["n_coincident"]),
                      diverged=bool(ev["diverged"]), t=np.arange(V.shape[1]) * objective.dt,
                      V=V, V_data=np.asarray(objective.V),
                      model_spikes=[np.asarray(m) for m in objective.model_spike_times(V, S)],
                      data_spikes=[np.asarray(d) for d in objective.data_spikes])


@dataclass
class PredictJob:
    """The job-seam form of :func:`predict` (one simulation; cancellable before it starts)."""

    fit: FitResult
    recording: Any
    sweeps: Sequence[int] | None = None
    window: tuple[float | None, float | None] | None = None
    name: str = "predict"

    def run(self, report: Report, is_cancelled: IsCancelled) -> Prediction:
        report(Event(job=self.name, done=0, total=1,
                     message=f"simulating {self.fit.model} on {self.recording.name}"))
        if is_cancelled():
            raise JobCancelled("validation cancelled")
        result = predict(self.fit, self.recording, self.sweeps, self.window)
        report(Event(job=self.name, done=1, total=1, message="validation done"))
        return result
