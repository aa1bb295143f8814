"""The window's plots.

Plots that redraw while a job runs have no grid lines: pyqtgraph draws a grid as part of each axis,
which makes the axes cover the whole view, so every curve update repaints them all (14 axis paints,
60-66 ms per burst of updates, in the window's event loop). The batch summary, redrawn once per
finished cell, keeps its grid.
"""
