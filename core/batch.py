"""Batch fitting: many cells (× methods × seeds), one task each, on any :mod:`~core.engine`.

Input (:func:`collect_cells`): a folder (each recording file in it is one cell), a list of files
(each one cell), or a CSV manifest with the header ``cell,file`` whose rows map one or more files
to a cell (relative paths are read from the manifest's folder). Several inputs may be mixed.

Each task is a picklable :class:`BatchCellJob`: it opens the cell's files (:func:`core.io.open_cell`)
and runs the default validated fit (:func:`core.fitting.cell.fit_cell`) in the engine's worker.
Its outcome is written by the caller, atomically, to its own HDF5 file in the output folder::

    /                 attrs: layout="brainfit-batch-cell", cell, model, method, seed,
                      files (JSON), summary (JSON: CellFit.summary()), validation (JSON),
                      seconds (wall time of the task), compile_seconds and compiles (XLA
                      compilations during the task, see core.fitting.buckets)
    /fit              the FitResult (core.fitting.results layout)

Every objective of a task pads its sweeps to a length bucket (``buckets``,
:class:`~core.fitting.buckets.LengthBuckets`; the losses are unchanged), so a worker compiles
once per bucket, not once per cell; the summary's ``xla_compile_seconds`` / ``run_seconds`` /
``compiles`` say how much of each task was compilation.

A re-run skips every task whose result file exists (resume after a crash or a cancel) and a
file that cannot be read, or a fit that fails, becomes a failed row with its reason; it never
stops the batch. At the end the summary table (one row per task: the parameters, validation
scores, standard errors, timings, the failure reason) is written atomically as
``summary.csv`` and ``summary.h5``.

Progress: :class:`BatchProgress` events (a :class:`core.events.Event`) per task state change and
per fit event (carrying the task's latest :class:`~core.events.FitProgress` in ``inner``), with
``done``/``total`` counting ended tasks over all tasks.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import RecordingError
from .events import Event
from .jobs import IsCancelled, Report

CELL_LAYOUT = "brainfit-batch-cell"
SUMMARY_CSV = "summary.csv"
SUMMARY_H5 = "summary.h5"

#: the validation scores copied into the summary table (from ``fit_cell``'s validation dict)
VALIDATION_COLUMNS = ("n_data_spikes", "n_model_spikes", "spike_counts_within_20pct",
                      "mean_gamma_2ms", "mean_gamma_4ms", "mean_gamma_4ms_over_reliability",
                      "mean_subthreshold_rmse_mV", "diverged", "warning", "skipped")
BASE_COLUMNS = ("cell", "model", "method", "seed", "status", "reason", "resumed", "files",
                "result_file", "loss", "objective", "gamma", "evaluations", "seconds",
                "fit_seconds", "compile_seconds", "xla_compile_seconds", "run_seconds",
                "compiles", "stop_reason")


# --------------------------------------------------------------------------------------------
# cells
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CellSpec:
    """One cell: its name and the files that together hold its sweeps."""

    name: str
    files: tuple[str, ...]


def _recording_extensions() -> set[str]:
    from .io._registry import readers

    exts: set[str] = set()
    for r in readers():
        exts.update(e.lower() for e in r.extensions)
    return exts


def _is_manifest(path: str) -> bool:
    if not path.lower().endswith(".csv"):
        return False
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            first = fh.readline()
    except (OSError, UnicodeDecodeError):
        return False
    return [c.strip().lower() for c in first.split(",")][:2] == ["cell", "file"]


def read_manifest(path: str) -> list[CellSpec]:
    """The cells of a ``cell,file`` CSV manifest, in order of first appearance."""
    folder = os.path.dirname(os.path.abspath(path))
    cells: dict[str, list[str]] = {}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        for k, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) < 2 or not row[0].strip() or not row[1].strip():
                raise RecordingError(f"{path}, line {k}: expected 'cell,file', got {row!r}")
            f = os.path.expanduser(row[1].strip())
            if not os.path.isabs(f):
                f = os.path.join(folder, f)
            cells.setdefault(row[0].strip(), []).append(f)
    if not cells:
        raise RecordingError(f"{path}: the manifest lists no cells")
    return [CellSpec(name, tuple(files)) for name, files in cells.items()]


def collect_cells(inputs: Iterable[str | os.PathLike]) -> list[CellSpec]:
    """Cells from folders, files and ``cell,file`` manifests (see the module docstring).
    Raises :class:`~core.errors.RecordingError` for an input that does not exist or an empty
    result; a file that exists but cannot be read is left for its task to report."""
    cells: list[CellSpec] = []
    exts = _recording_extensions()
    for item in inputs:
        path = os.fspath(item)
        if os.path.isdir(path):
            names = sorted(n for n in os.listdir(path) if not n.startswith("."))
            files = [os.path.join(path, n) for n in names if os.path.isfile(os.path.join(path, n))]
            manifests = [f for f in files if _is_manifest(f)]
            for m in manifests:
                cells.extend(read_manifest(m))
            for f in files:
                if f in manifests:
                    continue
                if exts and os.path.splitext(f)[1].lower() not in exts:
                    continue
                cells.append(CellSpec(os.path.splitext(os.path.basename(f))[0], (f,)))
        elif os.path.isfile(path):
            if _is_manifest(path):
                cells.extend(read_manifest(path))
            else:
                cells.append(CellSpec(os.path.splitext(os.path.basename(path))[0], (path,)))
        else:
            raise RecordingError(f"{path}: no such file or folder")
    if not cells:
        raise RecordingError("no cells found in " + ", ".join(map(os.fspath, inputs)))
    # the same cell name twice (two folders with a cell_1 each): number the later ones
    seen: dict[str, int] = {}
    out = []
    for c in cells:
        n = seen.get(c.name, 0)
        seen[c.name] = n + 1
        out.append(c if n == 0 else CellSpec(f"{c.name}_{n + 1}", c.files))
    return out


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", name).strip("._") or "cell"


def result_name(cell: str, model: str, method: str, seed: int) -> str:
    return f"{_safe(cell)}__{model}_{method}_s{seed}.h5"


# --------------------------------------------------------------------------------------------
# the task
# --------------------------------------------------------------------------------------------
@dataclass
class CellOutcome:
    """What a :class:`BatchCellJob` returns: the cell fit and the task's wall time."""

    cell: str
    files: tuple[str, ...]
    cell_fit: Any
    seconds: float
    compile_seconds: float = 0.0
    compiles: int = 0
    worker: str = ""  # host:pid of the process that ran it

    @property
    def cancelled(self) -> bool:
        return bool(self.cell_fit.fit.cancelled)


