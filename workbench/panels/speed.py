"""Speed panel, for live demos: race layer-first against step-first on a chosen feed-forward
network, the event-driven CSR synapses against a dense matmul, and BPTT against the online rule's
memory, each through the shared JobRunner (jobs of :mod:`core.training.speed`), drawn point by
point as the worker measures.

Every number shown is from the run the user just watched: the plots from its events, the result
lines from its result (the same measurements); a new run of a race clears that race first.
Each race has a page (its sizes, Run and Cancel, its plot and result line); running a race shows
its page. Bad sizes are refused with the job's own message. One race runs at a time; Cancel stops
it between two calls and keeps what was measured.
"""

from __future__ import annotations

import math
import statistics

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.errors import ParameterError
from core.training import speed as sp
from core.training.speed import (
    FeedForwardRaceJob,
    FeedForwardRaceResult,
    MemoryRaceJob,
    MemoryRaceResult,
    SpeedSample,
    SynapseRaceJob,
    SynapseRaceResult,
)

from ..plots.speed import LABELS, SpeedPlots

RACES = ("feedforward", "synapse", "memory")
TITLES = {"feedforward": "Layer-first vs step-first", "synapse": "Synapses: CSR vs dense",
          "memory": "Memory: BPTT vs online"}
SELECTABLE = Qt.TextInteractionFlag.TextSelectableByMouse
WHAT_ITEMS = (("training step", "train_step"), ("inference", "inference"))


def _ms(v: float) -> str:
    if not math.isfinite(v):
        return "–"
    return f"{v:.3g} ms" if v < 100 else f"{v:.0f} ms"


def _times(x: float) -> str:
    return f"{x:.2f}×" if math.isfinite(x) else "–"


def _yes_no(flag) -> str:
    return {True: "yes", False: "<b>no</b>", None: "not checked"}[flag]


def _spin(lo: int, hi: int, value: int, tip: str) -> QSpinBox:
    box = QSpinBox(minimum=lo, maximum=hi, value=value)
    box.setToolTip(tip)
    return box


