"""The simulation engine against independent references: scipy's solve_ivp, analytic LIF rates,
plain NumPy loops, finite differences."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from core.errors import DivergenceError, ParameterError
from core.integrate import SOLVERS, Status, simulate, simulate_arrays
from core.integrate.solvers import get_solver
from core.models import GIF, LIF, MODELS, AdEx, HHCortical, HHSquid, Izhikevich
from core.surrogate import get_surrogate


def _rhs_numpy(model):
    """f(t, y) for solve_ivp from the model's own vector field, evaluated in NumPy float64."""
    keys = model.STATE

    def f(t, y, I):
        state = {k: jnp.asarray(v) for k, v in zip(keys, y)}
        d = model.vector_field(state, I(t))
        return np.array([float(d[k]) for k in keys])

    return f


def _hh_reference(model, I_amp, t_on, t_end):
    """Spike times (upward -20 mV crossings) of a current step, by solve_ivp (LSODA, tight tol)."""
    keys = model.STATE
    y0 = np.array([float(v) for v in model.init_state().values()])
    vf = jax.jit(lambda y, I: jnp.stack([model.vector_field(dict(zip(keys, y)), I)[k] for k in keys]))
    f = lambda t, y: np.asarray(vf(jnp.asarray(y), I_amp if t >= t_on else 0.0))
    sol = solve_ivp(f, (0, t_end), y0, method="LSODA", rtol=1e-10, atol=1e-10, max_step=0.01,
                    dense_output=True)
    t = np.arange(0, t_end, 0.001)
    V = sol.sol(t)[0]
    up = np.nonzero((V[1:] >= -20) & (V[:-1] < -20))[0]
    return t[up] + 0.001 * (-20 - V[up]) / (V[up + 1] - V[up])


@pytest.mark.parametrize("model,I_amp", [(HHSquid(), 0.1), (HHCortical(), 0.5)],
                         ids=["squid", "cortical"])
def test_hh_spike_times_match_solve_ivp(model, I_amp):
    dt, t_on, t_end = 0.01, 5.0, 60.0
    n = int(t_end / dt)
    stim = np.where(np.arange(n) * dt >= t_on, I_amp, 0.0)
    res = simulate(model, stim, dt, solver="rk4")
    V = np.asarray(res.V)
    t_end_of_step = (np.arange(n) + 1) * dt
    up = np.nonzero((V[1:] >= -20) & (V[:-1] < -20))[0]
    ours = t_end_of_step[up] + dt * (-20 - V[up]) / (V[up + 1] - V[up])
    ref = _hh_reference(model, I_amp, t_on, t_end)
    assert len(ref) >= 3, "the protocol should evoke a spike train"
    assert len(ours) == len(ref)
    np.testing.assert_allclose(ours, ref, atol=0.1)
    assert int(res.spike_counts()) == len(ref)


def _final_error(solver, dt, model, I_amp, t_end, ref):
    n = int(round(t_end / dt))
    res = simulate(model, np.full(n, I_amp), dt, solver=solver)
    return abs(float(res.V[-1]) - ref)


@pytest.mark.parametrize("solver,dts,expected", [
    ("rk4", [0.2, 0.1, 0.05, 0.025], 4),
    ("exp_euler", [0.1, 0.05, 0.025, 0.0125], 1),
    ("euler", [0.1, 0.05, 0.025, 0.0125], 1),
])
def test_convergence_order_on_subthreshold_hh(solver, dts, expected):
    model, I_amp, t_end = HHSquid(), 0.02, 8.0  # subthreshold: smooth
    y0 = np.array([float(v) for v in model.init_state().values()])
    sol = solve_ivp(lambda t, y: _rhs_numpy(model)(t, y, lambda t: I_amp), (0, t_end), y0,
                    method="DOP853", rtol=1e-12, atol=1e-12)
    ref = sol.y[0, -1]
    errors = [_final_error(solver, dt, model, I_amp, t_end, ref) for dt in dts]
    slope = np.polyfit(np.log(dts), np.log(errors), 1)[0]
    assert get_solver(solver).order == expected
    assert abs(slope - expected) < 0.35, (errors, slope)


