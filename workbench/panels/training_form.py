"""The Training panel's settings form: task, network and training, checked as typed.

Each number is a :data:`FIELDS` entry (label, default, kind, range, tooltip); a bad one turns
red with the reason as its tooltip, and :meth:`TrainingForm.read_config` raises a
:class:`~core.errors.ParameterError` naming the first bad field (the core config then checks the
combination). The trial length T follows from the cues and the delay and is shown as they change.
"""

from __future__ import annotations

from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
)

from core.errors import ParameterError
from core.tasks.evidence_accumulation import EvidenceTask
from core.training.ei_network import NeuronParams
from core.training.evidence import make_config

BAD = "QLineEdit { background: #fde2e0; }"

# name: (label, default, kind, lower, upper, tooltip)
FIELDS = {
    "n_cues": ("cues", 7, int, 1, 100, "cues per trial (100 ms cue + 50 ms gap each)"),
    "delay_ms": ("delay (ms)", 1000.0, float, 0.0, 20000.0, "delay between the last cue and "
                 "the recall window (150 ms)"),
    "neurons": ("neurons", 400, int, 5, 20000, "network neurons, 4:1 excitatory:inhibitory"),
    "batch_size": ("batch size", 64, int, 1, 4096, "trials per optimiser step"),
    "learning_rate": ("learning rate", 1e-3, float, 1e-7, 1.0, "Adam learning rate"),
    "batches": ("batches", 200, int, 1, 1_000_000, "optimiser steps in all (on Resume: the "
                "new total)"),
    "n_heldout": ("held-out trials", 512, int, 1, 100_000, "fixed held-out trials scored "
                  "during training (the best weights are kept)"),
    "eval_every": ("score every", 25, int, 1, 1_000_000, "batches between held-out scores"),
}


def parse_field(name: str, text: str):
    label, _default, kind, lo, hi, _tip = FIELDS[name]
    try:
        value = float(text)
    except ValueError:
        raise ParameterError(f"{label}: {text!r} is not a number") from None
    if kind is int and value != int(value):
        raise ParameterError(f"{label} must be a whole number, got {value:g}")
    if not lo <= value <= hi:
        raise ParameterError(f"{label} must lie in [{lo:g}, {hi:g}], got {value:g}")
    return kind(value)


def split_neurons(n: int) -> tuple[int, int]:
    """4:1 excitatory:inhibitory (at least one of each)."""
    n_inh = max(1, int(round(n / 5)))
    return n - n_inh, n_inh


def _tip(name: str) -> str:
    _label, _d, _k, lo, hi, tip = FIELDS[name]
    return f"{tip}; {lo:g} … {hi:g}"


