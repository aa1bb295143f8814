"""Network view: spike raster, population rates and membrane traces, x-linked, coloured by
population.

The raster draws spikes as short vertical ticks (``t``, ``i +- 0.45``): one ``PlotCurveItem``
with ``connect="pairs"`` per population, never an item per spike (``ScatterPlotItem.setData``
takes ~2.3 s on 3e5 spikes, building a per-point style record). Drawing costs follow the ticks
drawn (a 2 s COBA run has 1.8e5 spikes: building and painting all of them held the event loop
~40 ms; 12 000 ticks take ~2 ms), so at most :data:`MAX_DRAWN` ticks are drawn at once, what
the plot can show (a few hundred pixel rows for thousands of neurons):

- live, each chunk's preview adds its share of that budget (``chunk / duration``), evenly
  thinned, as new tick items: a redraw costs the new spikes, not every spike so far;
- a finished result keeps every spike and draws those in view, evenly thinned to the budget
  when there are more; zooming in redraws (debounced), down to every single spike; the plot's
  title says when it shows a subset.

Events only store data; a timer redraws at most 30 times a second, and only while a run is live
(:meth:`NetworkPlots.start_live` / :meth:`NetworkPlots.stop_live`). A run with the same layout
as the last one reuses its rate and trace curves.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QTimer

REDRAW_MS = 33
VIEW_REDRAW_MS = 60  # after the last zoom or pan step, the ticks in view are drawn again
MAX_DRAWN = 12_000  # ticks drawn at once (all populations)
TICK = 0.45  # half height of a raster tick, in neurons
EXC = ("#d6453d", "#e67e22", "#c0392b", "#f1948a")
INH = ("#2a6fb0", "#5dade2", "#1f3a93", "#85c1e9")
OTHER = ("#27ae60", "#8e44ad", "#b7950b", "#7f8c8d", "#16a085", "#6e2c00")
MAX_RATE_BINS = 400


def population_colours(populations) -> list[str]:
    """E-like (sign > 0, not an input) populations red-ish, I-like blue-ish, the rest distinct."""
    counts = {"e": 0, "i": 0, "o": 0}
    out = []
    for p in populations:
        inputish = p.model in ("poisson", "input") or p.name.startswith("in")
        kind = "o" if inputish or p.sign == 0 else ("e" if p.sign > 0 else "i")
        palette = {"e": EXC, "i": INH, "o": OTHER}[kind]
        out.append(palette[counts[kind] % len(palette)])
        counts[kind] += 1
    return out


def rate_bin_ms(duration_ms: float, dt: float) -> float:
    """A round bin width giving 100-400 bins over the run (never below one time step)."""
    for width in (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0):
        if duration_ms / width <= MAX_RATE_BINS and width >= dt:
            return width
    return duration_ms / MAX_RATE_BINS


def thin_evenly(n: int, keep: int) -> np.ndarray:
    """Indices of ``keep`` of ``n`` items spread evenly (all of them when ``keep >= n``)."""
    if keep >= n:
        return np.arange(n)
    return np.linspace(0, n - 1, max(keep, 0)).astype(np.int64)


def population_of(populations, index) -> np.ndarray:
    """The position in ``populations`` (contiguous index ranges) of each neuron ``index``."""
    return np.searchsorted([p.stop for p in populations], index, side="right")


def population_histogram(t_ms, pop, n_pop: int, n_bins: int, bin_ms: float) -> np.ndarray:
    """Spike counts (n_pop, n_bins) per population and time bin, in one pass."""
    if not n_pop:
        return np.zeros((0, n_bins))
    b = np.clip((np.asarray(t_ms) / bin_ms).astype(np.int64), 0, n_bins - 1)
    pop = np.asarray(pop, np.int64)
    inside = pop < n_pop
    cell = pop[inside] * n_bins + b[inside]
    return np.bincount(cell, minlength=n_pop * n_bins).reshape(n_pop, n_bins).astype(float)


def tick_segments(t: np.ndarray, i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x, y of vertical ticks for ``connect="pairs"``."""
    x = np.repeat(np.asarray(t, np.float64), 2)
    y = np.repeat(np.asarray(i, np.float64), 2)
    y[0::2] -= TICK
    y[1::2] += TICK
    return x, y


