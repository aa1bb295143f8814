"""Voltage/current trace plots: items are created once and updated with ``setData``."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QSignalBlocker, pyqtSignal

DATA_PEN = pg.mkPen("#2b2b2b", width=1)
# one-pixel (cosmetic) pens: Qt's raster engine strokes wider ones ~2x slower, which on a
# 12 000-sample sweep is 4 ms of every repaint while a fit updates the model curve
MODEL_PEN = pg.mkPen("#d6453d", width=1)
CURRENT_PEN = pg.mkPen("#2a6fb0", width=1)


def _configure(plot: pg.PlotItem) -> None:
    plot.setClipToView(True)
    plot.setDownsampling(auto=True, mode="peak")


class TracePlot(pg.GraphicsLayoutWidget):
    """Membrane voltage (data and model overlay) above the injected current, sharing time, with a
    draggable region that selects the fitting window."""

    window_changed = pyqtSignal(float, float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground("w")
        self.voltage = self.addPlot(row=0, col=0)
        self.current = self.addPlot(row=1, col=0)
        self.current.setXLink(self.voltage)
        self.ci.layout.setRowStretchFactor(0, 3)
        self.ci.layout.setRowStretchFactor(1, 1)
        for plot in (self.voltage, self.current):
            _configure(plot)
        self.voltage.setLabel("left", "V", units="mV")
        self.current.setLabel("left", "I", units="nA")
        self.current.setLabel("bottom", "time", units="ms")
        self.voltage.addLegend(offset=(-10, 10))
        self.data_curve = self.voltage.plot(pen=DATA_PEN, name="recording")
        self.model_curve = self.voltage.plot(pen=MODEL_PEN, name="model")
        self.current_curve = self.current.plot(pen=CURRENT_PEN)
        self.region = pg.LinearRegionItem(brush=pg.mkBrush(80, 140, 220, 30))
        self.region.setZValue(-10)
        self.voltage.addItem(self.region)
        self.region.sigRegionChangeFinished.connect(self._on_region)
        for item in (self.voltage, self.current):  # SI prefixes would turn mV into kmV
            item.getAxis("left").enableAutoSIPrefix(False)
            item.getAxis("bottom").enableAutoSIPrefix(False)

    def show_sweep(self, t: np.ndarray, V: np.ndarray, I: np.ndarray | None) -> None:
        self.data_curve.setData(t, V)
        if I is None:
            self.current_curve.setData([], [])
        else:
            self.current_curve.setData(t, I)
        self.model_curve.setData([], [])

    def show_model(self, t: np.ndarray | None, V: np.ndarray | None) -> None:
        if t is None or V is None:
            self.model_curve.setData([], [])
        else:
            self.model_curve.setData(t, V)

    def set_window(self, start: float, stop: float) -> None:
        with QSignalBlocker(self.region):
            self.region.setRegion((start, stop))

    def _on_region(self) -> None:
        start, stop = self.region.getRegion()
        self.window_changed.emit(float(start), float(stop))
