"""Stage 1 of the default fit of integrate-and-fire models: the subthreshold dynamics with the
recorded spikes imposed, by linear regression (Pozzorini et al. 2015, PLOS Comput Biol 11:
e1004275, "Automated high-throughput characterization of single neurons").

Between spikes a GIF obeys ``tau_V dV/dt = -V + V_rest + R (I_ext + A1 x1(t) + A2 x2(t))`` with
``x1(t) = exp(-(t - t_last) / tau_I1)`` (I1 is *set* to A1 at each spike) and
``x2(t) = sum_k exp(-(t - t_k) / tau_I2)`` (I2 is *incremented* by A2). With the spike times
taken from the data, ``dV/dt`` is linear in ``(V, 1, I, x1, x2)``, so for given ``tau_I1`` and
``tau_I2`` the other five parameters are one least-squares solve; the two time constants are
chosen on a small grid by the residual. LIF is the same regression without ``x1, x2``.

``dV/dt`` is the *central* difference ``(V[k+1] - V[k-1]) / 2dt`` regressed on ``V[k]``: with a
forward difference the recording noise in ``V[k]`` appears with opposite signs in the target
and the regressor and biases ``1/tau`` upwards (by ``sigma^2 / (dt var V)``, 15 % on a 20 kHz
recording with 0.1 mV noise); with the central difference it cancels.

Samples from ``pre`` ms before each spike (the upstroke) to ``post`` ms after it (the action
potential and its repolarisation) are left out; the reset is the median voltage ``post`` ms
after the spikes, where the model's trajectory starts again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import RecordingError

TAU_I1_GRID = (2.0, 5.0, 10.0, 20.0)
TAU_I2_GRID = (30.0, 100.0, 300.0, 1000.0)


@dataclass(frozen=True)
class SubthresholdFit:
    """Result of the regression: ``params`` in the model's names and units, and how well it
    explains ``dV/dt`` (``r2``) on ``n_samples`` samples."""

    params: dict[str, float]
    r2: float
    n_samples: int
    excluded_ms: tuple[float, float]
    notes: tuple[str, ...] = field(default_factory=tuple)


def _spike_indices(spike_times, dt: float, n: int) -> list[np.ndarray]:
    out = []
    for times in spike_times:
        idx = np.round(np.asarray(times, float) / dt).astype(int)
        out.append(np.sort(idx[(idx >= 0) & (idx < n)]))
    return out


def _kernels(idx: np.ndarray, n: int, dt: float, tau1: float, tau2: float):
    """x1 (decay from the last spike) and x2 (sum of decays) on n samples (NumPy recursions
    written as vector operations per inter-spike interval)."""
    x1 = np.zeros(n)
    x2 = np.zeros(n)
    d2 = np.exp(-dt / tau2)
    carry2 = 0.0
    bounds = list(idx) + [n]
    for j, start in enumerate(idx):
        stop = bounds[j + 1]
        k = np.arange(stop - start)
        x1[start:stop] = np.exp(-k * dt / tau1)
        carry2 = carry2 + 1.0
        x2[start:stop] = carry2 * d2 ** k
        carry2 = carry2 * d2 ** (stop - start)
    return x1, x2


def post_spike_window(V: np.ndarray, spike_idx: list[np.ndarray], dt: float) -> float:
    """Time (ms) from a spike's threshold crossing to its after-hyperpolarisation trough (the
    median over spikes, searched within 15 ms and before the next spike), clipped to 2–10 ms."""
    lags = []
    for v, idx in zip(V, spike_idx):
        for j, k in enumerate(idx):
            stop = min(k + int(15.0 / dt), v.size - 1, idx[j + 1] if j + 1 < idx.size else v.size)
            if stop - k < 3:
                continue
            lags.append((int(np.argmin(v[k:stop]))) * dt)
    if not lags:
        return 4.0
    return float(np.clip(np.median(lags), 2.0, 10.0))


def fit_subthreshold(V, I, dt: float, spike_times, model: str = "gif", *, pre: float = 1.5,
                     post: float | None = None,
                     passive: dict[str, float] | None = None) -> SubthresholdFit:
    """Regress the subthreshold dynamics of ``model`` ("gif" or "lif") on recorded sweeps.

    ``V``, ``I``: (n_sweeps, n_samples) in mV and nA; ``spike_times``: ms from each sweep's
    first sample (the data's spikes, imposed). ``passive`` ({"tau", "R", "V_rest"}, measured
    otherwise, e.g. from step deflections) fixes tau and R: the resting potential at zero
    current and the spike-triggered currents are regressed on what they do not explain."""
    V = np.atleast_2d(np.asarray(V, float))
    I = np.atleast_2d(np.asarray(I, float))
    if V.shape != I.shape or V.shape[1] < 5:
        raise RecordingError("subthreshold regression needs voltage and current of equal shape")
    n = V.shape[1]
    idx = _spike_indices(spike_times, dt, n)
    if post is None:
        post = post_spike_window(V, idx, dt)
    keep = np.ones(V.shape, bool)
    keep[:, 0] = keep[:, -1] = False
    n_pre, n_post = int(round(pre / dt)), int(round(post / dt))
    for j, ks in enumerate(idx):
        for k in ks:
            keep[j, max(k - n_pre, 0):min(k + n_post + 1, n)] = False
    dVdt = np.zeros_like(V)
    dVdt[:, 1:-1] = (V[:, 2:] - V[:, :-2]) / (2.0 * dt)
    y = dVdt[keep]
    if y.size < 50:
        raise RecordingError("too few subthreshold samples between spikes to measure the "
                             "passive properties")
    # the current over the central difference's two steps (exact for a piecewise-constant
    # current held over each step, as the simulator holds it)
    I_mid = I.copy()
    I_mid[:, 1:] = 0.5 * (I[:, :-1] + I[:, 1:])
    base = [V[keep], np.ones(y.size), I_mid[keep]]
    notes = [f"spikes imposed; excluded {pre:g} ms before to {post:g} ms after each spike"]
    if passive is not None:
        # tau and R given; the resting potential is regressed (the voltage at zero current:
        # a cell held by a baseline current sits elsewhere, and that is what was measured)
        tau, R = passive["tau"], passive["R"]
        y = y - (-V[keep] + R * I_mid[keep]) / tau
        base = [np.ones(y.size)]
        notes.append("tau and R given (step deflections); the resting potential at zero current "
                     "and the spike-triggered currents regressed")
    has_spikes = any(ks.size for ks in idx)
    best = None
    grid = [(None, None)]
    if model == "gif" and has_spikes:
        grid = [(t1, t2) for t1 in TAU_I1_GRID for t2 in TAU_I2_GRID]
    for tau1, tau2 in grid:
        cols = list(base)
        if tau1 is not None:
            x1 = np.empty_like(V)
            x2 = np.empty_like(V)
            for j, ks in enumerate(idx):
                x1[j], x2[j] = _kernels(ks, n, dt, tau1, tau2)
            cols += [x1[keep], x2[keep]]
        X = np.column_stack(cols)
        coef, *_ = np.linalg.lstsq(X, y, rcond=None)
        sse = float(np.sum((y - X @ coef) ** 2))
        if best is None or sse < best[0]:
            best = (sse, coef, tau1, tau2)
    sse, coef, tau1, tau2 = best
    r2 = 1.0 - sse / max(float(np.sum((y - y.mean()) ** 2)), 1e-300)
    if passive is None:
        a_v, a_0, a_i = coef[:3]
        if not a_v < 0 or not a_i > 0:
            raise RecordingError(
                "the subthreshold regression found no leak (dV/dt does not fall with V or rise "
                "with the current); the current may be missing, of the wrong sign or not the one "
                "injected")
        tau = -1.0 / a_v
        R = a_i * tau
        V_rest = a_0 * tau
        k_spike = 3
    else:
        V_rest, k_spike = coef[0] * tau, 1
    params = {"tau": float(tau), "R": float(R), "V_rest": float(V_rest)}
    if tau1 is not None:
        params.update(A1=float(coef[k_spike] * tau / R), A2=float(coef[k_spike + 1] * tau / R),
                      tau_I1=float(tau1), tau_I2=float(tau2))
    elif model == "gif":
        notes.append("no spikes in the data: the spike-triggered currents are not constrained")
    if has_spikes:
        after = [v[k + n_post] for v, ks in zip(V, idx) for k in ks if k + n_post < n]
        params["V_reset"] = float(np.median(after))
    return SubthresholdFit(params=params, r2=float(r2), n_samples=int(y.size),
                           excluded_ms=(float(pre), float(post)), notes=tuple(notes))
