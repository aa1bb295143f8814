"""The jobs the GUI, CLI and scripts run to simulate a network template."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

from ..errors import BrainfitError, JobCancelled, ParameterError
from ..jobs import IsCancelled, Report, check_cancelled, ignore_events, never_cancelled
from .run import NetworkResult, run_network
from .templates import get_template


@dataclass
class SimulateJob:
    """Build ``template_name`` with ``params`` (overrides of the template's ParamSpec defaults)
    and simulate it for ``duration_ms`` in chunks of ``chunk_ms`` (template default when None).

    ``out_path``: stream spikes and the traces of ``record_traces`` (neuron indices; None: the
    template's default neurons) into this HDF5 file. ``keep_in_memory=False`` keeps only spike
    counts in the returned :class:`NetworkResult` (long runs from the CLI). Progress arrives as
    :class:`~core.events.SimulationProgress` events after each chunk, whose ``preview`` is a
    :class:`~core.network.run.SpikePreview` of that chunk's spikes and traces.
    """

    template_name: str
    params: dict = field(default_factory=dict)
    duration_ms: float = 1000.0
    out_path: Any = None
    record_traces: Any = None
    chunk_ms: float | None = None
    seed: int = 0
    keep_in_memory: bool = True
    name: str = "simulate"

    def run(self, report: Report = ignore_events,
            is_cancelled: IsCancelled = never_cancelled) -> NetworkResult:
        template = get_template(self.template_name)
        known = {p.name for p in template.params}
        unknown = set(self.params) - known
        if unknown:
            raise ParameterError(f"template {template.name!r} has no parameter(s) "
                                 f"{', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
        check_cancelled(is_cancelled)
        engine = template.build(seed=int(self.seed), **template.resolve(self.params))
        check_cancelled(is_cancelled)
        record = template.default_record if self.record_traces is None else self.record_traces
        record = [r for r in record if r < engine.n_neurons] if self.record_traces is None \
            else list(record)
        return run_network(engine, float(self.duration_ms),
                           chunk_ms=self.chunk_ms or template.default_chunk_ms, record=record,
                           out_path=self.out_path, keep_in_memory=self.keep_in_memory,
                           report=report, is_cancelled=is_cancelled, job_name=self.name)


@dataclass(frozen=True)
class NetworkLayout:
    """First event of a panel run: the built network's populations and recorded neurons."""

    job: str
    populations: tuple
    trace_indices: tuple
    duration_ms: float
    dt: float


@dataclass
class LiveSimulateJob(SimulateJob):
    """:class:`SimulateJob` for a live view (the window's Network panel): it first reports the
    network's layout (to colour the live raster)
    and streams into a temporary file, so that a cancelled run still hands back everything up to
    its last finished chunk (``JobCancelled.partial``)."""

    name: str = "network"

    def run(self, report=ignore_events, is_cancelled=never_cancelled) -> NetworkResult:
        template = get_template(self.template_name)
        unknown = set(self.params) - {p.name for p in template.params}
        if unknown:
            raise ParameterError(f"template {template.name!r} has no parameter(s) "
                                 f"{', '.join(sorted(unknown))}")
        engine = template.build(seed=int(self.seed), **template.resolve(self.params))
        record = [r for r in (template.default_record if self.record_traces is None
                              else self.record_traces)]
        if self.record_traces is None:
            record = [r for r in record if r < engine.n_neurons]
        report(NetworkLayout(self.name, engine.populations, tuple(record), float(self.duration_ms),
                             float(engine.dt)))
        fd, path = tempfile.mkstemp(suffix=".h5", prefix="brainfit-network-")
        os.close(fd)
        try:
            result = run_network(engine, float(self.duration_ms),
                                 chunk_ms=self.chunk_ms or template.default_chunk_ms,
                                 record=record, out_path=path, report=report,
                                 is_cancelled=is_cancelled, job_name=self.name)
        except JobCancelled as exc:
            try:
                partial = NetworkResult.load(path)
            except BrainfitError:
                partial = None
            if partial is not None and partial.duration_ms > 0:
                partial.path, partial.complete = None, False
                exc.partial = partial
            raise
        finally:
            os.remove(path)
        result.path = None
        return result
