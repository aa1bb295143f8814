"""Network engine: COBA against a float64 NumPy loop and the published rate, chunking, HDF5,
the job (progress, cancel, divergence)."""

from __future__ import annotations

import h5py
import jax.numpy as jnp
import numpy as np
import pytest

from core.errors import DivergenceError, JobCancelled, ParameterError
from core.events import SimulationProgress
from core.network import NetworkResult, SimulateJob, SpikePreview, run_network
from core.network.connectivity import fixed_probability
from core.network.run import pack_bits
from core.network.templates import TEMPLATES, get_template
from core.network.templates.coba import CobaNetwork, deliver

SMALL = dict(n_exc=160, n_inh=40, p=0.1, w_e=0.3, w_i=3.35)


def coba_reference(net: CobaNetwork, n_steps: int):
    """Independent float64 NumPy loop over a dense weight matrix (Brian2's update order)."""
    s = net.settings
    n = net.n_neurons
    ne = s["n_exc"]
    W = net.proj.to_dense()  # synapse counts (pre, post)
    dt = net.dt
    V = net.V0.astype(np.float64).copy()
    ge = np.zeros(n)
    gi = np.zeros(n)
    ref = np.zeros(n, int)
    n_ref = int(round(s["t_ref"] / dt))
    steps, idx = [], []
    for k in range(n_steps):
        ref = np.maximum(ref - 1, 0)
        active = ref == 0
        dv = (s["w_e"] * ge * (s["E_e"] - V) + s["w_i"] * gi * (s["E_i"] - V)
              - (V - s["V_rest"]) + s["I"]) * (dt / s["tau_m"])
        V = np.where(active, V + dv, V)
        spike = (V > s["V_th"]) & active
        V[spike] = s["V_reset"]
        ref[spike] = n_ref
        ge = ge * (1.0 - dt / s["tau_e"])
        gi = gi * (1.0 - dt / s["tau_i"])
        fired = np.nonzero(spike)[0]
        ge += W[fired[fired < ne]].sum(axis=0)
        gi += W[fired[fired >= ne]].sum(axis=0)
        steps.extend([k] * len(fired))
        idx.extend(fired)
    return np.array(steps) * dt, np.array(idx), V


@pytest.fixture(scope="module")
def small64():
    return CobaNetwork(seed=3, dtype=jnp.float64, **SMALL)


def test_coba_matches_float64_numpy_reference_exactly(small64):
    n_steps = 2000  # 200 ms, thousands of spikes
    t_ref, i_ref, V_ref = coba_reference(small64, n_steps)
    res = run_network(small64, n_steps * small64.dt, chunk_ms=200.0, record=range(200))
    assert len(t_ref) > 500
    np.testing.assert_array_equal(res.spike_i, i_ref)
    np.testing.assert_allclose(res.spike_t, t_ref, atol=1e-9)
    np.testing.assert_allclose(res.traces[-1], V_ref, rtol=0, atol=1e-9)


def test_coba_float32_follows_the_reference_at_first(small64):
    net32 = CobaNetwork(seed=3, **SMALL)
    t_ref, i_ref, _ = coba_reference(small64, 300)
    res = run_network(net32, 30.0)
    # chaotic network: float32 rounding may flip a spike eventually, not within 30 ms
    np.testing.assert_array_equal(res.spike_i, i_ref)


@pytest.fixture(scope="module")
def coba_full():
    return run_network(CobaNetwork(seed=0), 1000.0)


def test_coba_rate_in_published_range(coba_full):
    # Vogels & Abbott 2005 / Brian2's COBA example: about 20 Hz (15-25 Hz) with these parameters
    rates = coba_full.mean_rates()
    assert 15.0 < rates["E"] < 25.0
    assert 15.0 < rates["I"] < 28.0
    # asynchronous irregular: no neuron is locked at the refractory limit (200 Hz)
    assert coba_full.spike_counts.max() < 190


def test_coba_connectivity_statistics():
    net = CobaNetwork(seed=1)
    deg = net.proj.out_degree()
    assert deg.mean() == pytest.approx(0.02 * 4000, rel=0.02)
    assert net.populations[0].sign == 1 and net.populations[1].sign == -1
    # E rows target ge (first block of G), I rows target gi (second block): Dale's law by layout
    pre = np.repeat(np.arange(4000), deg)
    assert np.all(net.targets[pre < 3200] < 4000)
    assert np.all((net.targets[pre >= 3200] >= 4000) & (net.targets[pre >= 3200] < 8000))


