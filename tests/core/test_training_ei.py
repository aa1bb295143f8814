"""The E/I network's numerics: a NumPy loop, CSR == dense (values and gradients, jit, vmap), BPTT
against finite differences, online == detached BPTT, memory flat in T, non-finite gradients."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import core  # noqa: F401
from core.errors import ParameterError
from core.tasks.evidence_accumulation import EvidenceTask, sample_batch
from core.training import ei_network
from core.training.bptt import bptt_grad, gradient_report, trial_loss
from core.training.ei_network import EINetConfig, NeuronParams, init_network, run_trials
from core.training.online import cosine, online_grad

TASK = EvidenceTask(n_cues=2, cue_ms=15, gap_ms=5, delay_ms=10, recall_ms=15, n_group=6,
                    rate_cue=150.0, rate_bg=40.0)
B = 6


def _cfg(**kw):
    base = dict(n_exc=12, n_inh=4, n_in=TASK.n_in, p=0.3, dtype="float64", s_in=1.0,
                s_rec=0.3, neurons=NeuronParams(A1=0.02, A2=-0.05, tau_I2=80.0),
                synapses="csr")
    return EINetConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def setup():
    cfg = _cfg()
    st, params = init_network(cfg, 3)
    x, labels, _ = sample_batch(5, 0, TASK, B, jnp.float64)
    return cfg, st, params, x, labels, TASK.recall_mask()


def _numpy_loop(cfg, st, params, x):
    """The module docstring's equations, step by step in NumPy (float64)."""
    c = ei_network.constants(cfg)
    W = {k: np.asarray(v) for k, v in ei_network.dense_weights(
        st, ei_network.effective(params)).items()}
    w_out, b_out = np.asarray(params["w_out"]), np.asarray(params["b_out"])
    x = np.asarray(x)
    T, nb, _ = x.shape
    n, ne = cfg.n, cfg.n_exc
    v, I1, I2, ge, gi, zeta, z = (np.zeros((nb, n)) for _ in range(7))
    ys, zs = [], []
    for t in range(T):
        ge = c.lam * ge + z[:, :ne] @ W["W_e"] + x[t] @ W["W_in"]
        gi = c.lam * gi + z[:, ne:] @ W["W_i"]
        u = v + c.a * (-v + c.Rp * (I1 + I2) + ge * (c.e_exc - v) + gi * (c.e_inh - v))
        I1, I2 = I1 * c.d_I1, I2 * c.d_I2
        z = (u >= 1.0).astype(float)
        v = np.where(z > 0, c.v_reset, u)
        I1 = np.where(z > 0, c.A1, I1)
        I2 = I2 + z * c.A2
        zeta = c.kappa * zeta + z
        ys.append(zeta @ w_out + b_out)
        zs.append(z)
    return np.array(ys), np.array(zs)


def test_forward_matches_numpy_loop_csr_and_dense(setup):
    cfg, st, params, x, labels, mask = setup
    ys_ref, z_ref = _numpy_loop(cfg, st, params, x)
    assert 0.02 < z_ref.mean() < 0.5  # the network is active but not saturated
    for syn in ("csr", "dense"):
        ys, z, _ = run_trials(cfg.replace(synapses=syn), st, params, x, record=True)
        np.testing.assert_array_equal(np.asarray(z), z_ref > 0)
        np.testing.assert_allclose(np.asarray(ys), ys_ref, rtol=1e-10, atol=1e-12)


def _grad(cfg, st, params, x, labels, mask, **kw):
    return bptt_grad(cfg, st, params, lambda t: x[t], TASK.T, B, labels, mask, **kw)


def test_csr_gradients_equal_dense_under_jit_and_vmap(setup):
    cfg, st, params, x, labels, mask = setup
    f = {syn: jax.jit(lambda p, xx, syn=syn: _grad(cfg.replace(synapses=syn), st, p, xx,
                                                   labels, mask)) for syn in ("csr", "dense")}
    lc, _, _, gc = f["csr"](params, x)
    ld, _, _, gd = f["dense"](params, x)
    assert float(lc) == pytest.approx(float(ld), rel=1e-12)
    for k in gd:
        assert np.abs(np.asarray(gd[k])).max() > 0, k
        np.testing.assert_allclose(np.asarray(gc[k]), np.asarray(gd[k]), rtol=1e-9, atol=1e-12)
    # vmap over two input batches: each equals its own unbatched gradient
    x2 = jnp.stack([x, x[:, ::-1]])
    batched = jax.vmap(lambda xx: f["csr"](params, xx)[3])(x2)
    single = f["dense"](params, x[:, ::-1])[3]
    for k in single:
        np.testing.assert_allclose(np.asarray(batched[k][1]), np.asarray(single[k]),
                                   rtol=1e-9, atol=1e-12)


