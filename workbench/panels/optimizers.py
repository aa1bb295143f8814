"""Optimizer panel: which optimizers, loss, budget, seeds and starts; Run and Cancel."""

from __future__ import annotations

from PyQt6.QtCore import QSignalBlocker, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..session import Session

METHOD_LABELS = {"lbfgsb": "L-BFGS-B", "hybrid": "Hybrid", "de": "DE",
                 "twopointsde": "TwoPointsDE", "pso": "PSO", "bayes": "Bayesian"}
METHOD_TIPS = {"lbfgsb": "SciPy L-BFGS-B with exact JAX gradients, batched multi-start",
               "hybrid": "batched quasi-random/DE global phase, then L-BFGS-B from the best few",
               "de": "differential evolution (nevergrad)", "twopointsde": "TwoPointsDE (nevergrad)",
               "pso": "particle swarm (nevergrad)", "bayes": "Bayesian optimisation (scikit-optimize)"}
LOSSES = {"mse": "MSE on voltage", "mse+spikes": "MSE + van Rossum spike timing"}


class OptimizerPanel(QWidget):
    run_requested = pyqtSignal()
    cancel_requested = pyqtSignal()
    cell_fit_requested = pyqtSignal()

    def __init__(self, session: Session, methods: list[str], parent=None):
        super().__init__(parent)
        self.session = session
        group = QGroupBox("Optimizers")
        grid = QGridLayout(group)
        self.method_boxes: dict[str, QCheckBox] = {}
        for k, name in enumerate(methods):
            box = QCheckBox(METHOD_LABELS.get(name, name))
            box.setToolTip(METHOD_TIPS.get(name, name))
            box.setObjectName(f"method_{name}")
            box.toggled.connect(self._store)
            self.method_boxes[name] = box
            grid.addWidget(box, k // 2, k % 2)
        self.loss = QComboBox()
        for key, label in LOSSES.items():
            self.loss.addItem(label, key)
        self.budget = QSpinBox(minimum=10, maximum=1_000_000, singleStep=100)
        self.budget.setToolTip("simulations per optimizer run")
        self.bayes_budget = QSpinBox(minimum=5, maximum=2000, singleStep=10)
        self.bayes_budget.setToolTip("evaluations of the Bayesian optimizer (its own cost grows "
                                     "with every point, so it gets a smaller budget)")
        self.seeds = QSpinBox(minimum=1, maximum=50)
        self.starts = QSpinBox(minimum=1, maximum=256)
        self.starts.setToolTip("L-BFGS-B starts (batched with vmap)")
        for w in (self.loss, self.budget, self.bayes_budget, self.seeds, self.starts):
            signal = w.currentIndexChanged if isinstance(w, QComboBox) else w.valueChanged
            signal.connect(self._store)
        form = QFormLayout()
        form.addRow("Loss", self.loss)
        form.addRow("Budget (simulations)", self.budget)
        form.addRow("Budget (Bayesian)", self.bayes_budget)
        form.addRow("Seeds", self.seeds)
        form.addRow("Starts (L-BFGS-B)", self.starts)
        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("runButton")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setEnabled(False)
        self.cell_fit_button = QPushButton("Fit cell")
        self.cell_fit_button.setObjectName("cellFitButton")
        self.cell_fit_button.setToolTip(
            "the default path: starts, bounds, free set and loss from the recording, the first "
            "checked optimizer, then validation on the held-out sweeps or time")
        self.cell_fit_button.clicked.connect(self.cell_fit_requested)
        self.run_button.clicked.connect(self.run_requested)
        self.cancel_button.clicked.connect(self.cancel_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cell_fit_button)
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(group)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self.refresh()

    def refresh(self) -> None:
        fit = self.session.fit
        widgets = list(self.method_boxes.values()) + [self.loss, self.budget, self.bayes_budget,
                                                      self.seeds, self.starts]
        blockers = [QSignalBlocker(w) for w in widgets]
        for name, box in self.method_boxes.items():
            box.setChecked(name in fit.methods)
        self.loss.setCurrentIndex(max(0, self.loss.findData(fit.loss)))
        self.budget.setValue(fit.budget)
        self.bayes_budget.setValue(fit.bayes_budget)
        self.seeds.setValue(fit.seeds)
        self.starts.setValue(fit.starts)
        del blockers

    def selected_methods(self) -> tuple[str, ...]:
        return tuple(n for n, b in self.method_boxes.items() if b.isChecked())

    def set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.cell_fit_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    def _store(self, *_args) -> None:
        self.session.set_fit_settings(methods=self.selected_methods(), loss=self.loss.currentData(),
                                      budget=self.budget.value(),
                                      bayes_budget=self.bayes_budget.value(), seeds=self.seeds.value(),
                                      starts=self.starts.value())
