"""Start values, bounds and the default free set of every model, derived from the cell's data.

The passive properties come from the subthreshold regression with the recorded spikes imposed
(:mod:`.subthreshold`): resting potential, input resistance R, membrane time constant tau and so
capacitance C = tau / R; the reset from the voltage after the spikes. Each model maps them onto
its own parameters (LIF/GIF directly; AdEx gL = 1/R, C = tau/R; Izhikevich k from the slope of
the I–V relation at rest, k (v_t - v_r) = 1/R; HH gL = 1/R, C = tau/R with the active
conductances scaled by C). Bounds are placed around each start (a factor for scale parameters,
a few mV for potentials), so the optimizers search near the cell rather than across the
textbook ranges, and a start in the middle of its bounds is where a black-box method begins.

For integrate-and-fire models the default fit is staged (Pozzorini et al. 2015): the regression
fixes the subthreshold parameters, then the optimizer fits threshold, reset and spike-triggered
currents against spike timing (``free``). Other models fit passive and spiking parameters
together, the passive ones in narrow bounds around the measured values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import ParameterError
from ..models import MODELS
from .subthreshold import SubthresholdFit, fit_subthreshold

#: van Rossum term weight: a silent model's spike term is this many times the voltage MSE that
#: its missing action potentials cost (see :func:`auto_spike_weight`)
SPIKE_TERM_RATIO = 10.0


@dataclass(frozen=True)
class DataDefaults:
    """What a default fit of ``model`` on this data uses: ``values`` (start of every parameter),
    ``free`` (fitted) with ``bounds``, the rest fixed at ``values``; ``spike_weight`` of the
    loss; ``notes`` say where each number came from."""

    model: str
    values: dict[str, float]
    free: tuple[str, ...]
    bounds: dict[str, tuple[float, float]]
    spike_weight: float
    stage1: SubthresholdFit | None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def fixed(self) -> dict[str, float]:
        return {k: v for k, v in self.values.items() if k not in self.free}

    @property
    def start(self) -> dict[str, float]:
        return {k: self.values[k] for k in self.free}

    def as_dict(self) -> dict:
        return {"model": self.model, "values": dict(self.values), "free": list(self.free),
                "bounds": {k: list(v) for k, v in self.bounds.items()},
                "spike_weight": self.spike_weight, "notes": list(self.notes),
                "stage1": None if self.stage1 is None else {
                    "params": dict(self.stage1.params), "r2": self.stage1.r2,
                    "n_samples": self.stage1.n_samples,
                    "excluded_ms": list(self.stage1.excluded_ms)}}


    @classmethod
    def from_dict(cls, d: dict) -> DataDefaults:
        """Inverse of :meth:`as_dict` (the regression's details stay in the dict, not rebuilt)."""
        return cls(model=d["model"], values={k: float(v) for k, v in d["values"].items()},
                   free=tuple(d["free"]),
                   bounds={k: (float(a), float(b)) for k, (a, b) in d["bounds"].items()},
                   spike_weight=float(d["spike_weight"]), stage1=None,
                   notes=tuple(d.get("notes", ())))


def auto_spike_weight(V: np.ndarray, spike_times, dt: float) -> float:
    """Weight (mV^2) of the van Rossum term scaled to the data: an unmatched spike costs 1/2 in
    the 10 ms van Rossum distance per sweep and, in the voltage MSE, the energy of its action
    potential (the integral of (V - V_onset)^2 over 1.5 ms before to 3 ms after the crossing)
    over the sweep duration; the weight makes the first ``SPIKE_TERM_RATIO`` times the second.
    (The rate scale of :class:`~.losses.LossSpec` adds up to ``RATE_SCALE_WEIGHT`` / 2 more per
    isolated unmatched spike, on top of this ratio.) 0 when the data do not spike."""
    V = np.atleast_2d(V)
    energies = []
    n_pre, n_post = int(round(1.5 / dt)), int(round(3.0 / dt))
    for v, times in zip(V, spike_times):
        for t in np.asarray(times, float):
            k = int(round(t / dt))
            if k - n_pre < 0 or k + n_post >= v.size:
                continue
            seg = v[k - n_pre:k + n_post]
            energies.append(float(np.sum((seg - seg[0]) ** 2) * dt))
    if not energies:
        return 0.0
    duration = V.shape[1] * dt
    return float(SPIKE_TERM_RATIO * 2.0 * np.median(energies) / duration)


def _around(value: float, factor: float) -> tuple[float, float]:
    return (value / factor, value * factor)


def _mv(value: float, half_width: float) -> tuple[float, float]:
    return (value - half_width, value + half_width)


def measured_passive(measurements) -> dict[str, float] | None:
    """The membrane measured from step deflections (``core.features.measure_cell``), when the
    protocol is steps and the values are plausible; None otherwise (the regression decides)."""
    m = measurements
    if m is None or getattr(m, "stimulus_kind", "") != "steps":
        return None
    values = {"tau": m.tau_m, "R": m.r_in, "V_rest": m.v_rest}
    if any(v is None or not math.isfinite(v) for v in values.values()):
        return None
    if not (1.0 < values["R"] < 5000.0 and 1.0 < values["tau"] < 500.0):
        return None
    return {k: float(v) for k, v in values.items()}


def data_defaults(model: str, V, I, dt: float, spike_times, *,
                  v_threshold: float | None = None, measurements=None,
                  measured_membrane: bool = True) -> DataDefaults:
    """Start values, bounds and free set of ``model`` for sweeps ``V``, ``I`` (mV, nA) whose
    spikes are ``spike_times`` (ms per sweep). ``v_threshold``: the measured spike threshold
    (dV/dt criterion), if known; ``measurements``: the cell's
    :class:`~core.features.CellMeasurements` (for step protocols their membrane, measured from
    the deflections, replaces the regression's, which steps constrain poorly, unless
    ``measured_membrane`` is False)."""
    if model not in MODELS:
        raise ParameterError(f"unknown model {model!r}; known: {', '.join(sorted(MODELS))}")
    spiking = any(np.size(s) for s in spike_times)
    passive = measured_passive(measurements) if measured_membrane else None
    if v_threshold is None and measurements is not None and measurements.v_threshold is not None:
        v_threshold = float(measurements.v_threshold)
    stage1 = fit_subthreshold(V, I, dt, spike_times, "gif" if model == "gif" else "lif",
                              passive=passive)
    p = stage1.params
    tau, R, v_rest = p["tau"], p["R"], p["V_rest"]
    source = ("the step deflections (cell measurements)" if passive else
              f"the subthreshold regression (R^2 {stage1.r2:.2f} on {stage1.n_samples} samples)")
    notes = [f"passive properties from {source}: tau {tau:.3g} ms, R {R:.4g} MOhm, V_rest "
             f"{v_rest:.4g} mV, C {tau / R:.3g} nF", *stage1.notes]
    v_reset = p.get("V_reset", v_rest - 5.0)
    if v_threshold is None:
        v_threshold = v_rest + 15.0
    specs = MODELS[model].specs()
    values = {n: float(s.default) for n, s in specs.items()}
    bounds: dict[str, tuple[float, float]] = {}
    if model == "gif":
        values.update(tau_V=tau, R=R, V_rest=v_rest)
        if "A1" in p:
            values.update(A1=p["A1"], A2=p["A2"], tau_I1=p["tau_I1"], tau_I2=p["tau_I2"])
        # stage 2 of Pozzorini et al.: the regression fixed the subthreshold dynamics and the
        # spike-triggered currents; spike timing fits the threshold and its spike-triggered
        # movement. The reset was measured at the end of the excluded window, so the model is
        # clamped there for that long (t_ref).
        free = ("V_th", "A_th", "tau_th") if spiking else ("tau_V", "R", "V_rest")
        values["V_reset"] = v_reset
        values["V_th"] = max(v_threshold, v_reset + 2.0)
        if spiking:
            values.update(t_ref=stage1.excluded_ms[1], A_th=2.0, tau_th=50.0)
        bounds.update(tau_V=_around(tau, 1.5), R=_around(R, 1.5), V_rest=_mv(v_rest, 5.0),
                      V_th=_mv(values["V_th"], 12.0), V_reset=_mv(v_reset, 10.0),
                      A1=_symmetric(values["A1"]), A2=_symmetric(values["A2"]),
                      tau_I1=_around(values["tau_I1"], 4.0), tau_I2=_around(values["tau_I2"], 4.0),
                      A_th=(0.0, 15.0), tau_th=(5.0, 500.0))
    elif model == "lif":
        values.update(tau_m=tau, R=R, V_rest=v_rest, V_reset=v_reset,
                      V_th=max(v_threshold, v_reset + 2.0),
                      t_ref=stage1.excluded_ms[1] if spiking else 2.0)
        free = ("V_th", "V_reset", "t_ref") if spiking else ("tau_m", "R", "V_rest")
        bounds.update(tau_m=_around(tau, 1.5), R=_around(R, 1.5), V_rest=_mv(v_rest, 5.0),
                      V_th=_mv(values["V_th"], 12.0), V_reset=_mv(v_reset, 10.0),
                      t_ref=(0.0, 10.0))
    elif model == "adex":
        values.update(C=tau / R, gL=1.0 / R, EL=v_rest, VT=v_threshold, V_reset=v_reset,
                      V_peak=0.0, DeltaT=2.0, a=0.0, b=0.05, tau_w=100.0)
        free = ("gL", "C", "EL", "VT", "DeltaT", "a", "tau_w", "b", "V_reset") if spiking else (
            "gL", "C", "EL")
        bounds.update(gL=_around(1.0 / R, 1.5), C=_around(tau / R, 1.5), EL=_mv(v_rest, 5.0),
                      VT=_mv(v_threshold, 10.0), DeltaT=(0.5, 8.0), a=(-0.5 / R, 2.0 / R),
                      tau_w=(10.0, 1000.0), b=(0.0, 1.0), V_reset=_mv(v_reset, 10.0))
    elif model == "izhikevich":
        v_t = max(v_threshold, v_rest + 5.0)
        values.update(C=tau / R, v_r=v_rest, v_t=v_t, k=1.0 / (R * (v_t - v_rest)), c=v_reset,
                      a=0.03, b=0.0, d=0.1, v_peak=30.0)
        free = ("C", "k", "v_r", "v_t", "a", "b", "c", "d") if spiking else ("C", "k", "v_r")
        bounds.update(C=_around(tau / R, 1.5), k=_around(values["k"], 4.0),
                      v_r=_mv(v_rest, 5.0), v_t=_mv(v_t, 10.0), a=(0.001, 1.0),
                      b=(-2.0 / R, 2.0 / R), c=_mv(v_reset, 10.0), d=(0.0, 1.0))
    elif model.startswith("hh"):
        C = tau / R
        scale = C / specs["C"].default
        values.update(C=C, gL=1.0 / R, EL=v_rest, gNa=specs["gNa"].default * scale,
                      gK=specs["gK"].default * scale)
        free = ("gNa", "gK", "gL", "C", "EL") + (("VT",) if "VT" in specs else ())
        if "VT" in specs:
            bounds["VT"] = (specs["VT"].lower, specs["VT"].upper)
        bounds.update(gNa=_around(values["gNa"], 5.0), gK=_around(values["gK"], 5.0),
                      gL=_around(1.0 / R, 1.5), C=_around(C, 1.5), EL=_mv(v_rest, 5.0))
    else:  # a model registered later: its own defaults
        free = tuple(n for n, s in specs.items() if s.fitted)
        bounds.update({n: (specs[n].lower, specs[n].upper) for n in free})
    bounds = {n: _physical(specs[n], b) for n, b in bounds.items() if n in free}
    for n in free:
        lo, hi = bounds[n]
        values[n] = min(max(values[n], lo), hi)
    if not spiking:
        notes.append("the data do not spike: only the passive parameters are fitted; threshold, "
                     "reset and spike-triggered parameters are unconstrained by these sweeps")
    weight = auto_spike_weight(V, spike_times, dt) if spiking else 0.0
    if weight:
        notes.append(f"spike-timing term weight {weight:.3g} mV^2 (scaled to the data's action "
                     "potentials)")
    return DataDefaults(model=model, values=values, free=free, bounds=bounds,
                        spike_weight=weight, stage1=stage1, notes=tuple(notes))


def _symmetric(value: float) -> tuple[float, float]:
    half = max(3.0 * abs(value), 0.05)
    return (value - half, value + half)


def _physical(spec, b: tuple[float, float]) -> tuple[float, float]:
    lo, hi = float(b[0]), float(b[1])
    if spec.constraint == "positive":
        lo = max(lo, 1e-6 * max(abs(hi), 1e-9))
    elif spec.constraint == "nonnegative":
        lo = max(lo, 0.0)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        lo, hi = spec.lower, spec.upper
    return (lo, hi)
