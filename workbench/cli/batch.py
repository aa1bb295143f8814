"""``brainfit batch``: the default validated fit of many cells (registered into
:data:`workbench.cli.COMMANDS`), on the local worker engine or on Dask.

Progress goes to stderr (a line per task as it ends, with the overall count, and a live line
for the running tasks' fits); ``--json`` ends stdout with one JSON line. Exit 0 when the batch
ran (failed cells are listed, and counted in the JSON), 2 on bad arguments, 130 on Ctrl-C (the
finished cells are kept: a re-run resumes).
"""

from __future__ import annotations

import json
import os
import sys
import time

from core.errors import BrainfitError, OptimizerError, ParameterError
from core.models import MODELS

from . import COMMANDS, EXIT_USAGE


def _add_batch(p) -> None:
    p.add_argument("cells", nargs="+", metavar="CELLS",
                   help="a folder (each recording file in it is one cell), recording files "
                        "(one cell each) or a CSV manifest with the header 'cell,file' mapping "
                        "several files to one cell")
    p.add_argument("--model", required=True, help=f"one of {', '.join(sorted(MODELS))}")
    p.add_argument("--method", default="hybrid",
                   help="optimizer, or a comma list (one task per cell and method); default hybrid")
    p.add_argument("--seeds", type=int, default=1, help="seeds per cell and method (default 1)")
    p.add_argument("--engine", default="local",
                   help="local (worker processes on this machine, default), dask (a loopback "
                        "LocalCluster sized to the cores) or a Dask scheduler address "
                        "(tcp://host:8786, tls://host:8786)")
    p.add_argument("--workers", type=int, default=None,
                   help="local: worker processes (default 1); dask: LocalCluster workers "
                        "(default: one per core)")
    p.add_argument("--seconds", type=float, default=60.0,
                   help="time budget per task in seconds (default 60)")
    p.add_argument("--budget", type=int, default=None,
                   help="evaluations per task (with --seconds, whichever comes first)")
    p.add_argument("--no-uncertainty", action="store_true", help="skip the Hessian stderr")
    p.add_argument("--no-resume", action="store_true",
                   help="fit every task again even where its result file exists")
    p.add_argument("--out", required=True, help="output folder (one HDF5 file per task, "
                                                "summary.csv and summary.h5)")
    p.add_argument("--json", action="store_true", help="end stdout with one JSON line")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


