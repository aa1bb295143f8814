"""brainevent's event-driven CSR kernels behind :mod:`core.ops.csr`'s forward, when installed.

brainevent (the BrainPy ecosystem's event-driven library) walks the active rows in a compiled
numba kernel on CPU; the same work in XLA (compact, gather, scatter-add) measures 5-9x slower
(``benchmarks/csr.py``). So for *bool* spikes on the CPU backend, with ``brainevent`` and
``numba`` importable, the forward product runs there; our XLA kernel stays the fallback, the
reference (tests compare the two) and the path for real-valued inputs, GPUs and the backward
pass. ``BRAINFIT_CSR_KERNEL=own`` turns the peer off.

Its kernels need a task-queue capacity computed from ``indptr`` on the host, so
:meth:`CSR.from_arrays <core.ops.csr.CSR.from_arrays>` computes it once (:func:`task_capacity`)
and the CSR carries it as static metadata; under ``jit`` the pattern may then be traced. This
uses brainevent's module-level kernel functions (``brainevent._csr.binary``), checked on import:
a brainevent without them is not used.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from core.lazy import jax, jnp


@cache
def _kernels() -> Any:
    """The brainevent functions used here, or None (not installed, no numba, other API)."""
    if os.environ.get("BRAINFIT_CSR_KERNEL", "auto").lower() == "own":
        return None
    try:
        import numba  # noqa: F401 - without it brainevent falls back to plain JAX on CPU
        from brainevent._csr import binary
        from brainevent._csr.hybrid_config import hybrid_task_capacity

        for name in ("binary_csrmv", "binary_csrmm", "_workspace_from_task_operands"):
            getattr(binary, name)
    except (ImportError, AttributeError):
        return None
    return binary, hybrid_task_capacity


def enabled() -> bool:
    """Whether forward products of bool spikes go to brainevent (installed, CPU backend)."""
    return _kernels() is not None and jax.default_backend() == "cpu"


def task_capacity(indptr) -> int | None:
    """brainevent's task capacity for this pattern (host ``indptr``), or None when not used."""
    if not enabled():
        return None
    return int(_kernels()[1](indptr))


def forward(X, weights, indptr, indices, capacity: int, n_pre: int, n_post: int, dtype):
    """``X @ W`` for bool ``X`` of shape ``(batch, n_pre)`` through brainevent's kernels."""
    binary = _kernels()[0]
    data = jnp.reshape(weights.astype(dtype), (-1,))  # length 1: its homogeneous variant
    workspace = binary._workspace_from_task_operands(
        capacity, jnp.empty((capacity,), indptr.dtype), jnp.empty((capacity,), indptr.dtype),
        jnp.empty((2,), jnp.int32))
    shape = (n_pre, n_post)
    if X.shape[0] == 1:
        y = binary.binary_csrmv(data, indices, indptr, X[0], shape=shape, workspace=workspace,
                                transpose=True)
        return y[None, :].astype(dtype)
    Y = binary.binary_csrmm(data, indices, indptr, X.T, shape=shape, workspace=workspace,
                            transpose=True)
    return Y.T.astype(dtype)
