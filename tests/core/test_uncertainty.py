"""Standard errors and identifiability from the Hessian: analytic quadratic losses (a stub
objective exposing the methods ``hessian_uncertainty`` uses, so the Hessian is known exactly),
and one real LIF objective whose data cannot see one parameter."""

from __future__ import annotations

import numpy as np
import pytest

from core.fitting import FitResult, Objective
from core.fitting.uncertainty import hessian_uncertainty
from core.integrate import simulate
from core.models import LIF


class QuadraticObjective:
    """Loss with a fixed unit-cube Hessian ``H``; the same attributes and methods as Objective
    that the uncertainty code reads."""

    def __init__(self, H, names, lower, upper, log=None, sigma2=0.5, N=1000):
        self.H = np.asarray(H, float)
        self.free = tuple(names)
        self.lower, self.upper = np.asarray(lower, float), np.asarray(upper, float)
        self.log = np.zeros(len(names), bool) if log is None else np.asarray(log, bool)
        self.sigma2 = sigma2
        self.V = np.zeros((1, N))

    def hessian(self, z):
        return self.H

    def batch(self, kind, Z):
        assert kind == "mse"
        return np.full(len(Z), self.sigma2)

    def to_params(self, z):
        lo = np.where(self.log, np.log(np.where(self.log, self.lower, 1.0)), self.lower)
        hi = np.where(self.log, np.log(np.where(self.log, self.upper, 1.0)), self.upper)
        t = lo + np.asarray(z) * (hi - lo)
        return dict(zip(self.free, np.where(self.log, np.exp(t), t)))

    def jacobian(self, z):
        theta = np.array(list(self.to_params(z).values()))
        lo = np.where(self.log, np.log(np.where(self.log, self.lower, 1.0)), self.lower)
        hi = np.where(self.log, np.log(np.where(self.log, self.upper, 1.0)), self.upper)
        return np.where(self.log, theta * (hi - lo), hi - lo)


def _expected_cov(obj, z, Hinv):
    J = obj.jacobian(z)
    return Hinv * np.outer(J, J) * 2.0 * obj.sigma2 / obj.V.size


