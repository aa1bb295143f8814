"""Network panel (placeholder until the network view lands): explains what is coming."""

from __future__ import annotations

from PyQt6.QtWidgets import QLabel, QVBoxLayout, QWidget


class NetworkPanel(QWidget):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Network simulations: use `brainfit simulate` for now."))
