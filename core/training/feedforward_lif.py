"""The membrane update of one feed-forward LIF layer: the step both execution orders share, and
the whole-window scan with its hand-written backward pass (see :mod:`core.training.feedforward`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.lazy import custom_vjp, jnp, lax

from ..surrogate import Surrogate, heaviside

Array = Any
LIFLayer = Any  # core.training.feedforward.LIFLayer (static, hashable)

__all__ = ["AUTO_BLOCK_ELEMENTS", "auto_time_chunk", "lif_scan", "lif_step", "readout_weights"]


# ---- the shared step -------------------------------------------------------------------------
def lif_step(layer: LIFLayer, beta: float, spike_fn, V, r, I):
    """One LIF update of ``(V, r)`` driven by ``I``; returns ``(V, r, s)``. ``spike_fn`` is the
    surrogate (step-first, autodiff) or the plain Heaviside (inside :func:`lif_scan`)."""
    theta = jnp.asarray(layer.threshold, V.dtype)
    Vb = jnp.asarray(beta, V.dtype) * V + I
    if layer.refractory:
        active = r == 0
        V1 = jnp.where(active, Vb, V)
        s = jnp.where(active, spike_fn(V1 - theta), jnp.zeros_like(V1))
        r = jnp.where(s > 0, jnp.int32(layer.refractory), jnp.maximum(r - 1, 0))
    else:
        V1 = Vb
        s = spike_fn(V1 - theta)
    sr = lax.stop_gradient(s) if layer.detach_reset else s
    V2 = V1 - theta * sr if layer.reset == "subtract" else V1 * (1 - sr)
    return V2, r, s


def _scan_forward(layer, beta, I, V0, r0):
    def body(carry, I_t):
        V, r = carry
        V_new, r_new, s = lif_step(layer, beta, heaviside, V, r, I_t)
        # membrane before reset and the "integrating" mask: all the backward pass needs
        Vb = jnp.asarray(beta, V.dtype) * V + I_t
        V1 = jnp.where(r == 0, Vb, V) if layer.refractory else Vb
        res = (V1, r == 0) if layer.refractory else V1
        return (V_new, r_new), (s, res)

    (VT, rT), (S, res) = lax.scan(body, (V0, r0), I)
    return S, VT, rT, res


def lif_scan(layer: LIFLayer, beta: float, surrogate: Surrogate, I, V0, r0):
    """The membrane update of one layer over a whole window: ``I`` (T, ...) -> spikes (T, ...),
    final ``V`` and refractory clock. Same forward as ``T`` calls of :func:`lif_step`; the
    backward pass is one elementwise reverse scan (residuals: the pre-reset membrane, plus the
    integrating mask when the layer is refractory)."""
    S, VT, rT, _ = _scan_forward(layer, beta, I, V0, r0)
    return S, VT, rT


def _lif_scan_fwd(layer, beta, surrogate, I, V0, r0):
    S, VT, rT, res = _scan_forward(layer, beta, I, V0, r0)
    return (S, VT, rT), (S, res)


def _lif_scan_bwd(layer, beta, surrogate, saved, cts):
    S, res = saved
    gS, gVT, _ = cts
    theta = layer.threshold

    def body(gV2, xs):
        s, r_t, gs = xs
        if layer.refractory:
            V1, active = r_t
        else:
            V1, active = r_t, None
        th = jnp.asarray(theta, V1.dtype)
        if layer.detach_reset:
            gs_tot = gs
        else:
            gs_tot = gs - gV2 * (th if layer.reset == "subtract" else V1)
        gV1 = gV2 if layer.reset == "subtract" else gV2 * (1 - s)
        ds = surrogate.grad(V1 - th).astype(V1.dtype)
        if active is not None:
            ds = jnp.where(active, ds, jnp.zeros_like(ds))
        gV1 = gV1 + gs_tot * ds
        b = jnp.asarray(beta, V1.dtype)
        if active is not None:
            gI = jnp.where(active, gV1, jnp.zeros_like(gV1))
            gV = jnp.where(active, b * gV1, gV1)
        else:
            gI, gV = gV1, b * gV1
        return gV, gI

    gV0, gI = lax.scan(body, gVT, (S, res, gS), reverse=True)
    return gI, gV0, None


lif_scan = custom_vjp(lif_scan, _lif_scan_fwd, _lif_scan_bwd, nondiff_argnums=(0, 1, 2))


AUTO_BLOCK_ELEMENTS = 1 << 19  # ~2 MiB of float32 per layer block: stays in a CPU's L2/L3


def auto_time_chunk(T: int, batch: int, width: int) -> int:
    """Block length for ``time_chunk="auto"``: the most steps whose ``(steps * batch, width)``
    block of currents holds at most :data:`AUTO_BLOCK_ELEMENTS` values (at least 1, at most T)."""
    return max(1, min(int(T), AUTO_BLOCK_ELEMENTS // max(1, int(batch) * int(width))))


def readout_weights(T: int, beta: float, dtype) -> Array:
    """``c_k`` with ``mean_t U[t] = sum_k c_k J[k]`` for ``U[t] = beta U[t-1] + J[t]``, ``U[-1] = 0``:
    ``c_k = (1/T) sum_{m=0}^{T-1-k} beta^m``."""
    powers = np.cumsum(beta ** np.arange(T, dtype=np.float64))  # sum_{m<=j} beta^m
    return jnp.asarray(powers[::-1] / T, dtype)
