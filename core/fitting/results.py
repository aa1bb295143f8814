"""Fit and comparison results: plain data that save to and load from HDF5 (and CSV for tables).

```
/fit                       attrs: layout="brainfit-fit", layout_version=1, meta (JSON: every
                           scalar, dict and setting of the FitResult)
/fit/history               (n, 3) float64: evaluations, elapsed s, best loss
/fit/correlation           (d, d) float64
/comparison                attrs: layout="brainfit-comparison", table (JSON rows), settings
/comparison/fit_0000 ...   one /fit layout per run
```
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import h5py
import numpy as np

from ..errors import RecordingError
from ..io.atomic import atomic_open, h5_target, is_path

FIT_LAYOUT = "brainfit-fit"
COMPARISON_LAYOUT = "brainfit-comparison"
LAYOUT_VERSION = 1


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        x = float(x)
        return x if math.isfinite(x) else str(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.bool_,)):
        return bool(x)
    return x


def _unjson(x):
    if isinstance(x, dict):
        return {k: _unjson(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_unjson(v) for v in x]
    if x in ("inf", "-inf", "nan"):
        return float(x)
    return x


@dataclass
class FitResult:
    """One optimizer run. ``params`` holds every model parameter (fixed ones included),
    ``fitted`` only the free ones; ``loss`` is the voltage MSE (mV^2) at ``params``, ``objective``
    what the optimizer minimised (equal to ``loss`` unless a spike term was used)."""

    method: str
    seed: int
    model: str
    free: list[str]
    params: dict[str, float]
    fitted: dict[str, float]
    loss: float
    objective: float
    gamma: float
    gamma_loss: float
    n_model_spikes: int
    n_data_spikes: int
    evaluations: int
    iterations: int
    seconds: float
    compile_seconds: float
    start_loss: float
    stop_reason: str = ""
    message: str = ""
    cancelled: bool = False
    loss_at_truth: float | None = None
    param_error: dict[str, float] | None = None
    stderr: dict[str, float] = field(default_factory=dict)
    # what the Hessian cannot tell (``Uncertainty.notes``): parameters with no effect on the
    # data, trade-offs, directions of negative curvature; their stderr is NaN
    identifiability: list[str] = field(default_factory=list)
    correlation: np.ndarray | None = None
    history: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    settings: dict[str, Any] = field(default_factory=dict)

    _ARRAYS = ("correlation", "history")

    def summary(self) -> dict[str, Any]:
        """JSON-able one-line summary (the CLI's ``--json`` per method)."""
        return _jsonable({
            "method": self.method, "seed": self.seed, "loss": self.loss, "gamma": self.gamma,
            "evaluations": self.evaluations, "seconds": self.seconds,
            "compile_seconds": self.compile_seconds, "params": self.fitted,
            "loss_at_truth": self.loss_at_truth, "param_error": self.param_error,
            "stderr": self.stderr, "identifiability": self.identifiability,
            "cancelled": self.cancelled, "stop_reason": self.stop_reason})

    # ---- HDF5 -------------------------------------------------------------------------------
    def to_hdf5(self, target, group: str = "fit") -> None:
        """Write into ``target``: a path (a new file, written atomically) or an open group."""
        if is_path(target):
            with h5_target(target) as f:
                self.to_hdf5(f, group)
            return
        g = target.create_group(group)
        g.attrs["layout"] = FIT_LAYOUT
        g.attrs["layout_version"] = LAYOUT_VERSION
        meta = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in self._ARRAYS}
        g.attrs["meta"] = json.dumps(_jsonable(meta))
        g.create_dataset("history", data=np.asarray(self.history, float).reshape(-1, 3))
        corr = self.correlation if self.correlation is not None else np.zeros((0, 0))
        g.create_dataset("correlation", data=np.asarray(corr, float))

    @classmethod
    def from_hdf5(cls, source, group: str = "fit") -> FitResult:
        if is_path(source):
            try:
                with h5_target(source, "r") as f:
                    return cls.from_hdf5(f, group)
            except OSError as exc:
                raise RecordingError(f"{source}: not a readable HDF5 file ({exc})") from None
        if group not in source or source[group].attrs.get("layout") != FIT_LAYOUT:
            raise RecordingError(f"no Brainfit fit result at '/{group}'")
        g = source[group]
        try:
            meta = _unjson(json.loads(g.attrs["meta"]))
            corr = g["correlation"][()]
            return cls(**meta, correlation=corr if corr.size else None, history=g["history"][()])
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordingError(f"corrupt Brainfit fit result ({exc})") from None


def find_fit_groups(path) -> list[str]:
    """Paths of every fit result inside an HDF5 file (a single fit or a comparison)."""
    out: list[str] = []
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Group) and obj.attrs.get("layout") == FIT_LAYOUT:
                out.append(name)
        f.visititems(visit)
    return out