@dataclass
class BatchCellJob:
    """Open ``files`` as one cell and run :func:`~core.fitting.cell.fit_cell` on it."""

    cell: str
    files: tuple[str, ...]
    model: str = "gif"
    method: str = "hybrid"
    seed: int = 0
    seconds: float | None = 60.0
    evaluations: int | None = None
    uncertainty: bool = True
    name: str = "batch_cell"
    buckets: Any = None

    def run(self, report: Report, is_cancelled: IsCancelled) -> CellOutcome:
        from .fitting.buckets import CompileCounter
        from .fitting.cell import fit_cell
        from .fitting.optimizers import Budget
        from .io import open_cell
        from .jobs import check_cancelled

        t0 = time.perf_counter()
        report(Event(job=self.name, done=0, total=1, message=f"{self.cell}: opening"))
        rec = open_cell(list(self.files))
        check_cancelled(is_cancelled)
        budget = (Budget(evaluations=self.evaluations, seconds=self.seconds)
                  if self.seconds or self.evaluations else None)
        with CompileCounter() as counter:
            cf = fit_cell(rec, self.model, self.method, seed=self.seed, budget=budget,
                          report=report, is_cancelled=is_cancelled,
                          uncertainty=self.uncertainty, buckets=self.buckets)
        return CellOutcome(self.cell, tuple(self.files), cf, time.perf_counter() - t0,
                           counter.seconds, counter.compiles,
                           f"{socket.gethostname()}:{os.getpid()}")


# --------------------------------------------------------------------------------------------
# result files and rows
# --------------------------------------------------------------------------------------------
def _json(x) -> str:
    from .fitting.results import _jsonable

    return json.dumps(_jsonable(x))


