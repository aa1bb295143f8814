"""Locust antennal-lobe template: connectivity rules, odor response, RK4 state sanity."""

from __future__ import annotations

import numpy as np
import pytest

from core.network import run_network
from core.network.templates.locust_al import AntennalLobe


@pytest.fixture(scope="module")
def al():
    net = AntennalLobe(seed=1, odor_on=50.0, odor_off=250.0)
    return net, run_network(net, 300.0, chunk_ms=100.0, record=[0, 95])


def test_connectivity_follows_the_model(al):
    net, _ = al
    ach, gaba = net.params["W_ach"], net.params["W_gaba"]
    assert ach.shape == (90, 120) and gaba.shape == (30, 120)
    assert np.all(ach[:, :90] == 0)  # no PN -> PN
    assert (ach[:, 90:] > 0).mean() == pytest.approx(0.5, abs=0.08)
    assert (gaba[:, :90] > 0).mean() == pytest.approx(0.5, abs=0.08)
    assert np.all(np.diag(gaba[:, 90:]) == 0)
    # total conductance per postsynaptic LN is g_ach (shared by its partners)
    np.testing.assert_allclose(ach[:, 90:].sum(axis=0), 0.3, rtol=1e-6)


def test_pns_respond_to_odor_only(al):
    net, res = al
    pn = res.spike_i < 90
    before = pn & (res.spike_t < 50.0)
    during = pn & (res.spike_t >= 50.0) & (res.spike_t < 250.0)
    assert before.sum() == 0 and during.sum() > 20
    stimulated = net.odor_mask[:90] > 0
    counts = res.spike_counts[:90]
    assert counts[stimulated].mean() > 5 * max(counts[~stimulated].mean(), 0.1)
    assert np.all(np.isfinite(res.traces)) and res.traces.max() < 80.0


def test_al_rk4_step_is_the_classic_rk4_with_the_spike_clock_advancing_in_the_stages():
    """The template steps with the core RK4 solver; against RK4 written out by hand here (the
    time since the last spike at t, t + dt/2, t + dt in the four stages)."""
    import jax

    from core.network.templates import locust_al as al

    eng = al.build(seed=1, n_pn=5, n_ln=3)
    carry = eng.init_carry()
    import jax.numpy as jnp

    st = eng._static
    params = {k: jnp.asarray(v) for k, v in eng.params.items()}
    y = {k: jnp.asarray(v) for k, v in carry["y"].items()}
    rng = np.random.default_rng(0)
    I_ext = jnp.asarray(rng.normal(0, 3, 8), y["V"].dtype)
    ts = jnp.asarray(np.abs(rng.normal(0.2, 0.2, 8)), y["V"].dtype)  # some inside the 0.3 ms pulse
    f = lambda s, t: al.vector_field(st, params, s, I_ext, t)  # noqa: E731
    h = st.dt
    step = lambda a, k: jax.tree_util.tree_map(lambda x, d: x + a * d, y, k)  # noqa: E731
    k1 = f(y, ts)
    k2 = f(step(h / 2, k1), ts + h / 2)
    k3 = f(step(h / 2, k2), ts + h / 2)
    k4 = f(step(h, k3), ts + h)
    ref = jax.tree_util.tree_map(lambda x, a, b, c, d: x + h / 6 * (a + 2 * b + 2 * c + d),
                                 y, k1, k2, k3, k4)
    got = al.rk4(st, params, y, I_ext, ts)
    assert set(got) == set(ref)
    for key in ref:
        np.testing.assert_allclose(np.asarray(got[key]), np.asarray(ref[key]), rtol=1e-6,
                                   atol=1e-7, err_msg=key)
