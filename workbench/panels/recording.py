"""Recording panel: sweep navigation, which sweeps to fit, the fitting window, metadata."""

from __future__ import annotations

import html

from PyQt6.QtCore import QSignalBlocker, Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from core.io import Recording


class RecordingPanel(QWidget):
    """Lists the sweeps (current one highlighted, checked ones used for fitting) and the window."""

    sweep_selected = pyqtSignal(int)
    fit_sweeps_changed = pyqtSignal(tuple)
    window_changed = pyqtSignal(float, float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.sweeps = QListWidget()
        self.sweeps.setObjectName("sweepList")
        self.sweeps.currentRowChanged.connect(self._on_row)
        self.sweeps.itemChanged.connect(lambda _item: self.fit_sweeps_changed.emit(self.checked_sweeps()))
        self.start = QDoubleSpinBox(suffix=" ms", decimals=2)
        self.stop = QDoubleSpinBox(suffix=" ms", decimals=2)
        for box in (self.start, self.stop):
            box.setRange(0.0, 1e7)
            box.setKeyboardTracking(False)
            box.valueChanged.connect(self._on_window_edit)
        self.info = QTextBrowser()
        self.info.setObjectName("recordingInfo")
        window = QHBoxLayout()
        window.addWidget(self.start)
        window.addWidget(QLabel("to"))
        window.addWidget(self.stop)
        form = QFormLayout()
        form.addRow("Fit window", window)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Sweeps (checked: used for fitting)"))
        layout.addWidget(self.sweeps, 2)
        layout.addLayout(form)
        layout.addWidget(self.info, 1)

    def show_recording(self, rec: Recording, fit_sweeps: tuple[int, ...], window: tuple[float, float]) -> None:
        with QSignalBlocker(self.sweeps):
            self.sweeps.clear()
            for k, s in enumerate(rec.sweeps):
                n_spikes = len(s.spike_times())
                label = f"Sweep {s.number}  ({s.duration:.0f} ms, {n_spikes} spike{'s' if n_spikes != 1 else ''})"
                item = QListWidgetItem(label)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if k in fit_sweeps else Qt.CheckState.Unchecked)
                self.sweeps.addItem(item)
            self.sweeps.setCurrentRow(0)
        self.set_window(*window)
        self._recording = rec
        self._measurements = None
        self.info.setHtml(self._describe(rec))

    def show_measurements(self, measurements) -> None:
        """Add the cell's measurements (``core.features.CellMeasurements``) to the info view."""
        self._measurements = measurements
        if getattr(self, "_recording", None) is not None:
            self.info.setHtml(self._describe(self._recording, measurements))

    def set_window(self, start: float, stop: float) -> None:
        with QSignalBlocker(self.start), QSignalBlocker(self.stop):
            self.start.setValue(start)
            self.stop.setValue(stop)

    def checked_sweeps(self) -> tuple[int, ...]:
        return tuple(k for k in range(self.sweeps.count())
                     if self.sweeps.item(k).checkState() == Qt.CheckState.Checked)

    def _on_row(self, row: int) -> None:
        if row >= 0:
            self.sweep_selected.emit(row)

    def _on_window_edit(self, _value: float) -> None:
        if self.stop.value() > self.start.value():
            self.window_changed.emit(self.start.value(), self.stop.value())

    @staticmethod
    def _describe(rec: Recording, measurements=None) -> str:
        p = rec.provenance
        rows = [("File", p.path), ("Format", p.format), ("Sweeps", str(rec.n_sweeps)),
                ("Sampling", f"{rec.sampling_rate_hz / 1000:g} kHz (dt {rec.dt:g} ms)"),
                ("Duration", f"{rec.sweeps[0].duration:g} ms per sweep"),
                ("Protocol", p.protocol or "—"),
                ("Channels", ", ".join(p.channel_names) or "—"),
                ("Stimulus", "in file" if rec.has_stimulus else "<b>missing</b> — attach one"),
                ("Original units", ", ".join(f"{k}: {v}" for k, v in dict(p.original_units).items()) or "—")]
        body = "".join(f"<tr><td><b>{html.escape(k)}</b></td><td>{v if k == 'Stimulus' else html.escape(str(v))}</td></tr>"
                       for k, v in rows)
        if len(p.files) > 1:
            rows.insert(1, ("Files", f"{len(p.files)} files form this cell"))
            body = "".join(f"<tr><td><b>{html.escape(k)}</b></td><td>{v if k == 'Stimulus' else html.escape(str(v))}</td></tr>"
                           for k, v in rows)
        extra = "".join(f"<li>{html.escape(c)}</li>" for c in tuple(p.conversions) + tuple(p.notes))
        text = f"<table cellspacing=4>{body}</table>"
        text += _measurements_html(measurements)
        return text + (f"<p><b>Conversions and notes</b></p><ul>{extra}</ul>" if extra else "")


def _measurements_html(m) -> str:
    if m is None:
        return "<p><b>Cell measurements</b>: measuring…</p>"
    from core.features.summary import measurement_rows

    body = "".join(f"<tr><td>{html.escape(k)}</td><td><b>{html.escape(v)}</b></td></tr>"
                   for k, v in measurement_rows(m))
    warn = "".join(f"<li style='color:#b03030'>{html.escape(w)}</li>" for w in m.warnings)
    return (f"<p><b>Cell measurements</b></p><table cellspacing=3>{body}</table>"
            + (f"<ul>{warn}</ul>" if warn else ""))