def write_cell_result(path: str, outcome: CellOutcome, model: str, method: str, seed: int) -> None:
    """The outcome's HDF5 file, written atomically (see the module docstring)."""
    from .io.atomic import h5_target

    cf = outcome.cell_fit
    with h5_target(path) as f:
        f.attrs["layout"] = CELL_LAYOUT
        f.attrs["cell"] = outcome.cell
        f.attrs["model"] = model
        f.attrs["method"] = method
        f.attrs["seed"] = int(seed)
        f.attrs["files"] = json.dumps(list(outcome.files))
        f.attrs["summary"] = _json(cf.summary())
        f.attrs["validation"] = _json(cf.validation)
        f.attrs["seconds"] = float(outcome.seconds)
        f.attrs["compile_seconds"] = float(outcome.compile_seconds)
        f.attrs["compiles"] = int(outcome.compiles)
        cf.fit.to_hdf5(f, "fit")


def read_cell_result(path: str) -> dict[str, Any]:
    """A summary row from a result file (what a resumed batch reports for a finished task)."""
    import h5py

    from .fitting.results import FitResult, _unjson

    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("layout") != CELL_LAYOUT:
                raise RecordingError(f"{path}: not a Brainfit batch result")
            fit = FitResult.from_hdf5(f, "fit")
            validation = _unjson(json.loads(f.attrs["validation"]))
            files = tuple(json.loads(f.attrs["files"]))
            cell = str(f.attrs["cell"])
            seconds = float(f.attrs["seconds"])
            compile_s = float(f.attrs.get("compile_seconds", float("nan")))
            compiles = int(f.attrs.get("compiles", -1))
    except (OSError, KeyError, ValueError) as exc:
        raise RecordingError(f"{path}: unreadable batch result ({exc})") from None
    return _row(cell, fit.model, fit.method, fit.seed, files, fit=fit, validation=validation,
                seconds=seconds, result_file=path, compile_seconds=compile_s,
                compiles=compiles if compiles >= 0 else None)


def _row(cell, model, method, seed, files, *, fit=None, validation=None, seconds=None,
         result_file="", status="done", reason="", compile_seconds=None,
         compiles=None) -> dict[str, Any]:
    row: dict[str, Any] = {"cell": cell, "model": model, "method": method, "seed": int(seed),
                           "status": status, "reason": reason, "resumed": False,
                           "files": ";".join(files), "result_file": result_file,
                           "seconds": seconds}
    if compile_seconds is not None:
        row["xla_compile_seconds"] = compile_seconds
        row["compiles"] = compiles
        if seconds is not None:
            row["run_seconds"] = max(0.0, seconds - compile_seconds)
    if fit is not None:
        row.update(loss=fit.loss, objective=fit.objective, gamma=fit.gamma,
                   evaluations=fit.evaluations, fit_seconds=fit.seconds,
                   compile_seconds=fit.compile_seconds, stop_reason=fit.stop_reason)
        if fit.cancelled:
            row["status"] = "cancelled"
        for k, v in fit.fitted.items():
            row[f"param:{k}"] = v
        for k, v in (fit.stderr or {}).items():
            row[f"stderr:{k}"] = v
    for k in VALIDATION_COLUMNS:
        if validation and k in validation:
            row[f"val:{k}"] = validation[k]
    return row


def _columns(rows: Sequence[dict]) -> list[str]:
    cols = list(BASE_COLUMNS)
    extra = dict.fromkeys(k for r in rows for k in r if k not in BASE_COLUMNS)
    for prefix in ("param:", "stderr:", "val:"):
        cols.extend(sorted(k for k in extra if k.startswith(prefix)))
    cols.extend(k for k in extra if k not in cols)
    return cols


def _cell_text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return str(v)


def summary_csv(rows: Sequence[dict]) -> str:
    cols = _columns(rows)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([_cell_text(r.get(c)) for c in cols])
    return buf.getvalue()


