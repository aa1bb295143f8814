"""Brainfit Workbench: the PyQt6 application over :mod:`core`."""

from core import __version__

__all__ = ["__version__"]
