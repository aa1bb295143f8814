"""The default path from a cell's recordings to a validated model: ``fit_cell``.

1. **Split** the sweeps into a training part and a held-out part (:class:`Split`): by default
   one step sweep in three is held out; a single long sweep, or repetitions of one frozen
   stimulus, are split in time (the last 40 % held out, of every repetition).
2. **Defaults from the data** (:func:`~.starts.data_defaults`): start values, bounds, the free
   set and the spike-timing weight of the loss.
3. For integrate-and-fire models a **threshold screen**: with the regression's subthreshold
   parameters and the recorded spikes' reset, the threshold that best reproduces the training
   spike trains (gamma-factor loss, one batched simulation over a grid) becomes the start.
4. **Fit** with the chosen method (:func:`~.fit.run_fit`) on the training part.
5. **Validate** on the held-out part (:func:`validate`): per sweep the predicted and recorded
   spike counts, gamma at ±2 and ±4 ms, gamma over the cell's own reliability when the sweeps
   repeat one stimulus, and the subthreshold RMSE.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import RecordingError, StimulusMissingError
from ..features import measure_cell, reliability, repeated_stimulus
from ..models import MODELS
from .fit import run_fit
from .losses import LossSpec, gamma_factor, threshold_crossings
from .objective import Objective
from .optimizers import Budget, get_optimizer
from .results import FitResult
from .starts import DataDefaults, data_defaults, measured_passive

HELD_OUT_FRACTION = 0.4
#: of a default fit's time budget, what is kept for the work after the optimizer: the Hessian
#: and its identifiability checks (measured 1-10 s of a 60 s fit: more for HH, whose free-running
#: Hessian has no teacher forcing) and the validation
AFTER_FIT_FRACTION = {True: 0.2, False: 0.03}
SPIKE_THRESHOLD = -20.0
GAMMA_DELTAS = (2.0, 4.0)


@dataclass(frozen=True)
class Split:
    """Which sweeps and time windows (ms) are fitted and which are held out."""

    train_sweeps: tuple[int, ...]
    test_sweeps: tuple[int, ...]
    train_window: tuple[float | None, float | None] | None = None
    test_window: tuple[float | None, float | None] | None = None
    description: str = ""

    def as_dict(self) -> dict:
        return {"train_sweeps": list(self.train_sweeps), "test_sweeps": list(self.test_sweeps),
                "train_window": None if self.train_window is None else list(self.train_window),
                "test_window": None if self.test_window is None else list(self.test_window),
                "description": self.description}


def default_split(recording) -> Split:
    """One step sweep in three held out (sweeps 2, 5, 8, ...); a single sweep or repetitions of
    one frozen stimulus: the first 60 % of the first sweep fitted, the last 40 % of every sweep
    held out."""
    n = recording.n_sweeps
    if n >= 3 and not repeated_stimulus(recording):
        test = tuple(range(2, n, 3))
        train = tuple(k for k in range(n) if k not in test)
        return Split(train, test, description="one sweep in three held out")
    cut = float(recording.sweeps[0].t0 + (1.0 - HELD_OUT_FRACTION) * recording.duration)
    return Split((0,), tuple(range(n)), (None, cut), (cut, None),
                 description=f"first {100 * (1 - HELD_OUT_FRACTION):.0f} % of sweep 0 fitted, "
                             f"last {100 * HELD_OUT_FRACTION:.0f} % of every sweep held out")


def selection_split(recording, sweeps=None, window=None) -> Split:
    """The split of a fit on the user's choice of ``sweeps`` (positions; None: all) inside
    ``window`` (ms; None: whole sweeps), in positions of the whole ``recording``:

    - every sweep chosen: :func:`default_split` of the chosen part;
    - some step sweeps chosen: those fitted, every other sweep held out in the same window (what
      the model is for: predicting the cell's responses it was not fitted to);
    - repetitions of one frozen stimulus: the first 60 % of the window of the chosen sweeps
      fitted, the last 40 % of every sweep held out (another repetition of the fitted time is
      not new input)."""
    chosen = tuple(range(recording.n_sweeps)) if sweeps is None else tuple(int(k) for k in sweeps)
    part = recording.select(chosen, window)  # a missing sweep or an empty window is said here
    rest = tuple(k for k in range(recording.n_sweeps) if k not in chosen)
    if not rest:
        inner = default_split(part)
        tr = tuple(chosen[k] for k in inner.train_sweeps)
        te = tuple(chosen[k] for k in inner.test_sweeps)
        return Split(tr, te, _within(inner.train_window, window),
                     _within(inner.test_window, window), inner.description + _window_text(window))
    numbers = [recording.sweeps[k].number for k in chosen]
    if repeated_stimulus(recording):
        t0 = part.sweeps[0].t0
        cut = float(t0 + (1.0 - HELD_OUT_FRACTION) * part.duration)
        stop = None if window is None else window[1]
        return Split(chosen, tuple(range(recording.n_sweeps)), (t0, cut), (cut, stop),
                     description=f"first {100 * (1 - HELD_OUT_FRACTION):.0f} % of "
                                 f"{_numbers_text(numbers)} fitted, the rest of every "
                                 f"repetition held out" + _window_text((t0, stop)))
    held = [recording.sweeps[k].number for k in rest]
    return Split(chosen, rest, window, window,
                 description=f"{_numbers_text(numbers)} fitted, {_numbers_text(held)} held out"
                             + _window_text(window))


def _numbers_text(numbers) -> str:
    """``sweeps 0-4, 7, 9-11`` (or ``sweep 3``) for sweep numbers."""
    numbers = sorted(int(n) for n in numbers)
    runs = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    text = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs)
    return f"sweep {text}" if len(numbers) == 1 else f"sweeps {text}"


def _within(inner, outer):
    """The window ``inner`` (ms, either end None: open) inside ``outer``."""
    if inner is None or outer is None:
        return inner or outer
    return (outer[0] if inner[0] is None else inner[0], outer[1] if inner[1] is None else inner[1])


def _window_text(window) -> str:
    if window is None:
        return ""
    a, b = window
    return f" ({'start' if a is None else f'{a:g}'}-{'end' if b is None else f'{b:g}'} ms)"


def _stack(recording) -> tuple[np.ndarray, np.ndarray]:
    if not recording.has_stimulus:
        raise StimulusMissingError(
            f"{recording.name}: the injected current is missing, so no model can be fitted; "
            "open a file that holds it, or name the current file (--current FILE, or File → "
            "Attach stimulus in the window)")
    return recording.stacked()


def _threshold_screen(defaults: DataDefaults, V, I, dt, spikes, name: str,
                      n_grid: int = 32, buckets=None) -> tuple[dict[str, float], float]:
    """({threshold, reset}, gamma loss) of the best threshold on a grid from just above rest to
    the threshold's upper bound, the other parameters at their starts; one batched simulation.
    Where the grid goes below the measured reset the reset moves with it (2 mV under the
    threshold): a cell whose membrane, extrapolated linearly from small steps, never reaches
    its measured onset needs a lower effective threshold and reset."""
    values = defaults.values
    v_rest = values.get("V_rest", values.get("EL", -70.0))
    hi = defaults.bounds[name][1]
    lo = min(defaults.bounds[name][0], v_rest + 2.0)
    thresholds = np.linspace(lo, hi, n_grid)
    resets = np.minimum(values["V_reset"], thresholds - 2.0)
    free = [name, "V_reset"]
    bounds = {name: (lo, hi), "V_reset": (float(resets.min()) - 1.0, float(resets.max()) + 1.0)}
    fixed = {k: v for k, v in values.items() if k not in free}
    obj = Objective(defaults.model, V, I, dt, free, bounds=bounds, fixed=fixed,
                    data_spikes=spikes, loss=LossSpec(kind="gamma"), buckets=buckets)
    Z = np.array([obj.to_unit({name: a, "V_reset": b}) for a, b in zip(thresholds, resets)])
    losses = obj.batch("gamma", Z)
    k = int(np.argmin(losses))
    return {name: float(thresholds[k]), "V_reset": float(resets[k])}, float(losses[k])


def cell_defaults(train, model: str, measurements=None, buckets=None) -> DataDefaults:
    """``model``'s data-derived defaults on the recording part ``train`` (what a default fit
    starts from and what the window shows as "from data"): :func:`~.starts.data_defaults` with
    the part's measurements, then, for integrate-and-fire models on spiking data, the threshold
    screen (the measured onset threshold is where a real spike's upstroke starts, not the
    voltage a leaky integrator must reach)."""
    V, I = _stack(train)
    dt = train.dt
    spikes = [threshold_crossings(v, dt, SPIKE_THRESHOLD) for v in V]
    if measurements is None:
        measurements = measure_cell(train, spike_threshold=SPIKE_THRESHOLD)
    defaults = data_defaults(model, V, I, dt, spikes, measurements=measurements)
    th_name = {"gif": "V_th", "lif": "V_th"}.get(model)
    if not (th_name and th_name in defaults.free):
        return defaults
    best, g_loss = _threshold_screen(defaults, V, I, dt, spikes, th_name, buckets=buckets)
    if measured_passive(measurements) is not None:
        # The step deflections measure the membrane where the steps took it (often below rest,
        # with a sag); a rectifying cell's membrane near threshold differs, and a linear model
        # has one. The regression on every subthreshold sample, inter-spike intervals included,
        # is the other candidate: the one whose threshold screen predicts the training spikes
        # better is used.
        other = data_defaults(model, V, I, dt, spikes, measurements=measurements,
                              measured_membrane=False)
        o_best, o_loss = _threshold_screen(other, V, I, dt, spikes, th_name, buckets=buckets)
        if o_loss < g_loss:
            r_measured, r_regressed = defaults.values["R"], other.values["R"]
            note = (f"membrane from the regression on the inter-spike intervals (R "
                    f"{r_regressed:.4g} MOhm): its threshold screen predicts the training spikes "
                    f"better (gamma loss {o_loss:.3g}) than the step deflections' (R "
                    f"{r_measured:.4g} MOhm, {g_loss:.3g})")
            defaults = dataclasses.replace(other, notes=other.notes + (note,))
            best, g_loss = o_best, o_loss
    v_th = best[th_name]
    lo, hi = defaults.bounds[th_name]
    quarter = max(hi - lo, 8.0) / 4.0
    bounds = {**defaults.bounds, th_name: (v_th - quarter, v_th + quarter)}
    if "V_reset" in bounds:
        r_lo, r_hi = bounds["V_reset"]
        bounds["V_reset"] = (min(r_lo, best["V_reset"] - 1.0), min(r_hi, v_th - 0.5))
    note = (f"threshold screen: {th_name} {v_th:.4g} mV (gamma loss {g_loss:.3g}; the measured "
            f"onset is {defaults.values[th_name]:.4g} mV)")
    if best["V_reset"] != defaults.values["V_reset"]:
        note += f", reset lowered to {best['V_reset']:.4g} mV to stay below it"
    return dataclasses.replace(defaults, values={**defaults.values, **best}, bounds=bounds,
                               notes=defaults.notes + (note,))


@dataclass
class CellFit:
    """A fit on the training part and its validation on the held-out part."""

    fit: FitResult
    defaults: DataDefaults
    split: Split
    validation: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"fit": self.fit.summary(), "defaults": self.defaults.as_dict(),
                "split": self.split.as_dict(), "validation": self.validation,
                "notes": list(self.notes)}


def fit_cell(recording, model: str = "gif", method: str = "hybrid", *, split: Split | None = None,
             seed: int = 0, budget: Budget | int | None = None, loss_kind: str = "auto",
             options: Mapping[str, Any] | None = None, report: Callable | None = None,
             is_cancelled: Callable[[], bool] | None = None, uncertainty: bool = True,
             free: Sequence[str] | None = None, decimate: int = 1, buckets=None) -> CellFit:
    """Fit ``model`` to ``recording`` with the data-derived defaults and validate it on the
    held-out part (see the module docstring). ``free`` overrides the default free set.
    ``loss_kind``: "mse" (voltage MSE plus the data-scaled spike-timing term), "gamma" (the
    seed paper's Eq. 3, black-box methods only) or "auto": gamma for black-box methods when the
    training data spike (it scores what validation scores), mse otherwise. ``buckets``
    (:class:`~.buckets.LengthBuckets`): every objective pads its sweeps to a bucket shape, so
    cells of nearby lengths share compilations (batches; the losses are unchanged)."""
    started = time.monotonic()
    if model not in MODELS:
        raise RecordingError(f"unknown model {model!r}; known: {', '.join(sorted(MODELS))}")
    split = split or default_split(recording)
    train = recording.select(split.train_sweeps, split.train_window)
    V, I = _stack(train)
    dt = train.dt
    spikes = [threshold_crossings(v, dt, SPIKE_THRESHOLD) for v in V]
    defaults = cell_defaults(train, model, buckets=buckets)
    notes = list(defaults.notes)
    values = dict(defaults.values)
    if loss_kind == "auto":
        gradient = get_optimizer(method).gradient
        loss_kind = "gamma" if any(np.size(s) for s in spikes) and not gradient else "mse"
        notes.append(f"loss: {'gamma factor (Eq. 3)' if loss_kind == 'gamma' else 'voltage MSE + spike-timing term'}")
    free_set = tuple(free) if free else defaults.free
    bounds = {n: defaults.bounds[n] for n in free_set if n in defaults.bounds}
    fixed = {k: v for k, v in values.items() if k not in free_set}
    loss = LossSpec(spike_weight=defaults.spike_weight if loss_kind == "mse" else 0.0,
                    kind=loss_kind)
    objective = Objective(model, V, I, dt, free_set, bounds=bounds, fixed=fixed,
                          data_spikes=spikes, loss=loss, decimate=decimate,
                          source=recording.provenance.path, buckets=buckets)
    opts = dict(options or {})
    if method == "lbfgsb":
        opts.setdefault("x0", objective.to_unit({n: values[n] for n in free_set}))
    fit = run_fit(objective, method, seed=seed,
                  budget=_whole_fit_budget(budget, started, uncertainty), options=opts,
                  report=report, is_cancelled=is_cancelled, uncertainty=uncertainty)
    if isinstance(budget, Budget) and budget.seconds is not None:  # the user's budget, not the
        fit.settings["budget"] = {"evaluations": budget.evaluations,  # optimizer's deadline
                                  "seconds": budget.seconds, "covers": "the whole default fit"}
    fit.settings["defaults"] = defaults.as_dict()
    fit.settings["split"] = split.as_dict()
    if split.test_sweeps:
        validation = validate(fit, recording, split, buckets=buckets)
    else:
        validation = {"skipped": "nothing is held out of this recording: validate the fit on "
                                 "another one (brainfit predict, or Fit → Validate best fit on…)"}
        notes.append(validation["skipped"])
    return CellFit(fit=fit, defaults=defaults, split=split, validation=validation, notes=notes)


def _whole_fit_budget(budget, started: float, uncertainty: bool):
    """A time budget of a default fit covers all of it (defaults, compiling, the optimizer,
    the Hessian, the validation): the optimizer stops early enough for the rest."""
    if not isinstance(budget, Budget) or budget.seconds is None:
        return budget
    reserve = AFTER_FIT_FRACTION[bool(uncertainty)] * budget.seconds
    return dataclasses.replace(budget, seconds=None, deadline=started + budget.seconds - reserve)


def validate(fit: FitResult, recording, split: Split, buckets=None) -> dict[str, Any]:
    """Scores of ``fit`` on the held-out part of ``recording``: per sweep the spike counts,
    gamma at ±2 and ±4 ms (over the cell's reliability when the sweeps repeat one stimulus) and
    the subthreshold RMSE (samples more than 5 ms away from any recorded or predicted spike)."""
    held = recording.select(split.test_sweeps, split.test_window)
    V, I = _stack(held)
    dt = held.dt
    s = fit.settings
    obj = Objective(fit.model, V, I, dt, fit.free,
                    bounds={k: tuple(v) for k, v in s.get("bounds", {}).items()},
                    fixed={k: v for k, v in fit.params.items() if k not in fit.free},
                    decimate=int(s.get("decimate", 1)), solver=s.get("solver", "exp_euler"),
                    buckets=buckets)
    z = obj.to_unit(fit.fitted)
    Vm, S, status = obj.simulate(z)
    model_spikes = obj.model_spike_times(Vm, S)
    data_spikes = obj.data_spikes
    duration = Vm.shape[1] * obj.dt
    repeated = repeated_stimulus(held)
    measured = reliability(data_spikes, duration, GAMMA_DELTAS) if repeated else {}
    rel = {d: measured.get(f"gamma_{d:g}ms") for d in GAMMA_DELTAS} if measured else {}
    per_sweep = []
    for k, (m, d) in enumerate(zip(model_spikes, data_spikes)):
        row = {"sweep": int(held.sweeps[k].number), "n_data": int(np.size(d)),
               "n_model": int(np.size(m))}
        for delta in GAMMA_DELTAS:
            # a sweep where the cell does not spike has no timing to score (its count does)
            g = gamma_factor(m, d, duration, delta).gamma if np.size(d) else None
            row[f"gamma_{delta:g}ms"] = g
            if rel.get(delta) and g is not None:
                row[f"gamma_{delta:g}ms_over_reliability"] = g / rel[delta]
        row["subthreshold_rmse_mV"] = _subthreshold_rmse(Vm[k], obj.V[k], m, d, obj.dt)
        row.update(_step_rates(obj.I[k], obj.dt, m, d))
        per_sweep.append(row)
    out: dict[str, Any] = {
        "recording": held.name, "split": split.as_dict(), "per_sweep": per_sweep,
        "diverged": bool(np.any(status != 0)),
        "n_data_spikes": int(sum(r["n_data"] for r in per_sweep)),
        "n_model_spikes": int(sum(r["n_model"] for r in per_sweep)),
        "reliability": {f"{d:g}ms": v for d, v in rel.items()} if rel else None}
    for key in ("gamma_2ms", "gamma_4ms", "gamma_4ms_over_reliability",
                "gamma_2ms_over_reliability", "subthreshold_rmse_mV"):
        vals = [r[key] for r in per_sweep if key in r and r[key] is not None]
        if vals:
            out[f"mean_{key}"] = float(np.mean(vals))
    fi = [[r["step_nA"], r["rate_data_Hz"], r["rate_model_Hz"]] for r in per_sweep
          if "step_nA" in r]
    if fi:  # the F-I curve of the held-out steps: the cell's and the model's
        out["fi_curve"] = sorted(fi)
    if out["n_data_spikes"] == 0:
        out["warning"] = ("the held-out part holds no spikes, so spike timing is not validated "
                          "(only false spikes and the subthreshold RMSE are); hold out a sweep "
                          "where the cell spikes")
    counts_ok = [abs(r["n_model"] - r["n_data"]) <= max(2, 0.2 * r["n_data"]) for r in per_sweep]
    out["spike_counts_within_20pct"] = f"{sum(counts_ok)}/{len(counts_ok)}"
    return out


def _step_rates(I, dt, model_spikes, data_spikes) -> dict:
    """{step_nA, rate_data_Hz, rate_model_Hz} over the sweep's test step (step protocols; {}
    otherwise): one point of the F-I curve for the cell and for the model."""
    from ..features.stimulus import analyse_sweep

    st = analyse_sweep(np.asarray(I, float), dt)
    if st.kind != "steps" or not st.epochs:
        return {}
    e = max(st.epochs, key=lambda e: e.i1 - e.i0)  # the sweep's (longest) step
    t0, t1 = e.i0 * dt, e.i1 * dt
    if t1 - t0 <= 0:
        return {}

    def rate(times):
        times = np.asarray(times, float)
        return float(np.sum((times >= t0) & (times < t1)) / ((t1 - t0) / 1000.0))

    return {"step_nA": float(e.level), "rate_data_Hz": rate(data_spikes),
            "rate_model_Hz": rate(model_spikes)}


def _subthreshold_rmse(v_model, v_data, model_spikes, data_spikes, dt, guard: float = 5.0):
    keep = np.ones(v_data.size, bool)
    for t in np.concatenate([np.asarray(model_spikes, float), np.asarray(data_spikes, float)]):
        k = int(round(t / dt))
        keep[max(k - int(guard / dt), 0):k + int(2 * guard / dt)] = False
    if keep.sum() < 10:
        return None
    return float(np.sqrt(np.mean((v_model[keep] - v_data[keep]) ** 2)))
