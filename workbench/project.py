"""Project files: the whole session in one HDF5 file (Qt-free).

```
/                attrs: layout="brainfit-project", layout_version, versions (JSON), saved_at,
                 session (JSON: recording path, sweep, fit sweeps, window, model, parameters,
                 fit settings)
/recording       the recording itself (core.io.hdf5 layout), so a project opens anywhere
/results/fit_0000 ...   each FitResult (core.fitting.results layout)
/comparison      the last ComparisonResult, if any
/network         the last network simulation (core.network.run layout), if any
/training        the last evidence-task training (core.training.evidence_results layout)
```
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import h5py

from core import library_versions
from core.errors import BrainfitError, RecordingError
from core.io import read_brainfit_hdf5, write_recording
from core.io.atomic import h5_target

from .session import FitSettings, ParameterSetting, Session

LAYOUT = "brainfit-project"
LAYOUT_VERSION = 1


def versions() -> dict[str, str]:
    return library_versions("jax", "numpy", "scipy")


def _session_dict(session: Session) -> dict:
    return {"recording_path": session.recording_path, "sweep": session.sweep,
            "fit_sweeps": list(session.fit_sweeps), "window": list(session.window),
            "model_name": session.model_name,
            "parameters": {k: dataclasses.asdict(v) for k, v in session.parameters.items()},
            "fit": dataclasses.asdict(session.fit),
            "recording_paths": list(session.recording_paths),
            "parameter_sources": dict(session.parameter_sources),
            "measurements": None if session.measurements is None else
            session.measurements.as_dict(),
            "data_defaults": None if session.data_defaults is None else
            session.data_defaults.as_dict(),
            "cell_validation": session.cell_validation}


def save_project(session: Session, path: str | os.PathLike) -> None:
    """Write atomically (temp file + rename) so a crash never leaves a half-written project."""
    with h5_target(Path(path)) as f:
        f.attrs["layout"] = LAYOUT
        f.attrs["layout_version"] = LAYOUT_VERSION
        f.attrs["versions"] = json.dumps(versions())
        f.attrs["saved_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        f.attrs["session"] = json.dumps(_session_dict(session))
        if session.recording is not None:
            write_recording(session.recording, f, "recording")
        results = f.create_group("results")
        for k, fit in enumerate(session.results):
            fit.to_hdf5(results, f"fit_{k:04d}")
        if session.comparison is not None:
            session.comparison.to_hdf5(f, "comparison")
        if session.network is not None:
            session.network.save(f)
        if session.training is not None:
            session.training.write_group(f.create_group("training"))


def load_project(path: str | os.PathLike) -> Session:
    """Read a project into a new :class:`Session`; RecordingError with the reason otherwise."""
    from core.fitting import ComparisonResult, FitResult

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise RecordingError(f"{path}: not a readable project file ({exc})") from None
    with f:
        if f.attrs.get("layout") != LAYOUT:
            raise RecordingError(f"{path}: not a Brainfit project (no '{LAYOUT}' layout tag)")
        try:
            state = json.loads(f.attrs["session"])
            session = Session()
            if "recording" in f:  # named after the file it was opened from, not the project
                session.recording = read_brainfit_hdf5(f, "recording",
                                                       state["recording_path"] or str(path))
            session.recording_path = state["recording_path"]
            session.sweep = int(state["sweep"])
            session.fit_sweeps = tuple(state["fit_sweeps"])
            session.window = tuple(state["window"])
            session.model_name = state["model_name"]
            session.parameters = {k: ParameterSetting(**v) for k, v in state["parameters"].items()}
            fit = state["fit"]
            fit["methods"] = tuple(fit["methods"])
            session.fit = FitSettings(**fit)
            session.recording_paths = tuple(state.get("recording_paths", ()))
            session.parameter_sources = dict(state.get("parameter_sources", {}))
            if state.get("measurements"):
                from core.features import CellMeasurements

                session.measurements = CellMeasurements.from_dict(state["measurements"])
            if state.get("data_defaults"):
                from core.fitting.starts import DataDefaults

                session.data_defaults = DataDefaults.from_dict(state["data_defaults"])
            session.cell_validation = state.get("cell_validation")
            session.results = [FitResult.from_hdf5(f["results"], name) for name in sorted(f["results"])]
            if "comparison" in f:
                session.comparison = ComparisonResult.from_hdf5(f, "comparison")
            if "network" in f:
                from core.network import NetworkResult

                session.network = NetworkResult.load(f)
            if "training" in f:
                from core.training.evidence_results import EvidenceTrainResult

                session.training = EvidenceTrainResult.read_group(f["training"])
        except BrainfitError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordingError(f"{path}: corrupt project file ({type(exc).__name__}: {exc})") from None
    session.dirty = False
    return session
