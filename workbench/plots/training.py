"""Training views: live loss / accuracy curves, the trial viewer and the weight histograms.

- :class:`TrainingCurves`: loss and accuracy (train batches and held-out) against batches and
  against wall time. Events only append points; a timer redraws with ``setData`` at most 10
  times a second while a run is live (as :mod:`workbench.plots.convergence`).
- :class:`TrialPlots`: one held-out trial (Fig. 3): the input raster coloured by group, the E/I
  raster (red / blue ticks, one curve item per population), the membranes of 5 E and 5 I
  neurons, the readout with the recall window shaded.
- :class:`WeightHistograms`: excitatory and inhibitory weight magnitudes before (grey) and after
  (colour) training, with the fitted Gaussian tail (E) and log-normal (I) drawn over them.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QTimer

from .raster import tick_segments

REDRAW_MS = 100
TRAIN, HELD = "#2a6fb0", "#d6453d"
EXC, INH = "#d6453d", "#2a6fb0"
GROUP_COLOURS = ("#e67e22", "#27ae60", "#8e44ad", "#9a9a9a")  # left, right, recall, background
READOUT = ("#e67e22", "#27ae60")  # left, right (as the input groups)
DASH = pg.mkPen("#999999", style=pg.QtCore.Qt.PenStyle.DashLine)


def _style(plot, left: str, bottom: str | None = None) -> None:
    plot.setLabel("left", left)
    if bottom:
        plot.setLabel("bottom", bottom)
    for axis in ("left", "bottom"):
        plot.getAxis(axis).enableAutoSIPrefix(False)
    plot.getAxis("left").setWidth(52)


def _legend(plot, cols: int = 1):
    return plot.addLegend(offset=(-6, 4), labelTextSize="8pt", colCount=cols,
                          brush=pg.mkBrush(255, 255, 255, 220), pen=pg.mkPen("#bbbbbb"),
                          labelTextColor="#222222")


class TrainingCurves(pg.GraphicsLayoutWidget):
    """Loss and accuracy against batches (left) and wall time (right)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground("w")
        # the legend has its own row: inside a plot it hid the curves in a narrow tab
        legend = pg.LegendItem(colCount=3, labelTextSize="8pt")
        self.addItem(legend, row=0, col=0, colspan=2)
        self.loss_b = self.addPlot(row=1, col=0)
        self.loss_t = self.addPlot(row=1, col=1)
        self.acc_b = self.addPlot(row=2, col=0)
        self.acc_t = self.addPlot(row=2, col=1)
        for plot, left, bottom in ((self.loss_b, "loss", None), (self.loss_t, "loss", None),
                                   (self.acc_b, "accuracy (%)", "batch"),
                                   (self.acc_t, "accuracy (%)", "wall time (s)")):
            _style(plot, left, bottom)
        self.loss_t.setYLink(self.loss_b)
        self.acc_t.setYLink(self.acc_b)
        self.acc_b.setXLink(self.loss_b)
        self.acc_t.setXLink(self.loss_t)
        self.items: dict[str, pg.PlotDataItem] = {}
        held = dict(pen=pg.mkPen(HELD, width=2), symbol="o", symbolSize=5, symbolBrush=HELD,
                    symbolPen=None)
        for suffix, loss_plot, acc_plot in (("b", self.loss_b, self.acc_b),
                                            ("t", self.loss_t, self.acc_t)):
            named = suffix == "b"  # one legend entry per kind
            self.items["loss_" + suffix] = loss_plot.plot(pen=pg.mkPen(TRAIN, width=1.5))
            self.items["hloss_" + suffix] = loss_plot.plot(**held)
            self.items["acc_" + suffix] = acc_plot.plot(pen=pg.mkPen(TRAIN, width=1))
            self.items["hacc_" + suffix] = acc_plot.plot(**held)
            if named:
                legend.addItem(self.items["acc_b"], "train batches")
                legend.addItem(self.items["hacc_b"], "held-out")
            acc_plot.addItem(pg.InfiniteLine(50, angle=0, pen=DASH))
            acc_plot.setYRange(0, 100, padding=0.02)
        legend.addItem(pg.PlotDataItem(pen=DASH), "chance")
        self.reset()
        self.timer = QTimer(self, interval=REDRAW_MS)
        self.timer.timeout.connect(self.redraw)

    def reset(self) -> None:
        self.train: list[tuple[float, float, float, float]] = []  # batch, loss, acc, t
        self.held: list[tuple[float, float, float, float]] = []  # batch, loss, acc, t
        self._dirty = True
        self.redraw()

    def add_batch(self, batch, loss, accuracy, elapsed) -> None:
        self.train.append((batch, loss, 100.0 * accuracy, elapsed))
        self._dirty = True

    def add_heldout(self, batch, accuracy, elapsed, loss=float("nan")) -> None:
        self.held.append((batch, loss, 100.0 * accuracy, elapsed))
        self._dirty = True

    def start_live(self) -> None:
        self.timer.start()

    def stop_live(self) -> None:
        self.timer.stop()
        self.redraw()

    def show_result(self, result) -> None:
        """Draw a result's own history (authoritative over the live points)."""
        h, e = result.history, result.evals
        n = len(h.get("loss", ()))
        t = h.get("elapsed")
        if t is None or len(t) != n:
            t = np.cumsum(h.get("seconds", np.zeros(n)))
        self.train = [(i + 1, h["loss"][i], 100.0 * h["accuracy"][i], t[i]) for i in range(n)]
        self.held = [(e["batch"][i], e["loss"][i], 100.0 * e["accuracy"][i], e["elapsed"][i])
                     for i in range(len(e.get("batch", ())))]
        self._dirty = True
        self.redraw()

    def redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        tr = np.asarray(self.train, np.float64).reshape(-1, 4)
        he = np.asarray(self.held, np.float64).reshape(-1, 4)
        for suffix, col in (("b", 0), ("t", 3)):
            self.items["loss_" + suffix].setData(tr[:, col], tr[:, 1])
            self.items["acc_" + suffix].setData(tr[:, col], tr[:, 2])
            ok = np.isfinite(he[:, 1])
            self.items["hloss_" + suffix].setData(he[ok, col], he[ok, 1])
            self.items["hacc_" + suffix].setData(he[:, col], he[:, 2])

    def shown(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """What each curve draws now (tests)."""
        return {k: tuple(np.asarray(a) for a in item.getData()) for k, item in self.items.items()}


class TrialPlots(pg.GraphicsLayoutWidget):
    """One held-out trial: inputs, E/I raster, membranes, readout (x-linked, time in ms)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground("w")
        self.inputs = self.addPlot(row=0, col=0)
        self.raster = self.addPlot(row=1, col=0)
        self.membranes = self.addPlot(row=2, col=0)
        self.readout = self.addPlot(row=3, col=0)
        for plot, left in ((self.inputs, "input"), (self.raster, "neuron"),
                           (self.membranes, "V (mV)"), (self.readout, "readout")):
            _style(plot, left)
            if plot is not self.inputs:
                plot.setXLink(self.inputs)
        self.readout.setLabel("bottom", "time (ms)")
        for row, stretch in ((0, 2), (1, 3), (2, 2), (3, 2)):
            self.ci.layout.setRowStretchFactor(row, stretch)
        self.input_items = [self._ticks(self.inputs, c) for c in GROUP_COLOURS]
        self.spike_items = [self._ticks(self.raster, c) for c in (EXC, INH)]
        legend = _legend(self.membranes, cols=2)
        self.v_items = [self.membranes.plot(pen=pg.mkPen(pg.mkColor(c).darker(100 + 25 * k),
                                                         width=1)) for c in (EXC, INH)
                        for k in range(5)]
        legend.addItem(self.v_items[0], "E")
        legend.addItem(self.v_items[5], "I")
        rl = _legend(self.readout, cols=2)
        self.y_items = [self.readout.plot(pen=pg.mkPen(c, width=1.5), name=n)
                        for c, n in zip(READOUT, ("left", "right"))]
        self.recall = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(142, 68, 173, 30),
                                          pen=pg.mkPen(None))
        self.readout.addItem(self.recall)
        self.recall.setZValue(-10)
        rl.setParentItem(self.readout.vb)
        self.verdict = pg.TextItem(anchor=(0, 0), color="#222")
        self.readout.addItem(self.verdict)
        self.data: dict | None = None

    @staticmethod
    def _ticks(plot, colour):
        item = pg.PlotCurveItem(pen=pg.mkPen(colour, width=1), connect="pairs",
                                skipFiniteCheck=True)
        plot.addItem(item)
        return item

    def reset(self) -> None:
        self.data = None
        for item in self.input_items + self.spike_items + self.v_items + self.y_items:
            item.setData([], [])
        self.verdict.setText("")

    def show_trial(self, d: dict) -> None:
        """``d``: :func:`core.training.evidence_view.trial_data` (or a result's ``figure``)."""
        self.data = d
        dt = float(d.get("dt_ms", 1.0))
        x_in = np.asarray(d["input_raster"], bool)
        n_group = x_in.shape[1] // 4
        t, i = np.nonzero(x_in)
        for g, item in enumerate(self.input_items):
            sel = (i >= g * n_group) & (i < (g + 1) * n_group)
            item.setData(*tick_segments(t[sel] * dt, i[sel]))
        z = np.asarray(d["raster"], bool)
        ne = int(d.get("n_exc", int(np.max(d["membrane_neurons"][:5]) + 1)))
        t, i = np.nonzero(z)
        for item, sel in zip(self.spike_items, (i < ne, i >= ne)):
            item.setData(*tick_segments(t[sel] * dt, i[sel]))
        V = np.asarray(d["membrane_mV"])
        tt = (np.arange(V.shape[0]) + 1) * dt
        for k, item in enumerate(self.v_items):
            if k < V.shape[1]:
                item.setData(tt, V[:, k])
            else:
                item.setData([], [])
        y = np.asarray(d["readout"])
        for k, item in enumerate(self.y_items):
            item.setData(tt, y[:, k])
        T = V.shape[0]
        start = int(d.get("recall_start", T))
        self.recall.setRegion((start * dt, T * dt))
        self.inputs.setXRange(0, T * dt, padding=0.01)
        self.inputs.setYRange(-1, x_in.shape[1], padding=0)
        self.raster.setYRange(-1, z.shape[1], padding=0)
        side = ("left", "right")
        label = int(d["label"])
        text = f"label {side[label]}"
        if "prediction" in d:
            pred = int(d["prediction"])
            text += f", decision {side[pred]} ({'correct' if pred == label else 'wrong'})"
        self.verdict.setText(text)
        lo, hi = float(np.min(y)), float(np.max(y))
        self.verdict.setPos(0, hi + 0.05 * (hi - lo + 1e-9))


def halfnorm_pdf(x, sigma):
    return np.sqrt(2.0 / np.pi) / sigma * np.exp(-0.5 * (x / sigma) ** 2)


def lognorm_pdf(x, mu, sigma):
    x = np.maximum(x, 1e-300)
    return np.exp(-0.5 * ((np.log(x) - mu) / sigma) ** 2) / (x * sigma * math.sqrt(2 * math.pi))


class WeightHistograms(pg.GraphicsLayoutWidget):
    """|W| histograms before / after training with the fitted shapes (E: Gaussian tail, I:
    log-normal); the fit parameters and KS statistics in each title."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground("w")
        self.exc = self.addPlot(row=0, col=0)
        self.inh = self.addPlot(row=1, col=0)
        _style(self.exc, "synapses")
        _style(self.inh, "synapses", "|weight|")
        self.items: dict[str, pg.PlotDataItem] = {}
        for key, plot, colour in (("exc", self.exc, EXC), ("inh", self.inh, INH)):
            _legend(plot, cols=2)
            for when, pen_colour, brush in (("before", "#888888", (150, 150, 150, 60)),
                                            ("after", colour, None)):
                c = pg.mkColor(colour)
                self.items[f"{key}_{when}"] = plot.plot(
                    stepMode="center", pen=pg.mkPen(pen_colour, width=1.5),
                    fillLevel=0, brush=brush or (c.red(), c.green(), c.blue(), 50),
                    name=f"{when}")
                self.items[f"{key}_{when}_fit"] = plot.plot(
                    pen=pg.mkPen(pen_colour, width=1.5, style=pg.QtCore.Qt.PenStyle.DashLine),
                    name=f"fit {when}")
        self.reset()

    def reset(self) -> None:
        for item in self.items.values():
            item.clear()
        self.exc.setTitle("excitatory weights", size="9pt")
        self.inh.setTitle("inhibitory weights", size="9pt")

    def show_figure(self, fig: dict) -> None:
        hist, fits = fig.get("histograms", {}), fig.get("fits", {})
        titles = {}
        for key, name, kind in (("exc", "w_e", "gaussian_tail"), ("inh", "w_i", "lognormal")):
            parts = []
            for when in ("before", "after"):
                h = hist.get(f"{name}_{when}")
                f = fits.get(f"{key}_{when}")
                if h is None:
                    continue
                edges = np.asarray(h["edges"], np.float64)
                counts = np.asarray(h["counts"], np.float64)
                self.items[f"{key}_{when}"].setData(edges, counts)
                if f:
                    x = np.linspace(max(edges[0], 1e-9), edges[-1], 200)
                    width = edges[1] - edges[0]
                    if kind == "gaussian_tail":
                        pdf = halfnorm_pdf(x, f["sigma"])
                        parts.append(f"{when}: \u03c3 {f['sigma']:.3g}, KS {f['ks']:.2f}")
                    else:
                        pdf = lognorm_pdf(x, f["mu"], f["sigma"])
                        parts.append(f"{when}: \u03bc {f['mu']:.2f}, \u03c3 {f['sigma']:.2f}, "
                                     f"KS {f['ks']:.2f}")
                    self.items[f"{key}_{when}_fit"].setData(x, pdf * f["n"] * width)
            titles[key] = "; ".join(parts)
        self.exc.setTitle(f"excitatory |W|, Gaussian tail fit \u2014 {titles.get('exc', '')}",
                          size="9pt")
        self.inh.setTitle(f"inhibitory |W|, log-normal fit \u2014 {titles.get('inh', '')}",
                          size="9pt")