def test_lif_rate_matches_analytic_formula():
    model = LIF(tau_m=20.0, R=100.0, V_rest=-70.0, V_reset=-70.0, V_th=-50.0, t_ref=2.0)
    currents = np.array([0.25, 0.3, 0.5, 1.0])  # nA; rheobase = 20 mV / 100 MOhm = 0.2 nA
    dt, T = 0.01, 1000.0
    stim = np.broadcast_to(currents, (int(T / dt), currents.size))
    res = simulate(model, stim, dt)
    # analytic: ISI = t_ref + tau ln(RI / (RI - (V_th - V_rest)))
    isi = 2.0 + 20.0 * np.log(100 * currents / (100 * currents - 20.0))
    spikes = np.asarray(res.spikes)
    for k in range(currents.size):
        times = np.nonzero(spikes[:, k])[0] * dt
        measured = np.diff(times).mean()
        assert measured == pytest.approx(isi[k], abs=2 * dt)
    below = simulate(model, np.full(1000, 0.19), 0.1)
    assert int(below.spike_counts()) == 0


def _gif_numpy(p, I, dt, scheme):
    """Plain NumPy loop of the GIF equations (App. F.3), exponential or forward Euler."""
    V, I1, I2 = p["V_rest"], 0.0, 0.0
    out_V, out_s = [], []
    for I_ext in I:
        V_inf = p["V_rest"] + p["R"] * (I1 + I2 + I_ext)
        if scheme == "exp_euler":
            V = V_inf + (V - V_inf) * np.exp(-dt / p["tau_V"])
            I1 *= np.exp(-dt / p["tau_I1"])
            I2 *= np.exp(-dt / p["tau_I2"])
        else:
            V, I1, I2 = (V + dt * (V_inf - V) / p["tau_V"], I1 - dt * I1 / p["tau_I1"],
                         I2 - dt * I2 / p["tau_I2"])
        s = V >= p["V_th"]
        if s:
            V, I1, I2 = p["V_reset"], p["A1"], I2 + p["A2"]
        out_V.append(V)
        out_s.append(float(s))
    return np.array(out_V), np.array(out_s)


@pytest.mark.parametrize("scheme", ["exp_euler", "euler"])
def test_gif_matches_numpy_loop_step_for_step(scheme):
    rng = np.random.default_rng(0)
    dt, n = 0.1, 3000
    I = 1.8 + 0.5 * rng.standard_normal(n)
    model = GIF()
    res = simulate(model, I, dt, solver=scheme)
    V_ref, s_ref = _gif_numpy(model.params(), I, dt, scheme)
    assert s_ref.sum() > 10
    np.testing.assert_array_equal(np.asarray(res.spikes), s_ref)
    np.testing.assert_allclose(np.asarray(res.V), V_ref, rtol=0, atol=1e-9)


@pytest.fixture(scope="module")
def hh_target():
    dt, n = 0.02, 1000
    stim = np.where((np.arange(n) * dt > 2.0), 0.4, 0.0)
    target = simulate(HHCortical(gNa=22.0, gK=5.0, gL=0.012), stim, dt, solver="exp_euler").V
    return stim, dt, np.asarray(target)


def test_gradient_through_simulation_matches_finite_differences(hh_target):
    stim, dt, target = hh_target
    solver, surrogate = get_solver("exp_euler"), get_surrogate("sigmoid")
    base = HHCortical()

    def loss(log_g):
        g = jnp.exp(log_g)
        model = base.replace(gNa=g[0], gK=g[1], gL=g[2])
        state = model.init_state((), jnp.float64)
        V, *_ = simulate_arrays(model, jnp.asarray(stim), dt, state, solver=solver,
                                surrogate=surrogate, unroll=4)
        return jnp.mean((V - target) ** 2)

    x0 = jnp.log(jnp.array([20.0, 6.0, 0.01]))
    value, grad = jax.jit(jax.value_and_grad(loss))(x0)
    f = jax.jit(loss)
    for i in range(3):
        h = 1e-5
        e = jnp.zeros(3).at[i].set(h)
        fd = (f(x0 + e) - f(x0 - e)) / (2 * h)
        assert float(grad[i]) == pytest.approx(float(fd), rel=1e-4, abs=1e-8 * float(value))


