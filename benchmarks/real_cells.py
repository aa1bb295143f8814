"""Real cells, product defaults only: fit part of a cell's recordings, predict the rest.

    .venv/bin/python benchmarks/real_cells.py [--cases pozzorini_1009,...] [--models gif,lif]
        [--methods hybrid,lbfgsb,twopointsde] [--seconds 60] [--out F]

Every fit is :func:`core.fitting.cell.fit_cell` with its defaults (data-derived starts, bounds,
free set and loss); only the split is chosen here, as the issue that asked for this script
states it. Cases (data in ``../shared/data/real``, not in the repository; a missing folder is
reported as skipped):

* ``pozzorini_1009`` / ``pozzorini_1009_1011``: L5 pyramidal cell, nine repetitions of one 20 s
  frozen noise current. Fit the first 10 s of repetition 1009 (or 1009-1011 jointly), predict the
  last 10 s of all nine; the score is mean gamma (+-4 ms) over the repetitions' own reliability
  in that window (target >= 0.80).
* ``incf_C140201C``: INCF 2007 challenge B, one step sweep per file. Fit IDRest 102 and 105
  (14 and 33 spikes: two spiking sweeps constrain the F-I slope; with 101 + 104 only one does and
  the prediction's rates are off by 30-100 %), predict 101, 103 and 104 (counts within 20 % or 2 spikes, mean gamma >= 0.4);
  the hyperpolarising IRrest files' subthreshold RMSE (target <= 2 mV).
* ``171116sh_0018_to_0016``: fit the first step of sweeps 2, 8 and 12 (100-700 ms) of the step
  file, predict every sweep of the ramp file (counts within 20 %).

Each fit gets a budget of ``--seconds`` (default 60, the issue's limit per fit on 2 cores).
The peer (``brian2modelfitting``'s SpikeFitter with its GammaFactor and DE) runs when
``BRIAN2MF_PYTHON`` names a Python that imports it (it needs numpy<2, so its own venv); the
result is then included as ``peer``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.fitting import Budget  # noqa: E402
from core.fitting.cell import Split, fit_cell, validate  # noqa: E402
from core.io import open_cell  # noqa: E402

DATA = Path(os.environ.get("BRAINFIT_SHARED_DATA",
                           Path(__file__).resolve().parents[2] / "shared" / "data")) / "real"
POZ = DATA / "pozzorini2015_L5_cell3"
INCF = DATA / "incf2007_challengeB_C140201C"
MODELS = ("gif", "adex", "izhikevich", "lif", "hh_cortical")
METHODS = ("hybrid", "lbfgsb", "twopointsde")


def _pozzorini(n_train: int):
    files = [POZ / f"Cell3_Ger1Test_ch2_{k}.ibw" for k in range(1009, 1018)]
    rec = open_cell(files)
    t0 = rec.sweeps[0].t0
    half = t0 + 10_000.0
    split = Split(tuple(range(n_train)), tuple(range(rec.n_sweeps)), (None, half), (half, None),
                  description=f"first 10 s of {n_train} repetition(s) fitted, last 10 s of all "
                              "nine held out")
    return rec, split, {}


def _incf():
    ids = [101, 102, 103, 104, 105]
    rec = open_cell([INCF / f"traceascii_C140201C_IDRest_{k}.asc" for k in ids])
    split = Split((1, 4), (0, 2, 3), description="IDRest 102 and 105 fitted, 101, 103, 104 held out")
    irrest = open_cell([INCF / f"traceascii_C140201C_IRrest_{k}.asc" for k in (126, 132)])
    return rec, split, {"IRrest": (irrest, Split((), tuple(range(irrest.n_sweeps)),
                                                 description="both IRrest files"))}


def _allen_like():
    steps = open_cell([DATA / "171116sh_0018.abf"]).select([2, 8, 12], (100.0, 700.0))
    split = Split((0, 1, 2), (), description="sweeps 2, 8, 12 (100-700 ms) fitted")
    ramp = open_cell([DATA / "171116sh_0016.abf"])
    return steps, split, {"ramp_0016": (ramp, Split((), tuple(range(ramp.n_sweeps)),
                                                    description="every ramp sweep"))}


CASES = {
    "pozzorini_1009": (POZ, lambda: _pozzorini(1)),
    "pozzorini_1009_1011": (POZ, lambda: _pozzorini(3)),
    "incf_C140201C": (INCF, _incf),
    "171116sh_0018_to_0016": (DATA / "171116sh_0018.abf", _allen_like),
}


def _scores(validation: dict) -> dict:
    keys = ("n_data_spikes", "n_model_spikes", "mean_gamma_2ms", "mean_gamma_4ms",
            "mean_gamma_4ms_over_reliability", "mean_subthreshold_rmse_mV",
            "spike_counts_within_20pct", "reliability", "diverged")
    out = {k: validation.get(k) for k in keys if k in validation}
    out["per_sweep_counts"] = [(r["n_data"], r["n_model"]) for r in validation["per_sweep"]]
    return out


def run_case(name: str, models, methods, seconds: float, seed: int) -> dict:
    path, build = CASES[name]
    if not path.exists():
        return {"skipped": f"{path} is absent"}
    rec, split, extra = build()
    rows = []
    for model in models:
        for method in methods:
            t0 = time.perf_counter()
            try:
                cf = fit_cell(rec, model, method, split=split, seed=seed,
                              budget=Budget(seconds=seconds), uncertainty=False)
            except Exception as exc:  # a benchmark reports a failed fit and goes on
                rows.append({"model": model, "method": method,
                             "error": f"{type(exc).__name__}: {exc}"})
                continue
            row = {"model": model, "method": method,
                   "seconds": round(time.perf_counter() - t0, 2),
                   "evaluations": cf.fit.evaluations, "train_loss": cf.fit.loss,
                   "params": cf.fit.params,
                   "held_out": _scores(cf.validation) if split.test_sweeps else None}
            for label, (other, other_split) in extra.items():
                row[label] = _scores(validate(cf.fit, other, other_split))
            rows.append(row)
            print(json.dumps({"case": name, **{k: row[k] for k in ("model", "method", "seconds")},
                              "held_out": row["held_out"],
                              **{k: row[k] for k in extra}}, default=float),
                  file=sys.stderr, flush=True)
    return {"recording": rec.name, "split": split.as_dict(), "fits": rows}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--seconds", type=float, default=60.0, help="budget per fit")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="also write the JSON here")
    args = ap.parse_args(argv)
    import jax

    jax.config.update("jax_enable_x64", True)
    doc = {"benchmark": "real_cells", "seconds_per_fit": args.seconds, "cases": {}}
    for name in args.cases.split(","):
        doc["cases"][name] = run_case(name, args.models.split(","), args.methods.split(","),
                                      args.seconds, args.seed)
    doc["peer"] = _peer(args)
    text = json.dumps(doc, indent=1, default=float)
    print(text)
    if args.out:
        tmp = Path(args.out).with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, args.out)
    return 0


def _peer(args) -> dict:
    python = os.environ.get("BRIAN2MF_PYTHON")
    if not python:
        return {"skipped": "set BRIAN2MF_PYTHON to a Python with brian2modelfitting "
                           "(it needs numpy<2, nevergrad==0.3.0, bayesian-optimization==1.4.3)"}
    import subprocess

    script = Path(__file__).with_name("_real_cells_peer.py")
    proc = subprocess.run([python, str(script), "--cases", args.cases], capture_output=True,
                          text=True, timeout=3600)
    if proc.returncode != 0:
        return {"error": proc.stderr[-2000:]}
    return json.loads(proc.stdout)


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
