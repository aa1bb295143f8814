"""Give each local worker process its own cores.

XLA's CPU client sizes its thread pool from the cores a process may run on, so two worker
processes on a two-core machine each start two compute threads and take turns on both cores
(measured: each fit ~30 % slower than alone; ``XLA_FLAGS`` thread options do not reach that
pool). Pinning worker *i* to its own block of cores, before JAX makes its client, gives each a
one-thread-per-core pool and no one to share it with (~13 % slower than alone, the rest is the
shared memory system). Linux only (``os.sched_setaffinity``); elsewhere nothing is pinned.
"""

from __future__ import annotations

import os


def allowed_cpus() -> list[int]:
    """The CPUs this process may run on (all of them where the OS cannot say)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def core_blocks(n_workers: int, cpus: list[int]) -> list[tuple[int, ...]] | None:
    """``n_workers`` disjoint, equal blocks of ``cpus``, or None when pinning would not help: a
    lone worker (it may use every core) or more workers than cores (they must share anyway)."""
    if n_workers < 2 or n_workers > len(cpus):
        return None
    size = len(cpus) // n_workers
    return [tuple(cpus[i * size:(i + 1) * size]) for i in range(n_workers)]


def pin_process(cpus: tuple[int, ...]) -> None:
    """Restrict every thread of this process (and the threads it starts later) to ``cpus``;
    nothing where the OS has no affinity call. A thread that ended meanwhile is skipped."""
    if not hasattr(os, "sched_setaffinity"):
        return
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        tids = [0]
    for tid in tids:
        try:
            os.sched_setaffinity(tid, set(cpus))
        except OSError:  # the thread is gone, or the OS refuses: the others still get pinned
            continue


def blas_single_thread_env() -> dict[str, str]:
    """The BLAS/OpenMP pools of a one-core worker: one thread each."""
    return {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