def test_positive_definite_hessian_gives_the_analytic_inverse():
    rng = np.random.default_rng(0)
    M = rng.standard_normal((3, 3))
    H = M @ M.T + 3 * np.eye(3)
    obj = QuadraticObjective(H, ["tau", "g", "E"], [1.0, 0.01, -80.0], [100.0, 1.0, -40.0],
                             log=[True, True, False])
    z = np.array([0.3, 0.6, 0.5])
    u = hessian_uncertainty(obj, z)
    cov = _expected_cov(obj, z, np.linalg.inv(H))
    se = np.sqrt(np.diag(cov))
    np.testing.assert_allclose(u.stderr, se, rtol=1e-12)
    np.testing.assert_allclose(u.correlation, cov / np.outer(se, se), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(u.covariance, cov, rtol=1e-10)
    assert u.identifiable and u.notes == () and u.undetermined == ()
    assert u.stderr_dict() == pytest.approx(dict(zip(obj.free, se)), rel=1e-12)


def test_parameter_without_effect_is_named_and_the_others_stay_exact():
    H = np.array([[4.0, 0.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 2.0]])
    obj = QuadraticObjective(H, ["A2", "tau_I1", "R"], [-1.0, 0.5, 5.0], [0.0, 50.0, 500.0],
                             log=[False, True, True])
    z = np.array([0.4, 0.5, 0.5])
    u = hessian_uncertainty(obj, z)
    assert "tau_I1 has no effect on this data (curvature 0)" in u.notes
    assert u.no_effect == ("tau_I1",) and u.undetermined == ("tau_I1",)
    assert np.isnan(u.stderr[1]) and not np.any(np.isinf(u.stderr)) and not u.identifiable
    sub = np.linalg.inv(H[np.ix_([0, 2], [0, 2])])
    cov = _expected_cov(obj, z, np.array([[sub[0, 0], 0, sub[0, 1]], [0, 0, 0],
                                          [sub[1, 0], 0, sub[1, 1]]]))
    np.testing.assert_allclose(u.stderr[[0, 2]], np.sqrt(np.diag(cov))[[0, 2]], rtol=1e-12)
    assert u.correlation[0, 2] == pytest.approx(sub[0, 1] / np.sqrt(sub[0, 0] * sub[1, 1]))
    assert np.all(np.isnan(u.correlation[1]))


def test_parameters_entering_only_as_their_sum_trade_off_with_correlation_minus_one():
    """Loss q(a + b, c): a and b are named, correlation -1 (the estimates' correlation: raising
    one is compensated by lowering the other); c keeps its exact marginal standard error."""
    Q = np.array([[2.0, 0.7], [0.7, 1.5]])  # curvature in (s = a + b, c)
    T = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    H = T.T @ Q @ T
    obj = QuadraticObjective(H, ["A2", "tau_I2", "V_th"], [-1, 10, -60], [0, 1000, -30])
    z = np.full(3, 0.5)
    u = hessian_uncertainty(obj, z)
    notes = [n for n in u.notes if "trade off" in n]
    assert len(notes) == 1 and notes[0].startswith("A2 and tau_I2 trade off, correlation -1.00")
    assert u.correlation[0, 1] == pytest.approx(-1.0, abs=1e-6)
    assert np.isnan(u.stderr[0]) and np.isnan(u.stderr[1]) and u.undetermined == ("A2", "tau_I2")
    var_c = np.linalg.inv(Q)[1, 1]  # marginal over s, which the data see but not a, b apart
    expected = np.sqrt(var_c * 2 * obj.sigma2 / obj.V.size) * 30.0
    assert u.stderr[2] == pytest.approx(expected, rel=1e-10)
    assert not np.any(np.isinf(u.stderr))


def test_two_independent_trade_offs_are_named_separately():
    T = np.array([[1.0, 1.0, 0, 0, 0], [0, 0, 1.0, -1.0, 0], [0, 0, 0, 0, 1.0]])
    H = T.T @ np.diag([3.0, 2.0, 1.0]) @ T  # a + b, c - d, e: a 2-d null space
    obj = QuadraticObjective(H, list("abcde"), np.zeros(5), np.ones(5))
    u = hessian_uncertainty(obj, np.full(5, 0.5))
    trade = sorted(n for n in u.notes if "trade off" in n)
    assert len(trade) == 2
    assert trade[0].startswith("a and b trade off, correlation -1.00")
    assert trade[1].startswith("c and d trade off, correlation 1.00")
    assert np.isfinite(u.stderr[4]) and np.all(np.isnan(u.stderr[:4]))


def test_negative_curvature_says_the_fit_is_not_at_a_minimum():
    H = np.array([[2.0, 0.0, 0.0], [0.0, 1.0, 1.5], [0.0, 1.5, 1.0]])  # eigenvalue -0.5
    obj = QuadraticObjective(H, ["R", "A1", "tau_I1"], np.zeros(3), np.ones(3))
    u = hessian_uncertainty(obj, np.full(3, 0.5))
    neg = [n for n in u.notes if "did not reach a minimum" in n]
    assert len(neg) == 1 and "A1" in neg[0] and "tau_I1" in neg[0]
    assert "negative curvature -0.5" in neg[0]
    assert np.isfinite(u.stderr[0]) and np.all(np.isnan(u.stderr[1:]))
    assert u.stderr[0] == pytest.approx(np.sqrt(0.5 * 2 * obj.sigma2 / obj.V.size))


def test_direction_less_constrained_than_the_bounds_is_not_determined():
    # a 1-sigma step along the second parameter, sqrt(2 sigma^2 / (N w)) = 10, spans the box
    obj = QuadraticObjective(np.diag([5.0, 1e-5]), ["R", "tau"], np.zeros(2), np.ones(2),
                             sigma2=0.5, N=100)
    u = hessian_uncertainty(obj, np.full(2, 0.5))
    assert np.isfinite(u.stderr[0]) and np.isnan(u.stderr[1])
    assert any(n.startswith("tau is not determined by this data") and "bounds" in n
               for n in u.notes)


def test_non_finite_hessian_gives_nan_and_says_so():
    obj = QuadraticObjective(np.array([[1.0, np.inf], [np.inf, 1.0]]), ["a", "b"],
                             np.zeros(2), np.ones(2))
    u = hessian_uncertainty(obj, np.full(2, 0.5))
    assert np.all(np.isnan(u.stderr)) and "not finite" in u.notes[0]


def test_fit_result_keeps_the_notes_through_hdf5(tmp_path):
    r = FitResult(method="lbfgsb", seed=0, model="lif", free=["R"], params={"R": 1.0},
                  fitted={"R": 1.0}, loss=1.0, objective=1.0, gamma=0.0, gamma_loss=1.0,
                  n_model_spikes=0, n_data_spikes=0, evaluations=1, iterations=1, seconds=0.0,
                  compile_seconds=0.0, start_loss=1.0, stderr={"R": float("nan")},
                  identifiability=["R has no effect on this data (curvature 0)"])
    r.to_hdf5(tmp_path / "f.h5")
    back = FitResult.from_hdf5(tmp_path / "f.h5")
    assert back.identifiability == r.identifiability and np.isnan(back.stderr["R"])
    assert r.summary()["identifiability"] == r.identifiability


def test_lif_subthreshold_data_cannot_see_the_reset_potential():
    """A real Objective: LIF data without a spike, V_reset free. The loss does not depend on
    V_reset, which is named; tau_m, R and V_rest get finite standard errors."""
    dt, n = 0.2, 1000
    t = np.arange(n) * dt
    I = np.where((t > 20) & (t < 120), 0.1, 0.0) + np.where(t > 140, 0.05, 0.0)
    truth = {"tau_m": 15.0, "R": 120.0, "V_rest": -68.0, "V_reset": -65.0}
    res = simulate(LIF(**truth, V_th=-30.0), I[:, None], dt, solver="exp_euler")
    V = np.concatenate([[truth["V_rest"]], np.asarray(res.V)[:-1, 0]])
    assert np.max(V) < -40.0
    obj = Objective("lif", V[None], I[None], dt, list(truth), fixed={"V_th": -30.0})
    u = hessian_uncertainty(obj, obj.to_unit(truth), loss=1.0)
    assert u.no_effect == ("V_reset",)
    assert any(n.startswith("V_reset has no effect on this data") for n in u.notes)
    se = u.stderr_dict()
    assert np.isnan(se["V_reset"])
    assert all(np.isfinite(se[k]) and se[k] > 0 for k in ("tau_m", "R", "V_rest"))
