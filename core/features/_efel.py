"""A quiet door to eFEL: settings applied per call, its warnings and prints swallowed."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import threading
import warnings

import numpy as np

_LOCK = threading.Lock()  # eFEL keeps its settings and trace in global state


@contextlib.contextmanager
def _silenced():
    """Python-level warnings/prints and the C++ core's stdout/stderr, gone."""
    logger = logging.getLogger("efel")
    old_level = logger.level
    logger.setLevel(logging.CRITICAL)
    saved = []
    try:
        for fd in (1, 2):
            try:
                saved.append((fd, os.dup(fd)))
            except OSError:
                pass
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            for fd, _ in saved:
                os.dup2(devnull, fd)
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                    contextlib.redirect_stderr(io.StringIO()):
                warnings.simplefilter("ignore")
                yield
        finally:
            for fd, old in saved:
                os.dup2(old, fd)
                os.close(old)
            os.close(devnull)
    finally:
        logger.setLevel(old_level)


def feature_values(traces: list[dict], features: list[str], settings: dict) -> list[dict]:
    """``efel.get_feature_values`` with ``settings``; a feature eFEL cannot compute is None."""
    import efel

    with _LOCK, _silenced():
        efel.reset()
        for k, v in settings.items():
            efel.set_setting(k, v)
        try:
            out = efel.get_feature_values(traces, features, raise_warnings=False)
        finally:
            efel.reset()
    return [{k: (None if v is None else np.asarray(v, float)) for k, v in d.items()} for d in out]


def trace(t: np.ndarray, V: np.ndarray, start: float, end: float, **extra) -> dict:
    d = {"T": np.asarray(t, float), "V": np.asarray(V, float), "stim_start": [float(start)],
         "stim_end": [float(end)]}
    for k, v in extra.items():
        d[k] = [float(v)]
    return d