@pytest.mark.parametrize("model_cls", [GIF, LIF, AdEx])
def test_subthreshold_gradient_of_integrate_and_fire_models(model_cls):
    model = model_cls()
    stim = jnp.asarray(0.05 * np.sin(np.linspace(0, 6, 400)) + 0.05)
    names = [p.name for p in model.PARAMS if p.fitted and p.constraint == "positive"][:2]
    solver, surrogate = get_solver("rk4"), get_surrogate("sigmoid")

    def loss(x):
        m = model.replace(**{n: v for n, v in zip(names, x)})
        V, S, *_ = simulate_arrays(m, stim, 0.1, m.init_state((), jnp.float64), solver=solver,
                                   surrogate=surrogate)
        return jnp.mean((V + 60.0) ** 2), S.sum()

    x0 = jnp.array([float(getattr(model, n)) for n in names])
    (value, n_spikes), grad = jax.value_and_grad(loss, has_aux=True)(x0)
    assert float(n_spikes) == 0
    for i in range(len(names)):
        h = 1e-6 * float(x0[i])
        e = jnp.zeros(len(names)).at[i].set(h)
        fd = (loss(x0 + e)[0] - loss(x0 - e)[0]) / (2 * h)
        assert float(grad[i]) == pytest.approx(float(fd), rel=1e-5)


def test_chunked_run_equals_unchunked_exactly():
    rng = np.random.default_rng(1)
    I = 1.5 + 0.8 * rng.standard_normal((2503, 3))
    whole = simulate(GIF(), I, 0.1)
    seen = []
    chunked = simulate(GIF(), I, 0.1, chunk_size=500, on_chunk=lambda d, t: seen.append((d, t)))
    np.testing.assert_array_equal(np.asarray(whole.V), np.asarray(chunked.V))
    np.testing.assert_array_equal(np.asarray(whole.spikes), np.asarray(chunked.spikes))
    for k in whole.final_state:
        np.testing.assert_array_equal(whole.final_state[k], chunked.final_state[k])
    assert seen[-1] == (2503, 2503) and len(seen) == 6


def test_batched_parameters_equal_individual_runs():
    A2 = np.array([0.0, -0.1, -0.4])
    I = np.full(2000, 1.6)
    batch = simulate(GIF(A2=A2), I, 0.1)
    assert batch.V.shape == (2000, 3)
    for k, a in enumerate(A2):
        single = simulate(GIF(A2=float(a)), I, 0.1)
        np.testing.assert_allclose(np.asarray(batch.V[:, k]), np.asarray(single.V), atol=1e-12)
    counts = batch.spike_counts()
    assert counts[0] > counts[1] > counts[2]  # stronger adaptation current -> fewer spikes


@pytest.mark.parametrize("model,message", [
    (HHSquid(C=-0.01), "C must be > 0"),
    (GIF(tau_V=0.0), "tau_V must be > 0"),
    (LIF(tau_m=float("nan")), "tau_m must be a finite number"),
    (GIF(tau_I2=-5.0), "tau_I2 must be > 0"),
    (AdEx(DeltaT=0.0), "DeltaT must be > 0"),
    (Izhikevich(c=40.0), "must lie below"),
    (LIF(V_reset=-40.0), "V_reset must lie below"),
])
def test_bad_parameters_raise_parameter_error(model, message):
    with pytest.raises(ParameterError, match=message):
        simulate(model, np.zeros(10), 0.1)


@pytest.mark.parametrize("dt", [0.0, -0.1, float("nan")])
def test_bad_time_step_raises(dt):
    with pytest.raises(ParameterError, match="dt"):
        simulate(GIF(), np.zeros(10), dt)


def test_nan_stimulus_raises():
    with pytest.raises(ParameterError, match="NaN"):
        simulate(GIF(), np.array([0.0, np.nan, 0.0]), 0.1)


