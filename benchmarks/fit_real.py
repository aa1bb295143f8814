"""Fit GIF and the cortical HH model to real current-clamp steps and predict an unseen ramp.

    .venv/bin/python benchmarks/fit_real.py [--methods hybrid] [--seed 0] [--out F]

Data (not in the repository): ``../shared/data/real/171116sh_0018.abf`` (17 sweeps of current
steps, 20 kHz) for fitting and ``171116sh_0016.abf`` (slow 0-100 pA ramp, probably the same
cell, recorded a minute earlier) for prediction. Skips (exit 0, JSON ``{"skipped": ...}``) when
the files are absent.

Choices (documented here because they decide the numbers):

* Fitting window: the *first* step of each sweep, 100-700 ms (step 147-647 ms, with 47 ms of
  rest before and 53 ms of recovery after), sweeps 2, 8 and 12 (-50, +100 and +200 pA: one
  subthreshold, one with a few spikes, one with many).
* GIF (integrate-and-fire: no spike waveform): the loss is the voltage MSE on the recording with
  every spike *masked*: samples from 1 ms before to 4 ms after each upward -20 mV crossing are
  replaced by the straight line between the window's ends, so the fit sees the subthreshold
  dynamics and the after-spike trajectory instead of +60 mV spike shapes a GIF cannot make. The
  spike times (from the raw trace) drive the hybrid's teacher-forced stage, and the gamma factor
  (delta 4 ms) scores the spike timing. Free: tau_V, R, V_rest, V_reset, V_th, A1, A2, tau_I2
  (tau_I1 = 5 ms fixed). Simulated at 0.2 ms (decimate 4).
* HH cortical (makes its own spikes): plain voltage MSE including the spikes. Free: C, gNa, gK,
  gL, EL, VT, ENa (EK = -90 mV, gM = 0). Simulated at 0.1 ms (decimate 2).
* Prediction on the ramp (all 11 sweeps): ``core.fitting.predict.predict`` (what ``brainfit
  predict`` runs: MSE on the raw voltage, spikes included) and, for GIF, also the MSE with spikes
  masked as in fitting. A flat line at the ramp's median voltage is given as a reference MSE.
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

from core.fitting import Budget, Objective, run_fit  # noqa: E402
from core.fitting.losses import threshold_crossings  # noqa: E402
from core.fitting.predict import predict  # noqa: E402

DATA = Path(os.environ.get("BRAINFIT_SHARED_DATA",
                           Path(__file__).resolve().parents[2] / "shared" / "data"))
FIT_FILE, PREDICT_FILE = "171116sh_0018.abf", "171116sh_0016.abf"
SWEEPS, WINDOW = [2, 8, 12], (100.0, 700.0)
THRESHOLD = -20.0

MODELS = {
    "gif": {"free": ["tau_V", "R", "V_rest", "V_reset", "V_th", "A1", "A2", "tau_I2"],
            "fixed": {"tau_I1": 5.0}, "decimate": 4, "mask": True,
            "budget": Budget(evaluations=1500, seconds=240.0),
            "options": {"hybrid": {"samples": 512, "batch": 128, "polish": 4}}},
    "hh_cortical": {"free": ["C", "gNa", "gK", "gL", "EL", "VT", "ENa"],
                    "fixed": {"EK": -90.0, "gM": 0.0}, "decimate": 2, "mask": False,
                    "budget": Budget(evaluations=1000, seconds=300.0),
                    "options": {"hybrid": {"samples": 256, "batch": 64, "polish": 4,
                                           "ftol": 1e-9}}},
}


def mask_spikes(V: np.ndarray, dt: float, before: float = 1.0, after: float = 4.0):
    """(masked copy of V, spike times per sweep): spike samples replaced by a straight line."""
    V = np.array(V, float)
    spikes = [threshold_crossings(v, dt, THRESHOLD) for v in V]
    for v, ts in zip(V, spikes):
        for t in ts:
            a = max(int(round((t - before) / dt)), 0)
            b = min(int(round((t + after) / dt)), v.size - 1)
            v[a:b + 1] = np.linspace(v[a], v[b], b - a + 1)
    return V, spikes


def objective_for(recording, model: str, cfg: dict, *, sweeps=None, window=None, **kw):
    rec = recording.select(sweeps, window)
    V, I = rec.stacked()
    spikes = [threshold_crossings(v, rec.dt, THRESHOLD) for v in V]
    if cfg["mask"]:
        V, spikes = mask_spikes(V, rec.dt)
    return Objective(model, V, I, rec.dt, cfg["free"], fixed=cfg["fixed"], data_spikes=spikes,
                     decimate=cfg["decimate"], spike_threshold=THRESHOLD,
                     source=rec.provenance.path, **kw)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default="hybrid")
    ap.add_argument("--models", default="gif,hh_cortical")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    fit_path, pred_path = DATA / "real" / FIT_FILE, DATA / "real" / PREDICT_FILE
    if not (fit_path.exists() and pred_path.exists()):
        print(json.dumps({"skipped": f"{fit_path} or {pred_path} not found (set "
                                     "BRAINFIT_SHARED_DATA)"}))
        return 0
    from core.io.open import open_recording

    fit_rec, pred_rec = open_recording(str(fit_path)), open_recording(str(pred_path))
    report = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "fit_file": FIT_FILE,
              "predict_file": PREDICT_FILE, "sweeps": SWEEPS, "window_ms": WINDOW,
              "loadavg_start": Path("/proc/loadavg").read_text().strip(), "fits": []}
    _, ramp_V = None, np.stack([s.V for s in pred_rec.sweeps])
    flat = float(np.mean((ramp_V - np.median(ramp_V)) ** 2))
    report["ramp_flat_line_mse"] = flat
    for model in args.models.split(","):
        cfg = MODELS[model]
        obj = objective_for(fit_rec, model, cfg, sweeps=SWEEPS, window=WINDOW)
        for method in args.methods.split(","):
            r = run_fit(obj, method, seed=args.seed, budget=cfg["budget"],
                        options=cfg["options"].get(method, {}), uncertainty=True,
                        preview_interval=None)
            pred = predict(r, pred_rec)
            entry = {"model": model, "method": method, "seed": args.seed,
                     "fit": {"loss": r.loss, "gamma": r.gamma, "n_model_spikes": r.n_model_spikes,
                             "n_data_spikes": r.n_data_spikes, "seconds": r.seconds,
                             "compile_seconds": r.compile_seconds, "evaluations": r.evaluations,
                             "stop_reason": r.stop_reason, "params": r.fitted,
                             "stderr": r.stderr, "masked_spikes": cfg["mask"]},
                     "predict_ramp": pred.summary()}
            if cfg["mask"]:
                pobj = objective_for(pred_rec, model, cfg)
                entry["predict_ramp"]["loss_spikes_masked"] = pobj.evaluate(
                    pobj.to_unit(r.fitted))["loss"]
            report["fits"].append(entry)
            print(json.dumps(entry), file=sys.stderr, flush=True)
    report["loadavg_end"] = Path("/proc/loadavg").read_text().strip()
    text = json.dumps(report, indent=1, default=float)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
