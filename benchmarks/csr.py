"""Event-driven CSR matvec vs dense matmul vs jax.experimental.sparse (BCSR) and, when it
imports, brainevent (the BrainPy ecosystem's event-driven CSR, numba kernels on CPU): speed.

y = x @ W with W random (fixed probability p) of shape (N, N), float32, and x with a given
fraction of active presynaptic neurons. Forward uses bool spikes; forward+backward uses real
values on the same active set and differentiates a scalar loss wrt x and the weights (dense: wrt
the whole matrix; BCSR: wrt its data). Compile time is measured separately (lower + compile);
run times are medians over repetitions, each ended with ``block_until_ready``.

``ratio_event_vs_brainevent`` is our time over brainevent's (below 1: ours is faster); it needs
``pip install brainevent numba`` (the ``bench`` extra). With both installed our ``event_matvec``
hands bool spikes to brainevent's kernels on CPU (``core/ops/_brainevent.py``); then
``event_own_xla`` is our own XLA kernel on the same input.

Prints one JSON document. Usage::

    .venv/bin/python benchmarks/csr.py [--sizes 4000 20000] [--activity 0.01 0.02 0.1]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from jax.experimental import sparse as jsparse  # noqa: E402

import core  # noqa: E402
from core.ops import CSR, event_matvec  # noqa: E402

try:  # the peer, optional
    import brainevent  # noqa: E402
except ImportError:  # pragma: no cover - depends on the environment
    brainevent = None


def _time(fn, args, reps):
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(compiled(*args))  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - t0)
    return {"median_ms": 1e3 * statistics.median(times), "compile_s": compile_s, "reps": reps}


def _bench_size(n, p, activities, reps_sparse, reps_dense, homogeneous, seed=0):
    key = jax.random.PRNGKey(seed)
    t0 = time.perf_counter()
    if homogeneous:
        csr = CSR.random(key, n, n, p, weight=0.5, dtype=jnp.float32)
    else:
        csr = CSR.random(
            key, n, n, p, weight=lambda rng, m: rng.normal(size=m), dtype=jnp.float32,
            homogeneous=False,
        )  # fmt: skip
    build_s = time.perf_counter() - t0
    W = jax.block_until_ready(jax.jit(CSR.to_dense)(csr))
    # jax.experimental.sparse: BCSR of W^T so that W^T @ x = x @ W
    w_host = np.broadcast_to(np.asarray(csr.weights), (csr.nnz,))
    m = sp.csr_matrix((w_host, np.asarray(csr.indices), np.asarray(csr.indptr)), shape=(n, n))
    mt = m.T.tocsr()
    mt.sort_indices()
    bcsr_data = jnp.asarray(mt.data, jnp.float32)
    bcsr_idx, bcsr_ptr = jnp.asarray(mt.indices, jnp.int32), jnp.asarray(mt.indptr, jnp.int32)

    bcsr_pattern = (bcsr_idx, bcsr_ptr)

    def bcsr_mv(data, pattern, x):  # every array is an argument: no constant folding
        mat = jsparse.BCSR((data, *pattern), shape=(n, n))
        return mat @ x

    # brainevent: the same CSR (rows presynaptic), x @ W through its transposed kernels
    # (its kernels read the pattern on the host: indices and indptr are constants here)
    be_data = jnp.reshape(jnp.asarray(csr.weights, jnp.float32), (-1,))
    be_pattern = (np.asarray(csr.indices), np.asarray(csr.indptr))

    def be_csr(data):
        return brainevent.CSR((data, *be_pattern), shape=(n, n))

    out = {
        "N": n, "p": p, "nnz": csr.nnz, "row_width": csr.width,
        "homogeneous": homogeneous, "build_s": build_s, "activity": [],
    }  # fmt: skip
    rng = np.random.default_rng(seed + 1)
    post = jnp.asarray(rng.normal(size=n), jnp.float32)  # a fixed readout for the loss
    for a in activities:
        n_active = max(1, round(a * n))
        active = np.zeros(n, bool)
        active[rng.choice(n, n_active, replace=False)] = True
        spikes = jnp.asarray(active)
        xf = jnp.asarray(np.where(active, rng.normal(size=n), 0.0), jnp.float32)
        k = min(n, math.ceil(1.25 * n_active) + 16)
        row = {"activity": a, "n_active": n_active, "max_active": k}

        # forward
        row["forward"] = {
            "event": _time(lambda x, c, k=k: event_matvec(x, c, k), (spikes, csr), reps_sparse),
            "dense": _time(lambda x, W: x.astype(W.dtype) @ W, (spikes, W), reps_dense),
            "jax_sparse_bcsr": _time(
                lambda d, pat, x: bcsr_mv(d, pat, x.astype(d.dtype)),
                (bcsr_data, bcsr_pattern, spikes),
                reps_sparse,
            ),
        }
        if csr.peer_tasks is not None:  # ours dispatched to brainevent: time our XLA kernel too
            own = dataclasses.replace(csr, peer_tasks=None)
            row["forward"]["event_own_xla"] = _time(
                lambda x, c, k=k: event_matvec(x, c, k), (spikes, own), reps_sparse)
        if brainevent is not None:
            row["forward"]["brainevent"] = _time(
                lambda d, x: brainevent.BinaryArray(x) @ be_csr(d), (be_data, spikes), reps_sparse)

        # forward + backward wrt x and weights
        def ev_loss(x, w, c, post, k=k):
            return jnp.sum(jnp.tanh(event_matvec(x, c.with_weights(w), k)) * post)

        def dense_loss(x, W, post):
            return jnp.sum(jnp.tanh(x @ W) * post)

        def bcsr_loss(x, d, pat, post):
            return jnp.sum(jnp.tanh(bcsr_mv(d, pat, x)) * post)

        def be_loss(x, d, post):
            return jnp.sum(jnp.tanh(x @ be_csr(d)) * post)

        grad = lambda f: jax.grad(f, argnums=(0, 1))
        row["forward_backward"] = {
            "event": _time(grad(ev_loss), (xf, csr.weights, csr, post), reps_sparse),
            "dense": _time(grad(dense_loss), (xf, W, post), reps_dense),
            "jax_sparse_bcsr": _time(
                grad(bcsr_loss), (xf, bcsr_data, bcsr_pattern, post), reps_sparse
            ),
        }
        if brainevent is not None:
            row["forward_backward"]["brainevent"] = _time(
                grad(be_loss), (xf, be_data, post), reps_sparse)
        for kind in ("forward", "forward_backward"):
            d = row[kind]
            dense_ms = d["dense"]["median_ms"]
            d["speedup_event_vs_dense"] = dense_ms / d["event"]["median_ms"]
            d["speedup_event_vs_jax_sparse"] = (
                d["jax_sparse_bcsr"]["median_ms"] / d["event"]["median_ms"]
            )
            if "brainevent" in d:
                d["ratio_event_vs_brainevent"] = (
                    d["event"]["median_ms"] / d["brainevent"]["median_ms"])
        # correctness spot check against the dense product (same run)
        err = float(jnp.max(jnp.abs(event_matvec(xf, csr, k) - xf @ W)))
        row["max_abs_err_vs_dense"] = err
        if brainevent is not None:
            y_be = brainevent.BinaryArray(spikes) @ be_csr(be_data)
            row["brainevent_max_abs_err_vs_dense"] = float(
                jnp.max(jnp.abs(y_be - spikes.astype(W.dtype) @ W)))
        out["activity"].append(row)
    del W
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[4000, 20000])
    ap.add_argument("--activity", type=float, nargs="+", default=[0.01, 0.02, 0.1])
    ap.add_argument("--p", type=float, default=0.02)
    ap.add_argument("--reps", type=int, default=30, help="repetitions for the sparse operators")
    ap.add_argument("--reps-dense", type=int, default=5, help="repetitions for dense (N<=5000)")
    ap.add_argument("--heterogeneous", action="store_true", help="one weight per synapse")
    args = ap.parse_args(argv)
    results = []
    for n in args.sizes:
        reps_dense = args.reps_dense if n <= 5000 else max(1, args.reps_dense // 2)
        results.append(
            _bench_size(n, args.p, args.activity, args.reps, reps_dense, not args.heterogeneous)
        )
    doc = {
        "benchmark": "csr_event_matvec",
        "dtype": "float32",
        "jax": jax.__version__,
        "core": core.__version__,
        "backend": jax.default_backend(),
        "brainevent": getattr(brainevent, "__version__", None),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "results": results,
    }
    print(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