def test_deliver_adds_one_per_synapse_of_every_spiking_neuron():
    rng = np.random.default_rng(4)
    proj = fixed_probability(96, 50, 0.3, rng, autapses=True)
    targets = np.concatenate([proj.indices, [0]]).astype(np.int32)
    G0 = rng.standard_normal(50)
    for spiking in ([], [0], [31, 32, 33], list(range(96)), list(rng.choice(96, 17, False))):
        spike = np.zeros(96, bool)
        spike[spiking] = True
        expect = G0.copy()
        for j in spiking:  # np.add.at: repeated targets add repeatedly
            np.add.at(expect, proj.indices[proj.indptr[j]:proj.indptr[j + 1]], 1.0)
        got = deliver(jnp.asarray(G0), pack_bits(jnp.asarray(spike)),
                      jnp.asarray(proj.indptr, jnp.int32), jnp.asarray(targets))
        np.testing.assert_allclose(np.asarray(got), expect, rtol=0, atol=1e-6)


def test_scatter_delivery_for_accelerators_gives_the_same_spikes(small64):
    # the GPU path (a plain scatter), checked on this CPU against the reference loop
    net = CobaNetwork(seed=3, dtype=jnp.float64, delivery="scatter", **SMALL)
    t_ref, i_ref, _ = coba_reference(small64, 500)
    res = run_network(net, 50.0)
    np.testing.assert_array_equal(res.spike_i, i_ref)
    np.testing.assert_allclose(res.spike_t, t_ref, atol=1e-9)
    with pytest.raises(ParameterError, match="delivery"):
        CobaNetwork(delivery="dense")


def test_unconnected_coba_runs_without_recurrent_input():
    net = CobaNetwork(seed=0, n_exc=40, n_inh=10, p=0.0)
    res = run_network(net, 50.0, record=[0])
    # I = 20 mV drives V towards -40 mV > V_th: every neuron fires, with identical ISIs
    assert res.spike_counts.min() > 0
    first = res.spike_t[res.spike_i == 0]
    assert np.ptp(np.diff(first)) < 1e-3


def test_chunked_run_equals_unchunked_exactly():
    net = CobaNetwork(seed=5, **SMALL)
    whole = run_network(net, 150.0, chunk_ms=150.0, record=[0, 7, 199])
    parts = run_network(net, 150.0, chunk_ms=37.3, record=[0, 7, 199])
    np.testing.assert_array_equal(whole.spike_t, parts.spike_t)
    np.testing.assert_array_equal(whole.spike_i, parts.spike_i)
    np.testing.assert_array_equal(whole.traces, parts.traces)
    assert whole.traces.shape == (1500, 3)


def test_hdf5_stream_reopens_and_matches(tmp_path):
    path = tmp_path / "run.h5"
    net = CobaNetwork(seed=2, **SMALL)
    mem = run_network(net, 120.0, chunk_ms=50.0, record=[1, 2])
    streamed = run_network(net, 120.0, chunk_ms=50.0, record=[1, 2], out_path=path,
                           keep_in_memory=False)
    assert streamed.spike_t.size == 0 and streamed.n_spikes == mem.n_spikes
    back = NetworkResult.load(path)
    np.testing.assert_array_equal(back.spike_t, mem.spike_t)
    np.testing.assert_array_equal(back.spike_i, mem.spike_i)
    np.testing.assert_array_equal(back.traces, mem.traces)
    np.testing.assert_array_equal(back.spike_counts, mem.spike_counts)
    assert back.complete and back.template == "coba" and back.seed == 2
    assert back.mean_rates() == pytest.approx(mem.mean_rates())
    assert back.settings["n_exc"] == 160
    # save() of an in-memory result writes the same layout
    mem.save(tmp_path / "saved.h5")
    again = NetworkResult.load(tmp_path / "saved.h5")
    np.testing.assert_array_equal(again.spike_i, mem.spike_i)
    with pytest.raises(ParameterError):
        streamed.save(tmp_path / "nope.h5")
    # nothing recorded
    run_network(net, 20.0, out_path=tmp_path / "bare.h5", keep_in_memory=False)
    bare = NetworkResult.load(tmp_path / "bare.h5")
    assert bare.traces.shape == (0, 0) and bare.n_spikes == len(bare.spike_t) > 0


