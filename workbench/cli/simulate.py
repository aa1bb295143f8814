"""``brainfit simulate``: run a network template headless, streaming into HDF5; or
``brainfit simulate net.h5``: run a trained evidence network (``brainfit train --task evidence
--out net.h5``) on held-out trials and report its accuracy and rates.

The one module of ``core.network`` that prints (a progress bar on stderr, a summary or one JSON
line on stdout).
"""

from __future__ import annotations

import json
import sys
import time

from core.errors import ParameterError

from . import COMMANDS


def add_arguments(p) -> None:
    from core.network.templates import TEMPLATES

    p.add_argument("network", nargs="?", default=None, metavar="NET.h5",
                   help="a trained evidence network (brainfit train --task evidence --out): "
                        "run it on held-out trials instead of a template")
    p.add_argument("--template", choices=sorted(TEMPLATES),
                   help="network template (when no trained network file is given)")
    p.add_argument("--trials", type=int, default=None,
                   help="trained network: held-out trials to run (default: the training's "
                        "held-out count)")
    p.add_argument("--batch-size", type=int, default=64,
                   help="trained network: trials simulated together (default 64)")
    p.add_argument("--duration", type=float, default=1.0, help="model time in seconds")
    p.add_argument("--out", default=None, help="HDF5 file the spikes and traces stream into")
    p.add_argument("--seed", type=int, default=0, help="random seed (connectivity, inputs)")
    p.add_argument("--chunk-ms", type=float, default=None,
                   help="simulate in chunks of this many ms (template default)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override a template parameter (repeatable)")
    p.add_argument("--record", default=None,
                   help="comma-separated neuron indices whose V is recorded (template default)")
    p.add_argument("--json", action="store_true",
                   help="end with one JSON line: neurons, spikes, mean rates, seconds")


def _parse_sets(items, template) -> dict:
    """``--set NAME=VALUE`` pairs, checked and typed by the template's own rule (the window's
    form uses the same one): unknown names, non-numbers, values outside the range and fractions
    of a count are refused, never truncated."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise ParameterError(f"--set expects NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return template.resolve(out)


class _Bar:
    def __init__(self, stream, enabled: bool):
        self.stream, self.enabled, self.start = stream, enabled, time.perf_counter()

    def __call__(self, event) -> None:
        if not self.enabled or event.total is None:
            return
        frac = event.fraction or 0.0
        width = 30
        fill = int(round(frac * width))
        self.stream.write(f"\r[{'#' * fill}{'.' * (width - fill)}] {100 * frac:5.1f}%  "
                          f"t = {event.t_ms / 1000:.2f} s  {event.spikes} spikes in chunk  "
                          f"{time.perf_counter() - self.start:.1f} s")
        self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def _load_trained(path: str):
    import os

    from core.training.evidence_results import LAYOUT, EvidenceTrainResult

    if not os.path.exists(path):
        raise ParameterError(f"{path}: no such file")
    try:
        return EvidenceTrainResult.from_hdf5(path)
    except ParameterError as exc:
        if "not a readable HDF5" in str(exc):
            raise
        raise ParameterError(f"{path}: not a trained network file (no '{LAYOUT}' evidence "
                             "training in it; `brainfit train --task evidence --out FILE` writes "
                             "one; templates run with --template)") from None


def simulate_trained(args) -> int:
    from core.training.evidence_view import EvidenceSimulateJob

    if args.template is not None:
        raise ParameterError("give either a trained network file or --template, not both")
    for name in ("trials", "batch_size"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise ParameterError(f"--{name.replace('_', '-')} must be >= 1, got {v}")
    result = _load_trained(args.network)
    job = EvidenceSimulateJob.from_result(result, n_trials=args.trials,
                                          batch_size=args.batch_size)
    bar = _TrialBar(sys.stderr, sys.stderr.isatty() and not args.json)
    try:
        out = job.run(bar)
    finally:
        bar.done()
    cfg = result.config
    summary = {"kind": "evidence", "file": args.network, "method": cfg.get("method"),
               "trials": out["trials"], "accuracy": out["accuracy"], "loss": out["loss"],
               "rate_hz": {k: round(v, 4) for k, v in out["rate_hz"].items()},
               "trained_heldout_accuracy": result.heldout_accuracy,
               "batches_trained": result.batches_done, "neurons": out["neurons"],
               "T_steps": out["T"], "dt_ms": out["dt_ms"],
               "heldout_seed": out["heldout_seed"], "seconds": round(out["seconds"], 4)}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{args.network}: evidence network ({out['neurons']} neurons, {cfg.get('method')}, "
              f"{result.batches_done} batches), {out['trials']} trials of {out['T']} steps: "
              f"held-out accuracy {100 * out['accuracy']:.1f} %, loss {out['loss']:.3f}; "
              f"rates E {out['rate_hz']['E']:.2f} Hz, I {out['rate_hz']['I']:.2f} Hz; "
              f"{out['seconds']:.2f} s")
    return 0


class _TrialBar:
    def __init__(self, stream, enabled: bool):
        self.stream, self.enabled = stream, enabled

    def __call__(self, event) -> None:
        if self.enabled and event.total:
            self.stream.write(f"\r{event.message} ")
            self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def handler(args) -> int:
    from core.network.jobs import SimulateJob
    from core.network.templates import get_template

    if args.network is not None:
        return simulate_trained(args)
    if args.template is None:
        raise ParameterError("give a network --template (coba, ei, ...) or a trained network "
                             "file (brainfit simulate net.h5)")
    template = get_template(args.template)
    params = _parse_sets(args.set, template)
    if not (args.duration > 0):
        raise ParameterError(f"--duration must be a positive number of seconds, got "
                             f"{args.duration}")
    record = None
    if args.record is not None:
        try:
            record = [int(x) for x in args.record.split(",") if x.strip()]
        except ValueError:
            raise ParameterError(f"--record expects comma-separated integers, got "
                                 f"{args.record!r}") from None
    bar = _Bar(sys.stderr, sys.stderr.isatty() or not args.json)
    job = SimulateJob(template.name, params, args.duration * 1000.0, out_path=args.out,
                      record_traces=record, chunk_ms=args.chunk_ms, seed=args.seed,
                      keep_in_memory=args.out is None)
    t0 = time.perf_counter()
    try:
        result = job.run(bar)
    finally:
        bar.done()
    summary = {"template": template.name, "neurons": result.n_neurons,
               "spikes": result.n_spikes, "duration_s": result.duration_ms / 1000.0,
               "mean_rate_hz": {k: round(v, 4) for k, v in result.mean_rates().items()},
               "seconds": round(time.perf_counter() - t0, 4),
               "run_seconds": round(result.elapsed_s, 4),
               "compile_seconds": round(result.compile_s, 4), "out": args.out,
               "seed": args.seed}
    if args.json:
        print(json.dumps(summary))
    else:
        rates = ", ".join(f"{k} {v:.2f} Hz" for k, v in summary["mean_rate_hz"].items())
        print(f"{template.name}: {result.n_neurons} neurons, {result.n_spikes} spikes in "
              f"{summary['duration_s']:g} s of model time ({rates}); "
              f"{summary['seconds']:.2f} s wall" + (f"; wrote {args.out}" if args.out else ""))
    return 0


COMMANDS["simulate"] = (add_arguments, handler, "simulate a network template (COBA, EI, "
                        "antennal lobe), streaming spikes into HDF5, or run a trained network "
                        "file on held-out trials")
