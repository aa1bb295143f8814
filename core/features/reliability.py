"""Intrinsic reliability: how well a cell predicts itself across repetitions of one stimulus."""

from __future__ import annotations

import numpy as np

from ..fitting.losses import gamma_factor


def reliability(spike_times_per_sweep, duration_ms: float, deltas=(2.0, 4.0)) -> dict:
    """Mean gamma factor (Jolivet et al. 2008) between every ordered pair of repetitions.

    ``spike_times_per_sweep``: one array of spike times (ms) per repetition; ``duration_ms``: the
    duration of one repetition. Returns ``{"gamma_2ms": .., "gamma_4ms": ..}`` (one key per
    coincidence window ``delta``, ``f"gamma_{delta:g}ms"``). Fewer than two repetitions give an empty dict."""
    trains = [np.asarray(s, float) for s in spike_times_per_sweep]
    out: dict[str, float] = {}
    if len(trains) < 2 or not duration_ms > 0:
        return out
    for delta in deltas:
        g = [gamma_factor(trains[i], trains[j], duration_ms, delta).gamma
             for i in range(len(trains)) for j in range(len(trains)) if i != j]
        out[f"gamma_{float(delta):g}ms"] = float(np.mean(g))
    return out
