"""Benchmark the fitting engine on the synthetic problems with known truth; prints JSON.

    .venv/bin/python benchmarks/fit.py [--problems gif,hh] [--methods ...] [--seeds 3]

For every problem, method and seed: final voltage MSE (mV^2), loss at the truth (same
integrator), gamma factor, evaluations, wall time and compile time (separate), parameter error.
Also measures what K batched L-BFGS-B starts cost against K single evaluations (``multistart``).
Data: ../shared/data/synthetic/{gif,hh}_synthetic.h5 (SI units; converted to ms/mV/nA/uS/nF).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import h5py
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.fitting import Objective, run_fit  # noqa: E402

DATA = Path(os.environ.get("BRAINFIT_SHARED_DATA",
                           Path(__file__).resolve().parents[2] / "shared" / "data"))

# evaluation budgets and options per problem (black boxes get the seed paper's 2000 / 100)
SETTINGS = {
    "gif": {
        "lbfgsb": (400, {"starts": 8}), "hybrid": (1000, {"samples": 256, "batch": 128, "polish": 4}),
        "de": (2000, {}), "twopointsde": (2000, {}), "pso": (2000, {}), "bayes": (100, {}),
        "lbfgsb_naive": (400, {"starts": 8, "forced": False}),
    },
    "hh": {
        "lbfgsb": (400, {"starts": 8}), "hybrid": (600, {"samples": 256, "batch": 64, "polish": 4}),
        "de": (2000, {}), "twopointsde": (2000, {}), "pso": (2000, {}), "bayes": (100, {}),
    },
}


def load_synthetic(name: str) -> Objective:
    """The synthetic file as an Objective in core units, with its truth and bounds."""
    with h5py.File(DATA / "synthetic" / f"{name}_synthetic.h5", "r") as h:
        attr = {k: (json.loads(v) if isinstance(v, str) and v[:1] in "{[" else v)
                for k, v in h.attrs.items()}
        I, V = h["I"][()] * 1e9, h["V"][()] * 1e3
        dt = float(attr["dt"]) * 1e3
        if name == "gif":
            ren = {"A1": ("A1", 1e9), "A2": ("A2", 1e9), "tau1": ("tau_I1", 1e3),
                   "tau2": ("tau_I2", 1e3)}
            fx = attr["fixed_params"]
            fixed = {"tau_V": fx["tau_V"] * 1e3, "R": fx["R"] * 1e-6, "V_rest": fx["V_rest"] * 1e3,
                     "V_reset": fx["V_reset"] * 1e3, "V_th": fx["V_th"] * 1e3}
            spikes = [h["spike_times"][f"trace{i}"][()] * 1e3 for i in range(I.shape[0])]
            model = "gif"
        else:
            ren = {"gNa": ("gNa", 1e6), "gK": ("gK", 1e6), "gL": ("gL", 1e6)}
            fx = attr["fixed_params"]
            fixed = {"C": attr["true_params"]["C"] * 1e9, "ENa": fx["ENa"] * 1e3,
                     "EK": fx["EK"] * 1e3, "EL": fx["EL"] * 1e3, "VT": fx["VT"] * 1e3, "gM": 0.0}
            spikes, model = None, "hh_cortical"
    truth = {ren[k][0]: attr["true_params"][k] * ren[k][1] for k in ren}
    bounds = {ren[k][0]: tuple(sorted(x * ren[k][1] for x in attr["bounds"][k])) for k in ren}
    return Objective(model, V, I, dt, [ren[k][0] for k in ren], bounds=bounds, fixed=fixed,
                     data_spikes=spikes, truth=truth, source=f"{name}_synthetic.h5")


def multistart_cost(obj: Objective, K: int = 8, repeats: int = 2) -> dict:
    """Seconds for one batched value-and-gradient of K starts vs one of a single start."""
    Z = np.random.default_rng(0).random((K, obj.dim))
    obj.value_and_grad_batch(Z)
    obj.value_and_grad_batch(Z[:1])
    t = time.perf_counter()
    for _ in range(repeats):
        obj.value_and_grad_batch(Z)
    tk = (time.perf_counter() - t) / repeats
    t = time.perf_counter()
    for _ in range(repeats):
        obj.value_and_grad_batch(Z[:1])
    t1 = (time.perf_counter() - t) / repeats
    return {"K": K, "batched_seconds": tk, "single_seconds": t1,
            "ratio_vs_K_singles": tk / (K * t1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", default="gif,hh")
    ap.add_argument("--methods", default=None, help="comma list (default: all for the problem)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default=None, help="also write the JSON here")
    args = ap.parse_args(argv)
    report = {"problems": {}, "machine": {"cpus": os.cpu_count()}}
    for problem in args.problems.split(","):
        obj = load_synthetic(problem)
        entry = {"loss_at_truth": obj.loss_at_truth(), "truth": obj.truth, "runs": [],
                 "multistart": multistart_cost(obj)}
        methods = args.methods.split(",") if args.methods else list(SETTINGS[problem])
        for label in methods:
            budget, options = SETTINGS[problem][label]
            method = label.split("_")[0]
            for seed in range(args.seeds):
                r = run_fit(obj, method, seed=seed, budget=budget, options=options,
                            uncertainty=False, preview_interval=None)
                entry["runs"].append({
                    "method": label, "seed": seed, "loss": r.loss, "loss_at_truth": r.loss_at_truth,
                    "gamma": r.gamma, "evaluations": r.evaluations, "seconds": r.seconds,
                    "compile_seconds": r.compile_seconds, "params": r.fitted,
                    "param_error": r.param_error, "stop_reason": r.stop_reason})
                print(json.dumps(entry["runs"][-1]), file=sys.stderr, flush=True)
        summary = {}
        for label in methods:
            runs = [x for x in entry["runs"] if x["method"] == label]
            losses = np.array([x["loss"] for x in runs])
            summary[label] = {"loss_median": float(np.median(losses)),
                              "loss_mean": float(losses.mean()), "loss_sd": float(losses.std()),
                              "losses": losses.tolist(),
                              "seconds_mean": float(np.mean([x["seconds"] for x in runs])),
                              "evaluations_mean": float(np.mean([x["evaluations"] for x in runs])),
                              "gamma_mean": float(np.mean([x["gamma"] for x in runs])),
                              "below_1mV2": int(np.sum(losses < 1.0))}
        entry["summary"] = summary
        report["problems"][problem] = entry
    text = json.dumps(report)
    if args.out:
        Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
