"""Measure a cell from its current-clamp recording: the values every model starts from.

eFEL (Blue Brain's feature extraction library) computes the spike shape (threshold by its dV/dt
criterion, peak, half width, after-hyperpolarisation), the adaptation index and ISI CV, and the
voltage base / steady-state deflection of each passive step. Written here, because eFEL lacks
them: finding the stimulus epochs from the current (:mod:`.stimulus`), the resting potential
over quiet baseline samples, the input resistance as a linear fit of deflection on step amplitude
over several steps, the passive properties under a fluctuating current (a regression of dV/dt on
V and I), the F–I curve, the rheobase and the intrinsic reliability.

Units: mV, ms, nA, MOhm, nF (MOhm * nA = mV; ms / MOhm = nF).
"""

from __future__ import annotations

import dataclasses
import warnings as _warnings
from dataclasses import dataclass, field

import numpy as np

from ..errors import RecordingError
from . import _efel
from .reliability import reliability
from .stimulus import SweepStimulus, analyse_stimulus

R_RANGE = (1.0, 5000.0)        # MOhm
TAU_RANGE = (1.0, 1000.0)      # ms
DERIVATIVE_THRESHOLD = 10.0    # mV/ms, the spike onset criterion
QUIET_BEFORE, QUIET_AFTER = 5.0, 100.0    # ms around a spike that are not "quiet"
REGRESSION_AFTER = 50.0        # ms after a spike left out of the subthreshold regression
SETTLE_MS = 100.0              # ms after a current change before the baseline is "quiet"


@dataclass(frozen=True)
class CellMeasurements:
    v_rest: float
    r_in: float | None
    tau_m: float | None
    c_m: float | None
    v_threshold: float | None
    ap_peak: float | None
    ap_width: float | None
    v_ahp: float | None
    ahp_depth: float | None
    rheobase: float | None
    fi_curve: tuple[tuple[float, float], ...]
    adaptation_index: float | None
    isi_cv: float | None
    n_spikes: tuple[int, ...]
    spike_times: tuple[np.ndarray, ...]
    stimulus_kind: str
    reliability: dict[str, float] | None
    warnings: tuple[str, ...] = ()
    methods: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["fi_curve"] = [[float(a), float(r)] for a, r in self.fi_curve]
        d["n_spikes"] = [int(n) for n in self.n_spikes]
        d["spike_times"] = [np.asarray(s, float).tolist() for s in self.spike_times]
        d["warnings"] = list(self.warnings)
        d["methods"] = dict(self.methods)
        d["reliability"] = None if self.reliability is None else dict(self.reliability)
        for k, v in d.items():
            if isinstance(v, np.floating):
                d[k] = float(v)
        return d

    @classmethod
    def from_dict(cls, d) -> CellMeasurements:
        d = dict(d)
        names = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k in names}
        d["fi_curve"] = tuple((float(a), float(r)) for a, r in d.get("fi_curve", ()))
        d["n_spikes"] = tuple(int(n) for n in d.get("n_spikes", ()))
        d["spike_times"] = tuple(np.asarray(s, float) for s in d.get("spike_times", ()))
        d["warnings"] = tuple(d.get("warnings", ()))
        d["methods"] = dict(d.get("methods", {}))
        rel = d.get("reliability")
        d["reliability"] = None if rel is None else {k: float(v) for k, v in rel.items()}
        return cls(**d)


# --------------------------------------------------------------------------------------------
def _near_spikes(t: np.ndarray, spikes: np.ndarray, before: float, after: float) -> np.ndarray:
    """Samples within [spike - before, spike + after] of any spike."""
    m = np.zeros(t.size, bool)
    if spikes.size == 0:
        return m
    lo = np.searchsorted(t, spikes - before)
    hi = np.searchsorted(t, spikes + after, side="right")
    d = np.zeros(t.size + 1, np.int64)
    np.add.at(d, lo, 1)
    np.add.at(d, hi, -1)
    return np.cumsum(d[:-1]) > 0


def _median(values) -> float | None:
    v = [np.asarray(x, float).ravel() for x in values if x is not None]
    v = np.concatenate(v) if v else np.empty(0)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else None


