"""Batch panel: fit many cells (files, folders, ``cell,file`` manifests) with one model and
method, on this computer's worker or a Dask scheduler, and watch them in a live table.

The whole batch is one :class:`core.batch.BatchJob` submitted through the window's runner
(``broadcast=False``: its signals stay on its own handle); the worker runs the cells and sends a
:class:`~core.batch.BatchCellState` per state change (queued, running, done, failed with the
reason, cancelled, skipped). Results go to the output folder (one HDF5 file per cell and the
summary table), so a second run resumes. A Dask scheduler address is a user setting only
(``QSettings``), never read from a project file: whoever runs the scheduler can run code here.

Signals: ``open_cell_requested(list)`` (the files of a finished cell, for the single-cell view)
and ``batch_ended(object)`` (the :class:`~core.batch.BatchResult`, or None when it failed).
"""

from __future__ import annotations

import math
import os

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.batch import BatchCellState, BatchJob, BatchProgress
from core.fitting.optimizers import available_methods
from core.models import MODELS

from ..plots.batch import BatchPlots

JOB_NAME = "batch"
COLUMNS = ("cell", "method", "seed", "state", "loss (mV²)", "held-out γ4", "seconds",
           "compile s", "reason / progress")
COLUMN_TIPS = ("cell (file name or manifest name)", "optimizer", "optimizer seed",
               "queued, running, done, failed, cancelled, or skipped (finished in an earlier "
               "run)", "training loss: voltage MSE of the fitted part",
               "mean gamma factor (±4 ms) of the predicted spikes on the held-out sweeps "
               "(over the cell's reliability when its sweeps repeat one stimulus)",
               "wall time of the cell's task", "XLA compilation inside it (0: the worker had "
               "compiled this length bucket already)", "why it failed, or the fit's progress")
STATE_COLOURS = {"queued": "#777777", "running": "#2a6fb0", "done": "#1e8449",
                 "skipped": "#1e8449", "failed": "#c0392b", "cancelled": "#b9770e"}
ADDRESS_TIP = ("Address of a running Dask scheduler (tcp://host:8786 or tls://…). Stored only "
               "in this computer's settings, never read from a project file: Dask ships pickled "
               "code, so whoever runs that scheduler can run code on this computer. Leave empty "
               "for a loopback-only cluster on this computer.")


def _fmt(v, digits: int = 4) -> str:
    if isinstance(v, bool) or v is None:
        return "" if v is None else str(v)
    if isinstance(v, (int, float)):
        return f"{v:.{digits}g}" if math.isfinite(v) else str(v)
    return str(v)