class SpeedPanel(QWidget):
    """``SpeedPanel(runner, parent=None)``. Signals: ``message(str)`` (a status line for the
    window), ``race_finished(str, object)`` (race name and its result, also when cancelled)."""

    message = pyqtSignal(str)
    race_finished = pyqtSignal(str, object)

    def __init__(self, runner, parent=None):
        super().__init__(parent)
        self.runner = runner
        self.race: str | None = None  # the race running, if any
        self._handle = None
        self.results: dict[str, object] = {}

        ff = QGroupBox("Feed-forward network")
        form = QFormLayout(ff)
        self.depth = _spin(1, sp.MAX_DEPTH, 3, "hidden LIF layers")
        self.width = _spin(1, sp.MAX_WIDTH, 256, "neurons per layer (and input channels)")
        self.T = _spin(1, sp.MAX_T, 100, "time steps per sample")
        self.batch = _spin(1, sp.MAX_BATCH, 32, "samples per batch")
        self.what = QComboBox(toolTip="training step: forward + backward (value_and_grad of "
                                      "the cross-entropy); inference: forward only")
        for text, data in WHAT_ITEMS:
            self.what.addItem(text, data)
        self.repeats = _spin(1, sp.MAX_REPEATS, 20, "timed batches per mode")
        for label, w in (("depth", self.depth), ("width", self.width), ("T (steps)", self.T),
                         ("batch", self.batch), ("what", self.what), ("batches", self.repeats)):
            form.addRow(label, w)
        syn = QGroupBox("Connectivity y = x @ W")
        form = QFormLayout(syn)
        self.syn_n = _spin(2, sp.MAX_SYN_N, 4000, "neurons (W is n × n)")
        self.syn_p = QLineEdit("0.02", toolTip="connection probability, in (0, 1]")
        self.syn_active = QLineEdit("0.02", toolTip="fraction of neurons spiking, in (0, 1]")
        self.syn_repeats = _spin(1, sp.MAX_REPEATS, 30, "timed calls of each")
        for label, w in (("neurons", self.syn_n), ("p", self.syn_p),
                         ("active fraction", self.syn_active), ("calls", self.syn_repeats)):
            form.addRow(label, w)
        mem = QGroupBox("Evidence network, one training batch")
        form = QFormLayout(mem)
        self.mem_T = QLineEdit("100, 200, 400, 800",
                               toolTip="trial lengths in steps of 1 ms, e.g. 100, 200, 400")
        self.mem_batch = _spin(1, sp.MAX_BATCH, 16, "trials per batch")
        self.mem_neurons = _spin(5, sp.MAX_MEM_NEURONS, 400, "E/I network size (4 E : 1 I)")
        for label, w in (("T values", self.mem_T), ("batch", self.mem_batch),
                         ("neurons", self.mem_neurons)):
            form.addRow(label, w)
        self.groups = {"feedforward": ff, "synapse": syn, "memory": mem}
        self.plots = SpeedPlots(self)
        self.run_buttons: dict[str, QPushButton] = {}
        self.cancel_buttons: dict[str, QPushButton] = {}
        self.lines: dict[str, QLabel] = {}
        self.tabs = QTabWidget()  # one page per race: its form, buttons, plot and result line
        for race, box in self.groups.items():
            run = QPushButton("Run race")
            run.clicked.connect(lambda _=False, r=race: self.run(r))
            cancel = QPushButton("Cancel", enabled=False)
            cancel.clicked.connect(self.cancel)
            self.run_buttons[race], self.cancel_buttons[race] = run, cancel
            buttons = QHBoxLayout()
            buttons.addWidget(run)
            buttons.addWidget(cancel)
            left = QWidget(minimumWidth=220, maximumWidth=300)
            col = QVBoxLayout(left)
            col.setContentsMargins(0, 0, 0, 0)
            col.addWidget(box)
            col.addLayout(buttons)
            col.addStretch(1)
            self.lines[race] = QLabel(f"<b>{TITLES[race]}:</b> not run yet.", wordWrap=True,
                                      textInteractionFlags=SELECTABLE)
            view = self.plots.views[race]
            view.setMinimumSize(280, 200)
            right = QWidget()
            right_col = QVBoxLayout(right)
            right_col.setContentsMargins(0, 0, 0, 0)
            right_col.addWidget(view, 1)
            right_col.addWidget(self.lines[race])
            page = QWidget()
            row = QHBoxLayout(page)
            row.addWidget(left)
            row.addWidget(right, 1)
            self.tabs.addTab(page, TITLES[race])
        self.status = QLabel("Choose sizes and run a race.", wordWrap=True,
                             textInteractionFlags=SELECTABLE)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.status)

    @property
    def ci(self):
        """The shown race's plot (File > Export figure exports a tab's ``ci``)."""
        return self.plots.views[RACES[self.tabs.currentIndex()]].ci

    # ---- the forms -----------------------------------------------------------------------------
    def make_job(self, race: str):
        """The race's job from its form; ParameterError (the job's message) when refused."""
        if race == "feedforward":
            return FeedForwardRaceJob(depth=self.depth.value(), width=self.width.value(),
                                      T=self.T.value(), batch=self.batch.value(),
                                      what=self.what.currentData(), repeats=self.repeats.value())
        if race == "synapse":
            return SynapseRaceJob(n=self.syn_n.value(), p=self.syn_p.text().strip(),
                                  active_fraction=self.syn_active.text().strip(),
                                  repeats=self.syn_repeats.value())
        if race == "memory":
            tokens = [t for t in self.mem_T.text().replace(",", " ").split() if t]
            return MemoryRaceJob(T_values=tokens, batch=self.mem_batch.value(),
                                 neurons=self.mem_neurons.value())
        raise ValueError(f"unknown race {race!r}")

    # ---- running -------------------------------------------------------------------------------
    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.message.emit(f"speed: {text}")

    @property
    def running(self) -> bool:
        return self.race is not None

    def run(self, race: str) -> bool:
        """Start ``race`` from its form; False (with a message) when refused."""
        if self.running:
            self._say("a race is running; cancel it first")
            return False
        try:
            job = self.make_job(race)
        except ParameterError as exc:
            self._say(f"not run: {exc}")
            return False
        self.results.pop(race, None)
        self.plots.clear_race(race)
        handle = self.runner.submit(job, queue=True, broadcast=False)
        if not handle:
            self._say("the worker is shut down; the race cannot run")
            return False
        first = (f"building the network for T={job.T_values[0]}…" if race == "memory"
                 else "building and compiling both contestants…")
        handle.started.connect(lambda _name: self._say(first))
        handle.progress.connect(self._on_event)
        handle.finished.connect(self._on_done)
        handle.cancelled.connect(self._on_done)
        handle.failed.connect(self._on_failed)
        self._handle, self.race = handle, race
        self.tabs.setCurrentIndex(RACES.index(race))
        self._set_running(True)
        self.lines[race].setText(f"<b>{TITLES[race]}:</b> running…")
        busy = self.runner.current is not handle
        self._say("waiting for the running job to end…" if busy else "starting…")
        return True

    def cancel(self) -> None:
        if self.running and self._handle is not None:
            self._handle.cancel()
            self._say("cancelling… (stops after the current call)")

    def _set_running(self, running: bool) -> None:
        (self.plots.start_live if running else self.plots.stop_live)()
        for race in RACES:
            self.run_buttons[race].setEnabled(not running)
            self.cancel_buttons[race].setEnabled(running and race == self.race)

    def _on_event(self, event) -> None:
        if not isinstance(event, SpeedSample) or event.race != self.race:
            return
        self.plots.add(event)
        if event.message:
            count = f" ({event.done}/{event.total})" if event.total and event.kind != "compile" \
                else ""
            self._say(event.message + count)
        if event.kind in ("time", "memory"):
            self.lines[self.race].setText(self._live_line(self.race))

    def _live_line(self, race: str) -> str:
        """Medians of what has been measured so far (the points on the plot)."""
        parts = []
        for (r, s), pts in self.plots.points.items():
            if r == race and pts and race == "memory":
                parts.append(f"{LABELS[s]} {pts[-1][1]:.1f} MiB at T={pts[-1][0]:.0f}")
            elif r == race and pts:
                parts.append(f"{LABELS[s]} {_ms(statistics.median(y for _, y in pts))} "
                             f"({len(pts)})")
        what = "latest" if race == "memory" else "median"
        return f"<b>{TITLES[race]}</b>, so far: {what} " + ", ".join(parts)

    def _on_done(self, result) -> None:
        race = self.race
        if race is None:  # not ours any more
            return
        self._handle, self.race = None, None
        self._set_running(False)
        if result is None:
            self.lines[race].setText(f"<b>{TITLES[race]}:</b> cancelled before "
                                     f"anything was measured.")
            self._say("cancelled")
            return
        self.results[race] = result
        self.lines[race].setText(result_line(result))
        state = "cancelled; what was measured is kept" if result.cancelled else "done"
        self._say(f"{TITLES[race]}: {state}")
        self.race_finished.emit(race, result)

    def _on_failed(self, message: str, _details: str) -> None:
        race = self.race
        if race is None:
            return
        self._handle, self.race = None, None
        self._set_running(False)
        self.lines[race].setText(f"<b>{TITLES[race]}:</b> failed: {message}")
        self._say(f"failed: {message}")


