"""The Speed panel's three live plots, one view per race: time per batch of layer-first and
step-first, the event-driven CSR vs dense synapse race (median bars with every call as a dot),
and BPTT vs online memory against trial length.

Events only store points (:meth:`SpeedPlots.add`); while a race runs a timer redraws what changed
at most 10 times a second with ``setData`` (see plots/convergence.py for why not faster). Items are made once.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QObject, QTimer

from core.training.speed import SpeedSample

COLOURS = {"layer_first": "#d6453d", "step_first": "#2a6fb0", "event": "#27ae60",
           "dense": "#7f8c8d", "bptt": "#8e44ad", "online": "#e67e22"}
LABELS = {"layer_first": "layer-first", "step_first": "step-first", "event": "event-driven CSR",
          "dense": "dense matmul", "bptt": "BPTT", "online": "online"}
SERIES = {"feedforward": ("layer_first", "step_first"), "synapse": ("event", "dense"),
          "memory": ("bptt", "online")}
REDRAW_MS = 100


def _style(plot: pg.PlotItem, title: str, xlabel: str, ylabel: str) -> None:
    plot.setTitle(title, size="10pt")
    plot.setLabel("bottom", xlabel)
    plot.setLabel("left", ylabel)
    for side in ("left", "bottom"):
        plot.getAxis(side).enableAutoSIPrefix(False)
    plot.getViewBox().setDefaultPadding(0.05)  # the last point is not cut by the frame


class IntAxis(pg.AxisItem):
    """An axis of counts (batch and call numbers): whole-number ticks only."""

    def tickValues(self, minVal, maxVal, size):
        out = []
        for spacing, values in super().tickValues(minVal, maxVal, size):
            whole = [v for v in values if abs(v - round(v)) < 1e-9]
            if spacing >= 1 and whole:
                out.append((spacing, whole))
        return out or [(1.0, [float(v) for v in range(int(np.ceil(minVal)),
                                                       int(np.floor(maxVal)) + 1)][:20])]


def _names(race: str) -> str:
    a, b = (f"<span style='color:{COLOURS[s]}'>&#9679; {LABELS[s]}</span>" for s in SERIES[race])
    return f"{a} vs {b}"


class SpeedPlots(QObject):
    """One plot view per race (``views[race]``, a GraphicsLayoutWidget for the panel to place;
    ``race[race]`` its PlotItem), keyed "feedforward", "synapse", "memory";
    ``points[(race, series)]`` holds the ``(x, y)`` drawn: (batch number, ms), (call number,
    ms), (T, peak MiB)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.views: dict[str, pg.GraphicsLayoutWidget] = {}
        self.race: dict[str, pg.PlotItem] = {}
        for race in SERIES:
            view = pg.GraphicsLayoutWidget()
            view.setBackground("w")
            axes = {"bottom": IntAxis("bottom")} if race == "feedforward" else {}
            self.views[race], self.race[race] = view, view.addPlot(axisItems=axes)
        # the legends are the titles' coloured names: a legend box over the curves hid them
        # (short titles: the page's tab names the race)
        _style(self.race["feedforward"], _names("feedforward"), "batch", "ms per batch")
        _style(self.race["synapse"], "y = x @ W: median (bar), every call (dot)", "",
               "ms per call")
        _style(self.race["memory"], _names("memory"), "T (steps)", "peak MiB per batch")
        self.curves: dict[tuple[str, str], pg.PlotDataItem] = {}
        self.medians: dict[str, pg.InfiniteLine] = {}
        for race in ("feedforward", "memory"):
            for s in SERIES[race]:
                c = COLOURS[s]
                self.curves[(race, s)] = self.race[race].plot(
                    pen=pg.mkPen(c, width=1.5), symbol="o", symbolSize=6,
                    symbolBrush=c, symbolPen=None, name=LABELS[s])
        for s in SERIES["feedforward"]:  # the median so far, dashed
            line = pg.InfiniteLine(angle=0, pen=pg.mkPen(COLOURS[s], width=1,
                                                         style=pg.QtCore.Qt.PenStyle.DashLine))
            line.setVisible(False)
            self.race["feedforward"].addItem(line)
            self.medians[s] = line
        syn = self.race["synapse"]
        brushes = [pg.mkBrush(COLOURS[s] + "66") for s in SERIES["synapse"]]
        self.bars = pg.BarGraphItem(x=[0, 1], height=[0, 0], width=0.6, brushes=brushes,
                                    pens=[pg.mkPen(COLOURS[s]) for s in SERIES["synapse"]])
        syn.addItem(self.bars)
        for s in SERIES["synapse"]:
            self.curves[("synapse", s)] = syn.plot(pen=None, symbol="o", symbolSize=5,
                                                   symbolBrush=COLOURS[s], symbolPen=None)
        syn.getAxis("bottom").setTicks([[(i, LABELS[s]) for i, s in
                                         enumerate(SERIES["synapse"])]])
        syn.setXRange(-0.6, 1.6, padding=0)
        self.points: dict[tuple[str, str], list[tuple[float, float]]] = {
            key: [] for key in self.curves}
        self._dirty: set[str] = set()
        self._dirty.update(SERIES)  # empty plots start at zero too
        self.redraw()
        self.timer = QTimer(self, interval=REDRAW_MS)  # runs only while a race does
        self.timer.timeout.connect(self.redraw)

    def start_live(self) -> None:
        self.timer.start()

    def stop_live(self) -> None:
        self.timer.stop()
        self.redraw()

    # ---- data ----------------------------------------------------------------------------------
    def clear_race(self, race: str) -> None:
        for s in SERIES[race]:
            self.points[(race, s)].clear()
        self._dirty.add(race)
        self.redraw()

    def add(self, sample: SpeedSample) -> bool:
        """Store the point a sample carries (compile and check samples carry none)."""
        key = (sample.race, sample.series)
        if key not in self.points:
            return False
        if sample.kind == "time":
            self.points[key].append((float(sample.index + 1), 1e3 * float(sample.seconds)))
        elif sample.kind == "memory":
            self.points[key].append((float(sample.T), float(sample.mib)))
        else:
            return False
        self._dirty.add(sample.race)
        return True

    def n_points(self, race: str) -> int:
        return sum(len(self.points[(race, s)]) for s in SERIES[race])

    def shown(self, race: str, series: str) -> tuple[np.ndarray, np.ndarray]:
        """What the curve of ``series`` draws now (x, y)."""
        x, y = self.curves[(race, series)].getData()
        return (np.zeros(0), np.zeros(0)) if x is None else (np.asarray(x), np.asarray(y))

    # ---- drawing -------------------------------------------------------------------------------
    def redraw(self) -> None:
        for race in self._dirty:
            medians = []
            for i, s in enumerate(SERIES[race]):
                pts = np.asarray(self.points[(race, s)], float).reshape(-1, 2)
                x, y = pts[:, 0], pts[:, 1]
                if race == "synapse":  # dots spread over the bar, in call order
                    x = i - 0.25 + 0.5 * (x - 1) / max(len(x) - 1, 1) if len(x) else x
                medians.append(float(np.median(y)) if len(y) else 0.0)
                self.curves[(race, s)].setData(x, y)
                if race == "feedforward":
                    self.medians[s].setVisible(len(y) > 0)
                    self.medians[s].setValue(medians[-1])
            if race == "synapse":
                self.bars.setOpts(height=medians)
            ys = [y for s in SERIES[race] for _, y in self.points[(race, s)]]
            top = max((y for y in ys if np.isfinite(y)), default=0.0)
            # from zero: the gap between the series reads as their ratio
            self.race[race].setYRange(0.0, top * 1.08 if top > 0 else 1.0, padding=0)
        self._dirty.clear()