class _SmoothSpike:
    """A smooth 'spike' (a steep logistic) whose backward is its true derivative: with the reset
    not detached, BPTT is then the exact gradient, which finite differences must reproduce."""

    beta = 6.0

    def __call__(self, x):
        return jax.nn.sigmoid(self.beta * x)

    def grad(self, x):
        s = jax.nn.sigmoid(self.beta * x)
        return self.beta * s * (1 - s)


def test_bptt_matches_finite_differences(setup, monkeypatch):
    _, st, params, x, labels, mask = setup
    monkeypatch.setattr(ei_network, "get_surrogate", lambda name, **kw: _SmoothSpike())
    cfg = _cfg(detach_reset=False)
    loss = jax.jit(lambda p: trial_loss(cfg, st, p, lambda t: x[t], TASK.T, B, labels,
                                        mask)[0])
    _, _, _, g = _grad(cfg, st, params, x, labels, mask)
    rng = np.random.default_rng(0)
    eps = 1e-6
    for name in ("w_e", "w_i", "w_in", "w_out", "b_out"):
        size = np.asarray(params[name]).size
        for i in rng.choice(size, min(2, size), replace=False):
            e = np.zeros(np.asarray(params[name]).size)
            e[i] = eps
            e = jnp.asarray(e.reshape(np.shape(params[name])))
            up = dict(params, **{name: params[name] + e})
            dn = dict(params, **{name: params[name] - e})
            fd = (float(loss(up)) - float(loss(dn))) / (2 * eps)
            an = float(np.asarray(g[name]).ravel()[i])
            assert an == pytest.approx(fd, rel=1e-4, abs=1e-9), (name, i)


def test_online_exact_rule_equals_detached_bptt(setup):
    cfg, st, params, x, labels, mask = setup
    cfg = cfg.replace(synapses="dense")  # CSR == dense is tested above; dense compiles faster
    fn = lambda t: x[t]
    l_b, c_b, _, g_b = _grad(cfg, st, params, x, labels, mask, detach_recurrent=True)
    l_o, c_o, _, g_o = online_grad(cfg, st, params, fn, TASK.T, B, labels, mask, rule="d-rtrl")
    assert float(l_o) == pytest.approx(float(l_b), rel=1e-10)
    np.testing.assert_array_equal(np.asarray(c_o), np.asarray(c_b))
    assert cosine(g_o, g_b) > 0.999
    for k in g_b:
        np.testing.assert_allclose(np.asarray(g_o[k]), np.asarray(g_b[k]), rtol=1e-7,
                                   atol=1e-10 * float(np.abs(np.asarray(g_b[k])).max()))
    # the O(neurons) factorised rule: close to the exact one, exact for the readout
    _, _, _, g_f = online_grad(cfg, st, params, fn, TASK.T, B, labels, mask)
    assert cosine(g_f, g_b, ["w_e", "w_i", "w_in"]) > 0.9
    np.testing.assert_allclose(np.asarray(g_f["w_out"]), np.asarray(g_b["w_out"]), rtol=1e-9)
    # and full BPTT is a different gradient (recurrence matters), so the test can tell
    _, _, _, g_full = _grad(cfg, st, params, x, labels, mask)
    assert cosine(g_full, g_b, ["w_e", "w_i"]) < 0.999


def _temp_bytes(fn, *args):
    return jax.jit(fn).lower(*args).compile().memory_analysis().temp_size_in_bytes


def test_online_memory_does_not_grow_with_T():
    cfg = _cfg(dtype="float32", synapses="dense")
    st, params = init_network(cfg, 0)
    sizes = {}
    for T in (40, 200):
        mask = np.zeros(T, np.float32)
        mask[-10:] = 1.0
        labels = jnp.zeros(B, jnp.int32)
        fn = lambda t: jnp.full((B, cfg.n_in), 0.05, jnp.float32) * (t % 3 == 0)
        args = (fn, T, B, labels, mask)
        sizes[("online", T)] = _temp_bytes(
            lambda p, a=args: online_grad(cfg, st, p, *a)[3], params)
        sizes[("bptt", T)] = _temp_bytes(
            lambda p, a=args: bptt_grad(cfg, st, p, *a, checkpoint=None)[3], params)
    assert sizes[("online", 200)] / sizes[("online", 40)] < 1.1, sizes
    assert sizes[("bptt", 200)] / sizes[("bptt", 40)] > 2.5, sizes


