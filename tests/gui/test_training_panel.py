"""The Training panel through the real worker-process runner, at a tiny size (40 neurons, one
cue, T = 300 steps): it trains and shows what it trained, pauses and resumes (the history goes
on), stops keeping the best weights, saves into a project and reopens; bad settings are refused
with a message."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.training.evidence_results import EvidenceTrainResult
from workbench.panels.training import TrainingPanel
from workbench.panels.training_form import BAD
from workbench.project import load_project, save_project
from workbench.session import Session

TIMEOUT = 240_000


@pytest.fixture
def runner(qtbot, engine):
    from workbench.runner import JobRunner

    r = JobRunner(engine=engine)
    yield r
    assert r.shutdown(60_000)


@pytest.fixture
def panel(qtbot, runner):
    p = TrainingPanel(runner, Session())
    qtbot.addWidget(p)
    tiny(p)
    return p


def tiny(p, batches=3):
    for name, value in (("n_cues", 1), ("delay_ms", 0), ("neurons", 40), ("batch_size", 4),
                        ("learning_rate", 0.01), ("batches", batches), ("n_heldout", 8),
                        ("eval_every", 2)):
        p.form.set_field(name, value)
    p.form.method.setCurrentText("online")
    p.form.baseline.setChecked(False)


def _wait_step(qtbot, p, step=1):
    with qtbot.waitSignal(p._handle.progress, timeout=TIMEOUT,
                          check_params_cb=lambda e: getattr(e, "step", 0) >= step):
        pass


def _assert_shows(p, result):
    shown = p.curves.shown()
    n = result.batches_done
    np.testing.assert_array_equal(shown["loss_b"][0], np.arange(1, n + 1))
    np.testing.assert_allclose(shown["loss_b"][1], result.history["loss"])
    np.testing.assert_allclose(shown["loss_t"][0], result.history["elapsed"])
    np.testing.assert_allclose(shown["hacc_b"][0], result.evals["batch"])
    np.testing.assert_allclose(shown["hacc_b"][1], 100 * result.evals["accuracy"])
    edges, counts = p.weights.items["exc_after"].getData()
    h = result.figure["histograms"]["w_e_after"]
    np.testing.assert_allclose(counts, h["counts"])
    assert p.trial_plots.data is not None
    np.testing.assert_array_equal(p.trial_plots.data["raster"], result.figure["raster"])


def test_trains_shows_saves_and_reopens(qtbot, panel, tmp_path, runner):
    started, bar = [], []
    panel.running_changed.connect(started.append)
    panel.progress.connect(lambda text, fraction: bar.append(fraction))
    assert panel.form.t_label.text().startswith("T = 300 steps")
    assert panel.start()
    assert not panel.start_button.isEnabled() and panel.pause_button.isEnabled()
    assert not panel.form.fields["batches"].isEnabled()
    live = []  # what the live line said after each event (connected after the panel's slot)
    panel._handle.progress.connect(lambda _e: live.append(panel.live.text()))
    with qtbot.waitSignal(panel.result_changed, timeout=TIMEOUT) as done:
        pass
    result = done.args[0]
    assert isinstance(result, EvidenceTrainResult) and not result.cancelled
    assert result.batches_done == 3 and panel.session.training is result
    assert started == [True, False] and panel.state == "idle"
    assert bar[-2] == pytest.approx(1.0) and bar[-1] is None  # full, then hidden
    last = [t for t in live if "batch 3/3" in t][-1]
    assert "s/batch" in last and "MB in use" in last and "held-out" in last
    assert panel.live.text().startswith("Done: 3 batches")
    assert "3 batches" in panel.summary.text() and "held-out" in panel.summary.text()
    _assert_shows(panel, result)

    # the trial viewer: another held-out trial, computed in the worker
    panel.trial.setValue(3)
    with qtbot.waitSignal(runner.idle, timeout=TIMEOUT):
        assert panel.show_trial()
    qtbot.waitUntil(lambda: panel.trial_plots.data.get("trial") == 3, timeout=10_000)
    assert "trial 3" in panel.trial_info.text()
    assert panel.trial_plots.data["raster"].shape == (300, 40)

    path = tmp_path / "trained.bfproj.h5"
    save_project(panel.session, path)
    loaded = load_project(path)
    back = loaded.training
    assert json.dumps(back.summary()) == json.dumps(result.summary())  # NaN baseline too
    for k in result.params:
        np.testing.assert_array_equal(back.params[k], result.params[k])
    other = TrainingPanel(runner, loaded)
    qtbot.addWidget(other)
    _assert_shows(other, back)
    assert other.form.fields["neurons"].text() == "40"
    assert other.form.method.currentText() == "online"
    assert "3 batches" in other.summary.text()


def test_pause_resume_continues_the_history(qtbot, panel, runner, tmp_path):
    tiny(panel, batches=100_000)
    assert panel.start()
    _wait_step(qtbot, panel, 2)
    with qtbot.waitSignal(panel.result_changed, timeout=TIMEOUT) as paused_sig:
        panel.pause_button.click()
        assert panel.state == "pausing" and not panel.pause_button.isEnabled()
    paused = paused_sig.args[0]
    assert panel.state == "paused" and paused.cancelled and paused.state is not None
    assert panel.resume_button.isEnabled() and panel.stop_button.isEnabled()
    k = paused.batches_done
    assert 2 <= k < 100_000 and panel.session.training is paused
    assert "(paused)" in panel.summary.text()

    # a project saved while paused reopens paused, and resumes from there
    path = tmp_path / "paused.bfproj.h5"
    save_project(panel.session, path)
    other = TrainingPanel(runner, load_project(path))
    qtbot.addWidget(other)
    assert other.state == "paused" and other.resume_button.isEnabled()
    assert "(paused)" in other.summary.text()
    other.form.set_field("batches", k + 2)
    with qtbot.waitSignal(other.result_changed, timeout=TIMEOUT) as reopened:
        assert other.resume()
    assert reopened.args[0].batches_done == k + 2 and not reopened.args[0].paused
    np.testing.assert_array_equal(reopened.args[0].history["loss"][:k], paused.history["loss"])

    panel.form.set_field("batches", k + 3)
    with qtbot.waitSignal(panel.result_changed, timeout=TIMEOUT) as done:
        assert panel.resume()
    result = done.args[0]
    assert not result.cancelled and result.batches_done == k + 3
    assert len(result.history["loss"]) == k + 3  # continued, not restarted
    np.testing.assert_array_equal(result.history["loss"][:k], paused.history["loss"])
    assert list(result.evals["batch"]).count(0) == 1
    assert result.history["elapsed"][k] > paused.history["elapsed"][k - 1]
    _assert_shows(panel, result)
    assert panel.state == "idle" and panel.start_button.isEnabled()


def test_stop_keeps_the_best_weights(qtbot, panel):
    tiny(panel, batches=100_000)
    assert panel.start()
    _wait_step(qtbot, panel, 3)
    with qtbot.waitSignal(panel.result_changed, timeout=TIMEOUT) as done:
        panel.stop_button.click()
        assert panel.state == "stopping"
    result = done.args[0]
    assert result.cancelled and panel.session.training is result and panel.state == "idle"
    best = int(np.argmax(result.evals["accuracy"]))
    assert result.best_batch == int(result.evals["batch"][best])
    assert result.heldout_accuracy == pytest.approx(result.evals["accuracy"][best])
    assert "stopped" in panel.summary.text()
    assert not panel.resume_button.isEnabled()  # a stop is final
    # stop while paused ends the training too
    assert panel.start()
    _wait_step(qtbot, panel, 1)
    with qtbot.waitSignal(panel.result_changed, timeout=TIMEOUT):
        panel.pause()
    assert panel.state == "paused"
    panel.stop()
    assert panel.state == "idle" and not panel.resume_button.isEnabled()


@pytest.mark.parametrize("name, text, needle", [
    ("neurons", "0", "neurons must lie in"),
    ("neurons", "40.5", "whole number"),
    ("learning_rate", "-1", "learning rate"),
    ("batch_size", "abc", "not a number"),
    ("delay_ms", "-5", "delay"),
])
def test_bad_settings_are_refused_with_a_message(qtbot, panel, runner, name, text, needle):
    messages = []
    panel.message.connect(messages.append)
    panel.form.set_field(name, text)
    assert panel.form.fields[name].styleSheet() == BAD
    assert needle in panel.form.fields[name].toolTip()
    assert not panel.start()
    assert needle in panel.summary.text() and needle in messages[-1]
    assert not runner.busy and panel.state == "idle"
    if name in ("n_cues", "delay_ms"):
        assert "?" in panel.form.t_label.text()


def test_a_gif_fitted_in_the_session_parameterises_the_network(qtbot, panel):
    from core.fitting.results import FitResult
    from core.models import MODELS
    from core.training.ei_network import NeuronParams

    def fit(model, **params):
        base = {p.name: p.default for p in MODELS[model].PARAMS}
        return FitResult(method="lbfgsb", seed=0, model=model, free=list(params),
                         params={**base, **params}, fitted=dict(params), loss=0.5,
                         objective=0.5, gamma=0.8, gamma_loss=0.2, n_model_spikes=10,
                         n_data_spikes=10, evaluations=50, iterations=10, seconds=1.0,
                         compile_seconds=1.0, start_loss=2.0)

    assert panel.form.neuron_model.count() == 1  # the default GIF only
    gif = fit("gif", tau_V=12.0, A2=-0.08)
    panel.session.add_result(fit("lif"))
    panel.session.add_result(gif)  # the panel follows the session
    assert panel.form.neuron_model.count() == 2  # the LIF fit is not offered
    panel.form.neuron_model.setCurrentIndex(1)
    cfg = panel.form.read_config()
    nrn = cfg.network.neurons
    assert nrn == NeuronParams.from_fit_result(gif, nrn.source)
    assert nrn.tau_V == 12.0 and nrn.A2 == -0.08 and "session fit 2" in nrn.source
    panel.form.neuron_model.setCurrentIndex(0)
    assert panel.form.read_config().network.neurons == NeuronParams()
    panel.form.show_config(cfg)  # a result trained with the fitted cell shows it
    assert panel.form.neuron_model.currentData() == nrn


def test_in_the_window_a_trained_network_travels_with_the_project(make_workbench, qtbot,
                                                                   tmp_path):
    window = make_workbench()
    panel = window.training_panel
    tiny(panel)
    with qtbot.waitSignal(panel.result_changed, timeout=TIMEOUT) as done:
        assert panel.start()
    result = done.args[0]
    assert window.session.training is result and window.session.dirty
    path = tmp_path / "window.bfproj.h5"
    assert window.save_project(path)

    other = make_workbench()
    assert other.open_project(path)
    restored = other.session.training
    assert restored is not None and restored.batches_done == 3
    _assert_shows(other.training_panel, restored)
    assert "3 batches" in other.training_panel.summary.text()
