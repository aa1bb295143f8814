"""Small helpers shared by the benchmark scripts (timing with block_until_ready, JSON output)."""

from __future__ import annotations

import json
import platform
import statistics
import time

import jax


def block(x):
    return jax.tree_util.tree_map(lambda a: a.block_until_ready() if hasattr(a, "block_until_ready") else a, x)


def time_call(fn, repeats: int = 3):
    """(first call seconds incl. compile, median of ``repeats`` later calls)."""
    t0 = time.perf_counter()
    block(fn())
    first = time.perf_counter() - t0
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        block(fn())
        runs.append(time.perf_counter() - t0)
    return first, statistics.median(runs)


def machine() -> dict:
    return {"python": platform.python_version(), "jax": jax.__version__,
            "devices": [str(d) for d in jax.devices()], "cpu": platform.processor() or platform.machine()}


def emit(doc: dict) -> None:
    print(json.dumps(doc, indent=1))
