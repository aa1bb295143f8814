"""Brainfit core: the JAX engine behind the workbench (never imports Qt, never prints).

Importing ``core`` does not import JAX, so the window's process can use the JAX-free parts
(errors, events, model metadata, file reading) without loading it. It configures JAX for
whenever JAX is imported, in this process and in the worker processes it spawns: float64
(fitting needs it; network code asks for float32 explicitly) and the persistent compilation
cache, so that a shape compiled once is reused across processes. JAX reads these settings from
the environment at import; when JAX is already loaded they are applied to its config directly.
"""

from __future__ import annotations

import os
import sys

__version__ = "0.1.0"


def _jax_settings() -> dict[str, str]:
    settings = {"jax_enable_x64": "1"}
    cache_dir = os.environ.get(
        "BRAINFIT_JAX_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "brainfit", "jax")
    )
    if cache_dir.lower() in ("", "0", "off", "none"):
        return settings
    try:
        os.makedirs(cache_dir, exist_ok=True)
    except OSError:  # read-only home: run without the cache
        return settings
    settings["jax_compilation_cache_dir"] = cache_dir
    settings["jax_persistent_cache_min_compile_time_secs"] = "0.2"
    return settings


def _configure_jax() -> None:
    settings = _jax_settings()
    for name, value in settings.items():
        os.environ[name.upper()] = value
    jax = sys.modules.get("jax")
    if jax is None:
        return
    jax.config.update("jax_enable_x64", True)
    if "jax_compilation_cache_dir" in settings:
        try:
            jax.config.update("jax_compilation_cache_dir", settings["jax_compilation_cache_dir"])
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
        except AttributeError:  # an older JAX without the persistent cache
            pass


_configure_jax()


def library_versions(*names: str) -> dict[str, str]:
    """``{"brainfit": ..., name: version}`` from the installed distributions, without importing
    them (the window's process never loads JAX); a loaded module's ``__version__`` otherwise."""
    from importlib import metadata

    found = {"brainfit": __version__}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # a frozen bundle without the metadata
            found[name] = getattr(sys.modules.get(name), "__version__", "unknown")
    return found
