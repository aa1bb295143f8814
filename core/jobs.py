"""The job seam between the engine and every front end (GUI, CLI, notebook).

A job is a plain object with ``run(report, is_cancelled) -> result``. ``report`` receives immutable
events from :mod:`core.events`; ``is_cancelled`` is polled between compiled chunks, never inside
``jit``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

from .errors import JobCancelled
from .events import Event

Report = Callable[[Event], None]
IsCancelled = Callable[[], bool]
T = TypeVar("T")


class Job(Protocol):
    name: str

    def run(self, report: Report, is_cancelled: IsCancelled) -> Any: ...


def ignore_events(event: Event) -> None:
    """A ``report`` that drops events (scripts that don't care about progress)."""


def never_cancelled() -> bool:
    return False


def check_cancelled(is_cancelled: IsCancelled) -> None:
    if is_cancelled():
        raise JobCancelled("cancelled by the user")


def run_chunks(
    chunks: Iterable[T],
    step: Callable[[T], Any],
    is_cancelled: IsCancelled,
    on_chunk: Callable[[int, Any, float], None] | None = None,
) -> list[Any]:
    """Run ``step`` over ``chunks``, polling ``is_cancelled`` before each and calling
    ``on_chunk(index, output, elapsed)`` after each. Returns the outputs."""
    start = time.perf_counter()
    outputs = []
    for i, chunk in enumerate(chunks):
        check_cancelled(is_cancelled)
        out = step(chunk)
        outputs.append(out)
        if on_chunk is not None:
            on_chunk(i, out, time.perf_counter() - start)
    return outputs