def _sweeps_str(ks) -> str:
    return ",".join(str(k) for k in ks)


def _v_rest(rec, stims, spikes):
    """Median V over quiet samples at the baseline current (all sweeps)."""
    chunks, used = [], []
    for k, s in enumerate(rec.sweeps):
        quiet = ~_near_spikes(s.t, spikes[k], QUIET_BEFORE, QUIET_AFTER)
        st = stims[k] if stims is not None else None
        if st is not None and st.kind in ("steps", "none"):
            base = st.baseline_mask(s.V.size)
            settle = int(round(SETTLE_MS / s.dt))
            for j, sg in enumerate(st.segments):  # let the membrane settle after a change
                if j > 0:
                    base[sg.i0:sg.i0 + settle] = False
            quiet &= base
        elif st is not None:  # fluctuating: no baseline samples
            continue
        if quiet.any():
            chunks.append(s.V[quiet])
            used.append(k)
    if not chunks:
        return None, "", 0
    v = np.concatenate(chunks)
    return float(np.median(v)), _sweeps_str(used), int(v.size)


def _passive_steps(rec, stims, spikes):
    """eFEL deflections of every passive step that starts from the baseline current."""
    hyper, depol = [], []
    for k, (s, st) in enumerate(zip(rec.sweeps, stims)):
        if st.kind != "steps":
            continue
        for j, sg in enumerate(st.segments):
            if j == 0 or abs(sg.level) <= st.tol:  # a prepulse repeated in every sweep counts
                continue
            pre = st.segments[j - 1]
            if abs(pre.level) > st.tol or (pre.i1 - pre.i0) * s.dt < 20.0:
                continue
            p0 = max(pre.i0, pre.i1 - int(round(300.0 / s.dt)))
            t0, t1 = s.t[p0], s.t[sg.i1 - 1]
            if np.any((spikes[k] >= t0) & (spikes[k] <= t1 + 20.0)):
                continue
            (hyper if sg.level < 0 else depol).append((k, p0, sg))
    chosen = hyper or depol
    if not chosen:
        return [], ""
    traces = []
    for k, p0, sg in chosen:
        s = rec.sweeps[k]
        V = s.V[p0:sg.i1]
        T = s.dt * np.arange(V.size)
        traces.append(_efel.trace(T, V, (sg.i0 - p0) * s.dt, (sg.i1 - p0) * s.dt,
                                  stimulus_current=sg.level))
    feats = _efel.feature_values(
        traces, ["voltage_base", "steady_state_voltage_stimend", "voltage_deflection_vb_ssse",
                 "time_constant"],
        {"interp_step": float(rec.dt), "voltage_base_start_perc": 0.5})
    out = []
    for (k, _p0, sg), f, tr in zip(chosen, feats, traces):
        dv = f["voltage_deflection_vb_ssse"]
        tc = f["time_constant"]
        out.append({"sweep": k, "dI": sg.level,
                    "dV": None if dv is None or dv.size == 0 else float(dv[0]),
                    "tau_efel": None if tc is None or tc.size == 0 else float(tc[0]),
                    "trace": tr})
    return out, ("hyperpolarising" if hyper else "subthreshold depolarising")


def _fit_onset_tau(tr: dict) -> float | None:
    """Own exponential fit to the onset of a step (eFEL's time_constant failed): from 0.5 ms
    after onset to the extreme of the response (before any sag), on V(t) = V_inf + A exp(-t/tau)."""
    from scipy.optimize import curve_fit

    T, V = tr["T"], tr["V"]
    t_on, t_off = tr["stim_start"][0], tr["stim_end"][0]
    dt = T[1] - T[0]
    i0 = int(np.searchsorted(T, t_on + 0.5))
    i1 = int(np.searchsorted(T, t_off))
    if i1 - i0 < 10:
        return None
    seg = V[i0:i1]
    k = max(1, int(round(1.0 / dt)))
    sm = np.convolve(seg, np.ones(k) / k, mode="same")
    neg = tr["stimulus_current"][0] < 0
    iext = int(np.argmin(sm) if neg else np.argmax(sm))
    iext = max(iext, 10)
    x, y = T[i0:i0 + iext] - T[i0], seg[:iext]
    try:
        with np.errstate(all="ignore"), _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            p, _ = curve_fit(lambda x, vi, a, tau: vi + a * np.exp(-x / tau), x, y,
                             p0=(y[-1], y[0] - y[-1], max(x[-1] / 3, dt)), maxfev=2000)
    except Exception:  # noqa: BLE001 - a failed fit is simply no value
        return None
    return float(p[2]) if np.isfinite(p[2]) and p[2] > 0 else None


