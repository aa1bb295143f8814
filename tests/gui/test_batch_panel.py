"""The Batch panel through the real JobRunner and worker process: tiny synthetic LIF cells
(written by our own code) and a corrupt file; the table, the progress, cancel, opening a cell
and the summary plots."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PyQt6.QtCore import QSettings

from core.batch import BatchCellState
from core.integrate import simulate
from core.io import Recording, Sweep, write_recording
from core.models import LIF

EVALS = 30


def _lif_cell(path, scale: float, n: int = 700) -> None:
    dt = 0.1
    t = np.arange(n) * dt
    I = np.array([np.where((t > 10) & (t < 55), a * scale, 0.0) for a in (0.25, 0.35, 0.45)])
    res = simulate(LIF(tau_m=15.0, R=90.0, V_th=-52.0), I.T, dt)
    V = np.concatenate([np.full((3, 1), -70.0), np.asarray(res.V).T[:, :-1]], axis=1)
    write_recording(Recording(tuple(Sweep(V[k], I[k], dt, number=k) for k in range(3))), path)


@pytest.fixture
def cells(tmp_path):
    d = tmp_path / "cells"
    d.mkdir()
    _lif_cell(d / "cell_a.h5", 1.0)
    _lif_cell(d / "cell_b.h5", 1.2, n=650)  # another length, the same bucket
    (d / "corrupt.abf").write_bytes(b"\x00garbage, not an ABF" * 16)
    return d


@pytest.fixture
def panel(qtbot, tmp_path, engine):
    from workbench.panels.batch import BatchPanel
    from workbench.runner import JobRunner

    runner = JobRunner(engine=engine)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    widget = BatchPanel(runner, settings)
    qtbot.addWidget(widget)
    widget.resize(1200, 760)
    yield widget
    assert runner.shutdown(60000)


def _setup(panel, cells, out, model="lif", evaluations=EVALS, seconds=120.0):
    panel.add_inputs([cells])
    panel.add_inputs([cells])  # twice: listed once
    assert panel.input_paths() == [os.fspath(cells)]
    panel.model.setCurrentText(model)
    panel.method.setCurrentText("hybrid")
    panel.evaluations.setValue(evaluations)
    panel.seconds.setValue(seconds)
    panel.out.setText(os.fspath(out))


def test_batch_runs_shows_done_and_failed_and_opens_a_cell(panel, cells, tmp_path, qtbot):
    _setup(panel, cells, tmp_path / "out")
    states = []
    with qtbot.waitSignal(panel.batch_ended, timeout=240000) as ended:
        assert panel.run()
        assert not panel.run_button.isEnabled() and panel.cancel_button.isEnabled()
        panel._handle.progress.connect(
            lambda e: states.append((e.cell, e.state)) if isinstance(e, BatchCellState) else None)
        assert not panel.run()  # one batch at a time
    result = ended.args[0]
    assert result is not None and not result.cancelled and result.tasks == 3
    rows = {r["cell"]: r for r in panel.table_rows()}
    assert set(rows) == {"cell_a", "cell_b", "corrupt"}
    assert rows["corrupt"]["state"] == "failed" and "corrupt.abf" in rows["corrupt"]["reason / progress"]
    for name in ("cell_a", "cell_b"):
        assert rows[name]["state"] == "done"
        assert np.isfinite(float(rows[name]["loss (mV²)"]))
        assert float(rows[name]["seconds"]) > 0
    # every state change arrived (none coalesced away): queued, running, then the end
    for name, last in (("cell_a", "done"), ("cell_b", "done"), ("corrupt", "failed")):
        seq = [s for c, s in states if c == name]
        assert seq[0] == "queued" and "running" in seq and seq[-1] == last, (name, seq)
    assert panel.progress.value() == 100
    assert panel.run_button.isEnabled() and not panel.cancel_button.isEnabled()
    assert os.path.exists(result.summary_csv)
    # the summary plots: a histogram of a fitted parameter over the two finished cells
    assert panel.plots.hist_param.count() >= 2
    x, counts = panel.plots.histogram_data()
    assert counts.sum() == 2 and len(x) == len(counts) + 1
    sx, sy = panel.plots.scatter_data()
    assert len(sx) == len(sy) == 2
    # open in the single-cell view: the finished cell's files; a failed one opens nothing
    panel.select("corrupt")
    assert not panel.open_button.isEnabled() and not panel.open_selected()
    panel.select("cell_b")
    assert panel.open_button.isEnabled()
    with qtbot.waitSignal(panel.open_cell_requested) as opened:
        panel.open_button.click()
    assert opened.args[0] == [os.fspath(cells / "cell_b.h5")]
    # the settings remember the output folder and the engine, never a project
    assert panel.settings.value("batch/out") == os.fspath(tmp_path / "out")
    assert panel.settings.value("batch/engine") == "local"


def test_cancel_stops_the_batch_and_keeps_what_finished(panel, cells, tmp_path, qtbot):
    _setup(panel, cells, tmp_path / "out2", evaluations=0, seconds=600.0)
    fitting = []
    with qtbot.waitSignal(panel.batch_ended, timeout=240000) as ended:
        assert panel.run()
        panel._handle.progress.connect(
            lambda e: fitting.append(e) if getattr(e, "inner", None) is not None else None)
        qtbot.waitUntil(lambda: len(fitting) > 0, timeout=180000)  # a fit is running
        panel.cancel()
    result = ended.args[0]
    assert result is not None and result.cancelled
    states = {r["cell"]: r["state"] for r in panel.table_rows()}
    assert "cancelled" in states.values() and "running" not in states.values()
    assert panel.run_button.isEnabled() and not panel.cancel_button.isEnabled()
    assert panel.progress.value() < 100 and "cancelled" in panel.status.text()


def test_refuses_without_cells_or_output(panel, tmp_path):
    assert not panel.run() and "add cells" in panel.status.text()
    panel.add_inputs([tmp_path])
    assert not panel.run() and "output folder" in panel.status.text()
    panel.engine.setCurrentIndex(panel.engine.findData("dask"))
    assert panel.address.isEnabled()
    panel.address.setText("tcp://10.0.0.5:8786")
    panel.out.setText(os.fspath(tmp_path / "o"))
    assert panel.make_job().engine == "tcp://10.0.0.5:8786"
    assert "never read from a project" in panel.address.toolTip()


def test_dask_loopback_cluster_from_the_worker(panel, cells, tmp_path, qtbot):
    """'Dask' with no address: the window's (daemonic) worker starts a loopback LocalCluster
    for the batch; the cells finish there with the same rows as on this computer."""
    pytest.importorskip("distributed", reason="Dask is not installed (pip install brainfit[scale])")
    _setup(panel, cells, tmp_path / "dask")
    panel.engine.setCurrentIndex(panel.engine.findData("dask"))
    assert panel.make_job().engine == "dask"
    with qtbot.waitSignal(panel.batch_ended, timeout=300000) as ended:
        assert panel.run()
    result = ended.args[0]
    assert result is not None, panel.status.text()
    states = {r["cell"]: r["state"] for r in panel.table_rows()}
    assert states == {"cell_a": "done", "cell_b": "done", "corrupt": "failed"}
    assert len({r["worker"] for r in result.finished}) >= 1
    assert panel.settings.value("batch/engine") == "dask"
