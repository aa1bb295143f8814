"""Live convergence: best loss against evaluations and against wall time, one curve per run.

Events only store points; a timer redraws at most 30 times a second with ``setData``."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QTimer

METHOD_COLOURS = {"lbfgsb": "#d6453d", "hybrid": "#8e44ad", "de": "#2a6fb0",
                  "twopointsde": "#27ae60", "pso": "#e67e22", "bayes": "#7f8c8d"}
REDRAW_MS = 33


class ConvergencePlot(pg.GraphicsLayoutWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground("w")
        self.by_evals = self.addPlot(row=0, col=0)
        self.by_time = self.addPlot(row=0, col=1)
        for plot, xlabel in ((self.by_evals, "evaluations"), (self.by_time, "wall time (s)")):
            plot.setLogMode(x=False, y=True)
            plot.showGrid(x=True, y=True, alpha=0.15)
            plot.setLabel("bottom", xlabel)
            plot.setLabel("left", "best loss")
            plot.getAxis("left").enableAutoSIPrefix(False)
        self.by_evals.addLegend(offset=(-10, 10))
        self.points: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
        self.curves: dict[tuple[str, int], tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}
        self._dirty = False
        self.timer = QTimer(self, interval=REDRAW_MS)
        self.timer.timeout.connect(self.redraw)
        self.timer.start()

    def clear_runs(self) -> None:
        for a, b in self.curves.values():
            self.by_evals.removeItem(a)
            self.by_time.removeItem(b)
        self.by_evals.legend.clear()
        self.points.clear()
        self.curves.clear()

    def add_point(self, method: str, seed: int, evaluations: int, elapsed: float, best_loss: float) -> None:
        if not np.isfinite(best_loss) or best_loss <= 0:
            best_loss = max(float(best_loss), 1e-12) if np.isfinite(best_loss) else None
            if best_loss is None:
                return
        key = (method, seed)
        if key not in self.curves:
            colour = METHOD_COLOURS.get(method, "#444444")
            style = pg.mkPen(colour, width=1.5)
            self.curves[key] = (self.by_evals.plot(pen=style, name=f"{method} seed {seed}"),
                                self.by_time.plot(pen=style))
            self.points[key] = []
        self.points[key].append((float(evaluations), float(elapsed), float(best_loss)))
        self._dirty = True

    def redraw(self) -> None:
        if not self._dirty:
            return
        for key, pts in self.points.items():
            arr = np.asarray(pts)
            a, b = self.curves[key]
            a.setData(arr[:, 0], arr[:, 2])
            b.setData(arr[:, 1], arr[:, 2])
        self._dirty = False

    def n_points(self) -> int:
        return sum(len(p) for p in self.points.values())
