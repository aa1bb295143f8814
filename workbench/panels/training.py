"""Training panel: train the E/I network on the evidence-accumulation task, live.

The form sets the task (cues, delay; the trial length T follows and is shown), the network
(neurons, 4:1 E/I) and the training (method, learning rate, batches, batch size, seed, held-out
trials and how often they are scored). Start / Pause / Resume / Stop drive one
:class:`~core.training.evidence.EvidenceTrainJob` at a time through the shared runner (its own
handle, ``broadcast=False``):

- **Stop** cancels between batches; the job hands back its partial result with the best
  held-out weights, which becomes ``session.training``.
- **Pause** does the same and keeps the result's :class:`~core.training.evidence.TrainState`;
  **Resume** submits a new job continuing from it (history extended, not restarted; the
  ``batches`` field may raise the total).

Live: loss and accuracy (train batches, held-out) against batches and wall time, time per batch
and memory in use. After a run: the weight histograms before/after with their fits, and the trial
viewer (a held-out trial, computed in the worker by a :class:`TrialViewJob`).
"""

from __future__ import annotations

import dataclasses

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.errors import ParameterError
from core.training.evidence import EvidenceTrainJob, EvidenceTrainProgress
from core.training.evidence_results import EvidenceTrainResult
from core.training.evidence_view import TrialViewJob

from ..plots.training import TrainingCurves, TrialPlots, WeightHistograms
from .training_form import TrainingForm, parse_field

JOB_NAME = "training"


