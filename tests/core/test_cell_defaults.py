"""Data-derived defaults on real cells: the membrane of a step protocol comes from the measured
deflections unless the regression's predicts the training spikes better, the GIF is staged
(threshold and its movement fitted, reset clamped for the measured post-spike window), and the
default start spikes where the cell spikes."""

import numpy as np
import pytest

from core.features import measure_cell
from core.fitting.cell import SPIKE_THRESHOLD, cell_defaults
from core.fitting.cell_jobs import CellSetupJob
from core.fitting.losses import threshold_crossings
from core.fitting.starts import data_defaults
from core.integrate import simulate
from core.io import open_cell
from core.models import GIF


@pytest.fixture(scope="module")
def steps_0018(shared_data):
    return open_cell([shared_data / "real" / "171116sh_0018.abf"])


def _defaults(rec, model="gif"):
    V, I = rec.stacked()
    spikes = [threshold_crossings(v, rec.dt, SPIKE_THRESHOLD) for v in V]
    return data_defaults(model, V, I, rec.dt, spikes, measurements=measure_cell(rec))


def test_step_protocol_membrane_comes_from_the_measured_deflections(steps_0018):
    part = steps_0018.select([2, 8, 12], (100.0, 700.0))
    m = measure_cell(part)
    d = _defaults(part)
    assert m.stimulus_kind == "steps"
    assert d.values["R"] == pytest.approx(m.r_in)
    assert d.values["tau_V"] == pytest.approx(m.tau_m)
    # the resting potential at zero current: the measured one when the cell is not held
    assert abs(d.values["V_rest"] - m.v_rest) < 3.0
    assert any("step deflections" in n for n in d.notes)
    # staged GIF: threshold and its spike-triggered movement are fitted, the rest is fixed
    assert d.free == ("V_th", "A_th", "tau_th")
    assert d.values["t_ref"] == pytest.approx(d.stage1.excluded_ms[1])
    assert d.values["V_reset"] < d.values["V_th"]


def test_default_gif_start_spikes_on_sweep_12(steps_0018):
    part = steps_0018.select([2, 8, 12], (100.0, 700.0))
    d = cell_defaults(part, "gif")
    assert any("threshold screen" in n for n in d.notes)
    sweep = part.sweeps[2]
    n_data = threshold_crossings(sweep.V, sweep.dt, SPIKE_THRESHOLD).size
    res = simulate(GIF(**d.values), sweep.I, sweep.dt)
    n_model = int(np.sum(res.spikes))
    assert n_data > 5
    assert n_model > 0, "the data-derived start must spike where the cell spikes"
    assert 0.25 * n_data <= n_model <= 4 * n_data


def test_membrane_near_threshold_chosen_by_the_training_spikes_predicts_the_ramp(steps_0018,
                                                                                  shared_data):
    """This cell rectifies: its -50 pA step measures 101 MOhm, its membrane between spikes acts
    like 276. The regression's membrane screens better on the training spikes, so the default
    start uses it, and with it the start alone predicts the slow ramps of another file (spikes
    only near 70-100 pA), which the deflections' membrane leaves silent."""
    part = steps_0018.select([2, 8, 12], (100.0, 700.0))
    d = cell_defaults(part, "gif")
    assert any("regression on the inter-spike intervals" in n for n in d.notes)
    assert d.values["R"] > 1.5 * measure_cell(part).r_in
    ramp = open_cell([shared_data / "real" / "171116sh_0016.abf"])
    counts = []
    for sweep in ramp.sweeps:
        n_data = threshold_crossings(sweep.V, sweep.dt, SPIKE_THRESHOLD).size
        n_model = int(np.sum(simulate(GIF(**d.values), sweep.I, sweep.dt).spikes))
        counts.append((n_data, n_model))
    assert sum(n for n, _ in counts) >= 8, counts
    assert all(abs(m - n) <= max(2, 0.2 * n) for n, m in counts), counts
    assert counts[-1][1] > 0, counts


def test_setup_job_measures_and_derives_defaults_and_names_a_missing_current(steps_0018):
    events = []
    setup = CellSetupJob(steps_0018.select([2, 8]), "lif").run(events.append, lambda: False)
    assert setup.defaults is not None and setup.defaults.model == "lif"
    assert setup.measurements.r_in == pytest.approx(measure_cell(steps_0018.select([2, 8])).r_in)
    assert events[-1].done == events[-1].total
    bare = steps_0018.select([2]).with_stimulus(np.zeros(steps_0018.sweeps[2].V.size))
    import dataclasses

    no_current = type(bare)(tuple(dataclasses.replace(s, I=None) for s in bare.sweeps),
                            bare.provenance)
    setup = CellSetupJob(no_current, "gif").run(lambda e: None, lambda: False)
    assert setup.defaults is None and "current" in setup.defaults_error


def test_validation_reports_the_held_out_f_i_points_of_cell_and_model(steps_0018):
    from core.fitting import Budget
    from core.fitting.cell import fit_cell

    part = steps_0018.select([2, 5, 8], (100.0, 700.0))
    cf = fit_cell(part, "gif", "lbfgsb", budget=Budget(evaluations=10), uncertainty=False)
    (row,) = cf.validation["per_sweep"]
    held = part.sweeps[2]
    on = np.abs(held.I - np.median(held.I[:100])) > 0.02  # the step, found independently
    duration_s = on.sum() * held.dt / 1000.0
    assert row["step_nA"] == pytest.approx(np.median(held.I[on]) - np.median(held.I[:100]),
                                           abs=1e-3)
    assert row["rate_data_Hz"] == pytest.approx(row["n_data"] / duration_s, rel=0.02)
    assert cf.validation["fi_curve"] == [[row["step_nA"], row["rate_data_Hz"],
                                          row["rate_model_Hz"]]]
