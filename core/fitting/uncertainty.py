"""Parameter uncertainty from the Hessian of the loss at the optimum, and what it cannot tell.

For a voltage MSE ``L(theta) = (1/N) sum_i r_i(theta)^2`` over ``N`` samples with independent
Gaussian noise of variance ``sigma^2``, the negative log-likelihood is ``N L / (2 sigma^2)``, so
the Laplace (Fisher) covariance is::

    Cov(theta) = (2 sigma^2 / N) H^-1,   H = d^2 L / d theta^2,   sigma^2 ~= L(theta*)

The Hessian is computed exactly by JAX (forward-over-reverse) in the optimizer's unit-cube
coordinates ``z`` and mapped to model units with the Jacobian ``J = d theta / d z`` (diagonal:
``hi - lo`` for linear parameters, ``theta log(hi/lo)`` for log-space ones):
``Cov(theta) = J Cov(z) J``. Standard errors are the square roots of the diagonal, the
correlation matrix is ``Cov_ij / (se_i se_j)``. Consecutive voltage samples are correlated, so
these are lower bounds on the true uncertainty (the effective N is smaller).

**When the Hessian is singular or indefinite** (real fits: parameters that trade off, parameters
with no effect on the data, a fit stopped short of a minimum), inverting it gives nothing
useful, so the analysis goes in three steps, all in unit-cube coordinates:

1. *No effect.* A parameter whose Hessian row is ~0 (every ``|H_ij|`` below ``null_rtol``
   (1e-8) of the largest curvature ``|lambda|_max``; a PSD-consistent ~0 diagonal) does not
   change the loss: note ``"tau_I1 has no effect on this data (curvature 0)"``, stderr NaN.
2. *Eigen-decomposition* of the remaining block ``H = U diag(w) U^T``. A direction is
   **well determined** when ``w > floor``, ``floor = max(eig_rtol |lambda|_max, 2 sigma^2/N)``:
   above the numerical rank limit (``eig_rtol`` = 1e-10) and with a one-sigma step
   ``sqrt(2 sigma^2 / (N w))`` shorter than the whole bounds box (a direction the data constrain
   less than the bounds do is not determined by the data). Directions with ``w < -floor`` are
   **negative curvature**: the fit is not at a minimum there (``"the fit did not reach a minimum
   along A2 (+0.71), tau_I2 (-0.70) (negative curvature -0.032)"``). The others are **flat**.
3. *Who is undetermined.* ``P`` = projector onto the not-well-determined directions;
   parameter ``i`` is undetermined when ``P_ii >= weight_tol`` (0.01: at least a tenth of its
   unit vector lies there); its stderr is NaN, never inf. Undetermined parameters are grouped
   by ``|P_ij| / sqrt(P_ii P_jj) >= 0.3`` (rotation-invariant inside a degenerate null space,
   so two independent trade-offs are named as two) and each group gets one note:
   ``"A2 and tau_I2 trade off, correlation -0.99"``, the correlation from the regularised
   covariance ``U diag(1 / max(w, eig_rtol |lambda|_max)) U^T``. **Sign convention:** the
   correlation of the *estimates*: two parameters that enter only as their sum ``a + b`` have
   correlation -1 (raising one is compensated by lowering the other); as a ratio or a
   difference, +1.

The other parameters' standard errors come from the pseudo-inverse restricted to the
well-determined subspace. For a parameter whose unit vector lies exactly in that subspace
(estimable: ``P_ii = 0``) this is its exact marginal Laplace variance, whatever the flat
directions do; a parameter with ``0 < P_ii < weight_tol`` gets the variance of its projection
(the small leak is stated by ``weight_tol``). ``correlation`` holds those pseudo-inverse
correlations between determined parameters, regularised ones for pairs involving an
undetermined parameter (so a trade-off shows as ~±1), NaN on rows of parameters with no effect.

Models with a reset (GIF, LIF, ...): the Hessian is that of the teacher-forced loss (model reset
at the data's spike times, see ``Objective.hessian``): the free-running loss's second
derivatives through the surrogate spikes explode (an indefinite 1e150 Hessian). Noise-free data
fitted exactly give ``sigma^2 = L(theta*) ~ 0`` and so standard errors ~ 0: correct for data
without noise (the parameters are determined exactly), not a failure.

``hessian_uncertainty`` needs of the objective only ``hessian(z)``, ``batch("mse", Z)``,
``to_params(z)``, ``V`` (its size is ``N``), ``free``, ``log``, ``lower`` and ``upper``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NULL_RTOL = 1e-8      # a Hessian row below this fraction of the largest curvature: no effect
EIG_RTOL = 1e-10      # eigenvalues below this fraction of the largest: numerically zero
WEIGHT_TOL = 1e-2     # a parameter with this much of its unit vector off the determined subspace
GROUP_CORR = 0.3      # undetermined parameters coupled at least this much are named together


@dataclass(frozen=True)
class Uncertainty:
    """Standard errors (model units; NaN where the data do not determine a parameter), the
    correlation matrix, the covariance (model units, NaN rows for undetermined parameters), the
    unit-cube Hessian, and the identifiability analysis: ``notes`` (one sentence per finding),
    ``no_effect`` and ``undetermined`` (names), ``eigenvalues`` of the Hessian block without
    the no-effect parameters."""

    names: tuple[str, ...]
    stderr: np.ndarray
    correlation: np.ndarray
    covariance: np.ndarray
    hessian: np.ndarray
    identifiable: bool
    notes: tuple[str, ...] = ()
    no_effect: tuple[str, ...] = ()
    undetermined: tuple[str, ...] = ()
    eigenvalues: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def stderr_dict(self) -> dict[str, float]:
        return {n: float(s) for n, s in zip(self.names, self.stderr)}


def _g(x: float) -> str:
    return f"{float(x) + 0.0:.2g}"


def _join(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _groups(P: np.ndarray, members: np.ndarray) -> list[list[int]]:
    """Connected components of the undetermined parameters under |P_ij|/sqrt(P_ii P_jj)."""
    left = [int(i) for i in members]
    out = []
    while left:
        stack, comp = [left.pop(0)], []
        while stack:
            i = stack.pop()
            comp.append(i)
            for j in list(left):
                if abs(P[i, j]) >= GROUP_CORR * np.sqrt(P[i, i] * P[j, j]):
                    left.remove(j)
                    stack.append(j)
        out.append(sorted(comp, key=lambda k: -P[k, k]))
    return out


def hessian_uncertainty(objective, z, loss: float | None = None) -> Uncertainty:
    """Standard errors, correlations and identifiability notes at unit-cube point ``z``."""
    z = np.asarray(z, float)
    H = np.asarray(objective.hessian(z), float)
    H = 0.5 * (H + H.T)
    d = H.shape[0]
    N = objective.V.size
    sigma2 = float(objective.batch("mse", z[None])[0]) if loss is None else float(loss)
    log = np.asarray(objective.log, bool)
    lower, upper = np.asarray(objective.lower, float), np.asarray(objective.upper, float)
    lo_t = np.where(log, np.log(np.where(log, lower, 1.0)), lower)
    hi_t = np.where(log, np.log(np.where(log, upper, 1.0)), upper)
    theta = np.array(list(objective.to_params(z).values()), float)
    J = np.where(log, theta * (hi_t - lo_t), hi_t - lo_t)
    names = tuple(objective.free)
    nan_d, nan_dd = np.full(d, np.nan), np.full((d, d), np.nan)
    if not np.all(np.isfinite(H)):
        bad = [names[i] for i in range(d) if not np.all(np.isfinite(H[i]))]
        return Uncertainty(names, nan_d, nan_dd, nan_dd, H, False,
                           (f"the Hessian is not finite at the fit (rows {_join(bad)}): "
                            "no standard errors",), (), names)
    if not np.isfinite(sigma2) or sigma2 < 0:
        return Uncertainty(names, nan_d, nan_dd, nan_dd, H, False,
                           (f"the loss at the fit is {sigma2!r}: no standard errors",), (), names)

    notes: list[str] = []
    w_all = np.linalg.eigvalsh(H)
    scale = float(np.max(np.abs(w_all))) if d else 0.0
    # 1. parameters with no effect: the whole Hessian row ~0 relative to the largest curvature
    rowmax = np.max(np.abs(H), axis=1) if d else np.zeros(0)
    null = rowmax <= NULL_RTOL * scale if scale > 0 else np.ones(d, bool)
    for i in np.nonzero(null)[0]:
        notes.append(f"{names[i]} has no effect on this data (curvature {_g(H[i, i])})")
    keep = np.nonzero(~null)[0]

    se = np.full(d, np.nan)
    cov = np.full((d, d), np.nan)
    corr = np.full((d, d), np.nan)
    undetermined: list[int] = [int(i) for i in np.nonzero(null)[0]]
    w = np.zeros(0)
    if keep.size:
        A = H[np.ix_(keep, keep)]
        w, U = np.linalg.eigh(A)
        eps = EIG_RTOL * scale
        floor = max(eps, 2.0 * sigma2 / N)
        good = w > floor
        negative = w < -floor
        named: set[int] = set()
        # 2. directions: negative curvature (not a minimum) and flat / wider than the bounds
        for k in np.nonzero(negative)[0]:
            u = U[:, k] * np.sign(U[np.argmax(np.abs(U[:, k])), k])
            order = [j for j in np.argsort(-np.abs(u)) if u[j] ** 2 >= WEIGHT_TOL]
            named |= set(order)
            along = ", ".join(f"{names[keep[j]]} ({u[j]:+.2f})" for j in order)
            notes.append(f"the fit did not reach a minimum along {along} "
                         f"(negative curvature {_g(w[k])})")
        flat = ~good & ~negative
        P = U[:, ~good] @ U[:, ~good].T
        P_flat = U[:, flat] @ U[:, flat].T
        weak = np.diag(P) >= WEIGHT_TOL
        # 3. regularised covariance for the trade-off correlations, pinv on the determined part
        cov_reg = (U / np.maximum(w, eps if eps > 0 else 1e-300)) @ U.T
        pinv = (U[:, good] / w[good]) @ U[:, good].T
        sd_reg = np.sqrt(np.diag(cov_reg))
        c_reg = cov_reg / np.outer(sd_reg, sd_reg)
        for comp in _groups(P_flat, np.nonzero(np.diag(P_flat) >= WEIGHT_TOL)[0]):
            comp_names = [names[keep[j]] for j in comp]
            named |= set(comp)
            # why: numerically flat, or determined less well than the bounds
            k = np.nonzero(flat)[0][np.argmax(np.sum(U[comp][:, flat] ** 2, axis=0))]
            if abs(w[k]) <= eps:
                why = f"curvature {_g(w[k])}"
            else:
                why = f"curvature {_g(w[k])}: less constrained by the data than by the bounds"
            if len(comp) == 1:
                notes.append(f"{comp_names[0]} is not determined by this data ({why})")
            elif len(comp) == 2:
                a, b = comp
                notes.append(f"{comp_names[0]} and {comp_names[1]} trade off, correlation "
                             f"{c_reg[a, b]:.2f} ({why})")
            else:
                pairs = sorted(((abs(c_reg[a, b]), a, b) for ai, a in enumerate(comp)
                                for b in comp[ai + 1:]), reverse=True)[:3]
                cs = ", ".join(f"{names[keep[a]]}-{names[keep[b]]} {c_reg[a, b]:.2f}"
                               for _, a, b in pairs)
                notes.append(f"{_join(comp_names)} trade off (the data determine only a "
                             f"combination of them; correlations {cs}; {why})")
        rest = [names[keep[j]] for j in np.nonzero(weak)[0] if j not in named]
        if rest:
            notes.append(f"{_join(rest)} {'is' if len(rest) == 1 else 'are'} not fully "
                         "determined by this data (weight in poorly determined directions)")
        cov_z = pinv * (2.0 * sigma2 / N)
        Jk = J[keep]
        cov_k = cov_z * np.outer(Jk, Jk)
        se_k = np.sqrt(np.clip(np.diag(cov_k), 0.0, None))
        se_k[weak] = np.nan
        cov_k[weak, :] = np.nan
        cov_k[:, weak] = np.nan
        se[keep] = se_k
        cov[np.ix_(keep, keep)] = cov_k
        with np.errstate(invalid="ignore", divide="ignore"):
            c_pinv = pinv / np.sqrt(np.outer(np.diag(pinv), np.diag(pinv)))
        c_k = np.where(np.outer(~weak, ~weak), c_pinv, c_reg)
        c_k = np.where(np.isfinite(c_k), c_k, np.nan)
        np.fill_diagonal(c_k, 1.0)
        corr[np.ix_(keep, keep)] = np.clip(c_k, -1.0, 1.0)
        undetermined += [int(keep[j]) for j in np.nonzero(weak)[0]]
    no_effect = tuple(names[i] for i in np.nonzero(null)[0])
    und = tuple(names[i] for i in sorted(undetermined))
    if len(undetermined) > int(np.sum(null)) and len(und) < d:  # flat / negative directions
        notes.append(f"standard errors of {_join([n for n in names if n not in und])} are "
                     "from the well-determined directions only")
    return Uncertainty(names, se, corr, cov, H, not und, tuple(notes), no_effect, und, w)