def load_fit(path, group: str | None = None) -> FitResult:
    """The fit at ``group``, or the best (lowest loss) fit in the file."""
    try:
        groups = find_fit_groups(path) if group is None else [group]
    except OSError as exc:
        raise RecordingError(f"{path}: not a readable HDF5 file ({exc})") from None
    if not groups:
        raise RecordingError(f"{path}: holds no Brainfit fit result")
    fits = [FitResult.from_hdf5(path, g) for g in groups]
    return min(fits, key=lambda r: r.loss)


# --------------------------------------------------------------------------------------------
# comparison tables
# --------------------------------------------------------------------------------------------
TABLE_COLUMNS = ("method", "runs", "loss_mean", "loss_sd", "seconds_mean", "seconds_sd",
                 "compile_seconds_mean", "evaluations_mean", "gamma_mean", "gamma_sd",
                 "param_error_mean", "loss_at_truth", "best_loss", "cancelled")


def table_rows(fits: list[FitResult]) -> list[dict[str, Any]]:
    """One row per method: mean ± sd over seeds (sd with ddof=0 when a single run)."""
    rows = []
    for method in dict.fromkeys(f.method for f in fits):
        runs = [f for f in fits if f.method == method]
        loss = np.array([f.loss for f in runs])
        secs = np.array([f.seconds for f in runs])
        gam = np.array([f.gamma for f in runs])
        perr = [np.mean(list(f.param_error.values())) for f in runs if f.param_error]
        truth = [f.loss_at_truth for f in runs if f.loss_at_truth is not None]
        rows.append({
            "method": method, "runs": len(runs),
            "loss_mean": float(loss.mean()), "loss_sd": float(loss.std(ddof=1 if len(runs) > 1 else 0)),
            "seconds_mean": float(secs.mean()), "seconds_sd": float(secs.std(ddof=1 if len(runs) > 1 else 0)),
            "compile_seconds_mean": float(np.mean([f.compile_seconds for f in runs])),
            "evaluations_mean": float(np.mean([f.evaluations for f in runs])),
            "gamma_mean": float(gam.mean()), "gamma_sd": float(gam.std(ddof=1 if len(runs) > 1 else 0)),
            "param_error_mean": float(np.mean(perr)) if perr else None,
            "loss_at_truth": float(truth[0]) if truth else None,
            "best_loss": float(loss.min()),
            "cancelled": int(sum(f.cancelled for f in runs)),
        })
    return rows


@dataclass
class ComparisonResult:
    """Methods x seeds on one objective: the table rows and every FitResult."""

    rows: list[dict[str, Any]]
    fits: list[FitResult]
    settings: dict[str, Any] = field(default_factory=dict)
    cancelled: bool = False

    def to_csv(self, target=None) -> str:
        """Write the table as CSV to ``target`` (a path) and return the text."""
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(TABLE_COLUMNS), lineterminator="\n")
        w.writeheader()
        for r in self.rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in TABLE_COLUMNS})
        text = buf.getvalue()
        if target is not None:
            with atomic_open(target, "w", newline="") as fh:
                fh.write(text)
        return text

    def to_hdf5(self, target, group: str = "comparison") -> None:
        """Write into ``target``: a path (a new file, written atomically) or an open group."""
        if is_path(target):
            with h5_target(target) as f:
                self.to_hdf5(f, group)
            return
        g = target.create_group(group)
        g.attrs["layout"] = COMPARISON_LAYOUT
        g.attrs["layout_version"] = LAYOUT_VERSION
        g.attrs["table"] = json.dumps(_jsonable(self.rows))
        g.attrs["settings"] = json.dumps(_jsonable(self.settings))
        g.attrs["cancelled"] = bool(self.cancelled)
        numeric = [c for c in TABLE_COLUMNS if c not in ("method",)]
        data = np.array([[np.nan if r.get(c) is None else float(r[c]) for c in numeric]
                         for r in self.rows], float).reshape(len(self.rows), len(numeric))
        ds = g.create_dataset("table", data=data)
        ds.attrs["columns"] = json.dumps(numeric)
        ds.attrs["methods"] = json.dumps([r["method"] for r in self.rows])
        for i, fit in enumerate(self.fits):
            fit.to_hdf5(g, f"fit_{i:04d}")

    @classmethod
    def from_hdf5(cls, source, group: str = "comparison") -> ComparisonResult:
        if is_path(source):
            with h5_target(source, "r") as f:
                return cls.from_hdf5(f, group)
        if group not in source or source[group].attrs.get("layout") != COMPARISON_LAYOUT:
            raise RecordingError(f"no Brainfit comparison at '/{group}'")
        g = source[group]
        fits = [FitResult.from_hdf5(g, k) for k in sorted(g) if k.startswith("fit_")]
        return cls(_unjson(json.loads(g.attrs["table"])), fits,
                   _unjson(json.loads(g.attrs["settings"])), bool(g.attrs["cancelled"]))


__all__ = ["FitResult", "ComparisonResult", "table_rows", "load_fit", "find_fit_groups",
           "TABLE_COLUMNS", "asdict"]
