"""The leak checks can fail: each test below leaks one thing on purpose and is expected to fail
(strict xfail: a leak check that let it pass would turn this file red). Each cleans up after the
check so the leak does not reach the next test."""

from __future__ import annotations

import multiprocessing
import threading

import pytest

from tests.leaks import Snapshot, assert_no_leaks

PROVES = dict(strict=True, raises=AssertionError)


def _sleep_until(event) -> None:
    event.wait(30)


@pytest.mark.xfail(reason="a leaked daemon thread must be caught", **PROVES)
def test_a_leaked_daemon_thread_is_caught(qapp):
    before = Snapshot.take()
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True, name="deliberate-leak")
    thread.start()
    try:
        assert_no_leaks(before, settle_s=0.2)
    finally:
        stop.set()
        thread.join()


@pytest.mark.xfail(reason="a leaked child process must be caught", **PROVES)
def test_a_leaked_child_process_is_caught(qapp):
    before = Snapshot.take()
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    proc = ctx.Process(target=_sleep_until, args=(stop,), daemon=True)
    proc.start()
    try:
        assert_no_leaks(before, settle_s=0.2)
    finally:
        stop.set()
        proc.join(30)


@pytest.mark.xfail(reason="a main window left open must be caught", **PROVES)
def test_a_leaked_main_window_is_caught(qapp):
    from PyQt6.QtWidgets import QMainWindow

    before = Snapshot.take()
    window = QMainWindow()
    window.show()
    try:
        assert_no_leaks(before, settle_s=0.2)
    finally:
        window.close()
        window.deleteLater()


def test_nothing_leaked_passes(qapp):
    before = Snapshot.take()
    thread = threading.Thread(target=lambda: None, daemon=True)
    thread.start()
    thread.join()
    assert_no_leaks(before, settle_s=0.2)
