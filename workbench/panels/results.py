"""Fit result (parameters ± Hessian standard errors, losses, gamma) and the comparison table."""

from __future__ import annotations

from PyQt6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .tables import filling


def _fmt(x, digits: int = 4) -> str:
    if x is None:
        return "—"
    try:
        return f"{float(x):.{digits}g}"
    except (TypeError, ValueError):
        return str(x)


def _table(columns) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    return table


class FitResultPanel(QWidget):
    """The best fit so far / the selected fit: parameters with standard errors, losses, gamma."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.summary = QLabel("No fit yet.")
        self.summary.setWordWrap(True)
        self.table = _table(("parameter", "value", "± s.e.", "unit"))
        self.table.setObjectName("fitParameters")
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)

    def show_result(self, fit, units: dict[str, str]) -> None:
        state = " (cancelled: best so far)" if fit.cancelled else ""
        self.summary.setText(
            f"<b>{fit.method}</b> seed {fit.seed}{state}: loss {_fmt(fit.loss)} mV² "
            f"(start {_fmt(fit.start_loss)}), gamma factor {_fmt(fit.gamma, 3)}, "
            f"{fit.n_model_spikes}/{fit.n_data_spikes} spikes, {fit.evaluations} simulations in "
            f"{fit.seconds:.2f} s (+{fit.compile_seconds:.2f} s compile)")
        with filling(self.table):
            self.table.setRowCount(len(fit.fitted))
            for row, (name, value) in enumerate(fit.fitted.items()):
                se = fit.stderr.get(name) if fit.stderr else None
                for col, text in enumerate((name, _fmt(value, 6), _fmt(se, 3),
                                            units.get(name, ""))):
                    self.table.setItem(row, col, QTableWidgetItem(text))

    def show_progress(self, method: str, seed: int, evaluations: int, best_loss: float,
                      params: dict, units: dict[str, str]) -> None:
        self.summary.setText(f"Running <b>{method}</b> seed {seed}: best loss {_fmt(best_loss)} "
                             f"after {evaluations} simulations")
        with filling(self.table):
            self.table.setRowCount(len(params))
            for row, (name, value) in enumerate(params.items()):
                for col, text in enumerate((name, _fmt(value, 6), "", units.get(name, ""))):
                    self.table.setItem(row, col, QTableWidgetItem(text))


COMPARISON_COLUMNS = (("method", "method"), ("runs", "runs"), ("loss (mV²)", "loss"),
                      ("time (s)", "seconds"), ("compile (s)", "compile_seconds_mean"),
                      ("evaluations", "evaluations_mean"), ("gamma", "gamma"),
                      ("param. error", "param_error_mean"), ("loss at truth", "loss_at_truth"))


class ComparisonPanel(QWidget):
    """Methods x seeds: loss ± sd, time ± sd, evaluations, gamma (the seed's Tables S2/S3)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.table = _table([c for c, _ in COMPARISON_COLUMNS])
        self.table.setObjectName("comparisonTable")
        self.export_button = QPushButton("Export table…")
        self.export_button.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(buttons)

    def show_rows(self, rows: list[dict]) -> None:
        with filling(self.table):
            self.table.setRowCount(len(rows))
            for r, row in enumerate(rows):
                cells = []
                for _, key in COMPARISON_COLUMNS:
                    if key in ("loss", "seconds", "gamma"):
                        mean, sd = row.get(f"{key}_mean"), row.get(f"{key}_sd")
                        cells.append(f"{_fmt(mean)} ± {_fmt(sd, 2)}")
                    else:
                        cells.append(_fmt(row.get(key)) if key != "method" else str(row[key]))
                for c, text in enumerate(cells):
                    self.table.setItem(r, c, QTableWidgetItem(text))
        self.export_button.setEnabled(bool(rows))

    def cell(self, row: int, column: str) -> str:
        col = [c for c, _ in COMPARISON_COLUMNS].index(column)
        return self.table.item(row, col).text()
