"""Real cells, product defaults only: fit part of a cell's recordings, predict the rest.

    .venv/bin/python benchmarks/real_cells.py [--cases pozzorini_1009,...] [--models gif,lif]
        [--methods hybrid,lbfgsb,twopointsde] [--seconds 60] [--out F]
        [--peer-runs 5] [--peer-seconds S]

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
The peer (``brian2modelfitting``'s SpikeFitter with its GammaFactor and DE, in
``_real_cells_peer.py``) runs when ``BRIAN2MF_PYTHON`` names a Python that imports it (it needs
numpy<2, so its own venv):

    BRIAN2MF_PYTHON=/path/to/peer-venv/bin/python .venv/bin/python benchmarks/real_cells.py \
        [--peer-runs 5] [--peer-seconds 60]

Each case's split is exported to a temporary ``.npz`` (the same training and held-out currents,
the recorded spike times as this workbench detects them, the training part's measurements for
the peer's parameter ranges, the repetitions' reliability over the held-out window); the peer
fits ``--peer-runs`` times with different seeds and scores its held-out predictions as
:func:`core.fitting.cell.validate` does. Its JSON is included as ``peer``, and ``comparison``
sets our best default fit's held-out score per case against the peer's median (min, max) and
the times.
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

from core.features import measure_cell, reliability, repeated_stimulus  # noqa: E402
from core.fitting import Budget  # noqa: E402
from core.fitting.cell import GAMMA_DELTAS, SPIKE_THRESHOLD, Split, fit_cell, validate  # noqa: E402
from core.fitting.losses import threshold_crossings  # noqa: E402
from core.fitting.starts import data_defaults  # noqa: E402
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
    ap.add_argument("--peer-runs", type=int, default=5,
                    help="independent runs of the peer per case (different seeds)")
    ap.add_argument("--peer-seconds", type=float, default=None,
                    help="the peer's budget per fit (default: --seconds)")
    args = ap.parse_args(argv)
    import jax

    jax.config.update("jax_enable_x64", True)
    doc = {"benchmark": "real_cells", "seconds_per_fit": args.seconds, "cases": {}}
    for name in args.cases.split(","):
        doc["cases"][name] = run_case(name, args.models.split(","), args.methods.split(","),
                                      args.seconds, args.seed)
    doc["peer"] = _peer(args)
    doc["comparison"] = _comparison(doc)
    text = json.dumps(doc, indent=1, default=float)
    print(text)
    if args.out:
        tmp = Path(args.out).with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, args.out)
    return 0


# --------------------------------------------------------------------------------------------
# the peer: brian2modelfitting on the same splits (benchmarks/_real_cells_peer.py, own venv)
# --------------------------------------------------------------------------------------------
#: the held-out part the peer predicts where the case's split holds none out of the fitted file
PEER_TEST = {"171116sh_0018_to_0016": "ramp_0016"}
#: per case the score that decides (higher is better), where it sits in our fit rows and in the
#: peer's held-out scores
PRIMARY = {"pozzorini_1009": ("held_out", "mean_gamma_4ms_over_reliability"),
           "pozzorini_1009_1011": ("held_out", "mean_gamma_4ms_over_reliability"),
           "incf_C140201C": ("held_out", "mean_gamma_4ms"),
           "171116sh_0018_to_0016": ("ramp_0016", "counts_within_fraction")}


def _trains(V, dt) -> tuple[np.ndarray, np.ndarray]:
    """(flat spike times, count per row) in ms from each row's first sample: the detection
    that fitting and validation use (upward crossings of SPIKE_THRESHOLD)."""
    spikes = [threshold_crossings(v, dt, SPIKE_THRESHOLD) for v in V]
    return (np.concatenate(spikes) if spikes else np.zeros(0),
            np.array([s.size for s in spikes], int)), spikes


def _peer_measurements(train) -> dict:
    """V_rest, R_in, tau, spike threshold and post-spike trough of the training part, from
    :func:`core.features.measure_cell`; where a value is not measured (steps without a
    hyperpolarising one), the value our AdEx default starts from (the subthreshold regression)."""
    m = measure_cell(train, spike_threshold=SPIKE_THRESHOLD)
    V, I = train.stacked()
    spikes = [threshold_crossings(v, train.dt, SPIKE_THRESHOLD) for v in V]
    d = data_defaults("adex", V, I, train.dt, spikes, measurements=m).values
    fallback = {"v_rest_mV": d["EL"], "r_in_MOhm": 1.0 / d["gL"], "tau_ms": d["C"] / d["gL"],
                "v_threshold_mV": d["VT"], "v_reset_mV": d["V_reset"]}
    measured = {"v_rest_mV": m.v_rest, "r_in_MOhm": m.r_in, "tau_ms": m.tau_m,
                "v_threshold_mV": m.v_threshold, "v_reset_mV": m.v_ahp}
    out, source = {}, {}
    for k, v in measured.items():
        ok = v is not None and np.isfinite(v)
        out[k] = float(v) if ok else float(fallback[k])
        source[k] = "measured" if ok else "our AdEx default (subthreshold regression)"
    out["source"] = source
    return out


def _export_peer_case(name: str, directory: Path) -> str | None:
    """Write case ``name``'s split to ``directory/name.npz``; None, or why it was not written."""
    path, build = CASES[name]
    if not path.exists():
        return f"{path} is absent"
    rec, split, extra = build()
    train = rec.select(split.train_sweeps, split.train_window)
    if split.test_sweeps:
        held, held_label = rec.select(split.test_sweeps, split.test_window), "held_out"
    elif name in PEER_TEST:
        other, other_split = extra[PEER_TEST[name]]
        held, held_label = other.select(other_split.test_sweeps, other_split.test_window), \
            PEER_TEST[name]
    else:
        return "nothing held out"
    V_tr, I_tr = train.stacked()
    V_te, I_te = held.stacked()
    if abs(train.dt - held.dt) > 1e-9 * train.dt:
        return f"training and held-out parts are sampled differently ({train.dt}, {held.dt} ms)"
    (tr_flat, tr_n), _ = _trains(V_tr, train.dt)
    (te_flat, te_n), te_spikes = _trains(V_te, held.dt)
    rel = None
    if repeated_stimulus(held):  # as validate: the repetitions' own gamma over the window
        measured = reliability(te_spikes, V_te.shape[1] * held.dt, GAMMA_DELTAS)
        rel = {f"{d:g}ms": measured[f"gamma_{d:g}ms"] for d in GAMMA_DELTAS} if measured else None
    meta = {"case": name, "split": split.as_dict(), "held_out_part": held_label,
            "held_out_recording": held.name, "measurements": _peer_measurements(train),
            "reliability": rel, "spike_threshold_mV": SPIKE_THRESHOLD}
    np.savez(directory / f"{name}.npz", dt=np.float64(train.dt), train_I=I_tr, test_I=I_te,
             train_spikes=tr_flat, train_spike_counts=tr_n, test_spikes=te_flat,
             test_spike_counts=te_n, meta=np.array(json.dumps(meta, default=float)))
    return None