def test_job_reports_chunks_with_previews_and_cancels(tmp_path):
    events = []
    job = SimulateJob("coba", dict(SMALL), duration_ms=100.0, chunk_ms=25.0, seed=1,
                      record_traces=[0])
    res = job.run(events.append, lambda: False)
    assert [e.done for e in events] == [250, 500, 750, 1000]
    assert all(isinstance(e, SimulationProgress) and e.total == 1000 for e in events)
    assert sum(e.spikes for e in events) == res.n_spikes
    p = events[1].preview
    assert isinstance(p, SpikePreview) and np.all((p.t_ms >= 25.0) & (p.t_ms < 50.0))

    calls = []

    def cancel_after_two():
        calls.append(1)
        return len(calls) > 4  # two checks in the job, then one per chunk

    path = tmp_path / "cancelled.h5"
    with pytest.raises(JobCancelled):
        SimulateJob("coba", dict(SMALL), 100.0, out_path=path, chunk_ms=25.0).run(
            lambda e: None, cancel_after_two)
    with h5py.File(path) as f:
        assert not f["network"].attrs["complete"]
        assert f["network"].attrs["duration_ms"] == pytest.approx(50.0)


def test_diverging_run_stops_with_clear_message():
    net = CobaNetwork(seed=0, n_exc=80, n_inh=20, p=0.2, dt=1.0, tau_m=1.0, w_i=500.0)
    with pytest.raises(DivergenceError, match=r"diverged between t = .* ms.*reduce dt"):
        run_network(net, 200.0, chunk_ms=50.0)


def test_bad_job_arguments():
    with pytest.raises(ParameterError, match="unknown network template"):
        SimulateJob("nope").run()
    with pytest.raises(ParameterError, match="has no parameter"):
        SimulateJob("coba", {"tau": 3}).run()
    with pytest.raises(ParameterError, match="must be > 0"):
        SimulateJob("coba", {"tau_m": -1.0}).run()
    with pytest.raises(ParameterError, match="duration"):
        SimulateJob("coba", dict(SMALL), duration_ms=0.0).run()
    with pytest.raises(ParameterError, match="recorded neuron"):
        SimulateJob("coba", dict(SMALL), record_traces=[10_000]).run()


def test_templates_registry_has_documented_params():
    t = get_template("coba")
    assert "Vogels" in t.doc and {p.name for p in t.params} >= {"p", "w_e", "w_i", "tau_e"}
    assert set(TEMPLATES) >= {"coba"}


def test_cli_simulate_json_and_errors(tmp_path, capsys):
    import json

    from workbench.cli import main

    out = tmp_path / "cli.h5"
    rc = main(["simulate", "--template", "coba", "--duration", "0.05", "--out", str(out),
               "--set", "n_exc=160", "--set", "n_inh=40", "--set", "p=0.1", "--json"])
    assert rc == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["neurons"] == 200 and set(line["mean_rate_hz"]) == {"E", "I"}
    back = NetworkResult.load(out)
    assert back.n_spikes == line["spikes"] and back.duration_ms == pytest.approx(50.0)
    assert main(["simulate", "--template", "coba", "--set", "tau_m=-1"]) == 2
    assert "tau_m must be > 0" in capsys.readouterr().err
    assert main(["simulate", "--template", "coba", "--set", "bogus=1"]) == 2
    # a fraction of a count is refused by the template's rule, not truncated to 12
    assert main(["simulate", "--template", "coba", "--set", "n_exc=12.5"]) == 2
    assert "whole number" in capsys.readouterr().err


def test_template_resolve_types_checks_and_refuses_what_it_cannot_take():
    from core.errors import ParameterError
    from core.network import get_template

    t = get_template("coba")
    counts = [p for p in t.params if isinstance(p.default, int) and not isinstance(p.default, bool)]
    reals = [p for p in t.params if isinstance(p.default, float)]
    assert counts and reals
    n, x = counts[0], reals[0]
    resolved = t.resolve({n.name: f"{n.default}", x.name: str(x.default)})
    assert resolved == {n.name: n.default, x.name: x.default}
    assert type(resolved[n.name]) is int and type(resolved[x.name]) is float
    with pytest.raises(ParameterError, match="whole number"):
        t.resolve({n.name: n.default + 0.5})  # never truncated to a count silently
    with pytest.raises(ParameterError, match=r"must lie in"):
        t.resolve({x.name: x.upper * 2 + 1})
    with pytest.raises(ParameterError, match="not a number"):
        t.resolve({x.name: "abc"})
    with pytest.raises(ParameterError, match="no parameter"):
        t.resolve({"nope": 1})
    assert t.resolve(None) == {}


def test_a_network_job_refuses_out_of_range_parameters_whoever_builds_it():
    from core.errors import ParameterError
    from core.network import SimulateJob, get_template

    spec = next(p for p in get_template("coba").params if p.upper < 1e6)
    job = SimulateJob("coba", params={spec.name: spec.upper * 10 + 1}, duration_ms=1.0)
    with pytest.raises(ParameterError, match=spec.name):
        job.run(lambda e: None, lambda: False)