class _BatchProgress:
    """A line per ended task; a live line for the fits, at most 5 redraws per second."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr is not None
        self.last = 0.0
        self.live = False
        self.tty = bool(self.enabled and hasattr(sys.stderr, "isatty") and sys.stderr.isatty())

    def _clear(self) -> None:
        if self.live:
            sys.stderr.write("\r" + " " * 100 + "\r")
            self.live = False

    def __call__(self, e) -> None:
        if not self.enabled:
            return
        overall = f"[{e.done}/{e.total}]"
        if e.state in ("done", "failed", "cancelled", "skipped"):
            self._clear()
            what = {"done": "done", "failed": "FAILED", "cancelled": "cancelled",
                    "skipped": "already done (skipped)"}[e.state]
            reason = f": {e.message}" if e.state in ("failed", "cancelled") and e.message else ""
            fails = f", {e.failed} failed" if e.failed else ""
            sys.stderr.write(f"{overall} {e.cell} {e.method} seed {e.seed}: {what}{reason} "
                             f"({e.elapsed:.1f} s{fails})\n")
            sys.stderr.flush()
            return
        if not self.tty or e.inner is None:
            return
        now = time.perf_counter()
        if now - self.last < 0.2:
            return
        self.last = now
        inner = e.inner
        best = getattr(inner, "best_loss", None)
        extra = f" best {best:.4g}" if isinstance(best, float) and best == best else ""
        msg = f"{overall} running {e.cell} {e.method}{extra}  {e.elapsed:6.1f} s"
        sys.stderr.write("\r" + msg[:99].ljust(99))
        sys.stderr.flush()
        self.live = True

    def done(self) -> None:
        if self.enabled:
            self._clear()
            sys.stderr.flush()


def _make_engine(spec: str, workers: int | None):
    """(engine or list of engines or None for run_batch's own LocalEngines, closer)."""
    spec = spec.strip()
    if spec == "local":
        return None, (lambda: None)
    from core.engine import EngineError
    from core.engine_dask import INSTALL_HINT, dask_available

    if not dask_available():
        raise ParameterError(f"--engine {spec}: {INSTALL_HINT}")
    from core.engine_dask import DaskEngine, is_loopback, security_warning

    if spec == "dask":
        engine = DaskEngine(n_workers=workers)
    elif "://" in spec or ":" in spec:
        address = spec if "://" in spec else f"tcp://{spec}"
        if not is_loopback(address):
            print(f"brainfit batch: warning: {security_warning(address)}", file=sys.stderr)
        try:
            engine = DaskEngine(address, warn=lambda _m: None, timeout=20.0)
        except EngineError as exc:
            raise ParameterError(f"--engine {spec}: {exc}") from None
    else:
        raise ParameterError(f"--engine {spec!r}: use local, dask or a scheduler address "
                             "such as tcp://host:8786")
    return engine, engine.close


def _cmd_batch(args) -> int:
    from core.batch import collect_cells, run_batch
    from core.fitting.optimizers import OPTIMIZERS

    if args.model not in MODELS:
        raise ParameterError(f"unknown model {args.model!r}; known: {', '.join(sorted(MODELS))}")
    methods = [m.strip() for m in args.method.split(",") if m.strip()]
    bad = [m for m in methods if m not in OPTIMIZERS]
    if not methods or bad:
        raise OptimizerError(f"unknown optimizer {', '.join(bad) or args.method!r}; known: "
                             f"{', '.join(OPTIMIZERS)}")
    if args.seeds < 1:
        raise ParameterError("--seeds must be at least 1")
    if args.seconds is not None and args.seconds <= 0:
        raise ParameterError("--seconds must be positive")
    if args.budget is not None and args.budget < 1:
        raise ParameterError("--budget must be at least 1")
    if args.workers is not None and args.workers < 1:
        raise ParameterError("--workers must be at least 1")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise ParameterError(f"--out {args.out}: exists and is not a folder")
    cells = collect_cells(args.cells)
    engine, close = _make_engine(args.engine, args.workers)
    progress = _BatchProgress(not args.quiet)
    n_tasks = len(cells) * len(methods) * args.seeds
    if not args.quiet:
        print(f"brainfit batch: {len(cells)} cell(s) x {len(methods)} method(s) x {args.seeds} "
              f"seed(s) = {n_tasks} task(s) on {args.engine} -> {args.out}", file=sys.stderr)
    try:
        result = run_batch(cells, args.out, model=args.model, methods=methods,
                           seeds=range(args.seeds), seconds=args.seconds,
                           evaluations=args.budget, uncertainty=not args.no_uncertainty,
                           engine=engine, workers=args.workers or 1, on_event=progress,
                           resume=not args.no_resume)
    finally:
        progress.done()
        close()
    failed = result.failed
    compile_s, run_s = (sum(float(r.get(k) or 0.0) for r in result.rows if not r["resumed"])
                        for k in ("xla_compile_seconds", "run_seconds"))
    print(f"{len(result.finished)}/{result.tasks} task(s) done "
          f"({sum(bool(r['resumed']) for r in result.rows)} resumed), {len(failed)} failed, "
          f"{result.seconds:.1f} s (over the tasks run now: XLA compile {compile_s:.1f} s, "
          f"fitting {run_s:.1f} s); summary: {result.summary_csv}")
    for r in failed:
        print(f"  FAILED {r['cell']} {r['method']} seed {r['seed']}: {r['reason']}")
    if args.json:
        print(json.dumps(result.as_dict()))
    return 0


def _cmd_batch_safe(args) -> int:
    try:
        return _cmd_batch(args)
    except BrainfitError:
        raise
    except OSError as exc:
        print(f"brainfit batch: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


COMMANDS["batch"] = (_add_batch, _cmd_batch_safe,
                     "fit many cells (a folder, files or a cell,file manifest), locally or on Dask")
