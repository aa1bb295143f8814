"""EI evidence-accumulation template: shapes, Dale's law, weight initialisation, a step against
NumPy, differentiability, input schedule."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from core.network import run_network
from core.network.templates.ei_evidence import (
    EINetwork,
    ei_step,
    init_params,
    init_state,
    scaled_gif,
)


@pytest.fixture(scope="module")
def net():
    return EINetwork(seed=4)


@pytest.fixture(scope="module")
def result(net):
    return run_network(net, 2000.0, chunk_ms=500.0, record=[0, 330])


def test_shapes_and_populations(net):
    sizes = {p.name: p.size for p in net.populations}
    assert sizes == {"E": 320, "I": 80, "in_left": 25, "in_right": 25, "in_recall": 25,
                     "in_background": 25}
    w = net.weights
    assert w["w_rec"].shape == (400, 400) and w["w_in"].shape == (100, 400)
    assert w["w_out"].shape == (400, 2)


def test_dale_law_and_initialisation(net):
    w = np.asarray(net.weights["w_rec"])
    mask = np.asarray(net.weights["mask"])
    assert np.all(w >= 0) and np.all(w[mask == 0] == 0) and np.all(np.diag(mask) == 0)
    assert mask.mean() == pytest.approx(0.1, abs=0.01)
    # |N(0,1)| sqrt(s/n_in): mean sqrt(2/pi) sqrt(s/n_in) over connected pairs
    s, fan_in = net.settings["s_rec"], 0.1 * 400
    assert w[mask > 0].mean() == pytest.approx(math.sqrt(2 / math.pi) * math.sqrt(s / fan_in),
                                               rel=0.05)
    # an excitatory spike raises only g_e, an inhibitory one only g_i
    st = net._static
    state = init_state(net.model, 400)
    z = jnp.zeros(400).at[3].set(1.0)
    new, _ = ei_step(st, net.model, net.weights, {**state, "z": z}, jnp.zeros(100))
    assert np.all(np.asarray(new["g_i"]) == 0) and np.asarray(new["g_e"]).max() > 0
    z = jnp.zeros(400).at[350].set(1.0)
    new, _ = ei_step(st, net.model, net.weights, {**state, "z": z}, jnp.zeros(100))
    assert np.all(np.asarray(new["g_e"]) == 0) and np.asarray(new["g_i"]).max() > 0


def test_one_step_matches_numpy(net):
    st, s = net._static, net.settings
    rng = np.random.default_rng(0)
    v = rng.uniform(-0.5, 1.2, 400)
    g_e, g_i = rng.uniform(0, 0.5, 400), rng.uniform(0, 0.5, 400)
    z_prev = (rng.random(400) < 0.1).astype(float)
    x = (rng.random(100) < 0.2).astype(float)
    model = scaled_gif(s, 400, jnp.float64)
    w = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), net.weights)
    state = {"neuron": model.init_state((400,)) | {"V": jnp.asarray(v)},
             "g_e": jnp.asarray(g_e), "g_i": jnp.asarray(g_i), "y": jnp.zeros(2),
             "z": jnp.asarray(z_prev)}
    new, z = ei_step(st, model, w, state, jnp.asarray(x))
    # independent: scaled GIF Euler step with conductance input, reset to 0 on v >= 1
    e_exc, e_inh = (s["E_exc"] + 60) / 20, (s["E_inh"] + 60) / 20
    v1 = v + s["dt"] / s["tau_V"] * (-v + g_e * (e_exc - v) + g_i * (e_inh - v))
    spike = v1 >= 1.0
    W = np.asarray(w["w_rec"])
    np.testing.assert_array_equal(np.asarray(z), spike.astype(float))
    np.testing.assert_allclose(np.asarray(new["neuron"]["V"]), np.where(spike, 0.0, v1),
                               rtol=1e-12, atol=1e-12)
    decay = math.exp(-s["dt"] / s["tau_syn"])
    np.testing.assert_allclose(np.asarray(new["g_e"]), g_e * decay + z_prev[:320] @ W[:320]
                               + x @ np.asarray(w["w_in"]), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(new["g_i"]), g_i * decay + z_prev[320:] @ W[320:],
                               rtol=1e-12)


def test_step_is_differentiable_through_spikes(net):
    st = net._static
    x = (jax.random.uniform(jax.random.key(0), (60, 100)) < 0.3).astype(jnp.float32)

    def loss(w_in):
        weights = {**net.weights, "w_in": w_in}

        def body(state, x_t):
            state, z = ei_step(st, net.model, weights, state, x_t)
            return state, z.sum()

        state, counts = jax.lax.scan(body, init_state(net.model, 400), x)
        return jnp.sum(state["y"] ** 2) + counts.sum() * 1e-3

    g = jax.grad(loss)(net.weights["w_in"])
    assert np.all(np.isfinite(np.asarray(g))) and float(jnp.abs(g).max()) > 0


def test_run_activity_and_schedule(result, net):
    rates = result.mean_rates()
    assert 1.0 < rates["E"] < 100.0 and 1.0 < rates["I"] < 100.0
    assert rates["in_background"] == pytest.approx(10.0, rel=0.15)
    # cues: the recall group is silent outside recall windows, left/right only during cues
    L = net.trial_steps * net.dt
    recall = result.spike_t[result.population_of(result.spike_i) == 4] % L
    assert recall.size and recall.min() >= L - net.settings["recall_ms"] - 1e-9
    cue = result.spike_t[np.isin(result.population_of(result.spike_i), [2, 3])] % L
    assert cue.max() < 7 * 150.0
    assert result.traces.shape == (2000, 2) and result.traces.max() <= -40.0 + 1e-3


def test_init_params_is_seeded():
    a, b = init_params(1), init_params(1)
    np.testing.assert_array_equal(np.asarray(a["w_rec"]), np.asarray(b["w_rec"]))


def test_template_input_is_the_tasks_schedule_and_rates(net):
    """The template's input comes from the task's generator: per trial, one side's group at the
    cue rate in each cue window, recall group only
    in the recall window, background throughout."""
    task = net.task
    assert net.trial_steps == task.T
    cue_index = task.cue_index()
    for trial in range(3):
        ts = trial * task.T + np.arange(task.T)
        rates = np.asarray(jax.jit(jax.vmap(lambda t: type(net).input_rates(net.static, t)))(ts))
        left, right, recall, bg = rates.T
        on = cue_index >= 0
        np.testing.assert_array_equal((left > 0) | (right > 0), on)
        assert not np.any((left > 0) & (right > 0))
        np.testing.assert_array_equal(recall > 0, task.recall_mask() > 0)
        np.testing.assert_allclose(bg, task.rate_bg)
