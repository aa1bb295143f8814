"""Backpropagation through time for the E/I network (:mod:`core.training.ei_network`).

The trial is one ``lax.scan`` over steps; the loss (cross-entropy in the recall window) is
differentiated by JAX through the surrogate spikes and the CSR operator's custom VJP. Options:

* ``detach_recurrent`` -- stop the gradient through the spikes entering the conductances
  (the reset is always detached). This is the gradient the exact online rule computes.
* ``checkpoint`` -- steps per ``jax.checkpoint`` segment: only the carry at segment borders is
  kept and each segment is recomputed backward (memory ``T/c + c`` steps instead of ``T``).
* ``carry_clip`` -- clip the norm (per trial) of the gradient flowing back through the state at
  every step: acts inside the backward pass, before a growing gradient reaches ``inf``
  (measured on this network with a surrogate of height 0.3: the full gradient grows by ~1e8
  per 200 steps through the inhibitory conductance loop; the default height 0.1 keeps it
  finite at T = 2200).
* ``readout_only`` -- differentiate the readout only (the reservoir baseline).

:func:`gradient_report` states whether a gradient is finite, and if not where it is not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from core.lazy import custom_vjp, jax, jnp, lax

from .ei_network import (
    EINetConfig,
    Structure,
    constants,
    effective,
    init_state,
    recall_loss,
    step,
    synaptic_operator,
)

Array = Any


def clip_cotangent(tree, max_norm: float):
    """Identity forward; backward, scales each trial's cotangent (leading axis) of ``tree`` to a
    norm of at most ``max_norm``."""
    return tree


def _clip_fwd(tree, max_norm):
    return tree, None


def _clip_bwd(max_norm, _, g):
    leaves = jax.tree_util.tree_leaves(g)
    sq = sum(jnp.sum(jnp.reshape(x, (x.shape[0], -1)) ** 2, axis=1) for x in leaves)
    norm = jnp.sqrt(sq)
    scale = jnp.where(norm > max_norm, max_norm / jnp.maximum(norm, 1e-30), 1.0)
    return (jax.tree_util.tree_map(lambda x: x * scale.reshape((-1,) + (1,) * (x.ndim - 1))
                                   .astype(x.dtype), g),)


clip_cotangent = custom_vjp(clip_cotangent, _clip_fwd, _clip_bwd, nondiff_argnums=(1,))


def scan_checkpointed(body, carry, xs, segment: int | None):
    """``lax.scan(body, carry, xs)`` with ``jax.checkpoint`` on segments of ``segment`` steps."""
    T = xs.shape[0]
    if not segment or segment >= T:
        return lax.scan(body, carry, xs)
    n = T // segment

    @jax.checkpoint
    def chunk(c, xc):
        return lax.scan(body, c, xc)

    carry, ys = lax.scan(chunk, carry, xs[: n * segment].reshape(n, segment, *xs.shape[1:]))
    ys = jax.tree_util.tree_map(lambda y: y.reshape(n * segment, *y.shape[2:]), ys)
    if n * segment < T:
        carry, rest = lax.scan(body, carry, xs[n * segment:])
        ys = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b]), ys, rest)
    return carry, ys


def trial_loss(cfg: EINetConfig, structure: Structure, params: dict, input_fn: Callable,
               T: int, batch: int, labels, mask, *, detach_recurrent: bool = False,
               checkpoint: int | None = None, carry_clip: float | None = None,
               readout_only: bool = False):
    """``(loss, (correct (B,), rate Hz))`` of one batch; ``input_fn(t) -> (B, n_in)``."""
    c = constants(cfg)
    dtype = jnp.dtype(cfg.dtype)
    if readout_only:
        params = {k: (v if k in ("w_out", "b_out") else lax.stop_gradient(v))
                  for k, v in params.items()}
    eff = effective(params)
    syn = synaptic_operator(c, structure, eff)

    def body(s, t):
        if carry_clip:
            s = clip_cotangent(s, float(carry_clip))
        s, (z, _, y) = step(c, syn, eff, s, input_fn(t).astype(dtype),
                            detach_recurrent=detach_recurrent)
        return s, (y, jnp.sum(lax.stop_gradient(z)))

    _, (ys, nspk) = scan_checkpointed(body, init_state(c, batch, dtype), jnp.arange(T),
                                      checkpoint)
    loss, correct = recall_loss(ys, labels, jnp.asarray(mask))
    rate = jnp.sum(nspk) / (batch * c.n * T * c.dt) * 1000.0
    return loss, (correct, rate)


def bptt_grad(cfg, structure, params, input_fn, T, batch, labels, mask, **kw):
    """``(loss, correct, rate, grads)`` by BPTT (see :func:`trial_loss` for the options)."""
    (loss, (correct, rate)), grads = jax.value_and_grad(
        lambda p: trial_loss(cfg, structure, p, input_fn, T, batch, labels, mask, **kw),
        has_aux=True)(params)
    return loss, correct, rate, grads


def global_norm(tree) -> Array:
    return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in jax.tree_util.tree_leaves(tree)))


def gradient_report(grads: dict) -> tuple[bool, str]:
    """``(finite, message)`` for host-side gradients: which parameters hold NaN/inf."""
    bad = []
    for name, g in sorted(grads.items()):
        g = np.asarray(g)
        n_nan, n_inf = int(np.isnan(g).sum()), int(np.isinf(g).sum())
        if n_nan or n_inf:
            bad.append(f"{name}: {n_nan} NaN, {n_inf} inf of {g.size}")
    if not bad:
        return True, ""
    return False, ("non-finite gradient (" + "; ".join(bad) + "). The full BPTT gradient "
                   "explodes through the recurrent conductance loop on long trials: detach the "
                   "recurrent spikes (--detach), clip inside the backward pass (--carry-clip), "
                   "lower the surrogate's height, or use --method online")