def result_line(r) -> str:
    """One rich-text line of a race's result: its medians, ratio and checks."""
    tail = " <i>(cancelled: partial)</i>" if r.cancelled else ""
    if isinstance(r, FeedForwardRaceResult):
        c = r.config
        what = "training step" if c["what"] == "train_step" else "inference"
        n = [len(r.times_s[m]) for m in ("layer_first", "step_first")]
        faster = ("layer-first faster" if r.speedup > 1 else "step-first faster"
                  if r.speedup < 1 else "") if math.isfinite(r.speedup) else ""
        flips = f" ({r.spike_flips} of the spikes differ)" if r.spike_flips else ""
        return (f"<b>{r.arch}</b>, T={c['T']}, batch {c['batch']}, {what} on {r.backend}: "
                f"median <span style='color:#d6453d'>layer-first {_ms(r.median_ms('layer_first'))}"
                f"</span> ({n[0]}), <span style='color:#2a6fb0'>step-first "
                f"{_ms(r.median_ms('step_first'))}</span> ({n[1]}) → speed-up "
                f"<b>{_times(r.speedup)}</b> {faster}<br>identical spikes and outputs: "
                f"{_yes_no(r.identical)}{flips} (outputs within {r.max_output_rel_diff:.1e}); "
                f"compile {r.compile_s.get('layer_first', math.nan):.2f} s / "
                f"{r.compile_s.get('step_first', math.nan):.2f} s{tail}")
    if isinstance(r, SynapseRaceResult):
        c = r.config
        return (f"<b>{c['n']} × {c['n']}</b>, p={c['p']:g} ({r.nnz:,} synapses), "
                f"{r.n_active} active: median event-driven {_ms(r.median_ms('event'))}, dense "
                f"{_ms(r.median_ms('dense'))} → event-driven <b>{_times(r.speedup)}</b>; "
                f"largest difference {r.max_abs_err:.1e}; weights {r.csr_mib:.1f} MiB CSR vs "
                f"{r.dense_mib:.1f} MiB dense; compile {r.compile_s.get('event', math.nan):.2f}"
                f" s / {r.compile_s.get('dense', math.nan):.2f} s{tail}")
    if isinstance(r, MemoryRaceResult):
        c = r.config
        T, bptt = r.series("bptt")
        _, online = r.series("online")
        pts = ", ".join(f"T={t}: {b:.1f} / {o:.1f}" for t, b, o in zip(T, bptt, online))
        Ts, bs = r.series("bptt", "s_per_batch")
        _, os_ = r.series("online", "s_per_batch")
        timing = (f"; per batch at T={Ts[-1]}: BPTT {_ms(1e3 * bs[-1])}, online "
                  f"{_ms(1e3 * os_[-1])}" if Ts and len(os_) == len(bs) else "")
        return (f"<b>{c['neurons']} neurons</b>, batch {c['batch']}: peak MiB BPTT / online "
                f"(ES-D-RTRL) {pts or '–'} → BPTT/online at the longest T "
                f"<b>{_times(r.ratio_at_longest())}</b>{timing}{tail}")
    return str(r)
