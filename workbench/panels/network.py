"""Network panel: pick a template, edit its main parameters, run it through the shared JobRunner
with live progress and cancel, and see the spike raster, population rates and membrane traces.

The form is generated from the template's ParamSpecs; bad numbers are refused with a message.
Only events and results of this panel's own job are followed (the runner is shared). The result
is stored in ``session.network`` and so saved with the project.
"""

from __future__ import annotations

import re

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.errors import ParameterError
from core.events import SimulationProgress
from core.network import TEMPLATES, NetworkResult, get_template
from core.network.jobs import LiveSimulateJob, NetworkLayout

from ..plots.raster import NetworkPlots

JOB_NAME = "network"
MAX_DURATION_MS = 100_000.0
MAX_TRACES = 32
BAD = "QLineEdit { background: #fde2e0; }"


def live_chunk_ms(duration_ms: float, dt: float, default_ms: float) -> float:
    """About ten chunks per run (at most the template's chunk), dividing the run evenly when
    possible so that no extra chunk length has to be compiled."""
    n = max(1, int(round(duration_ms / dt)))
    target = max(1, min(n // 10, int(round(default_ms / dt))))
    for k in range(target, max(1, target // 2) - 1, -1):
        if n % k == 0:
            return k * dt
    return target * dt


def parse_indices(text: str) -> list[int]:
    """``"0, 1, 3200"`` or ``"0-4, 3200"`` -> neuron indices."""
    out: list[int] = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", part)
        if m and int(m[1]) <= int(m[2]):
            out.extend(range(int(m[1]), int(m[2]) + 1))
        elif re.fullmatch(r"\d+", part):
            out.append(int(part))
        else:
            raise ParameterError(f"recorded neurons: {part!r} is not an index (>= 0) or a range "
                                 "like 0-4")
    if len(out) > MAX_TRACES:
        raise ParameterError(f"recorded neurons: at most {MAX_TRACES} traces, got {len(out)}")
    return list(dict.fromkeys(out))


def parse_value(spec, text: str):
    """The number typed for ``spec``, checked by the core rule the CLI uses too."""
    return spec.coerce(text)


class NetworkPanel(QWidget):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.running = False
        self._job: LiveSimulateJob | None = None
        self.fields: dict[str, QLineEdit] = {}

        self.template = QComboBox()
        for name, t in TEMPLATES.items():
            self.template.addItem(t.title, name)
        self.template.setToolTip("network template")
        self.doc = QLabel(wordWrap=True, textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse)
        self.doc.setStyleSheet("color: #555;")
        self.param_box = QGroupBox("Parameters")
        self.param_form = QFormLayout(self.param_box)
        run_box = QGroupBox("Run")
        run_form = QFormLayout(run_box)
        self.duration = QLineEdit()
        self.duration.setToolTip(f"simulated time, ms (at most {MAX_DURATION_MS:g})")
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1)
        self.seed.setToolTip("random seed of connectivity and initial state")
        self.record = QLineEdit()
        self.record.setToolTip(f"neurons whose membrane potential is kept: '0, 1, 3200' or "
                               f"'0-4' (at most {MAX_TRACES})")
        run_form.addRow("duration (ms)", self.duration)
        run_form.addRow("seed", self.seed)
        run_form.addRow("traces of", self.record)
        self.run_button = QPushButton("Run")
        self.cancel_button = QPushButton("Cancel", enabled=False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        self.summary = QLabel("No network run yet.", wordWrap=True, minimumHeight=64,
                              textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse)

        controls = QWidget()
        col = QVBoxLayout(controls)
        col.addWidget(QLabel("Template"))
        col.addWidget(self.template)
        col.addWidget(self.doc)
        col.addWidget(self.param_box)
        col.addWidget(run_box)
        col.addStretch(1)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(controls)
        left = QWidget(minimumWidth=250, maximumWidth=340)
        left_col = QVBoxLayout(left)
        left_col.setContentsMargins(0, 0, 0, 0)
        left_col.addWidget(scroll, 1)
        left_col.addLayout(buttons)  # always in sight, whatever the form's length
        left_col.addWidget(self.summary)
        self.plots = NetworkPlots(self)
        self.plots.setMinimumWidth(320)
        self.ci = self.plots.ci  # File > Export figure exports the tab's ``ci``
        splitter = QSplitter(Qt.Orientation.Horizontal, childrenCollapsible=False)
        splitter.addWidget(left)
        splitter.addWidget(self.plots)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        QVBoxLayout(self).addWidget(splitter)

        self.template.currentIndexChanged.connect(self._build_form)
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        self._handle = None  # the running job's RunnerJob (its own signals)
        self._build_form()
        self.refresh()

    # ---- the form -----------------------------------------------------------------------------
    def template_name(self) -> str:
        return self.template.currentData()

    def select_template(self, name: str) -> None:
        self.template.setCurrentIndex(self.template.findData(get_template(name).name))

    def _build_form(self) -> None:
        t = get_template(self.template_name())
        while self.param_form.rowCount():
            self.param_form.removeRow(0)
        self.fields.clear()
        for spec in t.params:
            edit = QLineEdit(f"{spec.default:g}", maximumWidth=110)
            edit.setToolTip(f"{spec.doc}; {spec.lower:g} … {spec.upper:g} {spec.unit}".strip())
            edit.textChanged.connect(lambda _text, s=spec, e=edit: self._mark(s, e))
            label = f"{spec.name} ({spec.unit})" if spec.unit else spec.name
            self.param_form.addRow(label, edit)
            self.fields[spec.name] = edit
        self.doc.setText(t.doc.split("\n\n")[0].replace("\n", " "))
        self.doc.setToolTip(t.doc)
        self.duration.setText(f"{t.default_duration_ms:g}")
        self.record.setText(", ".join(str(i) for i in t.default_record))

    @staticmethod
    def _mark(spec, edit: QLineEdit) -> None:
        try:
            parse_value(spec, edit.text())
        except ParameterError as exc:
            edit.setStyleSheet(BAD)
            edit.setToolTip(str(exc))
        else:
            edit.setStyleSheet("")
            edit.setToolTip(f"{spec.doc}; {spec.lower:g} … {spec.upper:g} {spec.unit}".strip())

    def set_parameter(self, name: str, text) -> None:
        self.fields[name].setText(str(text))

    def read_form(self) -> dict:
        """Arguments of the job from the form; ParameterError naming the first bad field."""
        t = get_template(self.template_name())
        params = {s.name: parse_value(s, self.fields[s.name].text()) for s in t.params}
        changed = {k: v for k, v in params.items() if v != t.defaults()[k]}
        try:
            duration = float(self.duration.text())
        except ValueError:
            raise ParameterError(f"duration: {self.duration.text()!r} is not a number") from None
        if not 0 < duration <= MAX_DURATION_MS:
            raise ParameterError(f"duration must lie in (0, {MAX_DURATION_MS:g}] ms, got "
                                 f"{duration:g} (use `brainfit simulate` for longer runs)")
        dt = float(params.get("dt", 0.1))
        return dict(template_name=t.name, params=changed, duration_ms=duration,
                    seed=self.seed.value(), record_traces=parse_indices(self.record.text()),
                    chunk_ms=live_chunk_ms(duration, dt, t.default_chunk_ms))

    # ---- running ------------------------------------------------------------------------------
    def _message(self, text: str) -> None:
        self.window.statusBar().showMessage(text)

    def run(self) -> bool:
        """Start a run from the form; False (with a message) when refused."""
        if self.running:
            return False
        try:
            job = LiveSimulateJob(name=JOB_NAME, **self.read_form())
        except ParameterError as exc:
            self.summary.setText(f"Not run: {exc}")
            self._message(f"network: {exc}")
            return False
        runner = self.window.runner
        runner.drop("preview")  # a model preview: let it go, without waiting for it
        handle = runner.submit(job, queue=True)
        if not handle:
            self._message("the worker is shut down; the network cannot run")
            return False
        handle.progress.connect(self._on_event)
        handle.finished.connect(self._on_finished)
        handle.cancelled.connect(self._on_cancelled)
        handle.failed.connect(self._on_failed)
        self._handle = handle
        self._job = job
        self._set_running(True)
        self.summary.setText(f"Building and compiling the {job.template_name} network…")
        self._message(f"network: running {job.template_name} for {job.duration_ms:g} ms")
        self.window.show_progress("network", 0.0)
        return True

    def cancel(self) -> None:
        if self.running and self._handle is not None:
            self._handle.cancel()
            self._message("network: cancelling… (stops after the current chunk)")

    def _set_running(self, running: bool) -> None:
        self.running = running
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.template.setEnabled(not running)
        self.param_box.setEnabled(not running)
        if running:
            self.plots.start_live()
        else:
            self.plots.stop_live()
            self.window.show_progress("", None)

    def _on_event(self, event) -> None:
        if isinstance(event, NetworkLayout):
            self.plots.setup(event.populations, event.trace_indices, event.duration_ms, event.dt)
        elif isinstance(event, SimulationProgress) and event.preview is not None:
            p = event.preview
            self.plots.add_chunk(p.t_ms, p.index, p.trace_t_ms, p.traces, event.spikes,
                                 event.t_ms)
            self.window.show_progress(f"network {event.message}", event.fraction or 0.0)
            self.summary.setText(f"Running: {event.message}")

    def _on_finished(self, result) -> None:
        self._set_running(False)
        self._adopt(result)
        self._message(f"network: {result.template} finished, {result.n_spikes} spikes in "
                      f"{result.elapsed_s + result.compile_s:.1f} s")

    def _on_cancelled(self, partial) -> None:
        self._set_running(False)
        if isinstance(partial, NetworkResult):
            self._adopt(partial)
            self._message(f"network: cancelled; the first {partial.duration_ms:g} ms are kept")
        else:
            self.summary.setText("Cancelled before the first chunk finished; nothing kept.")
            self._message("network: cancelled")

    def _on_failed(self, message: str, _details: str) -> None:
        self._set_running(False)  # the window shows the dialog for every failed job
        self.summary.setText(f"Failed: {message}")
        self._message(f"network: {message}")

    def _adopt(self, result: NetworkResult) -> None:
        self.window.session.set_network(result)
        self.show_result(result)

    # ---- showing ------------------------------------------------------------------------------
    def show_result(self, result: NetworkResult) -> None:
        self.plots.show_result(result)
        self.summary.setText(summary_text(result))

    def refresh(self) -> None:
        """Show the session's network result (after a project was opened)."""
        result = getattr(self.window.session, "network", None)
        if isinstance(result, NetworkResult):
            if result.template in TEMPLATES:
                self.select_template(result.template)
            self.show_result(result)
        else:
            self.plots.reset()
            self.summary.setText("No network run yet.")


def summary_text(r: NetworkResult) -> str:
    rates = ", ".join(f"{name} {hz:.1f} Hz" for name, hz in r.mean_rates().items())
    state = "" if r.complete else " (partial: cancelled)"
    return (f"<b>{r.template}</b>{state}: {r.n_neurons} neurons, {r.n_spikes:,} spikes in "
            f"{r.duration_ms:g} ms, seed {r.seed}<br>mean rates: {rates}<br>"
            f"simulated in {r.elapsed_s:.2f} s (+{r.compile_s:.1f} s compile)")
