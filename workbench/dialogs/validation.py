"""Validation of a fit on a recording it was not fitted to: scores, data and prediction overlaid
per sweep, export of the predicted traces and spike times."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PyQt6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
)

from ..plots.trace import DATA_PEN, MODEL_PEN


class ValidationDialog(QDialog):
    """Shows a :class:`core.fitting.predict.Prediction` (non-modal: fits can go on meanwhile)."""

    def __init__(self, prediction, parent=None):
        super().__init__(parent)
        self.prediction = p = prediction
        self.setObjectName("validationDialog")
        self.setWindowTitle(f"Validation on {p.recording_name}")
        self.resize(900, 560)
        fit = p.fit
        warning = " <b>The model diverged.</b>" if p.diverged else ""
        self.summary = QLabel(
            f"<b>{fit.model}</b> ({fit.method}, seed {fit.seed}; fitted loss {fit.loss:.4g} mV²) "
            f"on <b>{p.recording_name}</b>, {len(p.sweeps)} sweep(s) not used for fitting:<br>"
            f"voltage MSE <b>{p.loss:.4g} mV²</b>, gamma factor <b>{p.gamma:.3f}</b>, spikes "
            f"model {p.n_model_spikes} / data {p.n_data_spikes} ({p.n_coincident} coincident)."
            f"{warning}")
        self.summary.setWordWrap(True)
        self.sweeps = QListWidget()
        self.sweeps.setMaximumWidth(190)
        for k, number in enumerate(p.sweeps):
            self.sweeps.addItem(f"sweep {number}: {np.size(p.model_spikes[k])} / "
                                f"{np.size(p.data_spikes[k])} spikes")
        self.plot = pg.PlotWidget(background="w")
        self.plot.setLabel("left", "V", units="mV")
        self.plot.setLabel("bottom", "time in window", units="ms")
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).enableAutoSIPrefix(False)
        self.plot.addLegend(offset=(-10, 10))
        self.data_curve = self.plot.plot(pen=DATA_PEN, name="recording")
        self.model_curve = self.plot.plot(pen=MODEL_PEN, name="prediction")
        self.sweeps.currentRowChanged.connect(self.show_sweep)
        self.export_button = QPushButton("Export prediction…")
        self.export_button.clicked.connect(lambda: self.export())
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        body = QHBoxLayout()
        body.addWidget(self.sweeps)
        body.addWidget(self.plot, 1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(body, 1)
        layout.addLayout(buttons)
        if p.sweeps:
            self.sweeps.setCurrentRow(0)

    def show_sweep(self, row: int) -> None:
        if 0 <= row < self.prediction.V.shape[0]:
            self.data_curve.setData(self.prediction.t, self.prediction.V_data[row])
            self.model_curve.setData(self.prediction.t, self.prediction.V[row])

    def export(self, path: str | None = None) -> bool:
        if not path:
            path, _ = QFileDialog.getSaveFileName(
                self, "Export prediction", str(Path.home() / "prediction.csv"),
                "CSV table (*.csv);;HDF5 (*.h5)")
            if not path:
                return False
        try:
            self.prediction.export(path)
        except OSError as exc:
            from .errors import show_error

            show_error(self, "Cannot export prediction", f"{path}: {exc}")
            return False
        return True