def test_diverging_simulation_reports_status_not_silent_nan():
    # forward Euler far beyond its stability limit on HH: blows up
    res = simulate(HHSquid(), np.full(200, 1.0), 0.5, solver="euler")
    assert int(res.status) in (Status.DIVERGED, Status.NAN)
    assert not res.ok
    with pytest.raises(DivergenceError, match="reduce dt"):
        res.raise_for_status()
    fine = simulate(HHSquid(), np.full(200, 0.1), 0.01)
    assert fine.ok and int(fine.status) == Status.OK


def test_every_model_runs_with_every_solver():
    for name, cls in MODELS.items():
        for solver in SOLVERS:
            res = simulate(cls(), np.full(300, 0.5), 0.02, solver=solver)
            assert res.ok, (name, solver)
            assert np.all(np.isfinite(np.asarray(res.V)))


def _gif_numpy_adaptive(p, I, dt):
    """NumPy loop of the GIF with Pozzorini's moving threshold and a refractory clamp
    (exponential Euler; V frozen while the refractory countdown runs)."""
    V, I1, I2, theta, ref = p["V_rest"], 0.0, 0.0, 0.0, 0.0
    out_V, out_s = [], []
    for I_ext in I:
        free = ref <= 0
        V_inf = p["V_rest"] + p["R"] * (I1 + I2 + I_ext)
        if free:
            V = V_inf + (V - V_inf) * np.exp(-dt / p["tau_V"])
        else:
            ref -= dt
        I1 *= np.exp(-dt / p["tau_I1"])
        I2 *= np.exp(-dt / p["tau_I2"])
        theta *= np.exp(-dt / p["tau_th"])
        s = ref <= 0 and V >= p["V_th"] + theta
        if s:
            V, I1, I2 = p["V_reset"], p["A1"], I2 + p["A2"]
            theta, ref = theta + p["A_th"], p["t_ref"]
        out_V.append(V)
        out_s.append(float(s))
    return np.array(out_V), np.array(out_s)


def test_gif_moving_threshold_and_refractory_match_numpy_loop():
    rng = np.random.default_rng(1)
    dt, n = 0.1, 4000
    I = 2.2 + 0.6 * rng.standard_normal(n)
    model = GIF(A_th=4.0, tau_th=30.0, t_ref=3.0)
    res = simulate(model, I, dt, solver="exp_euler")
    V_ref, s_ref = _gif_numpy_adaptive(model.params(), I, dt)
    assert s_ref.sum() > 10
    np.testing.assert_array_equal(np.asarray(res.spikes), s_ref)
    np.testing.assert_allclose(np.asarray(res.V), V_ref, rtol=0, atol=1e-9)
    # both mechanisms act: fewer spikes than without them, and no ISI shorter than t_ref
    plain = simulate(GIF(), I, dt, solver="exp_euler")
    assert s_ref.sum() < float(np.sum(plain.spikes))
    assert np.min(np.diff(np.nonzero(s_ref)[0])) * dt >= 3.0


def test_preview_decimation_keeps_every_bins_extremes_in_time_order():
    from core.integrate.jobs import peak_decimate

    rng = np.random.default_rng(3)
    t = np.arange(100_003) * 0.05
    y = np.cumsum(rng.normal(size=t.size))
    y[51_234] = 500.0  # a spike one sample wide must survive
    td, yd = peak_decimate(t, y, 2000)
    assert yd.size <= 2000 and td.size == yd.size
    assert np.all(np.diff(td) >= 0)
    assert yd.max() == 500.0 and yd.min() == y.min()
    # every kept point is a real sample at its own time
    idx = np.searchsorted(t, td)
    np.testing.assert_array_equal(y[idx], yd)
    # each of the 1000 bins (independent loop) contributes its own min and max
    edges = np.linspace(0, t.size, 1001).astype(int)
    for k in (0, 17, 512, 999):
        seg = y[edges[k]:edges[k + 1]]
        kept = yd[2 * k:2 * k + 2]
        assert set(kept) == {seg.min(), seg.max()}
    short_t, short_y = peak_decimate(t[:500], y[:500], 2000)
    np.testing.assert_array_equal(short_y, y[:500])