def _regression(rec, stims, spikes, spike_threshold, v_threshold):
    """tau dV/dt = -(V - E) + R I  fitted by least squares over samples far from spikes."""
    rows_dv, rows_v, rows_i, used = [], [], [], []
    vmax = spike_threshold if v_threshold is None else min(spike_threshold, v_threshold - 5.0)
    for k, (s, st) in enumerate(zip(rec.sweeps, stims)):
        if st.kind != "fluctuating" or s.V.size < 5:
            continue
        near = _near_spikes(s.t, spikes[k], QUIET_BEFORE, REGRESSION_AFTER)
        ok = ~near[1:-1] & (s.V[1:-1] < vmax) & ~near[2:] & ~near[:-2]
        # the central difference is the mean slope over [t_k-1, t_k+1]: pair it with the
        # trapezoidal means of V and I over the same interval (no lag, no noise correlation)
        dv = (s.V[2:] - s.V[:-2]) / (2 * s.dt)
        vm = 0.25 * (s.V[:-2] + 2 * s.V[1:-1] + s.V[2:])
        im = 0.25 * (s.I[:-2] + 2 * s.I[1:-1] + s.I[2:])
        rows_dv.append(dv[ok])
        rows_v.append(vm[ok])
        rows_i.append(im[ok])
        used.append(k)
    if not used:
        return None
    y = np.concatenate(rows_dv)
    V = np.concatenate(rows_v)
    I = np.concatenate(rows_i)
    if y.size < 100 or np.std(I) == 0:
        return None
    X = np.column_stack([np.ones_like(V), V - V.mean(), I - I.mean()])
    (a, b, c), *_ = np.linalg.lstsq(X, y - 0.0, rcond=None)
    if not b < 0:
        return {"tau": float("inf"), "R": None, "E": None, "n": int(y.size), "sweeps": used}
    tau = -1.0 / b
    R = c * tau
    # a = (-(Vm - E) + R Im) / tau  ->  E = Vm - R Im + a tau
    E = V.mean() - R * I.mean() + a * tau
    return {"tau": float(tau), "R": float(R), "E": float(E), "n": int(y.size), "sweeps": used}


def _is_repetition(rec, stims) -> bool:
    if rec.n_sweeps < 2 or not rec.has_stimulus:
        return False
    if len({s.V.size for s in rec.sweeps}) != 1:
        return False
    I = np.stack([s.I for s in rec.sweeps])
    if np.any(I.std(axis=1) == 0):
        return False
    c = np.corrcoef(I)
    if not np.all(c > 0.99):
        return False
    if all(st.kind == "steps" for st in stims):
        amps = [st.amplitude for st in stims]
        tol = max(st.tol for st in stims)
        return all(a is not None for a in amps) and max(amps) - min(amps) <= tol
    return all(st.kind == "fluctuating" for st in stims)


def _check(name, value, lo, hi, unit, what, warnings, methods):
    if value is None:
        return None
    if not np.isfinite(value) or value < lo or value > hi:
        if value < lo:
            why = f"is below {lo:g} {unit}"
        elif value > hi:
            why = f"exceeds {hi:g} {unit}"
        else:
            why = "is not finite"
        warnings.append(f"{what} {value:.3g} {unit} {why}: implausible, not used "
                        f"({methods.get(name, '')})")
        methods[name] = methods.get(name, "") + " -> rejected as implausible"
        return None
    return float(value)


# --------------------------------------------------------------------------------------------
def repeated_stimulus(recording) -> bool:
    """Whether the sweeps repeat one frozen stimulus (same waveform and size), so that their
    spike trains measure the cell's own reliability."""
    if recording.n_sweeps < 2 or not recording.has_stimulus or len(
            {s.dt for s in recording.sweeps}) != 1:
        return False
    return _is_repetition(recording, analyse_stimulus([s.I for s in recording.sweeps],
                                                      recording.dt))


