"""The CLI runs the same jobs as the window, through the engine seam (:mod:`core.engine`).

A one-shot command uses :class:`~core.engine.ThreadEngine` (in this process: no second process
to start, nothing to pickle). Ctrl-C asks the job to stop, as the window's Cancel does, and the
partial result it hands back is returned (marked cancelled); a second Ctrl-C aborts.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


def run_job(job: Any, report: Callable[[Any], None] | None = None) -> Any:
    from core.engine import JobFailed, ThreadEngine

    engine = ThreadEngine()
    try:
        handle = engine.submit(job)
        if report is not None:
            handle.add_event_callback(lambda _h, event: report(event))
        try:
            return handle.result()
        except KeyboardInterrupt:
            print("\ninterrupted: stopping, keeping the best result so far (Ctrl-C again to "
                  "abort)", file=sys.stderr)
            handle.cancel()
            return handle.result()
        except JobFailed as exc:
            if exc.details:  # an unexpected error: the traceback belongs in the report
                print(exc.details, file=sys.stderr)
            raise
    finally:
        engine.close()
