"""Memory and time per training batch of BPTT and the online rule against trial length (the
seed paper's Fig. S6 analogue).

For each T the 400-neuron E/I network's training step (gradient + Adam update, inputs generated
inside the time loop) is compiled for ``bptt`` (every step kept: ``checkpoint=None``), ``bptt``
with ``jax.checkpoint`` segments of 100 steps, and ``online`` (ES-D-RTRL). Memory is XLA's plan
for the compiled step (``memory_analysis()``: temporaries, and temporaries + arguments + outputs
as the peak), so it is exact and independent of other processes; time is the median of
``--reps`` runs after a warm-up.

Prints one JSON document with the ratios the issue asks for: online max/min over T, BPTT/online
at the longest T, online/BPTT time at the longest T. Usage::

    nice -n 10 .venv/bin/python benchmarks/training_memory.py [--T 100 200 500 1000 2000]
        [--batch-size 64] [--reps 1] [--no-time]
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import core  # noqa: E402, F401
from benchmarks._util import emit, machine  # noqa: E402
from core.training.memory import VARIANTS, measure_training_step  # noqa: E402


def measure(T: int, variant: str, args) -> dict:
    """One row: :func:`core.training.memory.measure_training_step` (the Speed panel's memory race
    runs the same function)."""
    return measure_training_step(T, variant, batch_size=args.batch_size, reps=args.reps,
                                 synapses=args.synapses)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--T", nargs="+", type=int, default=[100, 200, 500, 1000, 2000])
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--no-time", action="store_true")
    ap.add_argument("--synapses", default="dense", choices=["dense", "csr"])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = ap.parse_args(argv)
    if args.no_time:
        args.reps = 0
    rows = [measure(T, v, args) for T in args.T for v in args.variants]
    doc = {"benchmark": "training_memory", "machine": machine(), "settings": vars(args),
           "rows": rows}
    by = {(r["variant"], r["T"]): r for r in rows}
    Tmax = max(args.T)
    if "online" in args.variants:
        peaks = [by[("online", T)]["peak_MiB"] for T in args.T]
        doc["online_peak_max_over_min"] = max(peaks) / min(peaks)
        if "bptt" in args.variants:
            doc["bptt_over_online_peak_at_Tmax"] = (by[("bptt", Tmax)]["peak_MiB"]
                                                    / by[("online", Tmax)]["peak_MiB"])
            if args.reps:
                doc["online_over_bptt_time_at_Tmax"] = (by[("online", Tmax)]["s_per_batch"]
                                                        / by[("bptt", Tmax)]["s_per_batch"])
    emit(doc)


if __name__ == "__main__":
    main()
