"""Parameter uncertainty from the Hessian of the loss at the optimum.

For a voltage MSE ``L(theta) = (1/N) sum_i r_i(theta)^2`` over ``N`` samples with independent
Gaussian noise of variance ``sigma^2``, the negative log-likelihood is ``N L / (2 sigma^2)``, so
the Laplace (Fisher) covariance is::

    Cov(theta) = (2 sigma^2 / N) H^-1,   H = d^2 L / d theta^2,   sigma^2 ~= L(theta*)

The Hessian is computed exactly by JAX (forward-over-reverse) in the optimizer's unit-cube
coordinates ``z`` and mapped to model units with the Jacobian ``J = d theta / d z`` (diagonal:
``hi - lo`` for linear parameters, ``theta log(hi/lo)`` for log-space ones):
``Cov(theta) = J Cov(z) J``. Standard errors are the square roots of the diagonal, the
correlation matrix is ``Cov_ij / (se_i se_j)``. Consecutive voltage samples are correlated, so
these are lower bounds on the true uncertainty (the effective N is smaller); a Hessian that is
not positive definite (a flat direction: a parameter the data do not determine) gives ``inf``
for the standard errors involved.

Models with a reset (GIF, LIF, ...): the Hessian is that of the teacher-forced loss (model reset
at the data's spike times, see ``Objective.hessian``): the free-running loss's second
derivatives through the surrogate spikes explode (this was the cause of the +-inf standard
errors on the noise-free GIF problem: an indefinite 1e150 Hessian read as flat directions).
Noise-free data fitted exactly give ``sigma^2 = L(theta*) ~ 0`` and so standard errors ~ 0:
correct for data without noise (the parameters are determined exactly), not a failure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Uncertainty:
    names: tuple[str, ...]
    stderr: np.ndarray
    correlation: np.ndarray
    covariance: np.ndarray
    hessian: np.ndarray
    identifiable: bool

    def stderr_dict(self) -> dict[str, float]:
        return {n: float(s) for n, s in zip(self.names, self.stderr)}


def hessian_uncertainty(objective, z, loss: float | None = None) -> Uncertainty:
    """Standard errors and correlation of the free parameters at unit-cube point ``z``."""
    z = np.asarray(z, float)
    H = objective.hessian(z)
    H = 0.5 * (H + H.T)
    d = H.shape[0]
    N = objective.V.size
    sigma2 = float(objective.mse_batch(z[None])[0]) if loss is None else float(loss)
    lo_t = np.where(objective.log, np.log(np.where(objective.log, objective.lower, 1.0)),
                    objective.lower)
    hi_t = np.where(objective.log, np.log(np.where(objective.log, objective.upper, 1.0)),
                    objective.upper)
    theta = np.array(list(objective.to_params(z).values()))
    J = np.where(objective.log, theta * (hi_t - lo_t), hi_t - lo_t)
    names = tuple(objective.free)
    if not np.all(np.isfinite(H)):
        nan = np.full((d, d), np.nan)
        return Uncertainty(names, np.full(d, np.nan), nan, nan, H, False)
    w, U = np.linalg.eigh(H)
    scale = max(np.max(np.abs(w)), 1e-300)
    good = w > 1e-10 * scale
    inv_w = np.where(good, 1.0 / np.where(good, w, 1.0), np.inf)
    cov_z = (U * np.where(good, inv_w, 0.0)) @ U.T * (2.0 * sigma2 / N)
    cov = cov_z * np.outer(J, J)
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    if not np.all(good):  # flat directions: parameters with weight in them are undetermined
        weak = np.any(np.abs(U[:, ~good]) > 1e-3, axis=1)
        se = np.where(weak, np.inf, se)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(se, se)
    corr[~np.isfinite(corr)] = np.nan
    np.fill_diagonal(corr, np.where(np.isfinite(se), 1.0, np.nan))
    return Uncertainty(names, se, corr, cov, H, bool(np.all(good)))
