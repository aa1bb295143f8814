"""Qt-free application state: what the user has open and chosen. Views observe it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from core.io import Recording
from core.models import NeuronModel, get_model


@dataclass
class Session:
    recording: Recording | None = None
    recording_path: str = ""
    sweep: int = 0
    model: NeuronModel = field(default_factory=lambda: get_model("hh_cortical"))
    _listeners: list[Callable[[str], None]] = field(default_factory=list, repr=False)

    def subscribe(self, callback: Callable[[str], None]) -> None:
        self._listeners.append(callback)

    def _changed(self, what: str) -> None:
        for callback in list(self._listeners):
            callback(what)

    def set_recording(self, recording: Recording, path: str = "") -> None:
        self.recording, self.recording_path, self.sweep = recording, path, 0
        self._changed("recording")

    def set_sweep(self, index: int) -> None:
        if self.recording is not None and 0 <= index < self.recording.n_sweeps:
            self.sweep = index
            self._changed("sweep")

    def set_model(self, model: NeuronModel) -> None:
        self.model = model
        self._changed("model")
