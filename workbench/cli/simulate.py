"""``brainfit simulate``: run a network template headless, streaming into HDF5.

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

    p.add_argument("--template", required=True, choices=sorted(TEMPLATES),
                   help="network template")
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
    specs = {s.name: s for s in template.params}
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep:
            raise ParameterError(f"--set expects NAME=VALUE, got {item!r}")
        if name not in specs:
            raise ParameterError(f"template {template.name!r} has no parameter {name!r}; "
                                 f"known: {', '.join(specs)}")
        try:
            out[name] = float(value)
        except ValueError:
            raise ParameterError(f"--set {name}: {value!r} is not a number") from None
        if float(specs[name].default).is_integer() and isinstance(specs[name].default, int):
            out[name] = int(out[name])
    return out


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


def handler(args) -> int:
    from core.network.jobs import SimulateJob
    from core.network.templates import get_template

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
                        "antennal lobe), streaming spikes into HDF5")
