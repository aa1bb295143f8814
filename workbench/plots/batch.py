"""Summary plots of a batch: a histogram of one fitted parameter across the finished cells and a
scatter of two. Items are created once and updated with ``setData``; the panel calls
:meth:`BatchPlots.set_rows` when a cell finishes (a few times a minute at most)."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

PARAM = "param:"


def parameter_names(rows) -> list[str]:
    """The fitted parameters that appear in the finished rows, in first-seen order."""
    names: dict[str, None] = {}
    for r in rows:
        for k in r:
            if k.startswith(PARAM):
                names.setdefault(k[len(PARAM):], None)
    return list(names)


def column(rows, name: str) -> np.ndarray:
    out = []
    for r in rows:
        v = r.get(PARAM + name)
        out.append(float(v) if isinstance(v, (int, float)) and math.isfinite(v) else np.nan)
    return np.asarray(out, float)


class BatchPlots(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[dict] = []
        self.hist_param = QComboBox(toolTip="parameter whose distribution across cells is shown")
        self.x_param = QComboBox(toolTip="scatter: parameter on the horizontal axis")
        self.y_param = QComboBox(toolTip="scatter: parameter on the vertical axis")
        bar = QHBoxLayout()
        for label, box in (("histogram of", self.hist_param), ("scatter", self.x_param),
                           ("against", self.y_param)):
            bar.addWidget(QLabel(label))
            bar.addWidget(box, 1)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground("w")
        self.hist = self.view.addPlot(row=0, col=0)
        self.scatter = self.view.addPlot(row=0, col=1)
        for p in (self.hist, self.scatter):
            p.showGrid(x=True, y=True, alpha=0.15)
            p.getAxis("left").enableAutoSIPrefix(False)
            p.getAxis("bottom").enableAutoSIPrefix(False)
        self.hist.setLabel("left", "cells")
        self.hist_item = pg.BarGraphItem(x0=[], x1=[], height=[], brush=(42, 111, 176, 140),
                                         pen=pg.mkPen("#1f4e79"))
        self.hist.addItem(self.hist_item)
        self._hist = (np.array([]), np.array([]))
        self.units: dict[str, str] = {}
        self.scatter_item = pg.ScatterPlotItem(size=8, brush=pg.mkBrush(214, 69, 61, 180),
                                               pen=pg.mkPen("w"))
        self.scatter.addItem(self.scatter_item)
        self.empty = QLabel("Parameters appear here as cells finish.")
        self.empty.setStyleSheet("color: #777;")
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        col.addLayout(bar)
        col.addWidget(self.empty)
        col.addWidget(self.view, 1)
        for box in (self.hist_param, self.x_param, self.y_param):
            box.currentIndexChanged.connect(self.redraw)

    def set_rows(self, rows, units: dict[str, str] | None = None) -> None:
        """The finished cells' summary rows (dicts with ``param:NAME`` entries); ``units``:
        {parameter: unit} for the axis labels."""
        if units is not None:
            self.units = dict(units)
        self.rows = [r for r in rows if r.get("status") in ("done", "skipped") or
                     any(k.startswith(PARAM) for k in r)]
        names = parameter_names(self.rows)
        for k, box in enumerate((self.hist_param, self.x_param, self.y_param)):
            current = box.currentText()
            if [box.itemText(i) for i in range(box.count())] != names:
                box.blockSignals(True)
                box.clear()
                box.addItems(names)
                default = names[min(k - 1, len(names) - 1)] if k and names else current
                box.setCurrentIndex(max(0, names.index(current) if current in names else
                                        names.index(default) if default in names else 0))
                box.blockSignals(False)
        self.redraw()

    def redraw(self, *_args) -> None:
        self.empty.setVisible(not self.rows)
        h = self.hist_param.currentText()
        x = column(self.rows, h) if h else np.array([])
        x = x[np.isfinite(x)]
        if x.size:
            bins = max(5, min(20, int(math.ceil(math.sqrt(x.size)))))
            lo, hi = float(x.min()), float(x.max())
            if hi <= lo:
                lo, hi = lo - 0.5 * max(abs(lo), 1e-9), hi + 0.5 * max(abs(hi), 1e-9)
            counts, edges = np.histogram(x, bins=bins, range=(lo, hi))
            gap = 0.04 * (edges[1] - edges[0])
            self.hist_item.setOpts(x0=edges[:-1] + gap, x1=edges[1:] - gap,
                                   height=counts.astype(float))
            self._hist = (edges, counts.astype(float))
        else:
            self.hist_item.setOpts(x0=[], x1=[], height=[])
            self._hist = (np.array([]), np.array([]))
        self.hist.setLabel("bottom", self._label(h))
        xn, yn = self.x_param.currentText(), self.y_param.currentText()
        if xn and yn:
            a, b = column(self.rows, xn), column(self.rows, yn)
            ok = np.isfinite(a) & np.isfinite(b)
            self.scatter_item.setData(a[ok], b[ok],
                                      data=[r.get("cell") for r, k in zip(self.rows, ok) if k])
        else:
            self.scatter_item.setData([], [])
        self.scatter.setLabel("bottom", self._label(xn))
        self.scatter.setLabel("left", self._label(yn))

    def _label(self, name: str) -> str:
        unit = self.units.get(name, "")
        return f"{name} ({unit})" if unit else name

    # ---- what is shown (tests) ------------------------------------------------------------------
    def histogram_data(self) -> tuple[np.ndarray, np.ndarray]:
        """(bin edges, counts) of the histogram shown."""
        return self._hist

    def scatter_data(self) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.scatter_item.getData()
        return np.asarray(x), np.asarray(y)
