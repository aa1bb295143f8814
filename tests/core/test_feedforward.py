"""Feed-forward spiking stacks: layer-first equals step-first (spikes exactly, gradients allclose)
and both equal a NumPy loop; the custom-VJP membrane scan against autodiff for every surrogate;
recurrent layers refuse layer-first; bad input gives clear errors."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import core  # noqa: F401  (enables x64)
from core.errors import ParameterError
from core.surrogate import SURROGATES, get_surrogate
from core.training.feedforward import (
    FeedForwardSNN,
    LayerFirstRefused,
    LIFLayer,
    lif_scan,
    lif_step,
)

B = 3


def _input(T, n_in, dtype, seed=1, p=0.3):
    rng = np.random.default_rng(seed)
    return (rng.random((T, B, n_in)) < p).astype(dtype)


def _loss_fn(net, x, mode, chunk=None):
    y = jnp.arange(B) % net.n_out

    def loss(params):
        logits, spikes = net.apply(params, x, mode=mode, time_chunk=chunk, return_spikes=True)
        logp = jax.nn.log_softmax(logits)
        return -jnp.mean(logp[jnp.arange(B), y]), (logits, spikes)

    return jax.jit(jax.value_and_grad(loss, has_aux=True))


CASES = [  # (arch, T, net kwargs, dtype, time_chunk)
    ("12-16-4", 1, dict(surrogate="sigmoid"), "float64", None),
    ("12-20-16-4", 30, dict(surrogate="arctan", reset="zero"), "float32", 7),
    ("12-16-16-16-4", 20, dict(surrogate="piecewise_quadratic", refractory=2), "float64", 6),
    ("12-24-5", 25, dict(surrogate="gaussian_grad", readout="count", reset="zero",
                         refractory=1), "float32", None),
    ("12-16-16-4", 17, dict(surrogate="slayer_grad", detach_reset=True), "float32", 5),
]


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{c[0]}-T{c[1]}-{c[3]}")
def both_modes(request):
    arch, T, kw, dtype, chunk = request.param
    net = FeedForwardSNN.from_arch(arch, dtype=dtype, **kw)
    params = net.init(jax.random.PRNGKey(0))
    x = _input(T, net.n_in, dtype)
    step = _loss_fn(net, x, "step_first")(params)
    layer = _loss_fn(net, x, "layer_first", chunk)(params)
    return net, params, x, step, layer


def test_same_spikes_and_gradients(both_modes):
    net, params, x, ((l_s, (lg_s, sp_s)), g_s), ((l_l, (lg_l, sp_l)), g_l) = both_modes
    rtol = 1e-4 if net.dtype == "float32" else 1e-10
    assert len(sp_s) == len(sp_l) == len(net.spiking_layers)
    for a, b in zip(sp_s, sp_l):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # the network is not silent and not saturated, so equality means something
    rates = [float(np.mean(s)) for s in sp_s]
    assert all(0.01 < r < 0.9 for r in rates), rates
    np.testing.assert_allclose(lg_l, lg_s, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(l_l, l_s, rtol=rtol)
    for a, b in zip(jax.tree_util.tree_leaves(g_s), jax.tree_util.tree_leaves(g_l)):
        scale = float(np.max(np.abs(a)))
        assert scale > 0
        np.testing.assert_allclose(b, a, rtol=rtol, atol=rtol * scale)


def _numpy_forward(net, params, x):
    """Plain NumPy loop over time and layers (float64), the equations of the module doc."""
    T = x.shape[0]
    h_all = np.asarray(x, np.float64)
    spikes = []
    for lyr, p in zip(net.spiking_layers, params):
        W, b = np.asarray(p["W"], np.float64), np.asarray(p["b"], np.float64)
        beta = np.exp(-net.dt / lyr.tau_m)
        V = np.zeros((B, lyr.n))
        r = np.zeros((B, lyr.n), int)
        S = np.zeros((T, B, lyr.n))
        for t in range(T):
            I = h_all[t] @ W + b
            active = r == 0
            V = np.where(active, beta * V + I, V)
            s = (active & (V >= lyr.threshold)).astype(float)
            V = V - lyr.threshold * s if lyr.reset == "subtract" else V * (1 - s)
            r = np.where(s > 0, lyr.refractory, np.maximum(r - 1, 0))
            S[t] = s
        spikes.append(S)
        h_all = S
    if net.readout == "count":
        return h_all.sum(0), spikes
    p = params[-1]
    beta_o = np.exp(-net.dt / net.tau_out)
    U = np.zeros((B, net.n_out))
    acc = np.zeros_like(U)
    for t in range(T):
        U = beta_o * U + h_all[t] @ np.asarray(p["W"]) + np.asarray(p["b"])
        acc += U
    return acc / T, spikes


@pytest.mark.parametrize("kw", [dict(reset="zero", refractory=3), dict(readout="count")])
def test_layer_first_matches_numpy_loop(kw):
    net = FeedForwardSNN.from_arch("10-14-12-4", dtype="float64", **kw)
    params = net.init(jax.random.PRNGKey(3))
    params[0]["b"] = params[0]["b"] + 0.05  # a bias the loop must add too
    x = _input(40, 10, "float64", seed=5)
    logits, spikes = jax.jit(lambda p, x: net.apply(p, x, mode="layer_first",
                                                    return_spikes=True))(params, x)
    ref_logits, ref_spikes = _numpy_forward(net, params, x)
    for a, b in zip(spikes, ref_spikes):
        np.testing.assert_array_equal(np.asarray(a), b)
    assert np.asarray(spikes[-1]).sum() > 0
    np.testing.assert_allclose(logits, ref_logits, rtol=1e-10, atol=1e-10)


def test_lif_scan_vjp_equals_autodiff_for_every_surrogate():
    """The hand-written backward of the membrane scan equals JAX autodiff through T calls of the
    same step with each of the 18 surrogates (one compile for all; reset to zero and a
    refractory period: the backward's longest path)."""
    layer = LIFLayer(6, reset="zero", refractory=1)
    beta = layer.beta(1.0)
    rng = np.random.default_rng(0)
    I = jnp.asarray(rng.normal(0.4, 0.8, size=(15, 2, 6)))
    V0 = jnp.asarray(rng.normal(0.2, 0.3, size=(2, 6)))
    r0 = jnp.zeros((2, 6), jnp.int32)
    gS = jnp.asarray(rng.normal(size=(15, 2, 6)))
    gV = jnp.asarray(rng.normal(size=(2, 6)))
    sur = [get_surrogate(name) for name in sorted(SURROGATES)]
    assert len(sur) == 18

    def reference(s):
        def f(I, V0):
            def body(c, I_t):
                V, r, s_ = lif_step(layer, beta, s, c[0], c[1], I_t)
                return (V, r), s_
            (VT, _), S = jax.lax.scan(body, (V0, r0), I)
            return jnp.sum(S * gS) + jnp.sum(VT * gV)
        return jax.grad(f, argnums=(0, 1))(I, V0)

    def custom(s):
        def f(I, V0):
            S, VT, _ = lif_scan(layer, beta, s, I, V0, r0)
            return jnp.sum(S * gS) + jnp.sum(VT * gV)
        return jax.grad(f, argnums=(0, 1))(I, V0)

    ref, got = jax.jit(lambda: ([reference(s) for s in sur], [custom(s) for s in sur]))()
    for s, (rI, rV), (cI, cV) in zip(sur, ref, got):
        assert float(jnp.max(jnp.abs(rI))) > 0, s.name
        np.testing.assert_allclose(cI, rI, rtol=1e-12, atol=1e-12, err_msg=s.name)
        np.testing.assert_allclose(cV, rV, rtol=1e-12, atol=1e-12, err_msg=s.name)


def test_under_vmap_and_jit():
    """vmap over independent batches (and over parameter sets) gives each element's spikes."""
    net = FeedForwardSNN.from_arch("8-12-3", dtype="float32")
    p0, p1 = net.init(jax.random.PRNGKey(0)), net.init(jax.random.PRNGKey(1))
    params = jax.tree_util.tree_map(lambda a, b: jnp.stack([a, b]), p0, p1)
    xs = np.stack([_input(12, 8, "float32", seed=s) for s in (1, 2)])
    for mode in ("layer_first", "step_first"):
        f = jax.jit(jax.vmap(lambda p, x, m=mode: net.apply(p, x, mode=m, return_spikes=True)))
        logits, spikes = f(params, xs)
        for k, p in enumerate((p0, p1)):
            lg, sp = net.apply(p, xs[k], mode="step_first", return_spikes=True)
            np.testing.assert_array_equal(np.asarray(spikes[0][k]), np.asarray(sp[0]))
            np.testing.assert_allclose(logits[k], lg, rtol=1e-5, atol=1e-6)


def test_recurrent_layer_refuses_layer_first():
    net = FeedForwardSNN.from_arch("8-10-10-3", recurrent=True, dtype="float64")
    modes, notes = net.plan("layer_first")
    assert modes == ("step_first", "step_first")
    assert "depends on its own output at step t-1" in notes[0]
    assert net.plan("step_first") == (("step_first",) * 2, ())
    mixed = FeedForwardSNN(8, (LIFLayer(10), LIFLayer(10, recurrent=True)), 3,
                           dtype="float64")
    assert mixed.plan("layer_first")[0] == ("layer_first", "step_first")
    x = _input(20, 8, "float64")
    for model in (net, mixed):
        params = model.init(jax.random.PRNGKey(2))
        with pytest.warns(LayerFirstRefused, match="cannot run layer_first"):
            lf, sp_l = jax.jit(lambda p, x, m=model: m.apply(
                p, x, mode="layer_first", return_spikes=True))(params, x)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # step_first never warns
            sf, sp_s = jax.jit(lambda p, x, m=model: m.apply(
                p, x, mode="step_first", return_spikes=True))(params, x)
        for a, b in zip(sp_s, sp_l):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert float(np.mean(sp_s[-1])) > 0
        np.testing.assert_allclose(lf, sf, rtol=1e-10)


def test_bad_input_is_a_clear_error():
    net = FeedForwardSNN.from_arch("8-10-3")
    params = net.init(jax.random.PRNGKey(0))
    with pytest.raises(ParameterError, match=r"shape \(T, batch, 8\)"):
        net.apply(params, np.zeros((5, 2, 7), np.float32))
    with pytest.raises(ParameterError, match=r"shape \(T, batch, 8\)"):
        net.apply(params, np.zeros((5, 8), np.float32))
    with pytest.raises(ParameterError, match="T = 0"):
        net.apply(params, np.zeros((0, 2, 8), np.float32))
    bad = np.zeros((5, 2, 8), np.float32)
    bad[2, 1, 3] = np.nan
    with pytest.raises(ParameterError, match="NaN"):
        net.apply(params, bad)
    with pytest.raises(ParameterError, match="mode must be one of"):
        net.apply(params, np.zeros((5, 2, 8), np.float32), mode="pipeline")
    with pytest.raises(ParameterError, match="arch"):
        FeedForwardSNN.from_arch("64-x-10")
    with pytest.raises(ParameterError, match="reset"):
        FeedForwardSNN.from_arch("4-4-2", reset="never")
    with pytest.raises(ValueError, match="unknown surrogate"):
        FeedForwardSNN.from_arch("4-4-2", surrogate="nope")
