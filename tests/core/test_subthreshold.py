"""Stage 1 of the default fit: the subthreshold regression recovers a known passive membrane and
a GIF's spike-triggered current from a NumPy-simulated trace."""

import numpy as np

from core.fitting.starts import data_defaults
from core.fitting.subthreshold import fit_subthreshold


def _passive(tau, R, E, I, dt):
    V = np.empty_like(I)
    V[0] = E
    for k in range(1, I.size):
        V[k] = V[k - 1] + dt * (-(V[k - 1] - E) + R * I[k - 1]) / tau
    return V


def test_regression_recovers_R_tau_Vrest_of_a_passive_membrane_under_noise_current():
    rng = np.random.default_rng(0)
    dt = 0.05
    I = np.repeat(rng.normal(0.0, 0.05, 4000), 10)
    V = _passive(15.0, 120.0, -65.0, I, dt) + rng.normal(0, 0.05, I.size)
    fit = fit_subthreshold(V[None], I[None], dt, [np.array([])], "lif")
    assert abs(fit.params["tau"] - 15.0) / 15.0 < 0.05
    assert abs(fit.params["R"] - 120.0) / 120.0 < 0.05
    assert abs(fit.params["V_rest"] + 65.0) < 0.5


def test_data_defaults_without_spikes_fit_only_passive_parameters_and_say_so():
    dt = 0.1
    I = np.zeros(20000)
    I[5000:15000] = -0.05
    V = _passive(20.0, 200.0, -70.0, I, dt)
    d = data_defaults("gif", V[None], I[None], dt, [np.array([])])
    assert d.free == ("tau_V", "R", "V_rest")
    assert d.spike_weight == 0.0
    assert any("do not spike" in n for n in d.notes)
    assert abs(d.values["R"] - 200.0) / 200.0 < 0.02