class TrainingPanel(QWidget):
    """Signals: ``message(str)`` (for the status bar), ``progress(str, object)`` (text and
    fraction done, None when no training runs: the window's progress bar),
    ``running_changed(bool)`` (a job of the panel runs or not), ``result_changed(object)`` (a
    result became ``session.training``)."""

    message = pyqtSignal(str)
    progress = pyqtSignal(str, object)
    running_changed = pyqtSignal(bool)
    result_changed = pyqtSignal(object)

    def __init__(self, runner, session, parent=None):
        super().__init__(parent)
        self.runner, self.session = runner, session
        self.state = "idle"  # idle | running | pausing | stopping | paused
        self._handle = None
        self._view_handle = None
        self._paused: EvidenceTrainResult | None = None
        self._config = None

        self.form = TrainingForm()

        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.stop_button = QPushButton("Stop", toolTip="stop between batches, keeping the best "
                                       "held-out weights")
        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.resume_button, self.stop_button):
            buttons.addWidget(b)
        self.live = QLabel("", wordWrap=True, objectName="trainingLive")
        self.summary = QLabel("No network trained yet.", wordWrap=True, minimumHeight=64,
                              textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse)

        controls = QWidget()
        col = QVBoxLayout(controls)
        col.addWidget(self.form)
        col.addStretch(1)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(controls)
        left = QWidget(minimumWidth=270, maximumWidth=360)
        lcol = QVBoxLayout(left)
        lcol.setContentsMargins(0, 0, 0, 0)
        lcol.addWidget(scroll, 1)
        lcol.addLayout(buttons)
        lcol.addWidget(self.live)
        lcol.addWidget(self.summary)

        self.curves = TrainingCurves(self)
        self.ci = self.curves.ci  # File > Export figure exports the tab's ``ci``
        self.trial_plots = TrialPlots(self)
        self.weights = WeightHistograms(self)
        self.trial = QSpinBox(minimum=0, maximum=100_000, toolTip="held-out trial index")
        self.trial_weights = QComboBox(toolTip="which weights run the trial")
        self.trial_weights.addItems(["best", "initial", "last"])
        self.show_trial_button = QPushButton("Show trial")
        self.trial_info = QLabel("")
        trial_bar = QHBoxLayout()
        for w in (QLabel("held-out trial"), self.trial, QLabel("weights"), self.trial_weights,
                  self.show_trial_button):
            trial_bar.addWidget(w)
        trial_bar.addWidget(self.trial_info, 1)  # the rest of the row: never cut short
        trial_tab = QWidget()
        tcol = QVBoxLayout(trial_tab)
        tcol.setContentsMargins(0, 0, 0, 0)
        tcol.addLayout(trial_bar)
        tcol.addWidget(self.trial_plots, 1)
        self.views = QTabWidget()
        self.views.addTab(self.curves, "Loss && accuracy")
        self.views.addTab(trial_tab, "Trial")
        self.views.addTab(self.weights, "Weights")
        splitter = QSplitter(Qt.Orientation.Horizontal, childrenCollapsible=False)
        splitter.addWidget(left)
        splitter.addWidget(self.views)
        splitter.setStretchFactor(1, 1)
        QVBoxLayout(self).addWidget(splitter)

        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.pause)
        self.resume_button.clicked.connect(self.resume)
        self.stop_button.clicked.connect(self.stop)
        self.show_trial_button.clicked.connect(self.show_trial)
        self._set_state("idle")
        session.subscribe(self._on_session)
        self.refresh()

    def _on_session(self, what: str) -> None:
        if what in ("results", "model"):
            try:
                self.form.set_fits(self.session.results)
            except RuntimeError:  # the panel's widgets are gone (its window closed)
                pass

    # ---- running ------------------------------------------------------------------------------
    def _say(self, text: str) -> None:
        self.message.emit(f"training: {text}")

    def start(self) -> bool:
        """Start a fresh training from the form (a paused one is dropped); False if refused."""
        if self.state not in ("idle", "paused"):
            return False
        try:
            cfg = self.form.read_config()
        except ParameterError as exc:
            self.summary.setText(f"Not started: {exc}")
            self._say(str(exc))
            return False
        self._paused = None
        self.curves.reset()
        return self._submit(EvidenceTrainJob(cfg, name=JOB_NAME), f"compiling {cfg.label} "
                            f"({cfg.network.n} neurons, T = {cfg.task.T})…")

    def resume(self) -> bool:
        if self.state != "paused" or self._paused is None:
            return False
        cfg = self._paused.train_config
        try:
            batches = parse_field("batches", self.form.fields["batches"].text())
        except ParameterError:
            batches = cfg.batches
        if batches <= self._paused.batches_done:
            self.summary.setText(f"Not resumed: already {self._paused.batches_done} batches; "
                                 f"raise 'batches' above that")
            self._say("raise 'batches' to resume")
            return False
        cfg = cfg.replace(batches=batches)
        job = EvidenceTrainJob(cfg, name=JOB_NAME, initial_state=self._paused.state)
        return self._submit(job, f"resuming at batch {self._paused.batches_done}/{batches}…")

    def _submit(self, job, text: str) -> bool:
        handle = self.runner.submit(job, queue=True, broadcast=False)
        if not handle:
            self._say("the worker is shut down; training cannot run")
            return False
        handle.progress.connect(self._on_event)
        handle.finished.connect(self._on_finished)
        handle.cancelled.connect(self._on_cancelled)
        handle.failed.connect(self._on_failed)
        self._handle, self._config = handle, job.config
        self._set_state("running")
        self.live.setText(text.capitalize())
        cfg = job.config
        self.summary.setText(f"Training <b>{cfg.label}</b>: {cfg.network.n} neurons, "
                             f"{cfg.task.n_cues} cues, T = {cfg.task.T} steps, batch "
                             f"{cfg.batch_size}, {cfg.batches} batches…")
        self._say(text)
        return True

    def pause(self) -> None:
        if self.state == "running":
            self._handle.cancel()
            self._set_state("pausing")
            self._say("pausing after the current batch…")

    def stop(self) -> None:
        if self.state == "running":
            self._handle.cancel()
            self._set_state("stopping")
            self._say("stopping after the current batch (the best weights are kept)…")
        elif self.state == "paused":
            result, self._paused = self._paused, None
            self._set_state("idle")
            if result is not None:  # a stopped training now (results are replaced, not edited)
                result = dataclasses.replace(result, paused=False)
                self.session.set_training(result)
                self.summary.setText(summary_text(result))
            self.live.setText("Stopped: the best weights are kept")
            self._say("stopped; the best weights are kept")

    def _set_state(self, state: str) -> None:
        was = self.state in ("running", "pausing", "stopping")
        self.state = state
        busy = state in ("running", "pausing", "stopping")
        self.start_button.setEnabled(state in ("idle", "paused"))
        self.pause_button.setEnabled(state == "running")
        self.resume_button.setEnabled(state == "paused")
        self.stop_button.setEnabled(state in ("running", "paused"))
        self.form.set_editable(not busy)
        self.show_trial_button.setEnabled(not busy and self.session.training is not None)
        if busy:
            self.curves.start_live()
        else:
            self.curves.stop_live()
        if busy != was:
            self.running_changed.emit(busy)
            if not busy:
                self.progress.emit("", None)

    def _on_event(self, event) -> None:
        if not isinstance(event, EvidenceTrainProgress):
            return
        held = event.heldout_accuracy
        if event.step:
            self.curves.add_batch(event.step, event.loss, event.accuracy, event.elapsed)
        if held == held:
            self.curves.add_heldout(event.done, held, event.elapsed, event.heldout_loss)
        if event.total:
            self.progress.emit("training", event.fraction or 0.0)
        if not event.step:  # compiling, resumed, baseline, stopping
            self.live.setText(event.message)
            return
        first = [f"batch {event.done}/{event.total}"]
        if event.seconds == event.seconds:
            first.append(f"{event.seconds:.2f} s/batch")
        if event.memory_mb == event.memory_mb:
            first.append(f"{event.memory_mb:,.0f} MB in use")
        second = f"loss {event.loss:.3f}, batch accuracy {100 * event.accuracy:.0f} %"
        if held == held:
            second += f", held-out {100 * held:.1f} %"
        if not event.finite:
            second = event.message
        self.live.setText(" · ".join(first) + "\n" + second)

    def _on_finished(self, result) -> None:
        self._paused = None
        self._set_state("idle")
        self._adopt(result)
        self.live.setText(f"Done: {result.batches_done} batches in {result.elapsed_s:.1f} s")
        self._say(f"done: held-out accuracy {100 * result.heldout_accuracy:.1f} %")

    def _on_cancelled(self, partial) -> None:
        pausing = self.state == "pausing"
        if not isinstance(partial, EvidenceTrainResult):  # cancelled before it started
            if self._paused is not None and pausing:  # a resume that never ran: still paused
                self._set_state("paused")
                self.live.setText(f"Paused at batch {self._paused.batches_done}")
                return
            if self._paused is not None:  # stopped: the paused result is the final one
                self.session.set_training(dataclasses.replace(self._paused, paused=False))
                self._paused = None
                self._set_state("idle")
                self.live.setText("Stopped: the best weights are kept")
                self._say("stopped; the best weights are kept")
                return
            self._set_state("idle")
            self.summary.setText("Stopped before the first batch; nothing kept.")
            self._say("stopped")
            return
        partial.paused = pausing and partial.state is not None  # saved with it: resumable
        self._adopt(partial)
        if partial.paused:
            self._paused = partial
            self._set_state("paused")
            self.summary.setText(summary_text(partial, paused=True))
            self.live.setText(f"Paused at batch {partial.batches_done}: Resume continues from "
                              f"here, Stop ends with the best weights")
            self._say(f"paused at batch {partial.batches_done}")
        else:
            self._paused = None
            self._set_state("idle")
            self._say(f"stopped at batch {partial.batches_done}; best weights of batch "
                      f"{partial.best_batch} kept")

    def _on_failed(self, message: str, _details: str) -> None:
        self._set_state("paused" if self._paused is not None else "idle")
        self.summary.setText(f"Failed: {message}")
        self._say(message)

    def _adopt(self, result: EvidenceTrainResult) -> None:
        self.session.set_training(result)
        self.show_result(result)
        self.result_changed.emit(result)

    # ---- showing ------------------------------------------------------------------------------
    def show_result(self, result: EvidenceTrainResult) -> None:
        self.curves.show_result(result)
        self.weights.show_figure(result.figure)
        if result.figure:
            self.trial_plots.show_trial(result.figure)
            self.trial_info.setText(_trial_text(result.figure, "best"))
        self.summary.setText(summary_text(result))
        self.show_trial_button.setEnabled(self.state in ("idle", "paused"))

    def refresh(self) -> None:
        """Show the session's training (after a project was opened)."""
        result = getattr(self.session, "training", None)
        self._paused = None
        self.form.set_fits(self.session.results)
        if isinstance(result, EvidenceTrainResult):
            self.form.show_config(result.train_config)
            self.show_result(result)
            if result.paused and result.state is not None and self.state == "idle":
                self._paused = result  # a project saved while paused resumes where it was
                self._set_state("paused")
                self.summary.setText(summary_text(result, paused=True))
                self.live.setText(f"Paused at batch {result.batches_done}: Resume continues")
                return
        else:
            self.curves.reset()
            self.trial_plots.reset()
            self.weights.reset()
            self.summary.setText("No network trained yet.")
        if self.state == "paused":
            self._set_state("idle")

    def show_trial(self) -> bool:
        """Compute the chosen held-out trial in the worker and show it."""
        result = self.session.training
        if result is None or self.state not in ("idle", "paused"):
            return False
        if self._view_handle is not None:
            self.runner.drop(self._view_handle)
        which = self.trial_weights.currentText()
        job = TrialViewJob.from_result(result, self.trial.value(), which,
                                       name="training-trial")
        handle = self.runner.submit(job, queue=True, broadcast=False)
        if not handle:
            return False
        handle.finished.connect(lambda d, w=which: self._on_trial(d, w))
        handle.failed.connect(lambda m, _d: self.trial_info.setText(f"Failed: {m}"))
        self._view_handle = handle
        self.trial_info.setText(f"simulating trial {self.trial.value()}…")
        return True

    def _on_trial(self, data: dict, which: str) -> None:
        self._view_handle = None
        self.trial_plots.show_trial(data)
        self.trial_info.setText(_trial_text(data, which))


def _trial_text(d: dict, which: str) -> str:
    side = ("left", "right")
    text = f"trial {d.get('trial', 0)} ({which} weights): label {side[int(d['label'])]}"
    if "prediction" in d:
        text += f", decision {side[int(d['prediction'])]}"
    return text


def summary_text(r: EvidenceTrainResult, paused: bool = False) -> str:
    s = r.summary()
    state = " (paused)" if paused else " (stopped)" if r.cancelled else ""
    base = r.reservoir_accuracy
    base_text = f"; readout-only baseline {100 * base:.1f} %" if base == base else ""
    spb = s["seconds_per_batch"]
    text = (f"<b>{r.train_config.label}</b>{state}: {r.batches_done} batches, best held-out "
            f"accuracy <b>{100 * r.heldout_accuracy:.1f} %</b> (batch {r.best_batch}, "
            f"{s['n_heldout']} trials){base_text}<br>"
            f"{r.elapsed_s:.1f} s" + (f", {spb:.2f} s per batch" if spb == spb else ""))
    if r.stop_reason:
        text += f"<br>{r.stop_reason}"
    return text
