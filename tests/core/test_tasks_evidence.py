"""The evidence-accumulation task: schedule, labels from realised cues, rates in their windows,
seeded streams, bad settings."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import core  # noqa: F401
from core.errors import ParameterError
from core.tasks.evidence_accumulation import (
    EvidenceTask,
    materialise,
    sample_batch,
    step_input,
    trial_batch,
)

TASK = EvidenceTask(n_cues=3, cue_ms=20, gap_ms=10, delay_ms=15, recall_ms=25, n_group=50,
                    rate_cue=200.0, rate_bg=50.0)


def _windows_numpy(task):
    """Cue of every step by a plain loop over the schedule."""
    cue = []
    for t in range(task.T):
        k = -1
        for c in range(task.n_cues):
            start = c * (task.cue_steps + task.steps(task.gap_ms))
            if start <= t < start + task.cue_steps:
                k = c
        cue.append(k)
    return np.array(cue)


def test_schedule_and_windows():
    assert TASK.T == 3 * 30 + 15 + 25
    np.testing.assert_array_equal(TASK.cue_index(), _windows_numpy(TASK))
    mask = TASK.recall_mask()
    assert mask.sum() == 25 and mask[-25:].all() and not mask[:-25].any()
    default = EvidenceTask()
    assert default.T == 7 * 150 + 1000 + 150 and default.n_in == 100


@pytest.fixture(scope="module")
def batch():
    x, labels, sides = sample_batch(7, 0, TASK, 256)
    return np.asarray(x), np.asarray(labels), np.asarray(sides)


def test_labels_follow_realised_cues(batch):
    _, labels, sides = batch
    for lab, sd in zip(labels, sides):
        n_right = int(np.sum(sd == 1))
        assert lab == (1 if n_right > TASK.n_cues - n_right else 0)
    assert 0.3 < labels.mean() < 0.7  # both sides occur
    # an even number of cues never ties: the last cue is flipped
    even = EvidenceTask(n_cues=4, cue_ms=5, gap_ms=0, delay_ms=0, recall_ms=5)
    _, lab4, sides4 = sample_batch(3, 0, even, 512)
    assert np.all(2 * np.asarray(sides4).sum(1) != 4)
    np.testing.assert_array_equal(np.asarray(lab4), (np.asarray(sides4).sum(1) > 2).astype(int))


def test_rates_in_their_windows(batch):
    x, _, sides = batch
    cue = TASK.cue_index()
    g = TASK.n_group
    groups = {name: x[:, :, TASK.group_slice(name)] for name in
              ("left", "right", "recall", "background")}
    p_cue, p_bg = TASK.rate_cue / 1000.0, TASK.rate_bg / 1000.0
    on_left = np.zeros(x.shape[:2], bool)
    on_right = np.zeros(x.shape[:2], bool)
    for t in range(TASK.T):
        if cue[t] >= 0:
            on_left[t] = sides[:, cue[t]] == 0
            on_right[t] = sides[:, cue[t]] == 1
    recall = TASK.recall_mask()[:, None] > 0
    recall = np.broadcast_to(recall, on_left.shape)
    for name, on in (("left", on_left), ("right", on_right), ("recall", recall)):
        spikes = groups[name]
        inside = spikes[on].mean()
        se = np.sqrt(p_cue * (1 - p_cue) / (on.sum() * g))
        assert abs(inside - p_cue) < 5 * se, name
        assert spikes[~on].sum() == 0, f"{name} fires outside its windows"
    bg = groups["background"].mean()
    assert abs(bg - p_bg) < 5 * np.sqrt(p_bg * (1 - p_bg) / groups["background"].size)


def test_streams_are_seeded_and_batch_size_free():
    keys, sides, labels = trial_batch(11, 0, TASK, 8)
    keys4, sides4, labels4 = trial_batch(11, 0, TASK, 4)
    np.testing.assert_array_equal(np.asarray(sides)[:4], np.asarray(sides4))
    x8 = np.asarray(materialise(TASK, keys, sides))
    x4 = np.asarray(materialise(TASK, keys4, sides4))
    np.testing.assert_array_equal(x8[:, :4], x4)
    # the in-loop generator gives the same spikes as the materialised input
    np.testing.assert_array_equal(np.asarray(step_input(TASK, keys, sides, 17)), x8[17])
    other = np.asarray(trial_batch(12, 0, TASK, 8)[1])
    x_other = np.asarray(materialise(TASK, *trial_batch(12, 0, TASK, 8)[:2]))
    assert not np.array_equal(x8, x_other) or not np.array_equal(np.asarray(sides), other)
    assert np.asarray(materialise(TASK, keys, sides, jnp.float32)).dtype == np.float32


@pytest.mark.parametrize("kw, message", [
    (dict(n_cues=0), "n_cues"),
    (dict(cue_ms=0.0), "cue_ms"),
    (dict(rate_cue=2000.0), "exceeds one spike"),
    (dict(cue_probabilities=(1.2,)), "probabilities"),
    (dict(trial_ms=500.0), "shorter than the cue period"),
])
def test_bad_settings(kw, message):
    with pytest.raises(ParameterError, match=message):
        EvidenceTask(**kw)


def test_trial_length_sets_the_delay():
    t = EvidenceTask(trial_ms=2200.0)
    assert t.delay_ms == 1000.0 and t.T == 2200
