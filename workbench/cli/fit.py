"""``brainfit fit`` and ``brainfit predict`` (registered into :data:`workbench.cli.COMMANDS`).

This module prints (it is a CLI); progress goes to stderr, ``--json`` ends stdout with one JSON
line. Bad arguments raise :class:`~core.errors.BrainfitError` subclasses (exit code 2).
"""

from __future__ import annotations

import json
import math
import sys
import time

from core.errors import BrainfitError, OptimizerError, ParameterError, RecordingError
from core.events import FitProgress
from core.models import MODELS

from . import COMMANDS
from ._engine import run_job


def parse_sweeps(text: str | None) -> list[int] | None:
    """``"0,2-4"`` -> [0, 2, 3, 4]."""
    if text is None or text.strip() in ("", "all"):
        return None
    out: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                a, b = part.split("-", 1)
                a, b = int(a), int(b)
                if b < a:
                    raise ValueError
                out.extend(range(a, b + 1))
            else:
                out.append(int(part))
    except ValueError:
        raise RecordingError(f"--sweeps: cannot read {text!r}; use e.g. 0,2-4") from None
    if any(s < 0 for s in out):
        raise RecordingError("--sweeps: sweep numbers start at 0")
    return out


def parse_window(text: str | None):
    if not text:
        return None
    try:
        a, b = text.split(":")
        return (float(a) if a.strip() else None, float(b) if b.strip() else None)
    except ValueError:
        raise RecordingError(f"--window: cannot read {text!r}; use START:STOP in ms") from None


