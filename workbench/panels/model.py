"""Model panel: choose a model, edit its parameters (value, bounds, free/fixed) with validation."""

from __future__ import annotations

from PyQt6.QtCore import QSignalBlocker, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.errors import BrainfitError
from core.models import MODELS

from ..session import Session
from .tables import filling

COLUMNS = ("parameter", "value", "lower", "upper", "unit", "free", "from")
SOURCE_LABELS = {"data": "data", "fit": "fit", "edited": "you", "default": "default"}
SOURCE_TIPS = {"data": "derived from this cell's recording (measurements and subthreshold fit)",
               "fit": "the last fit's value", "edited": "typed in by you",
               "default": "the model's textbook default: nothing from this cell yet"}
_EDITABLE = {1: "value", 2: "lower", 3: "upper"}
PREVIEW_DELAY_MS = 250


class ModelPanel(QWidget):
    """Table generated from the model's ParamSpecs. Bad input is refused (cell reverts, message
    emitted through ``rejected``); valid edits reach the session and, debounced, ask for a preview."""

    rejected = pyqtSignal(str)
    preview_requested = pyqtSignal()
    reset_to_data_requested = pyqtSignal()

    def __init__(self, session: Session, parent=None):
        super().__init__(parent)
        self.session = session
        self.model_box = QComboBox()
        self.model_box.setObjectName("modelBox")
        for name, cls in sorted(MODELS.items()):
            self.model_box.addItem(f"{name} — {cls.doc}", name)
            self.model_box.setItemData(self.model_box.count() - 1, cls.doc, Qt.ItemDataRole.ToolTipRole)
        # long model descriptions must not widen the dock (and the window) beyond the screen
        self.model_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_box.setMinimumContentsLength(22)
        self.model_box.currentIndexChanged.connect(self._on_model)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("parameterTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemChanged.connect(self._on_item)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #b03030")
        self.origin = QLabel()
        self.origin.setObjectName("parameterOrigin")
        self.origin.setWordWrap(True)
        self.reset_button = QPushButton("Reset to data-derived")
        self.reset_button.setObjectName("resetToDataButton")
        self.reset_button.setToolTip("start values, bounds and free set derived from the recording")
        self.reset_button.clicked.connect(self.reset_to_data_requested)
        self._debounce = QTimer(self, singleShot=True, interval=PREVIEW_DELAY_MS)
        self._debounce.timeout.connect(self.preview_requested)
        top = QHBoxLayout()
        top.addWidget(QLabel("Model"))
        top.addWidget(self.model_box, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table)
        origin = QHBoxLayout()
        origin.addWidget(self.origin, 1)
        origin.addWidget(self.reset_button)
        layout.addLayout(origin)
        layout.addWidget(self.message)
        self.refresh()

    def refresh(self) -> None:
        """Rebuild the table from the session (model change, session load)."""
        with QSignalBlocker(self.model_box):
            self.model_box.setCurrentIndex(self.model_box.findData(self.session.model_name))
        specs = MODELS[self.session.model_name].specs()
        with filling(self.table):
            self.table.setRowCount(len(specs))
            for row, (name, setting) in enumerate(self.session.parameters.items()):
                spec = specs[name]
                label = QTableWidgetItem(name)
                label.setToolTip(spec.doc)
                label.setFlags(Qt.ItemFlag.ItemIsEnabled)
                self.table.setItem(row, 0, label)
                for col, key in _EDITABLE.items():
                    self.table.setItem(row, col, QTableWidgetItem(f"{getattr(setting, key):g}"))
                unit = QTableWidgetItem(spec.unit)
                unit.setFlags(Qt.ItemFlag.ItemIsEnabled)
                self.table.setItem(row, 4, unit)
                free = QTableWidgetItem()
                free.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
                free.setCheckState(Qt.CheckState.Checked if setting.free else Qt.CheckState.Unchecked)
                self.table.setItem(row, 5, free)
                source = self.session.source_of(name)
                origin = QTableWidgetItem(SOURCE_LABELS[source])
                origin.setFlags(Qt.ItemFlag.ItemIsEnabled)
                origin.setToolTip(SOURCE_TIPS[source])
                if source == "data":
                    origin.setForeground(QColor("#1d6b2f"))
                self.table.setItem(row, 6, origin)
        self._show_origin()
        self.message.clear()

    def _show_origin(self) -> None:
        d = self.session.data_defaults
        self.reset_button.setEnabled(d is not None)
        if d is None:
            self.origin.setText("Start values: the model's defaults (open a recording to derive "
                                "them from the cell)" if self.session.recording is None else
                                "Start values: deriving them from the recording…"
                                if self.session.measurements is None else
                                "Start values: the model's defaults")
            return
        self.origin.setText("Start values <b>from data</b>: " + "; ".join(d.notes[:1]))

    def _name_at(self, row: int) -> str:
        return self.table.item(row, 0).text()

    def _on_model(self, _index: int) -> None:
        self.session.set_model_name(self.model_box.currentData())
        self.refresh()
        self._debounce.start()

    def _on_item(self, item: QTableWidgetItem) -> None:
        row, col = item.row(), item.column()
        name = self._name_at(row)
        try:
            if col == 5:
                self.session.set_parameter(name, free=item.checkState() == Qt.CheckState.Checked)
            elif col in _EDITABLE:
                text = item.text().strip()
                try:
                    value = float(text)
                except ValueError:
                    raise BrainfitError(f"{name}: {text!r} is not a number") from None
                self.session.set_parameter(name, **{_EDITABLE[col]: value})
        except BrainfitError as exc:
            setting = self.session.parameters[name]
            with QSignalBlocker(self.table):
                if col in _EDITABLE:
                    item.setText(f"{getattr(setting, _EDITABLE[col]):g}")
            self.message.setText(str(exc))
            self.rejected.emit(str(exc))
            return
        self.message.clear()
        if col == 1:
            source = self.session.source_of(name)
            with QSignalBlocker(self.table):
                origin = self.table.item(row, 6)
                origin.setText(SOURCE_LABELS[source])
                origin.setToolTip(SOURCE_TIPS[source])
                origin.setForeground(QColor("#1d6b2f" if source == "data" else "#000000"))
            self._debounce.start()
