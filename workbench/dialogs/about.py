"""About dialog: version, library versions, the devices JAX sees."""

from __future__ import annotations

from PyQt6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout

from core import __version__


def library_versions() -> dict[str, str]:
    from importlib import metadata

    names = ["jax", "jaxlib", "numpy", "scipy", "PyQt6", "pyqtgraph", "nevergrad",
             "scikit-optimize", "h5py", "pyabf", "optax"]
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "?"
    return out


class AboutDialog(QDialog):
    def __init__(self, parent=None, devices: str = ""):
        """``devices``: what the worker reported (the window never asks JAX itself)."""
        super().__init__(parent)
        self.setWindowTitle("About Brainfit Workbench")
        rows = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in library_versions().items())
        devices = devices or "not reported yet (the worker is starting)"
        text = QLabel(f"<h3>Brainfit Workbench {__version__}</h3>"
                      "<p>Differentiable brain modeling: fit neuron models with exact JAX gradients, "
                      "build and train spiking networks.</p>"
                      f"<p><b>JAX devices:</b> {devices}</p><table>{rows}</table>")
        text.setObjectName("aboutText")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(buttons)