class NetworkPlots(pg.GraphicsLayoutWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground("w")
        self.raster = self.addPlot(row=0, col=0)
        self.rates = self.addPlot(row=1, col=0)
        self.traces = self.addPlot(row=2, col=0)
        for plot, ylabel in ((self.raster, "neuron"), (self.rates, "rate (Hz)"),
                             (self.traces, "V (mV)")):
            plot.setLabel("left", ylabel)
            plot.getAxis("left").enableAutoSIPrefix(False)
            plot.getAxis("left").setWidth(58)
            plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.traces.setLabel("bottom", "time (ms)")
        self.rates.setXLink(self.raster)
        self.traces.setXLink(self.raster)
        self.traces.setDownsampling(auto=True, mode="peak")
        self.traces.setClipToView(True)
        for row, stretch in ((0, 5), (1, 2), (2, 2)):
            self.ci.layout.setRowStretchFactor(row, stretch)
        legend_style = dict(offset=(-10, 5), labelTextSize="8pt", brush=pg.mkBrush(255, 255, 255, 220),
                            pen=pg.mkPen("#bbbbbb"), labelTextColor="#222222")
        self.rate_legend = self.rates.addLegend(**legend_style)
        self.trace_legend = self.traces.addLegend(**legend_style)
        self.populations: tuple = ()
        self.colours: list[str] = []
        self.spike_items: list[pg.PlotCurveItem] = []  # live ticks, one item per redraw
        self.result_items: list[pg.PlotCurveItem] = []  # a result's ticks in view, per population
        self.rate_items: list[pg.PlotDataItem] = []
        self.trace_items: list[pg.PlotDataItem] = []
        self.trace_indices = np.zeros(0, np.int64)
        self._layout: tuple = ()
        self._pending = None  # (result, spikes by population, rate histogram) to draw
        self._duration_ms = 1.0
        self._reset_data()
        self.timer = QTimer(self, interval=REDRAW_MS)
        self.timer.timeout.connect(self.redraw)
        self.view_timer = QTimer(self, interval=VIEW_REDRAW_MS, singleShot=True)
        self.view_timer.timeout.connect(self._draw_result_in_view)
        self.raster.vb.sigRangeChanged.connect(self._on_range)

    # ---- setup --------------------------------------------------------------------------------
    def _reset_data(self) -> None:
        self._t: list[list[np.ndarray]] = [[] for _ in self.populations]
        self._i: list[list[np.ndarray]] = [[] for _ in self.populations]
        self._trace_t: list[np.ndarray] = []
        self._trace_v: list[np.ndarray] = []
        self._hist = np.zeros((len(self.populations), 0))
        self._bin_ms = 1.0
        self._done_ms = 0.0
        self._drawn_ms = 0.0
        self._dirty = False
        self._result_spikes: list[tuple[np.ndarray, np.ndarray]] = []  # per population, by time

    def setup(self, populations, trace_indices, duration_ms: float, dt: float) -> None:
        """Ready the plots for a network (once per run): one raster and one rate curve per
        population, one trace per recorded neuron; the curves of the last run are reused when
        the layout is the same."""
        self.view_timer.stop()
        self._pending = None  # a result not drawn yet is superseded
        for item in self.spike_items:
            self.raster.removeItem(item)
        self.spike_items.clear()
        populations = tuple(populations)
        layout = (tuple((p.name, p.size, p.stop, p.sign, p.model) for p in populations),
                  tuple(int(k) for k in trace_indices))
        if layout != self._layout:
            self._build(populations, trace_indices)
            self._layout = layout
        else:
            for item in self.result_items + self.rate_items + self.trace_items:
                item.setData([], [])
        self.raster.setTitle(None)
        self._reset_data()
        self._duration_ms = float(duration_ms)
        self._bin_ms = rate_bin_ms(duration_ms, dt)
        self._hist = np.zeros((len(self.populations), max(1, int(np.ceil(duration_ms / self._bin_ms)))))
        n = self.populations[-1].stop if self.populations else 1
        self.raster.setLimits(yMin=-1, yMax=n + 1, xMin=-0.05 * duration_ms,
                              xMax=1.05 * duration_ms)
        self.raster.setYRange(-0.5, n - 0.5, padding=0.01)
        self.raster.setXRange(0, duration_ms, padding=0.01)
        self.rates.enableAutoRange(y=True)
        self.traces.enableAutoRange(y=True)

    def _build(self, populations, trace_indices) -> None:
        for plot, items in ((self.raster, self.result_items), (self.rates, self.rate_items),
                            (self.traces, self.trace_items)):
            for item in items:
                plot.removeItem(item)
            items.clear()
        self.rate_legend.clear()
        self.trace_legend.clear()
        self.trace_legend.setColumnCount(max(1, min(4, len(trace_indices))))  # one short row
        self.populations = populations
        self.colours = population_colours(self.populations)
        self.trace_indices = np.asarray(trace_indices, np.int64)
        for p, colour in zip(self.populations, self.colours):
            self.rate_items.append(self.rates.plot(pen=pg.mkPen(colour, width=1.5),
                                                   name=f"{p.name} ({p.size})"))
            item = pg.PlotCurveItem(pen=pg.mkPen(colour, width=1), connect="pairs",
                                    skipFiniteCheck=True)
            self.raster.addItem(item)
            self.result_items.append(item)
        shades: dict[int, int] = {}
        for index in self.trace_indices:
            k = min(int(population_of(self.populations, index)), len(self.populations) - 1)
            colour = pg.mkColor(self.colours[k]).darker(100 + 45 * shades.get(k, 0))
            shades[k] = shades.get(k, 0) + 1
            name = f"{self.populations[k].name} #{int(index)}"
            self.trace_items.append(self.traces.plot(pen=pg.mkPen(colour, width=1), name=name))
        n = self.populations[-1].stop if self.populations else 1
        self.raster.setLabel("left", f"neuron (of {n})" if self.populations else "neuron")

    # ---- live data ----------------------------------------------------------------------------
    def add_chunk(self, t_ms, index, trace_t, traces, n_spikes: int, done_ms: float) -> None:
        """Store one chunk's preview (possibly thinned: the rates are scaled by ``n_spikes``)."""
        t_ms, index = np.asarray(t_ms), np.asarray(index)
        pop = population_of(self.populations, index)
        for k in range(len(self.populations)):
            sel = pop == k
            self._t[k].append(t_ms[sel])
            self._i[k].append(index[sel])
        scale = n_spikes / len(t_ms) if len(t_ms) else 0.0
        self._add_hist(t_ms, pop, scale)
        if traces is not None and len(trace_t):
            self._trace_t.append(np.asarray(trace_t))
            self._trace_v.append(np.asarray(traces))
        self._done_ms = done_ms
        self._dirty = True


    def _add_hist(self, t_ms, pop, scale: float) -> None:
        n_pop, nb = self._hist.shape
        self._hist += scale * population_histogram(t_ms, pop, n_pop, nb, self._bin_ms)

    def start_live(self) -> None:
        self.timer.start()

    def stop_live(self) -> None:
        self.timer.stop()
        self.redraw()

    def redraw(self) -> None:
        if not self._dirty:
            return
        # only what arrived since the last redraw, within its share of the tick budget
        new = [(np.concatenate(ts), np.concatenate(iis)) if ts else (np.zeros(0), np.zeros(0))
               for ts, iis in zip(self._t, self._i)]
        self._t = [[] for _ in self.populations]
        self._i = [[] for _ in self.populations]
        share = (self._done_ms - self._drawn_ms) / max(self._duration_ms, 1e-9)
        budget = int(np.ceil(MAX_DRAWN * min(max(share, 0.0), 1.0)))
        total = sum(t.size for t, _ in new)
        self._drawn_ms = self._done_ms
        for (t, i), colour in zip(new, self.colours):
            if not t.size:
                continue
            keep = thin_evenly(t.size, budget * t.size // total)
            tick = pg.PlotCurveItem(*tick_segments(t[keep], i[keep]),
                                    pen=pg.mkPen(colour, width=1), connect="pairs",
                                    skipFiniteCheck=True)
            self.raster.addItem(tick)
            self.spike_items.append(tick)
        n_bins = min(self._hist.shape[1], int(np.ceil(self._done_ms / self._bin_ms - 1e-9)))
        centres = (np.arange(n_bins) + 0.5) * self._bin_ms
        for k, (p, item) in enumerate(zip(self.populations, self.rate_items)):
            rate = self._hist[k, :n_bins] / max(p.size, 1) / (self._bin_ms / 1000.0)
            item.setData(centres, rate)
        if self._trace_t:
            tt = np.concatenate(self._trace_t)
            vv = np.concatenate(self._trace_v)
            for j, item in enumerate(self.trace_items):
                item.setData(tt, vv[:, j])
        self._dirty = False

    # ---- whole results ------------------------------------------------------------------------
    def show_result(self, result) -> None:
        """Replace whatever is shown by ``result``: its exact rates and traces, and its spikes
        (those in view, thinned to :data:`MAX_DRAWN` when there are more). The arrays are
        prepared here and drawn on the next turn of the event loop, so the two are two short
        stalls of the window, not one long one."""
        self.timer.stop()
        t, i = np.asarray(result.spike_t), np.asarray(result.spike_i)
        if t.size > 1 and np.any(t[1:] < t[:-1]):  # runs record in time order; files may not
            order = np.argsort(t, kind="stable")
            t, i = t[order], i[order]
        pops = tuple(result.populations)
        pop = population_of(pops, i)
        by_population = []
        for k in range(len(pops)):
            sel = pop == k  # keeps the time order
            by_population.append((t[sel], i[sel]))
        bin_ms = rate_bin_ms(result.duration_ms, result.dt)
        n_bins = max(1, int(np.ceil(result.duration_ms / bin_ms)))
        hist = population_histogram(t, pop, len(pops), n_bins, bin_ms)
        self.view_timer.stop()
        self._pending = (result, by_population, hist)
        self.view_timer.start(0)

    def _apply_result(self) -> None:
        result, by_population, hist = self._pending
        self.setup(result.populations, result.trace_indices, result.duration_ms, result.dt)
        self._result_spikes = by_population
        self._hist = hist
        if result.traces.size:
            self._trace_t = [result.trace_t]
            self._trace_v = [np.asarray(result.traces)]
        self._done_ms = self._drawn_ms = result.duration_ms
        self._dirty = True
        self.redraw()

    def _on_range(self, *_args) -> None:
        if self._result_spikes:
            self.view_timer.start(VIEW_REDRAW_MS)

    def _draw_result_in_view(self) -> None:
        """The result's ticks inside the raster's view (evenly thinned beyond the budget)."""
        if self._pending is not None:
            self._apply_result()  # setup() clears the pending result
        if not self._result_spikes:
            return
        (x0, x1), (y0, y1) = self.raster.vb.viewRange()
        chosen = []
        for t, i in self._result_spikes:
            a, b = np.searchsorted(t, x0, "left"), np.searchsorted(t, x1, "right")
            tt, ii = t[a:b], i[a:b]
            sel = (ii >= y0 - 1) & (ii <= y1 + 1)
            chosen.append((tt[sel], ii[sel]))
        in_view = sum(tt.size for tt, _ in chosen)
        drawn = 0
        for (tt, ii), item in zip(chosen, self.result_items):
            keep = thin_evenly(tt.size, MAX_DRAWN * tt.size // max(in_view, 1))
            drawn += keep.size
            item.setData(*tick_segments(tt[keep], ii[keep]))
        self.raster.setTitle(
            None if drawn >= in_view else
            f"<span style='font-size:8pt;color:#555'>{drawn:,} of the {in_view:,} spikes in view "
            f"drawn, evenly thinned: zoom in for every spike</span>")

    def reset(self) -> None:
        self.timer.stop()
        self.setup((), (), 1.0, 1.0)

    # ---- what is drawn (for tests and exports) ------------------------------------------------
    def shown_spikes(self) -> tuple[np.ndarray, np.ndarray]:
        """(t ms, neuron index) of every tick in the raster items, sorted by time then index."""
        ts, iis = [], []
        for item in self.spike_items + self.result_items:
            x, y = item.getData()
            if x is None or not len(x):
                continue
            ts.append(x[0::2])
            iis.append(np.rint((y[0::2] + y[1::2]) / 2).astype(np.int64))
        if not ts:
            return np.zeros(0), np.zeros(0, np.int64)
        t, i = np.concatenate(ts), np.concatenate(iis)
        order = np.lexsort((i, t))
        return t[order], i[order]

    def shown_rates(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return {p.name: item.getData() for p, item in zip(self.populations, self.rate_items)}

    def shown_traces(self) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        return {int(k): item.getOriginalDataset()
                for k, item in zip(self.trace_indices, self.trace_items)}