def write_summary(folder: str, rows: Sequence[dict]) -> tuple[str, str]:
    """``summary.csv`` and ``summary.h5`` (attrs: rows as JSON; one dataset per numeric column,
    NaN where a row has no value), both written atomically. Returns their paths."""
    import numpy as np

    from .io.atomic import atomic_open, h5_target

    csv_path = os.path.join(folder, SUMMARY_CSV)
    h5_path = os.path.join(folder, SUMMARY_H5)
    with atomic_open(csv_path, "w", newline="", encoding="utf-8") as fh:
        fh.write(summary_csv(rows))
    cols = _columns(rows)
    with h5_target(h5_path) as f:
        f.attrs["layout"] = "brainfit-batch-summary"
        f.attrs["columns"] = json.dumps(cols)
        f.attrs["rows"] = _json(list(rows))
        g = f.create_group("columns")
        for c in cols:
            vals = [r.get(c) for r in rows]
            if all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
                   for v in vals) and any(v is not None for v in vals):
                g.create_dataset(c.replace("/", "_"),
                                 data=np.array([np.nan if v is None else float(v) for v in vals]))
            else:
                g.create_dataset(c.replace("/", "_"), data=np.array(
                    [_cell_text(v) for v in vals], dtype=h5py_str()))
    return csv_path, h5_path


def h5py_str():
    import h5py

    return h5py.string_dtype()


# --------------------------------------------------------------------------------------------
# the batch
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchProgress(Event):
    """A task changed state (``state``: queued, running, done, failed, cancelled, skipped) or its
    fit reported (``inner``: the fit's own event). ``done``/``total``: tasks ended / all."""

    cell: str = ""
    method: str = ""
    seed: int = 0
    state: str = ""
    failed: int = 0
    inner: Any = None
    row: dict | None = None


@dataclass(frozen=True)
class BatchCellState(BatchProgress):
    """A task's state change (no fit event inside): never coalesced with other events on the
    way from a worker, so a live table sees every queued/running/done/failed; ``row`` is the
    task's summary row once it ended."""

    coalesce = False  # class attribute, read by the engines' event outboxes


@dataclass
class BatchResult:
    rows: list[dict[str, Any]]
    summary_csv: str
    summary_h5: str
    seconds: float
    cancelled: bool = False
    tasks: int = 0

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["status"] == "failed"]

    @property
    def finished(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["status"] == "done"]

    def as_dict(self) -> dict[str, Any]:
        from .fitting.results import _jsonable

        return _jsonable({"tasks": self.tasks, "done": len(self.finished),
                          "failed": [{"cell": r["cell"], "method": r["method"],
                                      "seed": r["seed"], "reason": r["reason"]}
                                     for r in self.failed],
                          "resumed": sum(bool(r["resumed"]) for r in self.rows),
                          "cancelled": self.cancelled, "seconds": self.seconds,
                          "summary_csv": self.summary_csv, "summary_h5": self.summary_h5})


@dataclass
class _Task:
    cell: CellSpec
    method: str
    seed: int
    path: str
    handle: Any = None
    row: dict[str, Any] | None = None
    state: str = "queued"
    extra: dict = field(default_factory=dict)


def _estimated_cost(task: _Task) -> int:
    """The bytes of a task's recordings: a fit's time grows with its samples. Tasks start
    longest first so that parallel workers end together (the longest-processing-time rule)."""
    total = 0
    for f in task.cell.files:
        with contextlib.suppress(OSError):
            total += os.path.getsize(f)
    return total


