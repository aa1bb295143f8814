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