def _number(name: str, text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ParameterError(f"{name}: {text!r} is not a number") from None
    if not math.isfinite(v):
        raise ParameterError(f"{name}: {text!r} is not a finite number")
    return v


def parse_assignments(items, what: str) -> dict:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ParameterError(f"--{what} {item!r}: expected NAME=VALUE")
        name, value = item.split("=", 1)
        name = name.strip()
        if what == "bounds":
            if ":" not in value:
                raise ParameterError(f"--bounds {item!r}: expected NAME=LOW:HIGH")
            lo, hi = value.split(":", 1)
            out[name] = (_number(f"--bounds {name}", lo), _number(f"--bounds {name}", hi))
        else:
            out[name] = _number(f"--set {name}", value)
    return out


def _open(path, current=None):
    from core.io import open_cell
    from core.io.open import open_recording

    try:
        if isinstance(path, (list, tuple)):
            if len(path) == 1:
                return open_recording(path[0], current=current)
            if current:
                raise RecordingError("--current names one current file; with several "
                                     "recordings, give each its own current in the files")
            return open_cell(path)
        return open_recording(path, current=current)
    except BrainfitError:
        raise
    except OSError as exc:
        raise RecordingError(f"{path}: cannot be read ({exc})") from None


class _Progress:
    """A one-line progress bar on stderr, at most 10 redraws per second."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr is not None
        self.last = 0.0

    def __call__(self, event) -> None:
        if not self.enabled or not isinstance(event, FitProgress):
            return
        now = time.perf_counter()
        if now - self.last < 0.1:
            return
        self.last = now
        frac = event.fraction or 0.0
        bar = "#" * int(24 * frac) + "-" * (24 - int(24 * frac))
        sys.stderr.write(f"\r{event.method:>11} seed {event.seed} [{bar}] {event.evaluations:6d} "
                         f"evals  best {event.best_loss:10.4g} mV^2  {event.elapsed:6.1f} s ")
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


# --------------------------------------------------------------------------------------------
def _add_fit(p) -> None:
    p.add_argument("file", nargs="+", help="recording(s) (ABF, NWB, HDF5, Igor .ibw, CSV...) "
                   "with the injected current; several files are one cell, fitted jointly")
    p.add_argument("--current", help="file holding the injected current (when the recording "
                   "lacks it, or an Igor voltage wave has no partner)")
    p.add_argument("--model", required=True, help=f"one of {', '.join(sorted(MODELS))}")
    p.add_argument("--free", help="comma-separated parameters to fit (default: the data-derived "
                   "default fit, staged for integrate-and-fire models, validated on held-out "
                   "sweeps or time)")
    p.add_argument("--sweeps", help="sweeps to fit jointly, e.g. 0,2-4 (default all)")
    p.add_argument("--window", help="time window START:STOP in ms (default whole sweep)")
    p.add_argument("--optimizer", default="hybrid",
                   help="comma list of lbfgsb,hybrid,de,twopointsde,pso,bayes")
    p.add_argument("--seeds", type=int, default=1, help="number of seeds per optimizer")
    p.add_argument("--budget", type=int, help="evaluations per run (default: the method's)")
    p.add_argument("--seconds", type=float, help="wall-time limit per run")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="fix a parameter")
    p.add_argument("--bounds", action="append", metavar="NAME=LOW:HIGH",
                   help="bounds of a free parameter (model units)")
    p.add_argument("--decimate", type=int, default=1, help="simulate every N-th sample")
    p.add_argument("--solver", default="exp_euler")
    p.add_argument("--spike-weight", type=float, default=0.0,
                   help="weight of the van Rossum spike-timing term (mV^2)")
    p.add_argument("--delta", type=float, default=4.0, help="gamma coincidence window (ms)")
    p.add_argument("--out", help="write the result (HDF5)")
    p.add_argument("--csv", help="write the comparison table (CSV)")
    p.add_argument("--no-uncertainty", action="store_true", help="skip the Hessian")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="end with one JSON line")


def _cmd_fit(args) -> int:
    from core.fitting import LossSpec
    from core.fitting.jobs import CompareJob
    from core.fitting.optimizers import OPTIMIZERS

    if args.model not in MODELS:
        raise ParameterError(f"unknown model {args.model!r}; known: {', '.join(sorted(MODELS))}")
    methods = [m.strip() for m in args.optimizer.split(",") if m.strip()]
    bad = [m for m in methods if m not in OPTIMIZERS]
    if bad or not methods:
        raise OptimizerError(f"unknown optimizer(s) {', '.join(bad) or '(none)'}; "
                             f"known: {', '.join(OPTIMIZERS)}")
    if args.seeds < 1:
        raise OptimizerError("--seeds must be >= 1")
    rec = _open(args.file, args.current)
    if not args.free:
        return _default_fit(args, rec, methods)
    free = [f.strip() for f in args.free.split(",") if f.strip()]
    budget = _budget(args)
    job = CompareJob(rec, args.model, free, methods, args.seeds,
                     bounds=parse_assignments(args.bounds, "bounds"),
                     fixed=parse_assignments(args.set, "set"),
                     loss=LossSpec(spike_weight=args.spike_weight, delta=args.delta),
                     budgets={m: budget for m in methods}, sweeps=parse_sweeps(args.sweeps),
                     window=parse_window(args.window), decimate=args.decimate,
                     solver=args.solver, uncertainty=not args.no_uncertainty,
                     preview_interval=None, name="fit")
    progress = _Progress(not args.quiet)
    try:
        comp = run_job(job, progress)
    finally:
        progress.done()
    if comp.cancelled:
        print("cancelled: what follows is the best found before the stop", file=sys.stderr)
    if args.out:
        if len(comp.fits) == 1:
            comp.fits[0].to_hdf5(args.out)
        else:
            comp.to_hdf5(args.out)
    if args.csv:
        comp.to_csv(args.csv)
    for f in comp.fits:
        se = ", ".join(f"{k}={v:.4g}±{f.stderr.get(k, float('nan')):.2g}"
                       for k, v in f.fitted.items())
        print(f"{f.method:>11} seed {f.seed}: loss {f.loss:.4g} mV^2, gamma {f.gamma:.3f}, "
              f"{f.evaluations} evals, {f.seconds:.2f} s (+{f.compile_seconds:.1f} s compile); {se}")
    if args.json:
        out = {}
        for row in comp.rows:
            runs = [f.summary() for f in comp.fits if f.method == row["method"]]
            out[row["method"]] = {"loss": row["loss_mean"], "loss_sd": row["loss_sd"],
                                  "gamma": row["gamma_mean"],
                                  "evaluations": row["evaluations_mean"],
                                  "seconds": row["seconds_mean"], "runs": runs,
                                  "parameters": min(runs, key=lambda r: r["loss"])["params"]}
        print(json.dumps(out))
    return 0


def _budget(args):
    from core.fitting import Budget

    if args.budget is None and args.seconds is None:
        return None
    return Budget(evaluations=args.budget, seconds=args.seconds)


def _default_fit(args, rec, methods) -> int:
    """``brainfit fit FILE --model M`` without ``--free``: the data-derived default fit of
    :func:`core.fitting.cell.fit_cell`, each method in turn, each validated on held-out data."""
    from core.fitting.cell_jobs import FitCellJob

    sweeps = parse_sweeps(args.sweeps) if args.sweeps else None
    window = parse_window(args.window)
    progress = _Progress(not args.quiet)
    out = {}
    for method in methods:
        for seed in range(args.seeds):
            job = FitCellJob(rec, args.model, method, seconds=args.seconds,
                             evaluations=args.budget, seed=seed, sweeps=sweeps,
                             window=window,
                             uncertainty=not args.no_uncertainty, decimate=args.decimate)
            try:
                cf = run_job(job, progress).cell_fit
            finally:
                progress.done()
            if cf.fit.cancelled:
                print("cancelled: the best found before the stop, validated", file=sys.stderr)
            f, v = cf.fit, cf.validation
            print(f"{method:>11} seed {seed}: train loss {f.loss:.4g} mV^2, gamma {f.gamma:.3f}; "
                  f"held-out ({cf.split.description}): spikes model {v['n_model_spikes']} / "
                  f"data {v['n_data_spikes']}, counts within 20 % on "
                  f"{v['spike_counts_within_20pct']} sweeps, gamma(4 ms) "
                  f"{v.get('mean_gamma_4ms', float('nan')):.3f}")
            if args.out and seed == 0 and method == methods[0]:
                f.to_hdf5(args.out)
            out.setdefault(method, []).append(cf.summary())
    if args.json:
        print(json.dumps(out, default=float))
    return 0


# --------------------------------------------------------------------------------------------
def _add_predict(p) -> None:
    p.add_argument("result", help="fit result (HDF5 written by brainfit fit --out)")
    p.add_argument("file", help="recording whose stimulus drives the fitted model")
    p.add_argument("--sweeps", help="sweeps, e.g. 0,2-4 (default all)")
    p.add_argument("--window", help="time window START:STOP in ms")
    p.add_argument("--export", help="write the predicted traces and spike times (.h5 or .csv)")
    p.add_argument("--json", action="store_true", help="end with one JSON line")


def _cmd_predict(args) -> int:
    from core.fitting.predict import PredictJob
    from core.fitting.results import load_fit

    result = load_fit(args.result)
    rec = _open(args.file)
    pred = run_job(PredictJob(result, rec, parse_sweeps(args.sweeps), parse_window(args.window)))
    if args.export:
        pred.export(args.export)
    print(f"{result.model} ({result.method}) on {rec.name}: loss {pred.loss:.4g} mV^2, gamma "
          f"{pred.gamma:.3f}, spikes model {pred.n_model_spikes} / data "
          f"{pred.n_data_spikes} ({pred.n_coincident} coincident)")
    if args.json:
        print(json.dumps(pred.summary()))
    return 0


COMMANDS["fit"] = (_add_fit, _cmd_fit, "fit a neuron model to recorded sweeps")
COMMANDS["predict"] = (_add_predict, _cmd_predict,
                       "simulate a fitted model on another recording's stimulus")
