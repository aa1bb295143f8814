"""Leak checks for the GUI tests: threads (daemon or not), child processes, top-level windows.

Every check compares against a snapshot taken before the test; daemon threads count (every
thread in this program is a daemon, so skipping them would check nothing).
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Snapshot:
    threads: set = field(default_factory=lambda: set(threading.enumerate()))
    children: set = field(default_factory=lambda: {p.pid for p in multiprocessing.active_children()})
    windows: set = field(default_factory=set)

    @classmethod
    def take(cls, with_windows: bool = True) -> Snapshot:
        snap = cls()
        if with_windows:
            snap.windows = {id(w) for w in _top_level_windows()}
        return snap


def _top_level_windows():
    from PyQt6.QtWidgets import QApplication, QMainWindow

    app = QApplication.instance()
    if app is None:
        return []
    return [w for w in app.topLevelWidgets() if isinstance(w, QMainWindow)]


def new_threads(before: Snapshot) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t not in before.threads and t.is_alive()]


def new_children(before: Snapshot, allowed=()) -> list[int]:
    allowed = {pid for pid in allowed if pid is not None}
    return [p.pid for p in multiprocessing.active_children()
            if p.pid not in before.children and p.pid not in allowed]


def new_windows(before: Snapshot) -> list:
    return [w for w in _top_level_windows() if id(w) not in before.windows]


def assert_no_leaks(before: Snapshot, allowed_children=(), windows: bool = True,
                    settle_s: float = 2.0) -> None:
    """Fail naming what a test left behind: threads, processes (other than ``allowed_children``,
    the shared worker) and main windows. Waits up to ``settle_s`` for things that are ending."""
    from PyQt6.QtCore import QCoreApplication, QEvent

    deadline = time.monotonic() + settle_s
    while True:
        if QCoreApplication.instance() is not None:
            QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
            QCoreApplication.processEvents()
        threads = new_threads(before)
        children = new_children(before, allowed_children)
        leaked_windows = new_windows(before) if windows else []
        if not (threads or children or leaked_windows) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    problems = []
    if threads:
        problems.append(f"threads leaked: {threads}")
    if children:
        problems.append(f"child processes leaked: {children}")
    if leaked_windows:
        problems.append(f"windows leaked: {leaked_windows}")
    assert not problems, "; ".join(problems)
