"""Evidence-accumulation training: held-out accuracy per method within a wall-clock budget,
the reservoir baseline, gradient agreement, and CSR vs dense synapses per training batch.

For each method (``bptt``, ``online``) the 400-neuron E/I network trains on fresh batches until
``--budget-s`` seconds have passed (the run is then cancelled between batches and keeps its
best held-out weights); held-out accuracy is scored on ``--heldout`` fixed trials. The
untrained network with a trained readout (the reservoir baseline) is measured once. The online
rule's cosine similarity to full BPTT and to BPTT with detached recurrence is measured on the
initial weights. ``--compare-synapses`` times one training batch (gradient + update) with
CSR and with dense synapses at 400 neurons (p = 0.1) and 4 000 neurons (p = 0.02), at
``--compare-T`` steps (median of ``--reps`` after compiling).

Prints one JSON document. Usage::

    nice -n 10 .venv/bin/python benchmarks/training.py [--budget-s 600] [--batch-size 64]
        [--methods bptt online] [--delay-ms 1000] [--compare-synapses] [--compare-T 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import core  # noqa: E402, F401
from benchmarks._util import emit, machine  # noqa: E402
from core.training.evidence import (  # noqa: E402
    Trainer,
    gradient_agreement,
    make_config,
    reservoir_baseline,
    train_evidence,
)


def _config(args, method, **kw):
    net = {"synapses": args.synapses, "n_exc": args.n_exc, "n_inh": args.n_inh, **kw.pop(
        "network", {})}
    return make_config(method, args.neurons, batches=100_000, batch_size=args.batch_size,
                       learning_rate=args.lr, n_heldout=args.heldout, eval_every=args.eval_every,
                       baseline_trials=0, seed=args.seed, network=net,
                       task={"delay_ms": args.delay_ms, "n_cues": args.cues}, **kw)


def run_method(args, method):
    cfg = _config(args, method)
    start = time.perf_counter()
    result = train_evidence(cfg, is_cancelled=lambda: time.perf_counter() - start > args.budget_s)
    sec = result.history["seconds"]
    out = {"method": cfg.label, "T": cfg.task.T, "batch_size": cfg.batch_size,
           "batches_run": result.batches_done,
           "heldout_accuracy": result.heldout_accuracy, "best_batch": result.best_batch,
           "heldout_curve": {"batch": result.evals["batch"].astype(int).tolist(),
                             "accuracy": [round(a, 4) for a in result.evals["accuracy"]]},
           "seconds_per_batch_median": float(np.median(sec[1:])) if len(sec) > 1 else None,
           "first_batch_s_incl_compile": float(sec[0]) if len(sec) else None,
           "wall_s": round(time.perf_counter() - start, 1),
           "nonfinite_batches": int(np.sum(result.history["finite"] == 0)),
           "mean_rate_hz": float(np.mean(result.history["rate_hz"])) if len(sec) else None,
           "weight_fits": result.figure.get("fits")}
    if method == "online":
        out.update(gradient_agreement(cfg.replace(batch_size=min(cfg.batch_size, 16))))
    return out


def compare_synapses(args):
    import jax

    rows = []
    for n, p in ((400, 0.1), (4000, 0.02)):
        ne = n * 4 // 5
        for method in ("bptt", "online"):
            row = {"neurons": n, "p": p, "method": method, "T": args.compare_T}
            for syn in ("dense", "csr"):
                cfg = _config(args, method, network={"synapses": syn, "n_exc": ne,
                                                     "n_inh": n - ne, "p": p})
                cfg = cfg.replace(task=cfg.task.__class__(
                    **{**cfg.task.to_dict(), "n_cues": 1, "delay_ms": max(
                        0.0, args.compare_T - 150.0 - 150.0)}))
                tr = Trainer(cfg)
                params, state = tr.params0, tr.optimizer.init(tr.params0)
                t0 = time.perf_counter()
                jax.block_until_ready(tr.train_step(params, state, 0))
                first = time.perf_counter() - t0
                times = []
                for i in range(args.reps):
                    t0 = time.perf_counter()
                    jax.block_until_ready(tr.train_step(params, state, i + 1))
                    times.append(time.perf_counter() - t0)
                row[f"{syn}_s_per_batch"] = statistics.median(times)
                row[f"{syn}_first_s"] = first
            row["csr_over_dense"] = row["csr_s_per_batch"] / row["dense_s_per_batch"]
            rows.append(row)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", nargs="*", default=["bptt", "online"],
                    choices=["bptt", "online"], help="none: only the other measurements")
    ap.add_argument("--budget-s", type=float, default=600.0)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--heldout", type=int, default=512)
    ap.add_argument("--eval-every", type=int, default=25)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--delay-ms", type=float, default=1000.0)
    ap.add_argument("--cues", type=int, default=7)
    ap.add_argument("--n-exc", type=int, default=320)
    ap.add_argument("--n-inh", type=int, default=80)
    ap.add_argument("--neurons", default="default")
    ap.add_argument("--synapses", default="dense", choices=["dense", "csr"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--baseline-trials", type=int, default=1024)
    ap.add_argument("--compare-synapses", action="store_true")
    ap.add_argument("--compare-T", type=int, default=300)
    ap.add_argument("--reps", type=int, default=2)
    args = ap.parse_args(argv)
    doc = {"benchmark": "training", "machine": machine(), "settings": vars(args),
           "targets": {"bptt": 0.85, "online": 0.80, "above_baseline": 0.10}}
    if args.baseline_trials:
        cfg = _config(args, "bptt")
        t0 = time.perf_counter()
        tr = Trainer(cfg)
        doc["reservoir_baseline"] = {
            "heldout_accuracy": reservoir_baseline(tr, tr.params0, args.baseline_trials,
                                                   args.seed),
            "train_trials": args.baseline_trials, "seconds": time.perf_counter() - t0}
    doc["methods"] = [run_method(args, m) for m in args.methods]
    base = doc.get("reservoir_baseline", {}).get("heldout_accuracy")
    for m in doc["methods"]:
        if base is not None:
            m["points_above_baseline"] = 100 * (m["heldout_accuracy"] - base)
    if args.compare_synapses:
        doc["csr_vs_dense"] = compare_synapses(args)
    emit(doc)


if __name__ == "__main__":
    main()
