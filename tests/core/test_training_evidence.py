"""Training on the evidence task: a short run learns, cancel keeps the best weights, non-finite
gradients stop the run with a reason, results round-trip through HDF5, the CLI."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

import core  # noqa: F401
from core.training.evidence import EvidenceTrainJob, make_config, train_evidence
from core.training.evidence_results import EvidenceTrainResult, fit_weights

TASK = dict(n_cues=1, cue_ms=30, gap_ms=10, delay_ms=20, recall_ms=20, n_group=8,
            rate_cue=100.0)
NET = dict(n_exc=24, n_inh=6, p=0.3, s_in=0.5)


def _cfg(method="online", **kw):
    base = dict(batches=30, batch_size=16, learning_rate=1e-2, n_heldout=64, eval_every=10,
                baseline_trials=64, network=NET, task=TASK)
    return make_config(method, **{**base, **kw})


@pytest.fixture(scope="module")
def trained():
    events = []
    result = train_evidence(_cfg(), report=events.append)
    return result, events


def test_short_training_lowers_the_loss_and_beats_chance(trained):
    result, events = trained
    loss = result.history["loss"]
    assert np.mean(loss[-5:]) < 0.8 * np.mean(loss[:5])
    assert result.heldout_accuracy > 0.7  # chance is 0.5 on 64 held-out trials
    assert result.evals["accuracy"][0] < result.heldout_accuracy
    assert 0.0 <= result.reservoir_accuracy <= 1.0
    steps = [e for e in events if e.step]
    assert [e.step for e in steps] == list(range(1, 31))
    assert all(e.finite for e in steps)
    assert steps[-1].heldout_accuracy == pytest.approx(result.evals["accuracy"][-1])


def test_result_roundtrip_and_figure_data(trained, tmp_path):
    result, _ = trained
    path = tmp_path / "net.h5"
    result.to_hdf5(path)
    assert [p.name for p in tmp_path.iterdir()] == ["net.h5"]  # no temporary left behind
    back = EvidenceTrainResult.from_hdf5(path)
    assert back.summary() == result.summary()
    for k in result.params:
        np.testing.assert_array_equal(back.params[k], result.params[k])
    fig = back.figure
    T = back.train_config.task.T
    assert fig["input_raster"].shape == (T, 32) and fig["raster"].shape == (T, 30)
    assert fig["membrane_mV"].shape == (T, 10)
    assert fig["membrane_mV"].max() <= -40.0 + 1e-3  # resets at threshold (V_th = -40 mV)
    h = fig["histograms"]["w_e_after"]
    assert h["counts"].sum() == result.params["w_e"].size
    # the fits are real fits: a half-normal sample gives its sigma back
    rng = np.random.default_rng(0)
    est = fit_weights(np.abs(rng.normal(0, 0.3, 5000)), "gaussian_tail")
    assert est["sigma"] == pytest.approx(0.3, rel=0.05) and est["ks"] < 0.03
    est = fit_weights(rng.lognormal(-2.0, 0.5, 5000), "lognormal")
    assert est["mu"] == pytest.approx(-2.0, abs=0.05) and est["sigma"] == pytest.approx(0.5,
                                                                                         rel=0.05)
    # a trained network file simulates again
    from core.tasks.evidence_accumulation import sample_batch
    from core.training.ei_network import run_trials

    cfg, structure, params = back.network()
    x, labels, _ = sample_batch(1, 0, back.train_config.task, 4)
    assert run_trials(cfg, structure, params, x).shape == (T, 4, 2)


def test_cancel_keeps_the_best_weights():
    calls = {"n": 0}

    def cancelled():
        calls["n"] += 1
        return calls["n"] > 4

    job = EvidenceTrainJob(_cfg(batches=50, eval_every=2, baseline_trials=0))
    job = pickle.loads(pickle.dumps(job))
    result = job.run(is_cancelled=cancelled)
    assert result.cancelled and result.batches_done == 4
    assert list(result.evals["batch"]) == [0, 2, 4]
    best = int(np.argmax(result.evals["accuracy"]))
    assert result.best_batch == int(result.evals["batch"][best])
    if result.best_batch != 4:
        assert any(not np.array_equal(result.params[k], result.params_last[k])
                   for k in result.params)


def test_nonfinite_gradients_stop_the_run_with_a_reason():
    # a surrogate of height 1e30 overflows float32 in the backward pass of full BPTT
    cfg = _cfg("bptt", batches=10, baseline_trials=0, max_nonfinite=2,
               network=dict(NET, surrogate="relu_grad",
                            surrogate_params={"alpha": 1e30, "width": 1.0}))
    events = []
    result = train_evidence(cfg, report=events.append)
    assert result.batches_done == 2 and "non-finite" in result.stop_reason
    assert np.all(result.history["finite"] == 0)
    for k in result.params:  # nothing was trained on NaN
        np.testing.assert_array_equal(result.params_last[k], result.params_init[k])
    assert any("update skipped" in e.message for e in events)


def test_cli_trains_and_writes(tmp_path, capsys):
    from workbench.cli import main

    out = tmp_path / "net.h5"
    rc = main(["train", "--task", "evidence", "--method", "bptt", "--batches", "2",
               "--batch-size", "4", "--n-exc", "8", "--n-inh", "2", "--p", "0.3", "--cues",
               "1", "--delay-ms", "0", "--heldout", "4", "--baseline-trials", "0",
               "--checkpoint", "0", "--out", str(out), "--json"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["task"] == "evidence" and summary["batches_done"] == 2
    assert EvidenceTrainResult.from_hdf5(out).batches_done == 2


@pytest.mark.parametrize("argv, message", [
    (["--n-exc", "0"], "n_exc"),
    (["--p", "1.5"], r"(0, 1]"),
    (["--delay-ms", "-5"], "delay_ms"),
    (["--neurons", "missing.h5"], "missing.h5"),
])
def test_cli_bad_settings_are_clear_errors(argv, message, capsys):
    from workbench.cli import main

    rc = main(["train", "--task", "evidence", "--batches", "1", *argv])
    assert rc == 2
    assert message in capsys.readouterr().err