def measure_cell(recording, *, spike_threshold: float = -20.0) -> CellMeasurements:
    """Measure ``recording`` (a :class:`core.io.Recording`). Spikes are upward crossings of
    ``spike_threshold`` mV (the same spikes the fitting code uses)."""
    rec = recording
    sweeps = getattr(rec, "sweeps", None)
    if not sweeps:
        raise RecordingError("measure_cell needs a recording with at least one sweep")
    for s in sweeps:
        if not np.all(np.isfinite(s.V)):
            raise RecordingError(f"{rec.name}: sweep {s.number} holds NaN or infinite voltages")
        if s.I is not None and not np.all(np.isfinite(s.I)):
            raise RecordingError(f"{rec.name}: sweep {s.number} holds NaN or infinite currents")
    warnings: list[str] = []
    methods: dict[str, str] = {}
    spikes = [s.spike_times(spike_threshold) for s in sweeps]
    n_spikes = tuple(int(x.size) for x in spikes)
    methods["spike_times"] = f"upward crossings of {spike_threshold:g} mV"
    has_current = rec.has_stimulus

    stims: list[SweepStimulus] | None = None
    if has_current:
        stims = analyse_stimulus([s.I for s in sweeps], rec.dt) if len({s.dt for s in sweeps}) == 1 \
            else [analyse_stimulus([s.I], s.dt)[0] for s in sweeps]
        kinds = [st.kind for st in stims]
        kind = ("fluctuating" if "fluctuating" in kinds else "steps" if "steps" in kinds
                else "none")
        desc = [f"sweep {k}: {st.kind}, baseline {st.baseline:.4g} nA"
                + (f", test step {st.amplitude:+.4g} nA" if st.amplitude is not None else "")
                for k, st in enumerate(stims)]
        methods["stimulus"] = "epochs found from the injected current; " + "; ".join(desc)
        if kind == "none":
            warnings.append("no stimulus: the injected current never leaves its baseline, so "
                            "input resistance, time constant and rheobase are not measured")
    else:
        kind = "none"
        missing = [s.number for s in sweeps if s.I is None]
        warnings.append(f"no current: the injected current is missing (sweeps "
                        f"{_sweeps_str(missing)}); resting potential and spikes are measured, "
                        "but input resistance, time constant, capacitance, rheobase and the F-I "
                        "curve need the current")
        methods["stimulus"] = "no injected current in the recording"

    # ---- spike shape (eFEL) --------------------------------------------------------------
    v_thr = ap_peak = ap_width = v_ahp = ahp_depth = adapt = isi_cv = None
    spiking = [k for k in range(len(sweeps)) if n_spikes[k] > 0]
    if spiking:
        shape_traces, train_traces, train_ks = [], [], []
        for k in spiking:
            s = sweeps[k]
            t = s.t
            shape_traces.append(_efel.trace(t, s.V, t[0], t[-1]))
            st = stims[k] if stims is not None else None
            if st is not None and st.kind == "steps" and st.test:
                w = max(st.test, key=lambda w: w.i1 - w.i0)
                n_in = int(np.sum((spikes[k] >= t[w.i0]) & (spikes[k] < t[w.i1 - 1])))
                if n_in >= 4:
                    p0 = max(0, w.i0 - int(round(50.0 / s.dt)))
                    train_traces.append(_efel.trace(t[p0:w.i1], s.V[p0:w.i1], t[w.i0], t[w.i1 - 1]))
                    train_ks.append((k, n_in))
            elif n_spikes[k] >= 4:
                train_traces.append(_efel.trace(t, s.V, t[0], t[-1]))
                train_ks.append((k, n_spikes[k]))
        settings = {"Threshold": float(spike_threshold), "DerivativeThreshold": DERIVATIVE_THRESHOLD,
                    "interp_step": float(rec.dt)}
        shape = _efel.feature_values(shape_traces, ["peak_voltage", "AP_begin_voltage",
                                                    "min_AHP_values", "AP_duration_half_width"],
                                     settings)
        v_thr = _median(f["AP_begin_voltage"] for f in shape)
        ap_peak = _median(f["peak_voltage"] for f in shape)
        ap_width = _median(f["AP_duration_half_width"] for f in shape)
        v_ahp = _median(f["min_AHP_values"] for f in shape)
        src = f"over {sum(n_spikes[k] for k in spiking)} spikes in sweeps {_sweeps_str(spiking)}"
        methods["v_threshold"] = (f"eFEL AP_begin_voltage (dV/dt > {DERIVATIVE_THRESHOLD:g} mV/ms), "
                                  f"median {src}")
        methods["ap_peak"] = f"eFEL peak_voltage, median {src}"
        methods["ap_width"] = f"eFEL AP_duration_half_width, median {src}"
        methods["v_ahp"] = f"eFEL min_AHP_values (trough between spikes), median {src}"
        if v_thr is not None and v_ahp is not None:
            ahp_depth = v_thr - v_ahp
            methods["ahp_depth"] = "v_threshold - v_ahp"
        if train_traces:
            tr = _efel.feature_values(train_traces, ["adaptation_index2", "ISI_CV"], settings)
            if stims is not None and kind == "steps":
                # the step sweep with the most spikes (the strongest drive), as is usual
                best = max(range(len(train_ks)), key=lambda i: (train_ks[i][1], -i))
                pick = [best]
                how = f"the step sweep with most spikes (sweep {train_ks[best][0]}), during its step"
            else:
                pick = list(range(len(train_ks)))
                how = f"median over sweeps {_sweeps_str(k for k, _ in train_ks)}"
            adapt = _median(tr[i]["adaptation_index2"] for i in pick)
            isi_cv = _median(tr[i]["ISI_CV"] for i in pick)
            methods["adaptation_index"] = f"eFEL adaptation_index2, {how}"
            methods["isi_cv"] = f"eFEL ISI_CV, {how}"
    else:
        warnings.append(f"no spikes (no crossing of {spike_threshold:g} mV): spike threshold, AP "
                        "and reset are not measured")

    # ---- resting potential -----------------------------------------------------------------
    v_rest, vr_sweeps, vr_n = _v_rest(rec, stims, spikes)
    if v_rest is not None:
        at = ("" if stims is None else
              f" at the baseline current {np.median([st.baseline for st in stims]):.4g} nA")
        methods["v_rest"] = (f"median V over {vr_n} quiet samples{at} (>{QUIET_AFTER:g} ms after "
                             f"spikes, >{SETTLE_MS:g} ms after current changes), sweeps {vr_sweeps}")

    # ---- passive properties ----------------------------------------------------------------
    r_in = tau_m = None
    if stims is not None and kind == "steps":
        steps, which = _passive_steps(rec, stims, spikes)
        good = [p for p in steps if p["dV"] is not None]
        if good:
            dI = np.array([p["dI"] for p in good])
            dV = np.array([p["dV"] for p in good])
            tol = max(st.tol for st in stims)
            distinct = np.unique(np.round(dI / tol)).size
            if distinct >= 3:
                r_in = float(np.polyfit(dI, dV, 1)[0])
                fit = "slope of a linear fit of dV on dI"
            else:
                r_in = float(np.sum(dV * dI) / np.sum(dI * dI))
                fit = "least-squares dV / dI through the origin"
            ks = sorted({p["sweep"] for p in good})
            methods["r_in"] = (f"eFEL voltage_deflection_vb_ssse (steady state minus voltage base) "
                               f"of {len(good)} {which} steps, {fit} "
                               f"(amplitudes {np.min(dI):+.3g}..{np.max(dI):+.3g} nA), sweeps "
                               f"{_sweeps_str(ks)}")
            taus = [p["tau_efel"] for p in steps]
            own = False
            if not any(t is not None and np.isfinite(t) and t > 0 for t in taus):
                taus = [_fit_onset_tau(p["trace"]) for p in steps]
                own = True
            taus = [t for t in taus if t is not None and np.isfinite(t) and t > 0]
            if taus:
                tau_m = float(np.median(taus))
                methods["tau_m"] = (("exponential fit to the onset (to the peak response)" if own
                                     else "eFEL time_constant (exponential fit to the onset)")
                                    + f" of {len(taus)} {which} steps, median")
        else:
            warnings.append("no passive step: no spike-free step from the baseline current, so "
                            "input resistance and time constant are not measured")
    elif stims is not None and kind == "fluctuating":
        reg = _regression(rec, stims, spikes, spike_threshold, v_thr)
        if reg is None:
            warnings.append("too few subthreshold samples for the passive regression")
        else:
            tau_m, r_in = reg["tau"], reg["R"]
            txt = (f"regression of dV/dt (central difference) on V and I (trapezoidal means), tau dV/dt = -(V - E) + "
                   f"R I, {reg['n']:.2g} subthreshold samples (>{REGRESSION_AFTER:g} ms after "
                   f"spikes) of sweeps {_sweeps_str(reg['sweeps'])}")
            methods["r_in"] = txt
            methods["tau_m"] = txt
            if v_rest is None and reg["E"] is not None:
                v_rest = reg["E"]
                methods["v_rest"] = "reversal E of the same regression (no baseline samples)"
    if v_rest is None:
        allv = np.concatenate([s.V[~_near_spikes(s.t, spikes[k], QUIET_BEFORE, QUIET_AFTER)]
                               for k, s in enumerate(sweeps)])
        if allv.size == 0:
            allv = np.concatenate([s.V for s in sweeps])
        v_rest = float(np.median(allv))
        methods["v_rest"] = f"median V over {allv.size} samples away from spikes (all sweeps)"

    r_in = _check("r_in", r_in, *R_RANGE, "MOhm", "input resistance", warnings, methods)
    tau_m = _check("tau_m", tau_m, *TAU_RANGE, "ms", "membrane time constant", warnings, methods)
    c_m = None
    if r_in is not None and tau_m is not None:
        c_m = tau_m / r_in
        methods["c_m"] = "tau_m / r_in"

    # ---- F-I curve, rheobase ---------------------------------------------------------------
    fi: list[tuple[float, float]] = []
    rheobase = None
    if stims is not None and kind == "steps":
        for k, (s, st) in enumerate(zip(sweeps, stims)):
            if st.kind != "steps" or not st.test:
                continue
            t = s.t
            n = sum(int(np.sum((spikes[k] >= t[w.i0]) & (spikes[k] < t[w.i1 - 1] + s.dt)))
                    for w in st.test)
            dur = sum((w.i1 - w.i0) * s.dt for w in st.test)
            fi.append((float(st.amplitude), 1000.0 * n / dur))
        fi.sort()
        fired = [a for a, r in fi if r > 0 and a > 0]
        if fired:
            rheobase = float(min(fired))
            methods["rheobase"] = "smallest test step (relative to baseline) with a spike during it"
        elif fi:
            warnings.append("no step evoked a spike: rheobase is above the largest step")
        methods["fi_curve"] = "spikes during the test step(s) / their duration, per step sweep"

    # ---- reliability -----------------------------------------------------------------------
    rel = None
    if stims is not None and _is_repetition(rec, stims):
        rel = reliability(spikes, sweeps[0].duration)
        methods["reliability"] = (f"mean gamma factor between every ordered pair of the "
                                  f"{len(sweeps)} repetitions over {sweeps[0].duration:g} ms")

    for _name, val, lo, hi, unit, what in (("v_rest", v_rest, -120.0, -20.0, "mV", "resting potential"),
                                           ("v_threshold", v_thr, -80.0, 0.0, "mV", "spike threshold")):
        if val is not None and not lo <= val <= hi:
            warnings.append(f"{what} {val:.3g} {unit} is outside {lo:g}..{hi:g} {unit}: check "
                            "the voltage units and the recording")

    return CellMeasurements(
        v_rest=float(v_rest), r_in=r_in, tau_m=tau_m, c_m=c_m, v_threshold=v_thr, ap_peak=ap_peak,
        ap_width=ap_width, v_ahp=v_ahp, ahp_depth=ahp_depth, rheobase=rheobase,
        fi_curve=tuple(fi), adaptation_index=adapt, isi_cv=isi_cv, n_spikes=n_spikes,
        spike_times=tuple(spikes), stimulus_kind=kind, reliability=rel,
        warnings=tuple(warnings), methods=methods)
