"""GUI fixtures: one engine worker per test module, and a main window that must not leak
threads (daemon or not), processes, windows or jobs."""

from __future__ import annotations

import pytest

from tests.leaks import Snapshot, assert_no_leaks


def _quiet_close(window) -> None:
    window.runner.shutdown(30000)
    window.session.dirty = False  # no "save changes?" prompt in tests


@pytest.fixture(scope="module")
def engine():
    """The worker process every window of this module shares (spawning one costs seconds; a
    module whose tests open no window spawns none)."""
    from core.engine import LocalEngine
    from workbench.runner import close_engine, set_default_engine

    eng = LocalEngine()
    old = set_default_engine(eng)
    yield eng
    set_default_engine(old)
    close_engine(eng)


@pytest.fixture
def make_workbench(qtbot, tmp_path, engine):
    from workbench.main_window import MainWindow

    before = Snapshot.take()
    windows = []

    def make(**kwargs):
        kwargs.setdefault("autosave_path", tmp_path / "autosave.bfproj.h5")
        if "settings" not in kwargs:
            from PyQt6.QtCore import QSettings

            kwargs["settings"] = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(**kwargs)
        qtbot.addWidget(window, before_close_func=_quiet_close)
        windows.append(window)
        return window

    yield make
    for window in windows:
        assert window.runner.shutdown(30000), f"a job of {window!r} did not end"
        window.session.dirty = False  # no "save changes?" prompt in tests
        window.close()
        window.deleteLater()
    windows.clear()
    assert not engine.busy, f"jobs left in the engine: {engine.current}"
    assert_no_leaks(before, allowed_children=(engine.worker_pid,))
