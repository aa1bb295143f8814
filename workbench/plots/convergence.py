"""Live convergence: best loss against evaluations and against wall time, one curve per run.

Events only store points; a timer redraws the curves that changed, at most 10 times a second,
with ``setData`` (a log-axis plot repaint costs the GUI thread several ms, and the worker
competes for the same two cores and the GIL: 30 Hz made the window stutter, see
benchmarks/gui_latency.py)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QTimer

METHOD_COLOURS = {"lbfgsb": "#d6453d", "hybrid": "#8e44ad", "de": "#2a6fb0",
                  "twopointsde": "#27ae60", "pso": "#e67e22", "bayes": "#7f8c8d"}
REDRAW_MS = 100


class ConvergencePlot(pg.GraphicsLayoutWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground("w")
        self.by_evals = self.addPlot(row=0, col=0)
        self.by_time = self.addPlot(row=0, col=1)
        for plot, xlabel in ((self.by_evals, "evaluations"), (self.by_time, "wall time (s)")):
            plot.setLogMode(x=False, y=True)
            plot.setLabel("bottom", xlabel)
            plot.setLabel("left", "best loss")
            plot.getAxis("left").enableAutoSIPrefix(False)
        # the legend gets its own column: over the curves it hid them in a narrow dock
        self.legend = pg.LegendItem(colCount=1, labelTextSize="8pt")
        self.addItem(self.legend, row=0, col=2)
        self.points: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
        self.curves: dict[tuple[str, int], tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}
        self._dirty: set[tuple[str, int]] = set()
        self.timer = QTimer(self, interval=REDRAW_MS)
        self.timer.timeout.connect(self.redraw)
        self.timer.start()

    def clear_runs(self) -> None:
        for a, b in self.curves.values():
            self.by_evals.removeItem(a)
            self.by_time.removeItem(b)
        self.legend.clear()
        self.points.clear()
        self.curves.clear()
        self._dirty.clear()

    def add_point(self, method: str, seed: int, evaluations: int, elapsed: float, best_loss: float) -> None:
        if not np.isfinite(best_loss) or best_loss <= 0:
            best_loss = max(float(best_loss), 1e-12) if np.isfinite(best_loss) else None
            if best_loss is None:
                return
        key = (method, seed)
        if key not in self.curves:
            colour = METHOD_COLOURS.get(method, "#444444")
            style = pg.mkPen(colour, width=1)  # cosmetic: the fast stroke (see plots.trace)
            self.curves[key] = (self.by_evals.plot(pen=style), self.by_time.plot(pen=style))
            self.legend.addItem(self.curves[key][0], f"{method} {seed}")
            self.points[key] = []
        self.points[key].append((float(evaluations), float(elapsed), float(best_loss)))
        self._dirty.add(key)

    def redraw(self) -> None:
        for key in self._dirty:
            arr = np.asarray(self.points[key])
            a, b = self.curves[key]
            a.setData(arr[:, 0], arr[:, 2])
            b.setData(arr[:, 1], arr[:, 2])
        self._dirty.clear()

    def n_points(self) -> int:
        return sum(len(p) for p in self.points.values())