class TrainingForm(QGroupBox):
    def __init__(self, parent=None):
        super().__init__("Task, network, training", parent)
        form = QFormLayout(self)
        self.fields: dict[str, QLineEdit] = {}
        self.method = QComboBox(toolTip="bptt: backpropagation through time; online: the "
                                "ES-D-RTRL eligibility-trace rule (memory O(neurons))")
        self.method.addItems(["bptt", "online"])
        self.t_label = QLabel(toolTip="steps per trial (dt = 1 ms)")
        self.neuron_model = QComboBox(toolTip="the GIF every network neuron is: the seed "
                                      "network's, or one fitted to a cell in this session "
                                      "(the multi-scale link)")
        self.set_fits([])
        for name, (label, default, *_rest) in FIELDS.items():
            edit = QLineEdit(f"{default:g}", maximumWidth=110, toolTip=_tip(name))
            edit.textChanged.connect(lambda _t, n=name: self._mark(n))
            self.fields[name] = edit
            form.addRow(label, edit)
            if name == "delay_ms":
                form.addRow("trial length", self.t_label)
            if name == "neurons":
                form.addRow("neuron model", self.neuron_model)
                form.addRow("method", self.method)
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, toolTip="seed of the weights and "
                             "the training trials")
        form.addRow("seed", self.seed)
        self.baseline = QCheckBox("readout-only baseline at the end", checked=True,
                                  toolTip="the untrained network with a trained readout")
        form.addRow(self.baseline)
        self.fields["n_cues"].textChanged.connect(self._show_T)
        self.fields["delay_ms"].textChanged.connect(self._show_T)
        self._show_T()

    def set_fits(self, fits, keep: NeuronParams | None = None) -> None:
        """Offer the GIF fits of the session (``session.results``) as the neuron model, and
        ``keep`` (a result's neurons) when given; the current choice stays when still there."""
        current = self.neuron_model.currentData()
        self._fits = list(fits)
        self.neuron_model.clear()
        self.neuron_model.addItem("default GIF (seed network)", None)
        for k, fit in enumerate(fits):
            if getattr(fit, "model", "") != "gif":
                continue
            try:
                nrn = NeuronParams.from_fit_result(fit, f"session fit {k + 1} ({fit.method})")
            except ParameterError:
                continue  # a GIF fit the network cannot take (V_th below V_rest, ...)
            self.neuron_model.addItem(f"fitted GIF {k + 1} ({fit.method}, loss {fit.loss:.3g})",
                                      nrn)
        for nrn in (keep, current):
            if nrn is not None and nrn.source != "default":
                found = [i for i in range(self.neuron_model.count())
                         if self.neuron_model.itemData(i) == nrn]
                index = found[0] if found else -1
                if index < 0:
                    self.neuron_model.addItem(nrn.source, nrn)
                    index = self.neuron_model.count() - 1
                self.neuron_model.setCurrentIndex(index)
                break

    def set_field(self, name: str, value) -> None:
        self.fields[name].setText(str(value))

    def _mark(self, name: str) -> None:
        edit = self.fields[name]
        try:
            parse_field(name, edit.text())
        except ParameterError as exc:
            edit.setStyleSheet(BAD)
            edit.setToolTip(str(exc))
        else:
            edit.setStyleSheet("")
            edit.setToolTip(_tip(name))

    def _show_T(self) -> None:
        try:
            task = EvidenceTask(n_cues=parse_field("n_cues", self.fields["n_cues"].text()),
                                delay_ms=parse_field("delay_ms", self.fields["delay_ms"].text()))
            self.t_label.setText(f"T = {task.T} steps ({task.T * task.dt / 1000:.2f} s)")
        except ParameterError:
            self.t_label.setText("T = ? (fix cues / delay)")

    def read_config(self):
        """The training config of the form; ParameterError naming the first bad field."""
        v = {name: parse_field(name, edit.text()) for name, edit in self.fields.items()}
        n_exc, n_inh = split_neurons(v["neurons"])
        neurons = self.neuron_model.currentData() or "default"
        return make_config(
            self.method.currentText(), neurons, batches=v["batches"], batch_size=v["batch_size"],
            learning_rate=v["learning_rate"], seed=self.seed.value(), n_heldout=v["n_heldout"],
            eval_every=v["eval_every"], baseline_trials=1024 if self.baseline.isChecked() else 0,
            network=dict(n_exc=n_exc, n_inh=n_inh),
            task=dict(n_cues=v["n_cues"], delay_ms=v["delay_ms"]))

    def show_config(self, cfg) -> None:
        """Fill the form with ``cfg`` (a result's settings)."""
        net, task = cfg.network, cfg.task
        for name, value in (("n_cues", task.n_cues), ("delay_ms", task.delay_ms),
                            ("neurons", net.n), ("batch_size", cfg.batch_size),
                            ("learning_rate", cfg.learning_rate), ("batches", cfg.batches),
                            ("n_heldout", cfg.n_heldout), ("eval_every", cfg.eval_every)):
            self.set_field(name, f"{value:g}")
        self.method.setCurrentText(cfg.method)
        self.seed.setValue(int(cfg.seed))
        self.baseline.setChecked(bool(cfg.baseline_trials))
        nrn = net.neurons
        if nrn.source == "default" and nrn == NeuronParams():
            self.neuron_model.setCurrentIndex(0)
        else:
            self.set_fits(self._fits, keep=nrn)

    def set_editable(self, editable: bool) -> None:
        for w in list(self.fields.values()) + [self.method, self.seed, self.baseline,
                                               self.neuron_model]:
            w.setEnabled(editable)