def run_batch(cells: Sequence[CellSpec] | Sequence[str], out: str | os.PathLike, *,
              model: str = "gif", methods: Sequence[str] = ("hybrid",),
              seeds: Sequence[int] = (0,), seconds: float | None = 60.0,
              evaluations: int | None = None, uncertainty: bool = True,
              engine: Any = None, workers: int = 1,
              on_event: Callable[[BatchProgress], None] | None = None,
              is_cancelled: Callable[[], bool] | None = None,
              resume: bool = True, buckets: Any = "default") -> BatchResult:
    """Fit every cell × method × seed on ``engine`` (one engine or a list of engines; by default
    ``workers`` :class:`~core.engine.LocalEngine` s, closed at the end) and write the result files
    and the summary into ``out``. ``cells``: :class:`CellSpec` s or inputs for
    :func:`collect_cells`. With ``resume`` a task whose result file exists is not run again.
    Tasks are submitted largest recordings first (:func:`_estimated_cost`); rows and the
    summary keep the order given.
    ``buckets``: the :class:`~core.fitting.buckets.LengthBuckets` every task pads to (default
    :data:`~core.fitting.buckets.DEFAULT_BUCKETS`; None: no padding)."""
    t_start = time.perf_counter()
    if isinstance(buckets, str) and buckets == "default":
        from .fitting.buckets import DEFAULT_BUCKETS

        buckets = DEFAULT_BUCKETS
    if cells and not isinstance(cells[0], CellSpec):
        cells = collect_cells(cells)  # type: ignore[arg-type]
    out = os.fspath(out)
    os.makedirs(out, exist_ok=True)
    tasks = [_Task(c, m, int(s), os.path.join(out, result_name(c.name, model, m, int(s))))
             for c in cells for m in methods for s in seeds]
    total = len(tasks)
    counts = {"ended": 0, "failed": 0}

    def emit(task: _Task, state: str, message: str = "", inner: Any = None,
             row: dict | None = None) -> None:
        if on_event is None:
            return
        cls = BatchProgress if inner is not None else BatchCellState
        on_event(cls(job="batch", done=counts["ended"], total=total,
                     elapsed=time.perf_counter() - t_start, message=message,
                     cell=task.cell.name, method=task.method, seed=task.seed,
                     state=state, failed=counts["failed"], inner=inner, row=row))

    def end(task: _Task, row: dict, state: str) -> None:
        task.row, task.state = row, state
        counts["ended"] += 1
        if state == "failed":
            counts["failed"] += 1
        emit(task, state, row.get("reason", ""), row=row)

    pending: list[_Task] = []
    for task in tasks:
        if resume and os.path.exists(task.path):
            try:
                row = read_cell_result(task.path)
                row["resumed"] = True
                end(task, row, "skipped")
                continue
            except RecordingError:
                pass  # an unreadable old result: fit again (the new file replaces it)
        pending.append(task)

    own: list = []
    engines: list = []
    if pending:
        if engine is None:
            from .engine import LocalEngine

            own = engines = [LocalEngine() for _ in range(max(1, int(workers)))]
        else:
            engines = list(engine) if isinstance(engine, (list, tuple)) else [engine]

    def on_done(task: _Task, handle) -> None:
        files = task.cell.files
        if handle.state == "failed":
            row = _row(task.cell.name, model, task.method, task.seed, files, status="failed",
                       reason=handle.message or "failed")
            end(task, row, "failed")
            return
        outcome = handle.value
        if outcome is None:  # cancelled before it started or without a partial result
            row = _row(task.cell.name, model, task.method, task.seed, files,
                       status="cancelled", reason=handle.message or "cancelled")
            end(task, row, "cancelled")
            return
        cf = outcome.cell_fit
        row = _row(task.cell.name, model, task.method, task.seed, files, fit=cf.fit,
                   validation=cf.validation, seconds=outcome.seconds,
                   compile_seconds=outcome.compile_seconds, compiles=outcome.compiles)
        row["worker"] = outcome.worker
        if handle.state == "cancelled" or cf.fit.cancelled:
            row.update(status="cancelled", reason="cancelled (partial fit, not saved)")
            end(task, row, "cancelled")
            return
        try:
            write_cell_result(task.path, outcome, model, task.method, task.seed)
            row["result_file"] = task.path
        except OSError as exc:
            row.update(status="failed", reason=f"cannot write {task.path}: {exc}")
            end(task, row, "failed")
            return
        end(task, row, "done")

    try:
        for k, task in enumerate(sorted(pending, key=_estimated_cost, reverse=True)):
            job = BatchCellJob(task.cell.name, task.cell.files, model, task.method, task.seed,
                               seconds, evaluations, uncertainty,
                               name=f"batch:{task.cell.name}:{task.method}:{task.seed}",
                               buckets=buckets)
            eng = engines[k % len(engines)]
            try:
                h = eng.submit(job)
            except Exception as exc:  # noqa: BLE001 - the task fails, the batch goes on
                end(task, _row(task.cell.name, model, task.method, task.seed, task.cell.files,
                               status="failed", reason=f"cannot submit: {exc}"), "failed")
                continue
            task.handle = h
            h.add_started_callback(lambda _h, t=task: (setattr(t, "state", "running"),
                                                       emit(t, "running")))
            h.add_event_callback(lambda _h, e, t=task: emit(t, "running", getattr(e, "message", ""), e))
            h.add_done_callback(lambda hh, t=task: on_done(t, hh))
            emit(task, "queued", row=_row(task.cell.name, model, task.method, task.seed,
                                          task.cell.files, status="queued"))
        cancelled = False
        while any(t.row is None for t in pending):
            if is_cancelled is not None and is_cancelled() and not cancelled:
                cancelled = True
                for t in pending:
                    if t.handle is not None and not t.handle.done():
                        t.handle.cancel()
            for eng in engines:
                eng.poll(0.05 / len(engines))
    except KeyboardInterrupt:  # keep what finished: the summary so far, then stop
        for t in pending:
            if t.handle is not None and not t.handle.done():
                t.handle.cancel(hard=True)
        write_summary(out, [t.row for t in tasks if t.row is not None])
        raise
    finally:
        for eng in own:
            eng.close()
    rows = [t.row for t in tasks if t.row is not None]
    csv_path, h5_path = write_summary(out, rows)
    return BatchResult(rows, csv_path, h5_path, time.perf_counter() - t_start,
                       cancelled=bool(is_cancelled and is_cancelled()), tasks=total)


