"""Reading a recording as a job, so that a large file is read in the worker process and the
window stays responsive (the text reader alone accepts files up to 1 GiB)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import TimeUnitRequiredError
from .open import open_recording


@dataclass(frozen=True)
class TimeUnitQuestion:
    """The file's time column states no unit: ask the user and open again with ``time_unit``."""

    message: str


@dataclass
class OpenRecordingJob:
    path: str
    options: dict[str, Any] = field(default_factory=dict)
    name: str = "open recording"

    def run(self, report=None, is_cancelled=None):
        try:
            return open_recording(self.path, **self.options)
        except TimeUnitRequiredError as exc:
            return TimeUnitQuestion(str(exc))
