"""Losses for fitting neuron models to current-clamp recordings.

Three losses, all on the recording's time base (``V[k]`` is the voltage at ``t_k``):

* **Voltage MSE** (seed Eq. E.1): ``L = mean_{sweeps, k} (V_model[k] - V_data[k])^2`` in mV^2.
  This is the loss every optimizer minimises and every table reports.
* **Gamma factor** (Jolivet et al. 2008, Biol. Cybern. 99:417) between spike trains, with a
  coincidence window ``delta`` (default 4 ms)::

      Gamma = (N_coinc - <N_coinc>) / (0.5 (N_data + N_model)) / (1 - 2 nu delta)
      <N_coinc> = 2 nu delta N_data,   nu = N_model / duration (the model's rate)

  ``N_coinc`` counts data spikes matched one-to-one to a model spike within ``delta``.
  ``Gamma = 1`` is a perfect prediction, ``0`` chance level. The *gamma-factor loss* adds the
  rate-correction term of brian2modelfitting's ``GammaFactor``::

      L_gamma = 1 + 2 |nu_data - nu_model| / nu_data - Gamma   (>= 0, 0 is perfect)

  Both are computed with NumPy on spike times (not differentiable); they are reported for every
  fit.
* **Differentiable spike-timing loss** for gradient methods: the van Rossum (2001) distance
  between the model's spike train and the data's, each filtered by a causal exponential kernel
  ``exp(-t / tau)``::

      D^2 = (1 / tau) sum_k dt (f_model[k] - f_data[k])^2

  The model's spike train is the simulator's spike output: exactly 0/1 forward, with the
  surrogate derivative ``g(V - V_th) dV/dtheta`` backward, so the gradient says "raise V where a
  data spike is due" (and lowers it where the model fires without a data spike). ``f`` is computed
  by a ``lax.scan`` recursion ``f[k] = f[k-1] exp(-dt/tau) + s[k]``. We chose van Rossum over a
  differentiable gamma factor because it is a smooth quadratic in the (surrogate) spike train,
  its scale ``tau`` can be annealed (broad kernels first to find the right spike counts, narrow
  ones to align times), and it reduces to a spike-count difference for large ``tau``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.lazy import jax, jnp

from ..errors import ParameterError

DEFAULT_DELTA_MS = 4.0
LOSS_KINDS = ("mse", "gamma")


# --------------------------------------------------------------------------------------------
# voltage
# --------------------------------------------------------------------------------------------
def mse(V_model, V_data, mask=None):
    """Mean squared voltage error (mV^2) over all sweeps and samples (or over ``mask`` == 1)."""
    sq = (V_model - V_data) ** 2
    if mask is None:
        return jnp.mean(sq)
    return jnp.sum(sq * mask) / jnp.maximum(jnp.sum(mask), 1.0)


# --------------------------------------------------------------------------------------------
# spike trains (NumPy: reporting)
# --------------------------------------------------------------------------------------------
def spike_times_from_train(spikes, dt: float, t0: float = 0.0) -> np.ndarray:
    """Times (ms) of the nonzero entries of a 0/1 spike train sampled every ``dt``."""
    idx = np.nonzero(np.asarray(spikes) > 0.5)[0]
    return t0 + idx * dt


def threshold_crossings(V, dt: float, threshold: float = -20.0, t0: float = 0.0) -> np.ndarray:
    """Upward crossings of ``threshold`` (mV) in a voltage trace, as times (ms) of the first
    sample at or above the threshold."""
    V = np.asarray(V)
    above = V >= threshold
    idx = np.nonzero(above[1:] & ~above[:-1])[0] + 1
    return t0 + idx * dt


def coincidences(model_times, data_times, delta: float = DEFAULT_DELTA_MS) -> int:
    """Data spikes with a model spike within ``delta`` ms, each model spike used at most once
    (greedy in time order, which is optimal for one-to-one matching on a line)."""
    m = np.sort(np.asarray(model_times, float))
    d = np.sort(np.asarray(data_times, float))
    i = j = n = 0
    while i < d.size and j < m.size:
        if m[j] < d[i] - delta:
            j += 1
        elif m[j] > d[i] + delta:
            i += 1
        else:
            n += 1
            i += 1
            j += 1
    return n


@dataclass(frozen=True)
class GammaResult:
    """Gamma factor with the counts it came from (sums over sweeps)."""

    gamma: float
    loss: float
    n_coincident: int
    n_model: int
    n_data: int
    duration: float

    def as_dict(self) -> dict:
        return {"gamma": self.gamma, "gamma_loss": self.loss, "n_coincident": self.n_coincident,
                "n_model_spikes": self.n_model, "n_data_spikes": self.n_data}


def gamma_factor(model_times, data_times, duration: float,
                 delta: float = DEFAULT_DELTA_MS) -> GammaResult:
    """Jolivet et al. (2008) gamma factor and the rate-corrected gamma loss.

    ``model_times``/``data_times`` are lists with one array of spike times (ms) per sweep (or a
    single array); ``duration`` is the total duration (ms) of all sweeps. Conventions where the
    formula is undefined: both trains empty -> Gamma = 1, loss 0; exactly one empty -> Gamma = 0
    and loss = 1 + 2 (model silent) or 1 + 2 nu_model/nu_data-style penalty (data silent: the loss
    is ``1 + N_model`` so that more spurious spikes cost more).
    """
    if duration <= 0:
        raise ValueError("gamma factor needs a positive duration")
    if isinstance(model_times, np.ndarray) or not isinstance(model_times, (list, tuple)):
        model_times, data_times = [model_times], [data_times]
    if len(model_times) != len(data_times):
        raise ValueError("model and data spike trains must have the same number of sweeps")
    n_c = sum(coincidences(m, d, delta) for m, d in zip(model_times, data_times))
    n_m = int(sum(np.size(m) for m in model_times))
    n_d = int(sum(np.size(d) for d in data_times))
    if n_m == 0 and n_d == 0:
        return GammaResult(1.0, 0.0, 0, 0, 0, duration)
    if n_d == 0:
        return GammaResult(0.0, 1.0 + n_m, 0, n_m, 0, duration)
    if n_m == 0:
        return GammaResult(0.0, 3.0, 0, 0, n_d, duration)
    nu_m = n_m / duration
    nu_d = n_d / duration
    expected = 2.0 * nu_m * delta * n_d
    norm = 1.0 - 2.0 * nu_m * delta
    gamma = (n_c - expected) / (0.5 * (n_d + n_m)) / norm if norm > 0 else 0.0
    loss = max(0.0, 1.0 + 2.0 * abs(nu_d - nu_m) / nu_d - gamma)
    return GammaResult(float(gamma), float(loss), n_c, n_m, n_d, duration)


# --------------------------------------------------------------------------------------------
# differentiable spike-timing loss
# --------------------------------------------------------------------------------------------
def exp_filter(spikes, dt, tau):
    """Causal exponential filter along axis 0: ``f[k] = f[k-1] exp(-dt/tau) + s[k]``."""
    decay = jnp.exp(-dt / tau)

    def step(f, s):
        f = f * decay + s
        return f, f

    _, f = jax.lax.scan(step, jnp.zeros_like(spikes[0]), spikes)
    return f


def van_rossum(spikes_model, spikes_data, dt, tau):
    """Squared van Rossum distance per sweep, averaged over sweeps (units: spikes^2 ... per the
    kernel normalisation ``(1/tau) sum dt (f_m - f_d)^2``; one unmatched spike costs 1/2).

    ``spikes_*`` are (T, n_sweeps) 0/1 trains (the model's may carry surrogate gradients)."""
    diff = exp_filter(spikes_model - spikes_data, dt, tau)
    return jnp.mean(jnp.sum(diff**2, axis=0)) * dt / tau


def spike_train(times_per_sweep, n_samples: int, dt: float, t0: float = 0.0) -> np.ndarray:
    """(T, n_sweeps) 0/1 array with a 1 at the sample of each spike time."""
    out = np.zeros((n_samples, len(times_per_sweep)))
    for j, times in enumerate(times_per_sweep):
        idx = np.round((np.asarray(times, float) - t0) / dt).astype(int)
        idx = idx[(idx >= 0) & (idx < n_samples)]
        out[idx, j] = 1.0
    return out


RATE_SCALE_WEIGHT = 4.0  # (1 - e^(-d/10)) + 4 (1 - e^(-d/200)) < 0.5 + 4 * 0.5 for d < 94 ms


@dataclass(frozen=True)
class LossSpec:
    """What the optimizers minimise: ``MSE(V) + spike_weight * (D_vR^2(vr_tau) +
    RATE_SCALE_WEIGHT * D_vR^2(rate_tau))`` (``kind`` "mse"), or the gamma-factor loss of the
    spike trains (``kind`` "gamma", seed paper Eq. 3; no gradient, for the black-box methods).

    Two time scales: at ``vr_tau`` (10 ms) a model spike more than a few ms from the recorded
    one costs twice a missing one, so on its own the term makes a silent model the gradient's
    nearest optimum wherever the timing is not yet right (steps, whose spikes drift). At
    ``rate_tau`` (200 ms), weighted ``RATE_SCALE_WEIGHT`` times, a spike up to ~90 ms from the
    recorded one costs less than none, and the gradient leads to the recorded rate first.
    ``rate_tau`` 0 leaves the second term out.

    ``spike_weight`` is in mV^2 per unit of squared van Rossum distance (0: voltage MSE only,
    the default and what every table reports as "loss"). ``delta`` is the gamma-factor
    coincidence window (ms) used when reporting."""

    spike_weight: float = 0.0
    vr_tau: float = 10.0
    rate_tau: float = 200.0
    delta: float = DEFAULT_DELTA_MS
    kind: str = "mse"

    def __post_init__(self) -> None:
        if self.kind not in LOSS_KINDS:
            raise ParameterError(f"unknown loss {self.kind!r}; known: {', '.join(LOSS_KINDS)}")
        for name in ("spike_weight", "vr_tau", "rate_tau", "delta"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v)) or v < 0 or (
                    name in ("vr_tau", "delta") and v == 0):
                raise ParameterError(f"loss setting {name} must be a positive number, got {v!r}")

    def as_dict(self) -> dict:
        return {"spike_weight": self.spike_weight, "vr_tau": self.vr_tau,
                "rate_tau": self.rate_tau, "delta": self.delta, "kind": self.kind}
