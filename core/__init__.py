"""Brainfit core: the JAX engine behind the workbench (never imports Qt, never prints).

Importing ``core`` enables float64 in JAX (fitting needs it; network code asks for float32
explicitly) and turns on JAX's persistent compilation cache so that a shape compiled once is
reused across processes.
"""

from __future__ import annotations

import os

import jax

__version__ = "0.1.0"

jax.config.update("jax_enable_x64", True)


def _enable_compilation_cache() -> None:
    cache_dir = os.environ.get(
        "BRAINFIT_JAX_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "brainfit", "jax")
    )
    if cache_dir.lower() in ("", "0", "off", "none"):
        return
    try:
        os.makedirs(cache_dir, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", cache_dir)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
    except (OSError, AttributeError):  # read-only home or an older JAX: run without the cache
        pass


_enable_compilation_cache()
