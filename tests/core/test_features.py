"""core.features: cell measurements against hand computations, synthetic membranes and real cells.

Synthetic: a passive membrane tau dV/dt = -(V - E) + R I integrated exactly (zero-order hold) for
steps and a fluctuating current; R and tau must come back within a few %. Real (skipped without
../shared/data/real): v_rest and the steady-state input resistance recomputed here with NumPy
from the raw arrays, rheobase and spike counts from PROVENANCE.md, and the Pozzorini et al.
(2015) intrinsic reliability 0.740 (±2 ms) / 0.785 (±4 ms).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.errors import JobCancelled, RecordingError
from core.events import Event
from core.features import CellMeasurements, measure_cell, reliability
from core.features.jobs import MeasureJob
from core.features.stimulus import analyse_sweep
from core.io.recording import Provenance, Recording, Sweep

E, R, TAU = -70.0, 150.0, 20.0


def passive(I, dt, R=R, tau=TAU, E=E, noise=0.0, seed=0):
    """Exact integration of tau dV/dt = -(V - E) + R I with I held over each step."""
    a = np.exp(-dt / tau)
    V = np.empty(I.size)
    v = E + R * I[0]
    for k in range(I.size):
        V[k] = v
        vinf = E + R * I[k]
        v = vinf + (v - vinf) * a
    if noise:
        V = V + np.random.default_rng(seed).normal(0, noise, V.size)
    return V


def step_recording(amps=(-0.05, -0.1, -0.15), dt=0.05, R=R, tau=TAU, noise=0.05):
    n = int(600 / dt)
    t = dt * np.arange(n)
    sweeps = []
    for k, A in enumerate(amps):
        I = np.where((t >= 100) & (t < 400), A, 0.0)
        sweeps.append(Sweep(passive(I, dt, R, tau, noise=noise, seed=k), I, dt, 0.0, k))
    return Recording(tuple(sweeps), Provenance(path="synthetic_steps"))


def ou_current(n, dt, mean=0.05, sd=0.1, tau_c=3.0, seed=1):
    rng = np.random.default_rng(seed)
    a = np.exp(-dt / tau_c)
    x = np.empty(n)
    x[0] = 0.0
    z = rng.normal(0, sd * np.sqrt(1 - a * a), n)
    for k in range(1, n):
        x[k] = a * x[k - 1] + z[k]
    return mean + x


# --------------------------------------------------------------------------------------------
# synthetic
# --------------------------------------------------------------------------------------------
def test_step_passive_membrane_recovers_R_tau_and_rest():
    m = measure_cell(step_recording())
    assert m.stimulus_kind == "steps"
    assert m.v_rest == pytest.approx(E, abs=0.1)
    assert m.r_in == pytest.approx(R, rel=0.02)
    assert m.tau_m == pytest.approx(TAU, rel=0.05)
    assert m.c_m == pytest.approx(m.tau_m / m.r_in)
    assert m.fi_curve == ((-0.15, 0.0), (-0.1, 0.0), (-0.05, 0.0)) or \
        [a for a, _ in m.fi_curve] == pytest.approx([-0.15, -0.1, -0.05])
    assert m.rheobase is None and m.n_spikes == (0, 0, 0)
    assert any("no spikes" in w for w in m.warnings)
    assert m.v_threshold is None and m.v_ahp is None and m.reliability is None
    assert "eFEL" in m.methods["r_in"] and "3 hyperpolarising steps" in m.methods["r_in"]


def test_fluctuating_passive_membrane_recovers_R_tau_by_regression():
    dt, n, sub = 0.1, 100_000, 10
    I = ou_current(n, dt)
    # a continuous current sampled every dt: integrate on a 10x finer grid, linear in between
    fine = np.interp(np.arange(n * sub) * dt / sub, np.arange(n) * dt, I)
    V = passive(fine, dt / sub, noise=0.0)[::sub] + np.random.default_rng(0).normal(0, 0.02, n)
    m = measure_cell(Recording((Sweep(V, I, dt, 0.0, 0),), Provenance(path="synthetic_noise")))
    assert m.stimulus_kind == "fluctuating"
    assert m.r_in == pytest.approx(R, rel=0.03)
    assert m.tau_m == pytest.approx(TAU, rel=0.03)
    assert m.v_rest == pytest.approx(E, abs=0.5)
    assert "regression of dV/dt" in m.methods["r_in"]


def test_implausible_values_are_flagged_and_not_used():
    m = measure_cell(step_recording(R=0.5, noise=0.0005))
    assert m.r_in is None and m.c_m is None
    assert any("input resistance" in w and "below 1 MOhm" in w for w in m.warnings)
    dt, n = 0.1, 50_000
    I = ou_current(n, dt, sd=0.02)
    V = passive(I, dt, R=100.0, tau=1400.0)
    m = measure_cell(Recording((Sweep(V, I, dt, 0.0, 0),)))
    assert m.tau_m is None and m.c_m is None
    assert any("membrane time constant" in w and "exceeds 1000 ms" in w for w in m.warnings)


def _spiky(n=40_000, dt=0.05, rest=-65.0, times=(300.0, 700.0, 1100.0, 1500.0, 1800.0)):
    t = dt * np.arange(n)
    V = np.full(n, rest) + np.random.default_rng(3).normal(0, 0.05, n)
    for ts in times:  # rise from -50 to +30 in 0.5 ms, fall to -60 in 1.5 ms, recover 10 ms
        V += np.interp(t, ts + np.array([-2.0, 0.0, 0.5, 2.0, 12.0]),
                       np.array([0.0, 15.0, 95.0, 5.0, 0.0]), left=0, right=0)
    return Sweep(V, None, dt, 0.0, 0)


def test_no_current_gives_rest_and_spikes_and_names_the_missing_current():
    m = measure_cell(Recording((_spiky(),)))
    assert m.stimulus_kind == "none"
    assert m.v_rest == pytest.approx(-65.0, abs=0.05)
    assert m.n_spikes == (5,)
    np.testing.assert_allclose(m.spike_times[0], [300.25, 700.25, 1100.25, 1500.25, 1800.25], atol=0.1)
    assert m.r_in is None and m.tau_m is None and m.rheobase is None and m.fi_curve == ()
    assert any("no current" in w and "missing" in w for w in m.warnings)
    assert m.ap_peak == pytest.approx(-65.0 + 95.0, abs=1.0)
    assert m.v_threshold is not None and -66 < m.v_threshold < -40


def test_unusable_input_raises_recording_error():
    V = np.full(1000, -65.0)
    V[10] = np.nan
    with pytest.raises(RecordingError):
        measure_cell(Recording((Sweep(V, np.zeros(1000), 0.1),)))


def test_stimulus_detection_on_a_holding_current_with_noise():
    dt = 0.25
    t = dt * np.arange(4480)
    rng = np.random.default_rng(0)
    I = -0.066 + np.where((t >= 520) & (t < 720), -0.018, 0.0) + rng.normal(0, 0.0033, t.size)
    st = analyse_sweep(I, dt)
    assert st.kind == "steps" and st.baseline == pytest.approx(-0.066, abs=0.001)
    (e,) = st.epochs
    assert e.i0 * dt == pytest.approx(520, abs=1) and e.i1 * dt == pytest.approx(720, abs=1)
    assert e.level == pytest.approx(-0.018, abs=0.002)
    assert analyse_sweep(ou_current(20_000, 0.1), 0.1).kind == "fluctuating"


def test_as_dict_is_json_and_round_trips():
    m = measure_cell(Recording((_spiky(),)))
    d = json.loads(json.dumps(m.as_dict()))
    back = CellMeasurements.from_dict(d)
    for f in ("v_rest", "r_in", "v_threshold", "n_spikes", "fi_curve", "warnings", "methods",
              "stimulus_kind", "reliability"):
        assert getattr(back, f) == getattr(m, f)
    for a, b in zip(back.spike_times, m.spike_times):
        np.testing.assert_array_equal(a, b)


def test_reliability_of_identical_and_jittered_trains():
    train = np.arange(10.0, 1000.0, 50.0)
    rel = reliability([train, train, train], 1000.0)
    assert set(rel) == {"gamma_2ms", "gamma_4ms"}
    assert rel["gamma_2ms"] == pytest.approx(1.0) and rel["gamma_4ms"] == pytest.approx(1.0)
    assert reliability([train], 1000.0) == {}
    rel = reliability([train, train + 3.0], 1000.0)
    assert rel["gamma_4ms"] == pytest.approx(1.0) and rel["gamma_2ms"] < 0.1


def test_frozen_repetitions_get_a_reliability():
    dt, n = 0.1, 20_000
    I = ou_current(n, dt, mean=0.0, sd=0.05)
    sw = tuple(Sweep(passive(I, dt, noise=0.01, seed=k), I + 1e-4 * k, dt, 0.0, k)
               for k in range(3))
    m = measure_cell(Recording(sw))
    assert m.reliability == {"gamma_2ms": 1.0, "gamma_4ms": 1.0}  # no spikes anywhere: 1 by convention
    m2 = measure_cell(step_recording())
    assert m2.reliability is None


def test_measure_job_reports_and_cancels():
    events = []
    job = MeasureJob(Recording((_spiky(),)))
    m = job.run(events.append, lambda: False)
    assert isinstance(m, CellMeasurements) and m.n_spikes == (5,)
    assert all(isinstance(e, Event) for e in events) and events[-1].done == 1
    with pytest.raises(JobCancelled):
        MeasureJob(Recording((_spiky(),))).run(events.append, lambda: True)


# --------------------------------------------------------------------------------------------
# real recordings
# --------------------------------------------------------------------------------------------
def _open(shared_data, name):
    from core.io import open_recording

    path = shared_data / "real" / name
    if not path.exists():
        pytest.skip(f"{path} is absent")
    return open_recording(path)


def _hand_r(rec, epochs):
    """Steady-state dV/dI by NumPy: V base = median of the 50 ms before onset, steady state =
    mean of the last 50 ms of the step; slope of the least-squares line (through the origin with
    fewer than three amplitudes)."""
    dI, dV = [], []
    for k, t0, t1, amp in epochs:
        s = rec.sweeps[k]
        t = s.t
        vb = np.median(s.V[(t >= t0 - 50) & (t < t0)])
        ss = np.mean(s.V[(t >= t1 - 50) & (t < t1)])
        dI.append(amp)
        dV.append(ss - vb)
    if len(set(np.round(dI, 3))) >= 3:
        return np.polyfit(dI, dV, 1)[0]
    return np.sum(np.multiply(dV, dI)) / np.sum(np.square(dI))


def test_171116sh_0018_steps(shared_data, capfd):
    rec = _open(shared_data, "171116sh_0018.abf")
    m = measure_cell(rec)
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # eFEL silenced
    assert m.stimulus_kind == "steps"
    pre = np.concatenate([s.V[s.t < 147] for s in rec.sweeps])
    assert m.v_rest == pytest.approx(np.median(pre), abs=0.5)
    assert m.v_rest == pytest.approx(-62, abs=1.5)
    # hyperpolarising epochs starting from 0 pA without spikes before them (sweeps 0-15 for the
    # -100 pA epoch: sweep 16 fires right before it)
    epochs = [(k, 147, 647, (-100 + 25 * k) / 1000) for k in range(4)]
    epochs += [(k, 1147, 1647, -0.1) for k in range(16)]
    assert m.r_in == pytest.approx(_hand_r(rec, epochs), rel=0.05)
    assert 5 < m.tau_m < 100 and m.c_m == pytest.approx(m.tau_m / m.r_in)
    assert sum(m.n_spikes) == 117 and m.n_spikes[5] == 0 and m.n_spikes[6] > 0
    assert m.rheobase == pytest.approx(0.05, abs=0.026)
    amps = [a for a, _ in m.fi_curve]
    assert amps == pytest.approx([(-100 + 25 * k) / 1000 for k in range(17)])
    rates = [r for _, r in m.fi_curve]
    assert rates[-1] == pytest.approx(18.0) and all(np.diff(rates) >= 0)
    assert -50 < m.v_threshold < -20 and m.ap_peak > 40 and 0.3 < m.ap_width < 4
    assert m.v_ahp < m.v_threshold and m.ahp_depth == pytest.approx(m.v_threshold - m.v_ahp)
    assert m.reliability is None and m.warnings == ()


def test_18711001_steps_after_prepulse(shared_data):
    rec = _open(shared_data, "18711001.abf")
    m = measure_cell(rec)
    assert m.v_rest == pytest.approx(-67, abs=1.5)
    assert m.rheobase == pytest.approx(0.07, abs=0.011)
    assert [a for a, _ in m.fi_curve] == pytest.approx([k / 100 for k in range(30)])
    epochs = [(k, 23, 323, -0.1) for k in range(30)]
    assert m.r_in == pytest.approx(_hand_r(rec, epochs), rel=0.05)
    assert 5 < m.tau_m < 100 and sum(m.n_spikes) == 110


def test_incf_noisy_recorded_current(shared_data):
    d = shared_data / "real" / "incf2007_challengeB_C140201C"
    if not d.is_dir():
        pytest.skip(f"{d} is absent")
    from core.io import open_recording

    names = [f"IDRest_10{k}" for k in range(1, 6)] + ["IRrest_126", "IRrest_132"]
    sweeps = []
    for i, nm in enumerate(names):
        s = open_recording(d / f"traceascii_C140201C_{nm}.asc").sweeps[0]
        sweeps.append(Sweep(s.V, s.I, s.dt, s.t0, i))
    rec = Recording(tuple(sweeps), Provenance(path=str(d)))
    m = measure_cell(rec)
    assert m.v_rest == pytest.approx(-70, abs=2.0)
    amps = sorted(a for a, _ in m.fi_curve)
    np.testing.assert_allclose(amps, [-0.075, -0.018, 0.096, 0.139, 0.183, 0.232, 0.276], atol=0.006)
    assert m.rheobase == pytest.approx(0.139, abs=0.006)  # IDRest_101 (+96 pA) is silent
    assert m.n_spikes == (0, 14, 22, 29, 33, 0, 0)
    hold = [np.median(s.I[s.t < 500]) for s in sweeps[5:]]
    epochs = [(5 + j, 520, 720, np.mean(sweeps[5 + j].I[(sweeps[5 + j].t >= 530) & (sweeps[5 + j].t < 710)]) - h)
              for j, h in enumerate(hold)]
    assert m.r_in == pytest.approx(_hand_r(rec, epochs), rel=0.1)
    assert 5 < m.tau_m < 100 and -50 < m.v_threshold < -20


def _pozzorini(shared_data):
    d = shared_data / "real" / "pozzorini2015_L5_cell3"
    if not d.is_dir():
        pytest.skip(f"{d} is absent")
    binarywave = pytest.importorskip("igor2.binarywave")
    sweeps = []
    for i, k in enumerate(range(1009, 1018)):
        v = binarywave.load(d / f"Cell3_Ger1Test_ch2_{k}.ibw")["wave"]["wData"] * 1e3
        c = binarywave.load(d / f"Cell3_Ger1Test_ch3_{k}.ibw")["wave"]["wData"] * 1e9
        sweeps.append(Sweep(np.asarray(v, float), np.asarray(c, float), 0.1, 0.0, i))
    return Recording(tuple(sweeps), Provenance(path=str(d)))


def test_pozzorini_fluctuating_reliability_and_passive_regression(shared_data):
    rec = _pozzorini(shared_data)
    m = measure_cell(rec, spike_threshold=0.0)
    assert m.stimulus_kind == "fluctuating"
    assert m.n_spikes == (224, 220, 221, 226, 225, 231, 233, 234, 236)
    assert m.reliability["gamma_2ms"] == pytest.approx(0.740, abs=0.01)
    assert m.reliability["gamma_4ms"] == pytest.approx(0.785, abs=0.01)
    direct = reliability([s.spike_times(0.0) for s in rec.sweeps], 20_000.0)
    assert direct == m.reliability
    assert 20 < m.r_in < 1000 and 3 < m.tau_m < 100 and -80 < m.v_rest < -50
    assert m.rheobase is None and m.fi_curve == ()
