"""Data parallelism for feed-forward spiking stacks: the batch sharded over devices.

One :class:`jax.sharding.Mesh` with a single ``"batch"`` axis over the chosen devices; the loss and
its gradient run under :func:`jax.shard_map`, each device on its slice of the batch, and the
per-sample sums are all-reduced (``psum``), so one device and N devices compute the same loss and
gradients (up to the order of the final sum). Parameters are replicated. Pipeline parallelism
(layers on different devices) is not built: for training, the batch is what scales.

The loss is the weighted mean cross-entropy ``sum_i w_i CE_i / sum_i w_i``; padding samples have
``w_i = 0``, so a last, short batch is padded to the compiled shape without changing anything.
"""

from __future__ import annotations

import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from core.lazy import jax, jnp

from ..errors import ParameterError
from .feedforward import FeedForwardSNN

AXIS = "batch"


def make_mesh(devices: int | None = None) -> Mesh:
    """A 1-D mesh over the first ``devices`` of :func:`jax.devices` (all of them when None)."""
    available = jax.devices()
    n = len(available) if devices is None else int(devices)
    if not 1 <= n <= len(available):
        raise ParameterError(f"asked for {n} devices; JAX sees {len(available)} "
                             f"({available[0].platform})")
    return Mesh(np.array(available[:n]), (AXIS,))


def batch_sharding(mesh: Mesh, time_major: bool = True) -> NamedSharding:
    return NamedSharding(mesh, P(None, AXIS) if time_major else P(AXIS))


def _local_sums(net: FeedForwardSNN, mode: str, time_chunk, params, x, y, w):
    """Sum of weighted cross-entropy and of weighted correct predictions on this shard."""
    logits = net.apply(params, x, mode=mode, time_chunk=time_chunk)
    logp = jax.nn.log_softmax(logits.astype(jnp.float32) if logits.dtype == jnp.float16
                              else logits)
    ce = -jnp.take_along_axis(logp, y[:, None], axis=1)[:, 0]
    correct = (jnp.argmax(logits, axis=1) == y).astype(logits.dtype)
    return jnp.sum(w * ce), jnp.sum(w * correct)


def loss_grad_fn(net: FeedForwardSNN, mode: str, mesh: Mesh, time_chunk=None):
    """``f(params, x, y, w) -> (loss, accuracy, grads)`` with ``x`` (T, B, n_in) sharded on B
    over ``mesh``; jit-compiled. ``B`` must be a multiple of the mesh size."""

    def shard(params, x, y, w):
        total_w = jax.lax.psum(jnp.sum(w), AXIS)

        def local(p):
            ce, correct = _local_sums(net, mode, time_chunk, p, x, y, w)
            return ce / total_w, correct

        (loss, correct), grads = jax.value_and_grad(local, has_aux=True)(params)
        loss, correct, grads = jax.lax.psum((loss, correct, grads), AXIS)
        return loss, correct / total_w, grads

    f = jax.shard_map(shard, mesh=mesh, in_specs=(P(), P(None, AXIS), P(AXIS), P(AXIS)),
                      out_specs=(P(), P(), P()), check_vma=False)
    return jax.jit(f)


def eval_fn(net: FeedForwardSNN, mode: str, mesh: Mesh, time_chunk=None):
    """``f(params, x, y, w) -> (sum of w*CE, sum of w*correct)`` over the sharded batch."""

    def shard(params, x, y, w):
        ce, correct = _local_sums(net, mode, time_chunk, params, x, y, w)
        return jax.lax.psum(ce, AXIS), jax.lax.psum(correct, AXIS)

    f = jax.shard_map(shard, mesh=mesh, in_specs=(P(), P(None, AXIS), P(AXIS), P(AXIS)),
                      out_specs=(P(), P()), check_vma=False)
    return jax.jit(f)


def train_step_fn(net: FeedForwardSNN, mode: str, mesh: Mesh, optimizer, time_chunk=None):
    """``step(params, opt_state, x, y, w) -> (params, opt_state, loss, accuracy)``: one BPTT
    step, gradients all-reduced over the mesh, then the (replicated) optax update."""
    grad = loss_grad_fn(net, mode, mesh, time_chunk)

    @jax.jit
    def step(params, opt_state, x, y, w):
        loss, acc, grads = grad(params, x, y, w)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = jax.tree_util.tree_map(lambda p, u: p + u, params, updates)
        return params, opt_state, loss, acc

    return step


def check_batch(batch: int, mesh: Mesh) -> None:
    n = mesh.devices.size
    if batch < 1 or batch % n:
        raise ParameterError(f"batch size {batch} must be a positive multiple of the number of "
                             f"devices ({n}) to shard it evenly")
