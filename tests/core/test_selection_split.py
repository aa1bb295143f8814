"""The split of a default fit on the user's choice of sweeps and window: what was chosen is
fitted and what was not is held out (step protocols); repetitions of one frozen stimulus are
split in time inside the window; held-out and fitted data never overlap."""

import numpy as np
import pytest

from core.errors import RecordingError
from core.fitting.cell import selection_split
from core.io.recording import Provenance, Recording, Sweep

DT = 0.1


def _steps(n=6, samples=1000):
    t = DT * np.arange(samples)
    sweeps = []
    for k in range(n):
        I = np.where((t >= 20) & (t < 80), 0.05 * (k - 2), 0.0)
        sweeps.append(Sweep(-70.0 + 100.0 * I, I, DT, 0.0, k))
    return Recording(tuple(sweeps), Provenance(path="steps"))


def _repetitions(n=4, samples=1000):
    # one frozen fluctuating current (Ornstein-Uhlenbeck, tau 3 ms) repeated in every sweep
    xi = np.random.default_rng(0).normal(0.0, 1.0, samples)
    I = np.empty(samples)
    a, x = np.exp(-DT / 3.0), 0.0
    for k in range(samples):
        x = a * x + np.sqrt(1 - a * a) * xi[k]
        I[k] = 0.1 + 0.05 * x
    return Recording(tuple(Sweep(-65.0 + 50.0 * I, I, DT, 0.0, k) for k in range(n)),
                     Provenance(path="frozen"))


def _disjoint(rec, split):
    """No sample is both fitted and held out."""
    train = {(k, round(t, 6)) for k in split.train_sweeps
             for t in rec.select([k], split.train_window).sweeps[0].t}
    test = {(k, round(t, 6)) for k in split.test_sweeps
            for t in rec.select([k], split.test_window).sweeps[0].t}
    return not (train & test)


def test_chosen_step_sweeps_are_fitted_and_every_other_one_is_held_out_in_the_same_window():
    rec = _steps()
    split = selection_split(rec, [1, 4], (10.0, 90.0))
    assert split.train_sweeps == (1, 4)
    assert split.test_sweeps == (0, 2, 3, 5)
    assert split.train_window == split.test_window == (10.0, 90.0)
    assert split.description == "sweeps 1, 4 fitted, sweeps 0, 2-3, 5 held out (10-90 ms)"
    assert _disjoint(rec, split)


def test_every_sweep_chosen_holds_one_in_three_out_inside_the_window():
    rec = _steps()
    split = selection_split(rec, None, (10.0, 90.0))
    assert split.test_sweeps == (2, 5)
    assert split.train_sweeps == (0, 1, 3, 4)
    assert split.train_window == split.test_window == (10.0, 90.0)
    assert selection_split(rec).train_window is None


def test_a_single_sweep_is_split_in_time_inside_the_window_not_from_the_sweep_start():
    rec = _steps(n=1)
    split = selection_split(rec, [0], (20.0, 80.0))
    assert split.train_sweeps == split.test_sweeps == (0,)
    assert split.train_window == (20.0, pytest.approx(20.0 + 0.6 * 60.0, abs=DT))
    assert split.test_window == (split.train_window[1], 80.0)
    assert _disjoint(rec, split)


def test_repetitions_fit_the_start_of_the_chosen_ones_and_hold_out_the_end_of_all():
    rec = _repetitions()
    split = selection_split(rec, [1], (0.0, 100.0))
    assert split.train_sweeps == (1,)
    assert split.test_sweeps == (0, 1, 2, 3)
    cut = split.train_window[1]
    assert cut == pytest.approx(60.0, abs=DT)
    assert split.test_window == (cut, 100.0)
    assert "repetition" in split.description
    assert _disjoint(rec, split)


@pytest.mark.parametrize("sweeps, window, message", [
    ([7], None, "does not exist"),
    ([0], (500.0, 600.0), "holds no samples"),
])
def test_a_choice_outside_the_recording_is_refused_with_what_exists(sweeps, window, message):
    with pytest.raises(RecordingError, match=message):
        selection_split(_steps(), sweeps, window)