# --------------------------------------------------------------------------------------------
# the whole batch as one job (the window's worker runs it)
# --------------------------------------------------------------------------------------------
@dataclass
class BatchJob:
    """:func:`run_batch` as one picklable job: the window's worker runs the cells, one at a
    time in that process (``engine="local"``), or sends them to Dask: ``"dask"`` (a loopback
    ``LocalCluster`` of ``workers`` processes) or a scheduler address the user typed
    (``tcp://host:8786``, ``tls://…``). Reports :class:`BatchCellState` per task state change
    and :class:`BatchProgress` per fit event; returns the :class:`BatchResult` (``cancelled``
    when cancelled, with what finished)."""

    inputs: tuple[str, ...]
    out: str
    model: str = "gif"
    methods: tuple[str, ...] = ("hybrid",)
    seeds: tuple[int, ...] = (0,)
    seconds: float | None = 60.0
    evaluations: int | None = None
    uncertainty: bool = True
    engine: str = "local"
    workers: int | None = None
    resume: bool = True
    name: str = "batch"
    cancel_grace: float = 30.0  # a cell compiling when cancelled stops after its compile

    def run(self, report: Report, is_cancelled: IsCancelled) -> BatchResult:
        from .engine import ThreadEngine

        cells = collect_cells(self.inputs)
        with contextlib.ExitStack() as stack:
            if self.engine == "local":
                engine: Any = ThreadEngine()
            else:
                from .engine_dask import DaskEngine

                if self.engine == "dask":
                    stack.enter_context(_children_allowed())
                    engine = DaskEngine(n_workers=self.workers)
                else:
                    engine = DaskEngine(self.engine)
            stack.callback(engine.close)
            return run_batch(cells, self.out, model=self.model, methods=self.methods,
                             seeds=self.seeds, seconds=self.seconds,
                             evaluations=self.evaluations, uncertainty=self.uncertainty,
                             engine=engine, on_event=report, is_cancelled=is_cancelled,
                             resume=self.resume)


@contextlib.contextmanager
def _children_allowed():
    """Let a daemonic process (the window's worker) start the LocalCluster's worker processes
    while the batch runs: multiprocessing refuses children of daemonic processes only to make
    sure they are not orphaned, and the cluster is closed before this block ends."""
    import multiprocessing

    config = multiprocessing.current_process()._config  # noqa: SLF001 - the documented workaround
    daemon = config.get("daemon")
    config["daemon"] = False
    try:
        yield
    finally:
        if daemon is not None:
            config["daemon"] = daemon


__all__ = ["BatchCellJob", "BatchCellState", "BatchJob", "BatchProgress", "BatchResult", "CellOutcome", "CellSpec",
           "collect_cells", "read_cell_result", "read_manifest", "result_name", "run_batch",
           "summary_csv", "write_cell_result", "write_summary"]