def _peer(args) -> dict:
    python = os.environ.get("BRIAN2MF_PYTHON")
    if not python:
        return {"skipped": "set BRIAN2MF_PYTHON to a Python with brian2modelfitting "
                           "(it needs numpy<2, nevergrad==0.3.0, bayesian-optimization==1.4.3)"}
    import subprocess
    import tempfile

    script = Path(__file__).with_name("_real_cells_peer.py")
    seconds = args.peer_seconds if args.peer_seconds is not None else args.seconds
    names = args.cases.split(",")
    with tempfile.TemporaryDirectory(prefix="real_cells_peer_") as tmp:
        not_exported = {n: why for n in names if (why := _export_peer_case(n, Path(tmp)))}
        if len(not_exported) == len(names):
            return {"skipped": not_exported}
        n_cases = len(names) - len(not_exported)
        timeout = n_cases * args.peer_runs * (2 * seconds + 120) + 300
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([python, str(script), "--data", tmp, "--runs",
                                   str(args.peer_runs), "--seconds", str(seconds), "--seed",
                                   str(args.seed)], stdout=subprocess.PIPE, stderr=None,
                                  text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"the peer ran past {timeout:.0f} s"}
    if proc.returncode != 0:
        return {"error": f"the peer exited with {proc.returncode} (its messages are above)"}
    out = json.loads(proc.stdout)
    out["wall_seconds"] = round(time.perf_counter() - t0, 1)
    out["runs_per_case"] = args.peer_runs
    if not_exported:
        out["not_run"] = not_exported
    return out


def _value(scores: dict | None, key: str):
    if not scores:
        return None
    if key == "counts_within_fraction":
        text = scores.get("spike_counts_within_20pct")
        if not text:
            return None
        a, b = (int(x) for x in text.split("/"))
        return a / b if b else None
    return scores.get(key)


def _comparison(doc: dict) -> dict:
    """Per case: our best default fit (over models x methods) on the case's deciding held-out
    score against the peer's median, min and max over its runs, with the times."""
    peer = doc.get("peer", {}).get("cases", {})
    out = {}
    for name, case in doc["cases"].items():
        if name not in PRIMARY or "fits" not in case:
            continue
        part, key = PRIMARY[name]
        scored = [(f, _value(f.get(part), key)) for f in case["fits"] if "error" not in f]
        scored = [(f, v) for f, v in scored if v is not None]
        row: dict = {"score": f"{part}.{key}", "higher_is_better": True}
        if scored:
            best, v = max(scored, key=lambda fv: (fv[1], -fv[0]["seconds"]))
            row["ours"] = {"model": best["model"], "method": best["method"], "score": v,
                           "seconds": best["seconds"], "evaluations": best["evaluations"]}
        p = peer.get(name)
        if p:
            summary = p.get("summary", {})
            row["peer"] = {"score": summary.get(key), "seconds": summary.get("seconds"),
                           "runs": summary.get("n_runs"), "failed": summary.get("n_failed")}
            if scored and summary.get(key):
                row["ours_beats_peer_median"] = bool(row["ours"]["score"] > summary[key]["median"])
                row["ours_faster_than_peer_median"] = bool(
                    row["ours"]["seconds"] < summary["seconds"]["median"])
        out[name] = row
    return out


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