class BatchPanel(QWidget):
    open_cell_requested = pyqtSignal(list)
    batch_ended = pyqtSignal(object)

    def __init__(self, runner, settings, parent=None):
        super().__init__(parent)
        self.runner = runner
        self.settings = settings
        self.running = False
        self._handle = None
        self.rows: dict[tuple[str, str, int], dict] = {}  # (cell, method, seed) -> latest row
        self.states: dict[tuple[str, str, int], str] = {}
        self.result = None

        self.inputs = QListWidget(selectionMode=QAbstractItemView.SelectionMode.ExtendedSelection)
        self.inputs.setToolTip("recordings (one cell each), folders (each file a cell) and "
                               "cell,file CSV manifests (several files per cell)")
        add_files = QPushButton("Add files…")
        add_folder = QPushButton("Add folder…")
        add_manifest = QPushButton("Add manifest…")
        remove = QPushButton("Remove")
        add_files.clicked.connect(self._ask_files)
        add_folder.clicked.connect(self._ask_folder)
        add_manifest.clicked.connect(self._ask_manifest)
        remove.clicked.connect(self.remove_selected)
        cells_box = QGroupBox("Cells")
        cells_col = QVBoxLayout(cells_box)
        cells_col.addWidget(self.inputs)
        grid = QHBoxLayout()
        for b in (add_files, add_folder, add_manifest, remove):
            grid.addWidget(b)
        cells_col.addLayout(grid)

        fit_box = QGroupBox("Fit")
        form = QFormLayout(fit_box)
        self.model = QComboBox()
        self.model.addItems(sorted(MODELS))
        self.model.setCurrentText("gif")
        self.method = QComboBox()
        self.method.addItems(available_methods())
        self.method.setCurrentText("hybrid")
        self.seconds = QDoubleSpinBox(minimum=1.0, maximum=36000.0, value=60.0, decimals=0,
                                      suffix=" s", toolTip="time budget of each cell's fit")
        self.evaluations = QSpinBox(minimum=0, maximum=10**7, specialValueText="method default",
                                    toolTip="evaluation budget of each fit (0: no limit "
                                            "besides the time)")
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, toolTip="optimizer seed")
        form.addRow("model", self.model)
        form.addRow("method", self.method)
        form.addRow("time per cell", self.seconds)
        form.addRow("evaluations", self.evaluations)
        form.addRow("seed", self.seed)

        run_box = QGroupBox("Where")
        run_form = QFormLayout(run_box)
        self.engine = QComboBox(toolTip="where the cells are fitted")
        self.engine.addItem("this computer (the worker)", "local")
        self.engine.addItem("Dask", "dask")
        self.address = QLineEdit(placeholderText="empty: loopback cluster here", toolTip=ADDRESS_TIP)
        self.out = QLineEdit(toolTip="folder for one result file per cell and summary.csv/.h5; "
                                     "a second run there skips finished cells")
        browse = QPushButton("…", maximumWidth=32, toolTip="choose the output folder")
        browse.clicked.connect(self._ask_out)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out, 1)
        out_row.addWidget(browse)
        run_form.addRow("engine", self.engine)
        run_form.addRow("scheduler", self.address)
        run_form.addRow("output", out_row)
        self.engine.setCurrentIndex(max(0, self.engine.findData(
            str(settings.value("batch/engine", "local")))))
        self.address.setText(str(settings.value("batch/dask_address", "") or ""))
        self.out.setText(str(settings.value("batch/out", "") or ""))
        self.engine.currentIndexChanged.connect(self._engine_changed)
        self._engine_changed()

        self.run_button = QPushButton("Run batch")
        self.cancel_button = QPushButton("Cancel", enabled=False)
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar(minimum=0, maximum=100, value=0, format="%p %")
        self.status = QLabel("Add cells, choose an output folder, run.", wordWrap=True,
                             textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)

        left = QWidget(minimumWidth=300, maximumWidth=400)
        col = QVBoxLayout(left)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(cells_box, 1)
        col.addWidget(fit_box)
        col.addWidget(run_box)
        col.addLayout(buttons)
        col.addWidget(self.progress)
        col.addWidget(self.status)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        for c, tip in enumerate(COLUMN_TIPS):
            self.table.horizontalHeaderItem(c).setToolTip(tip)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.itemDoubleClicked.connect(lambda _item: self.open_selected())
        self.open_button = QPushButton("Open in single-cell view", enabled=False,
                                       toolTip="open the selected finished cell's files")
        self.open_button.clicked.connect(self.open_selected)
        self.plots = BatchPlots(self)
        right = QSplitter(Qt.Orientation.Vertical, childrenCollapsible=False)
        top = QWidget()
        top_col = QVBoxLayout(top)
        top_col.setContentsMargins(0, 0, 0, 0)
        top_col.addWidget(self.table, 1)
        top_col.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignLeft)
        right.addWidget(top)
        right.addWidget(self.plots)
        splitter = QSplitter(Qt.Orientation.Horizontal, childrenCollapsible=False)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        QVBoxLayout(self).addWidget(splitter)

    # ---- inputs ---------------------------------------------------------------------------------
    def add_inputs(self, paths) -> None:
        have = set(self.input_paths())
        for p in paths:
            p = os.fspath(p)
            if p and p not in have:
                self.inputs.addItem(p)
                have.add(p)

    def input_paths(self) -> list[str]:
        return [self.inputs.item(i).text() for i in range(self.inputs.count())]

    def remove_selected(self) -> None:
        for item in self.inputs.selectedItems():
            self.inputs.takeItem(self.inputs.row(item))

    def _ask_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add recordings")
        self.add_inputs(paths)

    def _ask_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Add a folder of cells")
        self.add_inputs([path] if path else [])

    def _ask_manifest(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Add a cell,file manifest", "",
                                              "CSV manifest (*.csv)")
        self.add_inputs([path] if path else [])

    def _ask_out(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Output folder", self.out.text())
        if path:
            self.out.setText(path)

    def _engine_changed(self, *_args) -> None:
        self.address.setEnabled(self.engine.currentData() == "dask")

    # ---- running --------------------------------------------------------------------------------
    def make_job(self) -> BatchJob:
        """The job from the form; ValueError with the reason when it cannot run."""
        inputs = self.input_paths()
        if not inputs:
            raise ValueError("add cells first (files, a folder or a manifest)")
        out = self.out.text().strip()
        if not out:
            raise ValueError("choose an output folder")
        engine = "local"
        if self.engine.currentData() == "dask":
            engine = self.address.text().strip() or "dask"
        return BatchJob(tuple(inputs), os.path.abspath(os.path.expanduser(out)),
                        model=self.model.currentText(), methods=(self.method.currentText(),),
                        seeds=(self.seed.value(),), seconds=float(self.seconds.value()),
                        evaluations=self.evaluations.value() or None, engine=engine,
                        name=JOB_NAME)

    def run(self) -> bool:
        """Start the batch; False (with the reason in the status line) when refused."""
        if self.running:
            return False
        try:
            job = self.make_job()
        except ValueError as exc:
            self.status.setText(f"Not run: {exc}")
            return False
        self.settings.setValue("batch/engine", self.engine.currentData())
        self.settings.setValue("batch/dask_address", self.address.text().strip())
        self.settings.setValue("batch/out", self.out.text().strip())
        handle = self.runner.submit(job, queue=True, broadcast=False)
        if not handle:
            self.status.setText("Not run: the worker is shut down")
            return False
        handle.progress.connect(self._on_event)
        handle.finished.connect(self._on_ended)
        handle.cancelled.connect(self._on_ended)
        handle.failed.connect(self._on_failed)
        self._handle = handle
        self.rows.clear()
        self.states.clear()
        self.table.setRowCount(0)
        self.plots.set_rows([])
        self.result = None
        self._set_running(True)
        self.progress.setValue(0)
        where = "this computer" if job.engine == "local" else f"Dask ({job.engine})"
        self.status.setText(f"Starting {job.model} / {job.methods[0]} on {where}…")
        return True

    def cancel(self) -> None:
        if self.running and self._handle is not None:
            self._handle.cancel()
            self.status.setText("Cancelling… (running cells stop after their current step)")

    def _set_running(self, running: bool) -> None:
        self.running = running
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    def _on_event(self, event) -> None:
        if not isinstance(event, BatchProgress):
            return
        key = (event.cell, event.method, event.seed)
        if isinstance(event, BatchCellState):
            self.states[key] = event.state
            if event.row is not None:
                self.rows[key] = dict(event.row, status=event.state)
            self._show_row(key)
            if event.state in ("done", "skipped"):
                self.plots.set_rows(self.finished_rows(), self._units())
        elif event.inner is not None and self.states.get(key) == "running":
            self._show_row(key, message=getattr(event.inner, "message", ""))
        if event.total:
            self.progress.setValue(int(round(100 * event.done / event.total)))
            self.status.setText(f"{event.done}/{event.total} cells ended, {event.failed} failed"
                                f" ({event.elapsed:.0f} s)")

    def _on_ended(self, result) -> None:
        self._set_running(False)
        self._handle = None
        self.result = result
        if result is None:
            self.status.setText("Cancelled before any cell ended.")
            self.batch_ended.emit(None)
            return
        for row in result.rows:
            key = (row["cell"], row["method"], int(row["seed"]))
            self.rows[key] = row
            self.states[key] = "skipped" if row.get("resumed") else row["status"]
            self._show_row(key)
        ended = sum(r["status"] in ("done", "failed") for r in result.rows)
        self.progress.setValue(100 if not result.cancelled else  # cancelled cells did not end
                               int(100 * ended / max(1, result.tasks)))
        self.plots.set_rows(self.finished_rows(), self._units())
        word = "cancelled" if result.cancelled else "finished"
        self.status.setText(f"Batch {word}: {len(result.finished)} done, {len(result.failed)} "
                            f"failed of {result.tasks} in {result.seconds:.0f} s; summary in "
                            f"{result.summary_csv}")
        self.batch_ended.emit(result)

    def _on_failed(self, message: str, _details: str) -> None:
        self._set_running(False)
        self._handle = None
        self.status.setText(f"Batch failed: {message}")
        self.batch_ended.emit(None)

    # ---- the table ------------------------------------------------------------------------------
    def _units(self) -> dict[str, str]:
        cls = MODELS.get(self.model.currentText())
        return {n: s.unit for n, s in cls.specs().items()} if cls is not None else {}

    def finished_rows(self) -> list[dict]:
        return [r for k, r in self.rows.items() if self.states.get(k) in ("done", "skipped")]

    def _row_index(self, key) -> int:
        for i in range(self.table.rowCount()):
            if self.table.item(i, 0).data(Qt.ItemDataRole.UserRole) == key:
                return i
        i = self.table.rowCount()
        self.table.insertRow(i)
        for c in range(len(COLUMNS)):
            self.table.setItem(i, c, QTableWidgetItem(""))
        self.table.item(i, 0).setData(Qt.ItemDataRole.UserRole, key)
        return i

    def _show_row(self, key, message: str = "") -> None:
        row = self.rows.get(key, {})
        state = self.states.get(key, "queued")
        gamma = row.get("val:mean_gamma_4ms_over_reliability", row.get("val:mean_gamma_4ms"))
        reason = row.get("reason", "") if state in ("failed", "cancelled") else message
        values = (key[0], key[1], key[2], state, row.get("loss"), gamma, row.get("seconds"),
                  row.get("xla_compile_seconds"), reason)
        i = self._row_index(key)
        for c, v in enumerate(values):
            item = self.table.item(i, c)
            item.setText(_fmt(v) if c != 2 else str(v))
            if c == 3:
                item.setForeground(QColor(STATE_COLOURS.get(state, "#000000")))
            if c == len(COLUMNS) - 1:
                item.setToolTip(str(reason))
        for c in range(len(COLUMNS) - 1):  # the reason stretches (its tooltip has all of it)
            self.table.resizeColumnToContents(c)

    def table_rows(self) -> list[dict[str, str]]:
        """What the table shows, one dict per row (tests, exports)."""
        return [{c: self.table.item(i, k).text() for k, c in enumerate(COLUMNS)}
                for i in range(self.table.rowCount())]

    def _selected_key(self):
        items = self.table.selectedItems()
        if not items:
            return None
        return self.table.item(items[0].row(), 0).data(Qt.ItemDataRole.UserRole)

    def _selection_changed(self) -> None:
        key = self._selected_key()
        self.open_button.setEnabled(key is not None and self.states.get(key) in ("done", "skipped"))

    def select(self, cell: str) -> None:
        for i in range(self.table.rowCount()):
            if self.table.item(i, 0).text() == cell:
                self.table.selectRow(i)
                return

    def open_selected(self) -> bool:
        """Emit ``open_cell_requested`` with the selected finished cell's files."""
        key = self._selected_key()
        if key is None or self.states.get(key) not in ("done", "skipped"):
            return False
        files = [f for f in str(self.rows[key].get("files", "")).split(";") if f]
        if not files:
            return False
        self.open_cell_requested.emit(files)
        return True

