"""Pausing and resuming an evidence training, the trial viewer's job and the held-out run of a
trained network (``brainfit simulate net.h5``)."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

import core  # noqa: F401
from core.training.evidence import EvidenceTrainJob, make_config, train_evidence
from core.training.evidence_results import EvidenceTrainResult
from core.training.evidence_view import EvidenceSimulateJob, TrialViewJob

TASK = dict(n_cues=1, cue_ms=30, gap_ms=10, delay_ms=20, recall_ms=20, n_group=8,
            rate_cue=100.0)
NET = dict(n_exc=24, n_inh=6, p=0.3, s_in=0.5)


def _cfg(**kw):
    base = dict(batches=6, batch_size=16, learning_rate=1e-2, n_heldout=32, eval_every=2,
                baseline_trials=0, network=NET, task=TASK)
    return make_config("online", **{**base, **kw})


def _stop_after(n):
    calls = {"n": 0}

    def cancelled():
        calls["n"] += 1
        return calls["n"] > n

    return cancelled


@pytest.fixture(scope="module")
def straight():
    return train_evidence(_cfg())


@pytest.fixture(scope="module")
def resumed():
    cfg = _cfg()
    paused = EvidenceTrainJob(cfg).run(is_cancelled=_stop_after(3))
    events = []
    job = pickle.loads(pickle.dumps(EvidenceTrainJob(cfg, initial_state=paused.state)))
    return paused, job.run(report=events.append), events


def test_resume_continues_the_history_not_restarts(straight, resumed):
    paused, result, events = resumed
    assert paused.cancelled and paused.batches_done == 3 and len(paused.history["loss"]) == 3
    assert not result.cancelled and result.batches_done == 6
    # the history is the paused one extended, and the run is the uninterrupted run's
    for k in ("loss", "accuracy", "grad_norm"):
        assert len(result.history[k]) == 6
        np.testing.assert_array_equal(result.history[k][:3], paused.history[k])
        np.testing.assert_allclose(result.history[k], straight.history[k], rtol=1e-5)
    assert list(result.evals["batch"]) == [0, 2, 3, 4, 6]  # the pause scored batch 3
    assert list(paused.evals["batch"]) == [0, 2, 3]
    for k in result.params_last:
        np.testing.assert_allclose(result.params_last[k], straight.params_last[k], rtol=1e-5,
                                   atol=1e-7)
    assert np.all(np.diff(result.history["elapsed"]) > 0)  # wall time counts on
    assert result.history["elapsed"][3] > paused.history["elapsed"][2]
    steps = [e.step for e in events if e.step]
    assert steps == [4, 5, 6]  # no untrained evaluation again, no batch twice
    assert "resumed at batch 3" in events[0].message
    assert all(e.memory_mb > 0 for e in events if e.step)
    assert result.heldout_accuracy >= paused.heldout_accuracy  # the best is kept across


def test_resume_refuses_other_settings(resumed):
    from core.errors import ParameterError

    paused = resumed[0]
    with pytest.raises(ParameterError, match="settings it was started with"):
        train_evidence(_cfg(network=dict(NET, n_exc=20)), initial_state=paused.state)


def test_the_resume_state_travels_in_the_file(resumed, tmp_path):
    paused, result, _ = resumed
    path = tmp_path / "paused.h5"
    paused.paused = True
    paused.to_hdf5(path)
    back = EvidenceTrainResult.from_hdf5(path)
    assert back.paused and back.state.batches_done == 3
    assert isinstance(back.state.opt_state, list)  # leaves: no JAX where the file is read
    np.testing.assert_array_equal(back.state.history["loss"], paused.state.history["loss"])
    again = EvidenceTrainJob(_cfg(), initial_state=back.state).run()
    np.testing.assert_array_equal(again.history["loss"], result.history["loss"])
    for k in result.params_last:
        np.testing.assert_array_equal(again.params_last[k], result.params_last[k])


def test_trial_view_job_is_the_figure_trial(straight):
    job = pickle.loads(pickle.dumps(TrialViewJob.from_result(straight, trial=0)))
    view = job.run()
    fig = straight.figure
    np.testing.assert_array_equal(view["raster"], fig["raster"])
    np.testing.assert_array_equal(view["input_raster"], fig["input_raster"])
    np.testing.assert_allclose(view["membrane_mV"], fig["membrane_mV"])
    T = straight.train_config.task.T
    assert view["readout"].shape == (T, 2) and view["raster"].shape == (T, 30)
    mask = straight.train_config.task.recall_mask() > 0
    assert view["prediction"] == int(np.argmax(view["readout"][mask].mean(0)))
    assert view["correct"] == (view["prediction"] == view["label"])
    # another held-out trial is another input; the initial weights another network
    other = TrialViewJob.from_result(straight, trial=5).run()
    assert other["trial"] == 5 and not np.array_equal(other["input_raster"],
                                                      view["input_raster"])
    init = TrialViewJob.from_result(straight, trial=0, weights="initial").run()
    np.testing.assert_array_equal(init["input_raster"], view["input_raster"])
    assert not np.allclose(init["readout"], view["readout"])


def test_simulate_job_scores_the_heldout_trials_as_the_training(straight):
    out = EvidenceSimulateJob.from_result(straight, batch_size=16).run()
    assert out["trials"] == 32
    assert out["accuracy"] == pytest.approx(straight.heldout_accuracy)
    assert out["rate_hz"]["E"] > 0 and out["rate_hz"]["I"] > 0
    # the rate is the spikes of the trials run: check one batch against the recorded raster
    from core.tasks.evidence_accumulation import sample_batch
    from core.training.ei_network import run_trials

    net, structure, params = straight.network()
    task = straight.train_config.task
    one = EvidenceSimulateJob.from_result(straight, n_trials=4, batch_size=4).run()
    x, labels, _ = sample_batch(task.heldout_seed, 0, task, 4)
    _ys, z, _v = run_trials(net, structure, params, x, record=True)
    z = np.asarray(z, np.float64)
    secs = 4 * task.T * task.dt / 1000.0
    assert one["rate_hz"]["E"] == pytest.approx(z[..., :24].sum() / (24 * secs), rel=1e-6)
    assert one["rate_hz"]["I"] == pytest.approx(z[..., 24:].sum() / (6 * secs), rel=1e-6)


def test_cli_simulate_runs_a_trained_network(straight, tmp_path, capsys):
    from workbench.cli import main

    path = tmp_path / "net.h5"
    straight.to_hdf5(path)
    assert main(["simulate", str(path), "--trials", "8", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["kind"] == "evidence" and out["trials"] == 8 and 0 <= out["accuracy"] <= 1
    assert set(out["rate_hz"]) == {"E", "I"}
    assert main(["simulate", str(path)]) == 0
    text = capsys.readouterr().out
    assert "held-out accuracy" in text and "32 trials" in text


def test_cli_simulate_refuses_other_files(tmp_path, capsys):
    from workbench.cli import main

    other = tmp_path / "other.h5"
    import h5py

    with h5py.File(other, "w") as f:
        f.create_dataset("x", data=[1, 2, 3])
    assert main(["simulate", str(other)]) == 2
    assert "not a trained network" in capsys.readouterr().err
    assert main(["simulate", str(tmp_path / "missing.h5")]) == 2
    assert "missing.h5" in capsys.readouterr().err
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert main(["simulate", str(text)]) == 2
    assert "not a readable HDF5" in capsys.readouterr().err
    assert main(["simulate"]) == 2
    assert "--template" in capsys.readouterr().err
