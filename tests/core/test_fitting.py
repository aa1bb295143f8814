"""Fitting engine: losses against NumPy references, gradients against finite differences,
optimizers on short synthetic problems with known truth, jobs (events, cancel), results I/O,
and one specific error per kind of bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from core.errors import (
    DivergenceError,
    OptimizerError,
    ParameterError,
    RecordingError,
    StimulusMissingError,
)
from core.events import FitProgress
from core.fitting import (
    Budget,
    CompareJob,
    ComparisonResult,
    FitJob,
    FitResult,
    LossSpec,
    Objective,
    available_methods,
    default_budget,
    gamma_factor,
    run_fit,
)
from core.fitting.losses import (
    RATE_SCALE_WEIGHT,
    coincidences,
    exp_filter,
    spike_train,
    van_rossum,
)
from core.fitting.optimizers import Tracker, lockstep_lbfgsb
from core.integrate import simulate
from core.io import Recording, Sweep
from core.models import GIF, HHCortical

GIF_TRUTH = {"A1": 0.3, "A2": -0.1, "tau_I1": 5.0, "tau_I2": 100.0}
HH_TRUTH = {"gNa": 20.0, "gK": 6.0, "gL": 0.01}


def _stimuli(n_steps, dt, amps, mu, sigma, seed=0):
    t = np.arange(n_steps) * dt
    rows = [np.where((t >= 10) & (t < n_steps * dt - 10), a, 0.0) for a in amps]
    rng = np.random.default_rng(seed)
    x, ou = mu, np.empty(n_steps)
    for k in range(n_steps):  # Ornstein-Uhlenbeck current, tau 5 ms
        x += dt / 5.0 * (mu - x) + sigma * np.sqrt(2 * dt / 5.0) * rng.standard_normal()
        ou[k] = x
    return np.array(rows + [ou])


def _truth_data(model, I, dt):
    """Voltage at the start of each step (the synthetic files' convention) and spike times."""
    res = simulate(model, I.T, dt, solver="exp_euler")
    V = np.asarray(res.V).T
    V0 = np.asarray(model.init_state((I.shape[0],))["V"])
    V_start = np.concatenate([V0[:, None], V[:, :-1]], axis=1)
    spikes = [np.nonzero(np.asarray(s) > 0.5)[0] * dt for s in np.asarray(res.spikes).T]
    return V_start, spikes


@pytest.fixture(scope="module")
def gif_problem():
    dt = 0.1
    I = _stimuli(1500, dt, [1.6], 1.4, 0.6)
    V, spikes = _truth_data(GIF(**GIF_TRUTH), I, dt)
    return {"V": V, "I": I, "dt": dt, "spikes": spikes}


@pytest.fixture(scope="module")
def gif_objective(gif_problem):
    p = gif_problem
    return Objective("gif", p["V"], p["I"], p["dt"], list(GIF_TRUTH), data_spikes=p["spikes"],
                     bounds={"A1": (0.03, 3.0), "A2": (-1.0, -0.01), "tau_I1": (0.5, 50.0),
                             "tau_I2": (10.0, 1000.0)}, truth=GIF_TRUTH)


@pytest.fixture(scope="module")
def hh_problem():
    dt = 0.025
    I = _stimuli(3200, dt, [0.25], 0.2, 0.15, seed=1)
    V, _ = _truth_data(HHCortical(**HH_TRUTH), I, dt)
    return {"V": V, "I": I, "dt": dt}


@pytest.fixture(scope="module")
def hh_objective(hh_problem):
    p = hh_problem
    return Objective("hh_cortical", p["V"], p["I"], p["dt"], list(HH_TRUTH), truth=HH_TRUTH,
                     bounds={"gNa": (2.0, 200.0), "gK": (0.6, 60.0), "gL": (0.001, 0.1)})


# ---- losses ---------------------------------------------------------------------------------
def test_gamma_factor_matches_formula_by_hand():
    data = [np.array([10.0, 50.0, 90.0, 130.0])]
    model = [np.array([12.0, 57.0, 91.0])]  # 2 coincidences within 4 ms (57 is 7 ms late)
    g = gamma_factor(model, data, duration=200.0, delta=4.0)
    nu = 3 / 200.0
    expected = (2 - 2 * nu * 4.0 * 4) / (0.5 * 7) / (1 - 2 * nu * 4.0)
    assert g.n_coincident == 2 and g.n_model == 3 and g.n_data == 4
    assert g.gamma == pytest.approx(expected, rel=1e-12)
    assert g.loss == pytest.approx(1 + 2 * abs(4 / 200 - 3 / 200) / (4 / 200) - expected)
    perfect = gamma_factor(data, data, 200.0)
    assert perfect.gamma == pytest.approx(1.0 / 1.0 * (4 - 2 * 0.02 * 4 * 4) / 4 / (1 - 0.16))
    assert gamma_factor([np.array([])], [np.array([])], 100.0).gamma == 1.0
    assert gamma_factor([np.array([])], data, 200.0).gamma == 0.0


def test_coincidences_one_to_one_matches_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(20):
        m = np.sort(rng.uniform(0, 200, rng.integers(0, 15)))
        d = np.sort(rng.uniform(0, 200, rng.integers(0, 15)))
        assert coincidences(m, d, 4.0) == _max_matching(m, d, 4.0)


def _max_matching(m, d, delta):
    """Brute force: maximum bipartite matching by augmenting paths."""
    match: dict[int, int] = {}

    def augment(i, seen):
        for j in range(m.size):
            if abs(m[j] - d[i]) <= delta and j not in seen:
                seen.add(j)
                if j not in match or augment(match[j], seen):
                    match[j] = i
                    return True
        return False

    return sum(augment(i, set()) for i in range(d.size))


def test_van_rossum_matches_numpy_loop():
    rng = np.random.default_rng(0)
    dt, tau = 0.1, 3.0
    a = (rng.random((400, 2)) < 0.02).astype(float)
    b = (rng.random((400, 2)) < 0.02).astype(float)
    fa, fb = np.zeros(2), np.zeros(2)
    total = np.zeros(2)
    for k in range(400):
        fa = fa * np.exp(-dt / tau) + a[k]
        fb = fb * np.exp(-dt / tau) + b[k]
        total += (fa - fb) ** 2
    assert float(van_rossum(a, b, dt, tau)) == pytest.approx(np.mean(total) * dt / tau, rel=1e-10)
    assert np.allclose(exp_filter(a, dt, tau)[-1], _np_filter(a, dt, tau))
    assert spike_train([np.array([0.0, 0.3])], 5, 0.1)[:, 0].tolist() == [1, 0, 0, 1, 0]


def _np_van_rossum(a, b, dt, tau):
    fa, fb, total = np.zeros(a.shape[1]), np.zeros(a.shape[1]), np.zeros(a.shape[1])
    for k in range(a.shape[0]):
        fa = fa * np.exp(-dt / tau) + a[k]
        fb = fb * np.exp(-dt / tau) + b[k]
        total += (fa - fb) ** 2
    return np.mean(total) * dt / tau


@pytest.mark.parametrize("rate_tau", [0.0, 200.0])
def test_spike_term_is_van_rossum_at_both_time_scales(gif_problem, rate_tau):
    """loss - MSE = w (D_vR^2(10 ms) + 4 D_vR^2(rate_tau)), the distances by a NumPy loop on the
    model's own spikes (a rate_tau of 0 leaves the second out)."""
    p = gif_problem
    w = 50.0
    obj = Objective("gif", p["V"], p["I"], p["dt"], list(GIF_TRUTH), data_spikes=p["spikes"],
                    bounds={"A1": (0.03, 3.0), "A2": (-1.0, -0.01), "tau_I1": (0.5, 50.0),
                            "tau_I2": (10.0, 1000.0)},
                    loss=LossSpec(spike_weight=w, rate_tau=rate_tau))
    z = np.array([0.3, 0.6, 0.2, 0.8])
    V, S, _ = obj.simulate(z)
    data = spike_train(p["spikes"], V.shape[1], p["dt"])
    expected = _np_van_rossum(S.T, data, p["dt"], 10.0)
    if rate_tau:
        expected += RATE_SCALE_WEIGHT * _np_van_rossum(S.T, data, p["dt"], rate_tau)
    term = obj.batch("loss", z[None])[0] - obj.batch("mse", z[None])[0]
    assert term == pytest.approx(w * expected, rel=1e-9)


def test_rate_scale_makes_a_displaced_spike_cheaper_than_a_missing_one():
    """At 10 ms alone a spike 40 ms late costs twice none (the silent model is the gradient's
    nearest optimum); with the weighted 200 ms scale added it costs clearly less, and one
    150 ms late still costs more than none."""
    dt, n = 1.0, 600
    data, silent = np.zeros((n, 1)), np.zeros((n, 1))
    data[200, 0] = 1.0

    def costs(lag):
        late = np.zeros((n, 1))
        late[200 + lag, 0] = 1.0
        return {tau: (float(van_rossum(late, data, dt, tau)),
                      float(van_rossum(silent, data, dt, tau))) for tau in (10.0, 200.0)}

    d = costs(40)
    assert d[10.0][0] >= 1.9 * d[10.0][1]
    w = RATE_SCALE_WEIGHT
    assert d[10.0][0] + w * d[200.0][0] < 0.8 * (d[10.0][1] + w * d[200.0][1])
    far = costs(150)
    assert far[10.0][0] + w * far[200.0][0] > far[10.0][1] + w * far[200.0][1]


def _np_filter(a, dt, tau):
    f = np.zeros(a.shape[1])
    for k in range(a.shape[0]):
        f = f * np.exp(-dt / tau) + a[k]
    return f


def test_loss_at_truth_is_zero_and_mse_matches_numpy(gif_objective, gif_problem):
    assert gif_objective.loss_at_truth() < 1e-20
    z = np.array([0.3, 0.6, 0.2, 0.8])
    V, _, _ = gif_objective.simulate(z)
    assert gif_objective.batch("mse", z[None])[0] == pytest.approx(
        np.mean((V - gif_problem["V"]) ** 2), rel=1e-12)
    assert gif_objective.to_unit(gif_objective.to_params(z)) == pytest.approx(z)


# ---- gradients ------------------------------------------------------------------------------
def _fd_grad(f, z, h=1e-6):
    return np.array([(f(z + h * e) - f(z - h * e)) / (2 * h) for e in np.eye(z.size)])


def test_hh_gradient_matches_finite_differences(hh_objective):
    z = hh_objective.to_unit({"gNa": 24.0, "gK": 5.0, "gL": 0.012})
    v, g = hh_objective.batch("value_and_grad", z[None])
    fd = _fd_grad(lambda x: hh_objective.batch("loss", x[None])[0], z)
    assert v[0] == pytest.approx(hh_objective.batch("loss", z[None])[0])
    np.testing.assert_allclose(g[0], fd, rtol=1e-4, atol=1e-6 * np.abs(fd).max())


def test_forward_mode_gradient_equals_reverse_mode(hh_objective):
    """The objective's gradient (forward mode for few parameters) against jax.grad (reverse
    mode) of the same jitted loss."""
    import jax
    import jax.numpy as jnp

    Z = np.array([[0.52, 0.47, 0.5], [0.3, 0.6, 0.4]])
    v, g = hh_objective.batch("value_and_grad", Z)
    loss = hh_objective._fns["loss"]
    for z, vi, gi in zip(Z, v, g):
        single = lambda x: loss(x[None], hh_objective._consts)[0]
        ref = jax.grad(single)(jnp.asarray(z))
        np.testing.assert_allclose(vi, float(single(jnp.asarray(z))), rtol=1e-10)
        np.testing.assert_allclose(gi, np.asarray(ref), rtol=1e-8, atol=1e-10 * np.abs(gi).max())


def test_counted_value_and_grad_matches_screen_and_gradient(hh_objective):
    Z = np.array([[0.52, 0.47, 0.5], [0.0, 1.0, 1.0], [0.3, 0.6, 0.4]])
    v, g, n = hh_objective.batch("counted_value_and_grad", Z)
    v_ref, g_ref = hh_objective.batch("value_and_grad", Z)
    sv, sn = hh_objective.batch("screen", Z)
    np.testing.assert_allclose(v, v_ref, rtol=1e-12)
    np.testing.assert_allclose(g, g_ref, rtol=1e-10, atol=1e-12 * np.abs(g_ref).max())
    np.testing.assert_array_equal(n, sn)
    # the count is |n_model - n_data| summed over sweeps, from the spike trains
    V, S, _ = hh_objective.simulate(Z[1])
    expected = sum(abs(int(s.sum()) - len(d)) for s, d in zip(S, hh_objective.data_spikes))
    assert n[1] == expected
    # the tracker's counted value is loss + weight * mismatch, the gradient the loss's
    tr = Tracker(hh_objective, Budget(evaluations=100))
    tv, tg = tr.value_and_grad_counted(Z, count_weight=1e3)
    np.testing.assert_allclose(tv, v + 1e3 * n, rtol=1e-12)
    np.testing.assert_allclose(tg, g, rtol=1e-12)
    assert tr.best_loss == pytest.approx(np.min(v + 1e3 * n))


def test_forced_spike_loss_is_smooth_and_its_gradient_exact(gif_objective):
    z = gif_objective.to_unit({"A1": 0.5, "A2": -0.2, "tau_I1": 8.0, "tau_I2": 60.0})
    _, g = gif_objective.batch("forced_value_and_grad", z[None])
    fd = _fd_grad(lambda x: gif_objective.batch("forced_loss", x[None])[0], z)
    np.testing.assert_allclose(g[0], fd, rtol=1e-5, atol=1e-8)
    zt = gif_objective.to_unit(GIF_TRUTH)
    assert gif_objective.batch("forced_loss", zt[None])[0] < 1e-20


def test_hessian_matches_finite_differences_of_gradient(hh_objective):
    z = hh_objective.to_unit({"gNa": 22.0, "gK": 6.5, "gL": 0.011})
    H = hh_objective.hessian(z)
    h = 1e-7  # the HH loss is stiff: larger steps see the curvature change (checked: converges)
    fd = np.stack([(hh_objective.batch("value_and_grad", (z + h * e)[None])[1][0]
                    - hh_objective.batch("value_and_grad", (z - h * e)[None])[1][0]) / (2 * h)
                   for e in np.eye(3)])
    np.testing.assert_allclose(H, fd, rtol=1e-4, atol=1e-6 * np.abs(fd).max())


def test_gif_standard_errors_finite_from_forced_hessian(gif_objective):
    """Models with a reset: the Hessian is the teacher-forced loss's (finite differences of its
    exact gradient), positive definite at the truth, so the standard errors are finite."""
    from core.fitting.uncertainty import hessian_uncertainty

    zt = gif_objective.to_unit(GIF_TRUTH)
    H = gif_objective.hessian(zt)
    h = 1e-6
    fd = np.stack([(gif_objective.batch("forced_value_and_grad", (zt + h * e)[None])[1][0]
                    - gif_objective.batch("forced_value_and_grad", (zt - h * e)[None])[1][0]) / (2 * h)
                   for e in np.eye(4)])
    np.testing.assert_allclose(H, fd, rtol=1e-4, atol=1e-6 * np.abs(fd).max())
    u = hessian_uncertainty(gif_objective, zt, loss=1.0)
    assert u.identifiable and np.all(np.isfinite(u.stderr)) and np.all(u.stderr > 0)


# ---- optimizers -----------------------------------------------------------------------------
def test_lockstep_multistart_equals_independent_scipy_runs(hh_objective):
    Z0 = np.array([[0.55, 0.45, 0.5], [0.45, 0.55, 0.52], [0.6, 0.5, 0.45]])
    tracker = Tracker(hh_objective, Budget(evaluations=10_000))
    outs = lockstep_lbfgsb(tracker, Z0, maxiter=15)
    for z0, out in zip(Z0, outs):
        ref = minimize(lambda x: tuple(a[0] for a in hh_objective.batch("value_and_grad", x[None])),
                       z0, jac=True, method="L-BFGS-B", bounds=[(0, 1)] * 3,
                       options={"maxiter": 15, "ftol": 1e-12, "gtol": 1e-8, "maxcor": 20,
                                "maxls": 30})
        np.testing.assert_allclose(out.x, ref.x, rtol=1e-9, atol=1e-12)
    assert tracker.evaluations == sum(o.nfev for o in outs)


def test_lockstep_prune_stops_starts_far_above_a_converged_one(hh_objective):
    truth = hh_objective.to_unit(HH_TRUTH)
    far = np.array([0.02, 0.98, 0.9])  # a silent-cell corner, hundreds of mV^2 away
    Z0 = np.stack([truth, far])
    kept = lockstep_lbfgsb(Tracker(hh_objective, Budget(evaluations=10_000)), Z0, maxiter=40)
    tracker = Tracker(hh_objective, Budget(evaluations=10_000))
    pruned = lockstep_lbfgsb(tracker, Z0, maxiter=40, prune=10.0)
    # the start at the truth converges as it would alone; the far one is stopped after that
    assert pruned[0].success and pruned[0].fun == pytest.approx(kept[0].fun, abs=1e-12)
    np.testing.assert_allclose(pruned[0].x, kept[0].x, atol=1e-12)
    assert pruned[1] is None and kept[1] is not None
    assert kept[1].fun > 10 * pruned[0].fun + 1.0
    assert tracker.evaluations <= kept[0].nfev + kept[1].nfev


def test_lbfgsb_recovers_hh_truth_within_5_percent(hh_objective):
    x0 = hh_objective.to_unit({"gNa": 23.0, "gK": 5.4, "gL": 0.0115})
    r = run_fit(hh_objective, "lbfgsb", seed=0, budget=400, options={"starts": 2, "x0": x0})
    for name, true in HH_TRUTH.items():
        assert r.fitted[name] == pytest.approx(true, rel=0.05)
    assert r.loss < 1e-3 and r.gamma == pytest.approx(1.0)
    assert set(r.stderr) == set(HH_TRUTH) and r.correlation.shape == (3, 3)
    assert r.loss_at_truth < 1e-20 and max(r.param_error.values()) < 0.05


def test_hybrid_recovers_gif_truth_from_random_starts(gif_objective):
    r = run_fit(gif_objective, "hybrid", seed=1, budget=800,
                options={"samples": 128, "batch": 64, "polish": 3}, uncertainty=False)
    assert r.loss < 1e-3
    for name, true in GIF_TRUTH.items():
        assert r.fitted[name] == pytest.approx(true, rel=0.05)


@pytest.mark.parametrize("method,budget,options", [
    ("lbfgsb", 120, {"starts": 4}), ("de", 480, {"popsize": 16}),
    ("twopointsde", 480, {"popsize": 16}), ("pso", 480, {"popsize": 16}),
    ("bayes", 20, {"batch": 5, "initial_points": 5})])
def test_every_method_improves_on_its_start_and_respects_bounds(gif_objective, method, budget,
                                                                options):
    events = []
    r = run_fit(gif_objective, method, seed=2, budget=budget, options=options,
                report=events.append, uncertainty=False, preview_interval=0.0)
    assert r.loss < r.start_loss
    assert r.evaluations <= budget + (options.get("starts", 0))
    for name, (lo, hi) in gif_objective.bounds.items():
        assert lo <= r.fitted[name] <= hi
    assert all(isinstance(e, FitProgress) and e.method == method for e in events)
    best = [e.best_loss for e in events]
    assert best == sorted(best, reverse=True) and len(events) == r.iterations
    assert any(e.preview is not None and e.preview.shape == (1500,) for e in events)
    again = run_fit(gif_objective, method, seed=2, budget=budget, options=options,
                    uncertainty=False)
    assert again.fitted == r.fitted  # seeds reproduce


@pytest.mark.parametrize("method", ["lbfgsb", "de"])
def test_a_passed_deadline_stops_after_the_first_result(gif_objective, method):
    """A deadline already past stops the optimizer at its first check that has a result: the
    fit returns that best-so-far point, marked stopped for time, well inside a budget that
    would otherwise run 10 000 evaluations."""
    import time

    r = run_fit(gif_objective, method, seed=0,
                budget=Budget(evaluations=10_000, deadline=time.monotonic() - 1.0),
                options={"popsize": 8} if method == "de" else {"starts": 2},
                uncertainty=False)
    assert r.stop_reason == "time"
    assert 0 < r.evaluations <= 64 and np.isfinite(r.loss)


def test_a_default_fit_time_budget_covers_the_work_after_the_optimizer():
    from core.fitting.cell import AFTER_FIT_FRACTION, _whole_fit_budget

    for uncertainty in (True, False):
        b = _whole_fit_budget(Budget(evaluations=500, seconds=60.0), 100.0, uncertainty)
        assert b.seconds is None and b.evaluations == 500
        assert b.deadline == pytest.approx(100.0 + 60.0 * (1 - AFTER_FIT_FRACTION[uncertainty]))
    assert AFTER_FIT_FRACTION[True] > AFTER_FIT_FRACTION[False]  # the Hessian needs its time
    assert _whole_fit_budget(Budget(evaluations=500), 100.0, True).deadline is None
    assert _whole_fit_budget(None, 100.0, True) is None


def test_available_methods_and_budgets():
    assert set(available_methods()) == {"lbfgsb", "hybrid", "de", "twopointsde", "pso", "bayes"}
    assert default_budget("bayes") < default_budget("de")
    with pytest.raises(OptimizerError):
        default_budget("newton")


# ---- jobs -----------------------------------------------------------------------------------
def _recording(p, with_stimulus=True):
    return Recording(tuple(Sweep(v, i if with_stimulus else None, p["dt"], number=k)
                           for k, (v, i) in enumerate(zip(p["V"], p["I"]))))


def test_fit_job_cancel_keeps_best_so_far(gif_problem):
    events = []
    job = FitJob(_recording(gif_problem), "gif", ["A1", "A2"], method="de", budget=10_000,
                 options={"popsize": 8}, data_spikes=gif_problem["spikes"], uncertainty=False)
    result = job.run(events.append, lambda: len(events) >= 3)
    assert result.cancelled and result.stop_reason == "cancelled"
    assert len(events) == 3 and result.evaluations == 24
    assert result.loss == pytest.approx(events[-1].best_loss)


def test_compare_job_runs_all_methods_and_saves(tmp_path, gif_problem):
    job = CompareJob(_recording(gif_problem), "gif", ["A1", "tau_I1"],
                     methods=["lbfgsb", "hybrid", "de", "twopointsde", "pso", "bayes"], seeds=2,
                     budgets={"lbfgsb": 40, "hybrid": 100, "de": 40, "twopointsde": 40,
                              "pso": 40, "bayes": 10},
                     options={"lbfgsb": {"starts": 2}, "hybrid": {"samples": 32, "batch": 16,
                                                                  "polish": 2},
                              "de": {"popsize": 8}, "twopointsde": {"popsize": 8},
                              "pso": {"popsize": 8}, "bayes": {"batch": 5, "initial_points": 5}},
                     fixed={"A2": -0.1, "tau_I2": 100.0}, data_spikes=gif_problem["spikes"],
                     truth=GIF_TRUTH)
    events = []
    comp = job.run(events.append, lambda: False)
    assert [r["method"] for r in comp.rows] == list(job.methods)
    for row in comp.rows:
        runs = [f for f in comp.fits if f.method == row["method"]]
        assert row["runs"] == 2
        assert row["loss_mean"] == pytest.approx(np.mean([f.loss for f in runs]))
        assert row["loss_sd"] == pytest.approx(np.std([f.loss for f in runs], ddof=1))
        assert row["param_error_mean"] is not None
    comp.to_hdf5(tmp_path / "c.h5")
    back = ComparisonResult.from_hdf5(tmp_path / "c.h5")
    assert [f.fitted for f in back.fits] == [f.fitted for f in comp.fits]
    text = comp.to_csv(tmp_path / "c.csv")
    assert text.splitlines()[0].startswith("method,runs,loss_mean")
    assert len(text.splitlines()) == 7


def test_fit_result_hdf5_roundtrip(tmp_path, gif_objective):
    r = run_fit(gif_objective, "de", seed=0, budget=32, options={"popsize": 16})
    r.to_hdf5(tmp_path / "r.h5")
    back = FitResult.from_hdf5(tmp_path / "r.h5")
    assert back.fitted == r.fitted and back.loss == r.loss and back.settings == r.settings
    np.testing.assert_array_equal(back.history, r.history)


# ---- errors ---------------------------------------------------------------------------------
def test_unknown_parameter_names(gif_problem):
    p = gif_problem
    with pytest.raises(ParameterError, match="no parameter"):
        Objective("gif", p["V"], p["I"], p["dt"], ["A1", "gNa"])
    with pytest.raises(ParameterError):
        Objective("gif", p["V"], p["I"], p["dt"], ["A1"], fixed={"bogus": 1.0})
    with pytest.raises(ParameterError):
        Objective("gif", p["V"], p["I"], p["dt"], [])


def test_bounds_not_bracketing(gif_problem):
    p = gif_problem
    with pytest.raises(ParameterError, match="bracket"):
        Objective("gif", p["V"], p["I"], p["dt"], ["A1"], bounds={"A1": (1.0, 0.5)})
    with pytest.raises(ParameterError, match="must be > 0"):
        Objective("gif", p["V"], p["I"], p["dt"], ["tau_I1"], bounds={"tau_I1": (-1.0, 5.0)})


def test_empty_window_and_missing_stimulus(gif_problem):
    with pytest.raises(RecordingError, match="holds no samples"):
        FitJob(_recording(gif_problem), "gif", ["A1"], window=(500.0, 600.0)).objective()
    with pytest.raises(StimulusMissingError):
        FitJob(_recording(gif_problem, with_stimulus=False), "gif", ["A1"]).objective()


def test_diverging_model_raises(gif_problem):
    p = gif_problem
    obj = Objective("gif", p["V"], p["I"] * 1e6, p["dt"], ["tau_V"], solver="euler",
                    bounds={"tau_V": (0.002, 0.004)}, fixed={"R": 500.0})
    with pytest.raises(DivergenceError):
        run_fit(obj, "de", seed=0, budget=16, options={"popsize": 8})


def test_optimizer_failures(gif_objective):
    with pytest.raises(OptimizerError, match="unknown optimizer"):
        run_fit(gif_objective, "newton")
    with pytest.raises(OptimizerError, match="popsize"):
        run_fit(gif_objective, "de", options={"popsize": 1})
    with pytest.raises(ParameterError):
        Budget(evaluations=0)
    with pytest.raises(ParameterError):
        LossSpec(vr_tau=-1.0)
    with pytest.raises(ParameterError):
        LossSpec(rate_tau=-1.0)
    with pytest.raises(ParameterError):
        LossSpec(rate_tau=float("nan"))