def test_nonfinite_gradients_are_reported(setup):
    cfg, st, params, x, labels, mask = setup
    bad = dict(params, w_e=params["w_e"].at[0].set(jnp.inf))
    _, _, _, g = _grad(cfg, st, bad, x, labels, mask)
    finite, message = gradient_report(jax.device_get(g))
    assert not finite and "w_e" in message and "non-finite" in message
    finite, message = gradient_report(jax.device_get(_grad(cfg, st, params, x, labels,
                                                           mask)[3]))
    assert finite and message == ""


@pytest.mark.parametrize("kw, message", [
    (dict(n_exc=0), "n_exc"),
    (dict(n_inh=0), "n_inh"),
    (dict(p=0.0), r"\(0, 1\]"),
    (dict(p=1.5), r"\(0, 1\]"),
    (dict(synapses="sparse"), "synapses"),
    (dict(surrogate="nope"), "unknown surrogate"),
])
def test_bad_network_settings(kw, message):
    with pytest.raises(ParameterError, match=message):
        _cfg(**kw)


def test_neurons_from_a_fit_file(tmp_path):
    from core.fitting.results import FitResult

    def fit(model, params):
        return FitResult(method="lbfgsb", seed=0, model=model, free=list(params),
                         params=params, fitted=params, loss=1.0, objective=1.0, gamma=0.5,
                         gamma_loss=0.5, n_model_spikes=1, n_data_spikes=1, evaluations=1,
                         iterations=1, seconds=0.1, compile_seconds=0.1, start_loss=2.0)

    gif = {"tau_V": 15.0, "R": 40.0, "V_rest": -70.0, "V_reset": -65.0, "V_th": -50.0,
           "A1": 0.1, "A2": -0.02, "tau_I1": 8.0, "tau_I2": 300.0, "A_th": 2.0,
           "tau_th": 40.0, "t_ref": 2.0}
    fit("gif", gif).to_hdf5(tmp_path / "gif.h5")
    nrn = NeuronParams.from_fit(tmp_path / "gif.h5")
    assert {k: getattr(nrn, k) for k in gif} == gif
    c = ei_network.constants(_cfg(neurons=nrn))
    assert c.a == pytest.approx(1 / 15.0) and c.Rp == pytest.approx(40.0 / 20.0)
    assert c.e_exc == pytest.approx(70.0 / 20.0) and c.e_inh == pytest.approx(-50.0 / 20.0)
    assert c.v_reset == pytest.approx(0.25) and c.A_th == pytest.approx(0.1)
    fit("lif", {"tau_m": 10.0}).to_hdf5(tmp_path / "lif.h5")
    with pytest.raises(ParameterError, match="'lif' model"):
        NeuronParams.from_fit(tmp_path / "lif.h5")
    with pytest.raises(ParameterError, match="V_th"):
        dataclasses.replace(nrn, V_th=-80.0)
    assert math.isclose(NeuronParams().V_scale, 20.0) and NeuronParams().V_offset == 60.0


def test_adaptation_carries_the_cue_across_the_delay_into_the_online_gradient():
    """A delay far longer than the membrane, synapse and readout memories (20 + 10 + 20 ms):
    with the recurrence detached, a cue can only reach the recall-window loss through the
    adaptation current, so the cue-input weights have a gradient exactly when there is
    adaptation; the factorised rule follows the exact one there (its adaptation part has its
    own presynaptic factor)."""
    task = EvidenceTask(n_cues=2, cue_ms=15, gap_ms=5, delay_ms=150, recall_ms=15, n_group=6,
                        rate_cue=150.0, rate_bg=40.0)
    x, labels, _ = sample_batch(5, 0, task, B, jnp.float64)
    mask, fn = task.recall_mask(), (lambda t: x[t])
    cue = np.zeros(task.n_in, bool)
    cue[task.group_slice("left")] = cue[task.group_slice("right")] = True
    norms = {}
    for A2 in (0.0, -0.05):
        cfg = _cfg(synapses="dense", neurons=NeuronParams(A2=A2, tau_I2=500.0))
        st, params = init_network(cfg, 3)
        _, _, _, g_x = online_grad(cfg, st, params, fn, task.T, B, labels, mask, rule="d-rtrl")
        _, _, _, g_f = online_grad(cfg, st, params, fn, task.T, B, labels, mask)
        W = np.asarray(st.csr_in.with_weights(g_x["w_in"]).to_dense())
        norms[A2] = np.abs(W[cue]).sum() / np.abs(W).sum()
        if A2:
            assert cosine(g_f, g_x, ["w_in"]) > 0.95
            assert cosine(g_f, g_x, ["w_e", "w_i", "w_in"]) > 0.9
    assert norms[-0.05] > 30 * norms[0.0]  # measured: 0.107 vs 0.0008 (membrane leftover)
