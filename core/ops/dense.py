"""Dense references for the sparse operators (what the tests compare values and gradients with)."""

from __future__ import annotations

from core.lazy import jnp


def dense_matvec(x, W):
    """``y = x @ W`` for ``x`` of shape ``(n_pre,)`` (or ``(batch, n_pre)``), ``W`` of
    shape ``(n_pre, n_post)``. Bool/int ``x`` is cast to the dtype of ``W``."""
    W = jnp.asarray(W)
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(W.dtype)
    return x @ W
