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
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402

import core  # noqa: E402, F401
from benchmarks._util import emit, machine  # noqa: E402
from core.training.evidence import Trainer, make_config  # noqa: E402

VARIANTS = {"bptt": dict(method="bptt", checkpoint=None),
            "bptt_checkpoint100": dict(method="bptt", checkpoint=100),
            "online": dict(method="online", rule="es-d-rtrl")}


def measure(T: int, variant: str, args) -> dict:
    kw = dict(VARIANTS[variant])
    method = kw.pop("method")
    # a trial of T steps: one 20 ms cue, a 50 ms recall window, the rest delay
    cfg = make_config(method, batch_size=args.batch_size, baseline_trials=0,
                      network={"synapses": args.synapses},
                      task={"n_cues": 1, "cue_ms": 20.0, "gap_ms": 10.0, "recall_ms": 50.0,
                            "trial_ms": float(T)}, **kw)
    tr = Trainer(cfg)
    params, state = tr.params0, tr.optimizer.init(tr.params0)
    t0 = time.perf_counter()
    compiled = tr.train_step.lower(params, state, 0).compile()
    compile_s = time.perf_counter() - t0
    mem = compiled.memory_analysis()
    row = {"T": T, "variant": variant, "compile_s": compile_s,
           "temp_MiB": mem.temp_size_in_bytes / 2**20,
           "peak_MiB": (mem.temp_size_in_bytes + mem.argument_size_in_bytes
                        + mem.output_size_in_bytes) / 2**20}
    if args.reps:
        jax.block_until_ready(compiled(params, state, 0))
        times = []
        for i in range(args.reps):
            t0 = time.perf_counter()
            jax.block_until_ready(compiled(params, state, i + 1))
            times.append(time.perf_counter() - t0)
        row["s_per_batch"] = statistics.median(times)
    return row


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
