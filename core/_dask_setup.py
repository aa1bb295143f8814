"""Dask worker plugin that readies a worker before its first task: pins a local-cluster worker
to its cores (see core.cpu_affinity) and imports what the jobs need, as the local engine's
worker does (core.engine.WARM_MODULES). Its own module because it subclasses Dask's base class,
and Dask is an optional extra."""

from __future__ import annotations

import contextlib
import importlib

from distributed.diagnostics.plugin import WorkerPlugin

from .cpu_affinity import pin_process


class WorkerSetup(WorkerPlugin):
    """Worker *i* runs on ``blocks[i]`` (no pinning when ``blocks`` is None), then imports
    ``modules``. Runs before the worker's first task, so before JAX sizes its CPU thread pool;
    a worker the nanny restarts keeps its name, so its block, and is set up again."""

    name = "brainfit-worker-setup"

    def __init__(self, blocks: list[tuple[int, ...]] | None, modules: tuple[str, ...]):
        self.blocks, self.modules = blocks, tuple(modules)

    def setup(self, worker) -> None:
        if self.blocks:
            with contextlib.suppress(TypeError, ValueError):  # a worker not named 0..n-1
                pin_process(self.blocks[int(worker.name) % len(self.blocks)])
        for name in self.modules:
            with contextlib.suppress(ImportError):  # a job that needs it says so itself
                importlib.import_module(name)
