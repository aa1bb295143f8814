"""Validation of a fit on a recording it was not fitted to: scores, data and prediction overlaid
per sweep, export of the predicted traces and spike times."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
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


class CellValidationDialog(ValidationDialog):
    """The end of a default fit (:class:`core.fitting.cell_jobs.CellFitOutcome`): the held-out
    scores per sweep (spike counts, gamma at ±2/±4 ms, over the cell's reliability when the
    sweeps repeat one stimulus, subthreshold RMSE) above the model over the held-out sweeps."""

    COLUMNS = (("sweep", "sweep", "d"), ("spikes data", "n_data", "d"),
               ("spikes model", "n_model", "d"), ("gamma ±2 ms", "gamma_2ms", ".2f"),
               ("gamma ±4 ms", "gamma_4ms", ".2f"),
               ("γ/reliability", "gamma_4ms_over_reliability", ".2f"),
               ("RMSE sub (mV)", "subthreshold_rmse_mV", ".2f"))

    def __init__(self, outcome, parent=None):
        super().__init__(outcome.prediction, parent)
        self.setObjectName("cellValidationDialog")
        cf = outcome.cell_fit
        v = cf.validation
        self.setWindowTitle(f"Held-out validation: {cf.fit.model} on {v['recording']}")
        rel = v.get("reliability")
        ratio = v.get("mean_gamma_4ms_over_reliability")
        parts = [f"<b>{cf.fit.model}</b> fitted with {cf.fit.method} on the training part "
                 f"({html.escape(cf.split.description)}), in {cf.fit.seconds:.0f} s.",
                 f"Held out: spikes model <b>{v['n_model_spikes']}</b> / data "
                 f"<b>{v['n_data_spikes']}</b>; counts within 20 % (or 2 spikes) on "
                 f"<b>{v['spike_counts_within_20pct']}</b> sweeps; mean gamma(±4 ms) "
                 f"<b>{_f(v.get('mean_gamma_4ms'))}</b>"]
        if rel:
            parts.append(f"the cell's own reliability (±4 ms) {_f(rel.get('4ms'))}, so the model "
                         f"reaches <b>{_f(ratio)}</b> of it")
        if v.get("warning"):
            parts.append(f"<b>{html.escape(v['warning'])}</b>")
        if v.get("diverged"):
            parts.append("<b>the model diverged on some held-out sweep</b>")
        self.summary.setText(" ".join(parts))
        self.scores = QTableWidget(len(v["per_sweep"]), len(self.COLUMNS))
        self.scores.setObjectName("heldOutScores")
        self.scores.setHorizontalHeaderLabels([c[0] for c in self.COLUMNS])
        self.scores.verticalHeader().setVisible(False)
        self.scores.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        for r, row in enumerate(v["per_sweep"]):
            for c, (_label, key, fmt) in enumerate(self.COLUMNS):
                value = row.get(key)
                item = QTableWidgetItem("—" if value is None else format(value, fmt))
                item.setFlags(Qt.ItemFlag.ItemIsEnabled)
                self.scores.setItem(r, c, item)
        self.scores.setMaximumHeight(40 + 26 * min(len(v["per_sweep"]), 6))
        top = QHBoxLayout()
        top.addWidget(self.scores, 3)
        self.fi_plot = None
        if v.get("fi_curve"):
            self.fi_plot = _fi_plot(v["fi_curve"])
            self.fi_plot.setMaximumHeight(self.scores.maximumHeight() + 60)
            top.addWidget(self.fi_plot, 2)
        self.layout().insertLayout(1, top)
        self.resize(980, 680)


def _f(value) -> str:
    return "—" if value is None else f"{value:.2f}"


def _fi_plot(fi) -> pg.PlotWidget:
    """The held-out steps' F-I points: the cell's (black) and the model's (red)."""
    amps, data, model = (np.asarray(c, float) for c in zip(*fi))
    plot = pg.PlotWidget(background="w")
    plot.setObjectName("heldOutFI")
    plot.setLabel("bottom", "step", units="nA")
    plot.setLabel("left", "rate", units="Hz")
    for axis in ("left", "bottom"):
        plot.getAxis(axis).enableAutoSIPrefix(False)
    plot.addLegend(offset=(5, 5))
    plot.plot(amps, data, pen=DATA_PEN, symbol="o", symbolBrush="k", name="cell")
    plot.plot(amps, model, pen=MODEL_PEN, symbol="s", symbolBrush="r", name="model")
    return plot
