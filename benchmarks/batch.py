"""Batch fitting on the local engine and on Dask with 1 and 2 workers, and a worker killed mid-batch.

    nice -n 10 .venv/bin/python benchmarks/batch.py [--cells 16] [--quick] [--evals N]
        [--model gif] [--method hybrid] [--out FILE]

Cells: pseudo-cells cut from the shared real recordings (``../shared/data/real``: three
consecutive step sweeps of 171116sh_0018 or 18711001, the largest steps first, a window from
20 ms before the step onset, lengths differing by a few percent so that they share length buckets) and synthetic GIF
cells with known truth (three steps each), half and half; without the real data all are
synthetic. Every cell is fitted with the default cell fit (``fit_cell``: data defaults,
threshold screen, fit, Hessian, held-out validation) under an *evaluation* budget (the
method's default, 1 500 for hybrid), so the same seed gives the same loss on every engine.

Measured in one run: wall time, cells per minute, XLA compile seconds per worker process
(``CompileCounter``, each cell's task), the speed-up from 1 to 2 Dask workers, the largest
relative difference of each cell's loss from the local engine's; then a second 2-worker run in
which one worker is killed (``client.run(os._exit, 1, workers=[...])``) after the first cell
finished: every cell must still end ``done`` exactly once (one row and one result file each).
JAX's persistent compilation cache (on by default, ``BRAINFIT_JAX_CACHE=off`` disables it) lets
a fresh worker load what an earlier process compiled: its compile seconds are then mostly
tracing and loading. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(os.environ.get("BRAINFIT_SHARED_DATA",
                           Path(__file__).resolve().parents[2] / "shared" / "data")) / "real"
#: (file, sweeps, ms where the window starts: 20 ms before the step)
REAL = (("171116sh_0018.abf", 17, 127.0), ("18711001.abf", 30, 3.0))


def _synthetic(k: int, n: int, rng):
    from core.integrate import simulate
    from core.io import Recording, Sweep
    from core.models import GIF

    dt = 0.1
    truth = {"tau_V": float(rng.uniform(8, 20)), "R": float(rng.uniform(60, 160)),
             "V_th": float(rng.uniform(-54, -46)), "A1": 0.3, "A2": -0.1}
    t = np.arange(n) * dt
    amps = np.array([0.18, 0.24, 0.30]) * 100.0 / truth["R"]
    I = np.array([np.where((t > 20) & (t < 0.8 * t[-1]), a, 0.0) for a in amps])
    res = simulate(GIF(**truth, tau_I1=5.0, tau_I2=100.0), I.T, dt)
    V = np.concatenate([np.full((3, 1), -70.0), np.asarray(res.V).T[:, :-1]], axis=1)
    return Recording(tuple(Sweep(V[j], I[j], dt, number=j) for j in range(3))), truth


def make_cells(folder: Path, n_cells: int, quick: bool) -> list[dict]:
    """Write the cells into ``folder``; returns their description (name, source, truth)."""
    from core.io import open_cell, write_recording

    rng = np.random.default_rng(7)
    cells = []
    real_files = [(DATA / f, n, start) for f, n, start in REAL if (DATA / f).exists()]
    n_real = n_cells // 2 if real_files else 0
    window_ms = 250.0 if quick else 600.0
    groups = [(path, tuple(range(n - 3 * (g + 1), n - 3 * g)), start)
              for g in range(5) for path, n, start in real_files]
    for k in range(n_real):
        path, sweeps, start = groups[k % len(groups)]
        rec = open_cell([path])
        t0 = rec.sweeps[0].t0 + start
        w = window_ms * (1.0 - 0.03 * (k % 3))  # 3 % shorter each: one bucket, other lengths
        part = rec.select(sweeps, (t0, t0 + w))
        name = f"real_{k:02d}"
        write_recording(part, folder / f"{name}.h5")
        cells.append({"cell": name, "source": f"{path.name} sweeps {sweeps} {w:.0f} ms"})
    n_samples = 2500 if quick else 6000
    for k in range(n_cells - n_real):
        rec, truth = _synthetic(k, int(n_samples * (1.0 - 0.02 * (k % 4))), rng)
        name = f"synth_{k:02d}"
        write_recording(rec, folder / f"{name}.h5")
        cells.append({"cell": name, "source": "synthetic GIF", "truth": truth})
    return cells


def _summary(result, wall: float, n_workers: int) -> dict:
    rows = result.rows
    per_worker: dict[str, float] = {}
    for r in rows:
        if r.get("worker"):
            per_worker[r["worker"]] = per_worker.get(r["worker"], 0.0) + float(
                r.get("xla_compile_seconds") or 0.0)
    done = [r for r in rows if r["status"] == "done"]
    return {"workers": n_workers, "wall_s": round(wall, 2),
            "cells_per_min": round(60.0 * len(done) / wall, 2), "done": len(done),
            "failed": [(r["cell"], r["reason"]) for r in rows if r["status"] == "failed"],
            "compile_s_per_worker": {w: round(s, 2) for w, s in sorted(per_worker.items())},
            "compile_s_total": round(sum(per_worker.values()), 2),
            "run_s_total": round(sum(float(r.get("run_seconds") or 0.0) for r in done), 2),
            "compiles_per_cell": [int(r.get("compiles") or 0) for r in done],
            "loss": {r["cell"]: r["loss"] for r in done}}


def _run(cells_dir, out, engine, n_workers, args, on_event=None):
    from core.batch import run_batch

    t0 = time.perf_counter()
    result = run_batch([cells_dir], out, model=args.model, methods=(args.method,), seeds=(0,),
                       seconds=None, evaluations=args.evals, uncertainty=True, engine=engine,
                       on_event=on_event, resume=False)
    return result, _summary(result, time.perf_counter() - t0, n_workers)


def _max_rel(a: dict, b: dict) -> float | None:
    common = [c for c in a if c in b]
    if not common:
        return None
    return float(max(abs(a[c] - b[c]) / max(abs(a[c]), 1e-300) for c in common))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cells", type=int, default=16)
    ap.add_argument("--quick", action="store_true", help="short cells, small budgets")
    ap.add_argument("--evals", type=int, default=None,
                    help="evaluations per fit (default: the method's own default budget, as a "
                         "default fit uses; --quick: 60)")
    ap.add_argument("--model", default="gif")
    ap.add_argument("--method", default="hybrid")
    ap.add_argument("--no-kill", action="store_true", help="skip the killed-worker run")
    ap.add_argument("--out", default=None, help="also write the JSON here")
    args = ap.parse_args()
    from core.fitting.optimizers import default_budget

    args.evals = args.evals or (60 if args.quick else default_budget(args.method))

    import jax

    from benchmarks._util import machine
    from core.engine import LocalEngine
    from core.engine_dask import DaskEngine, dask_available

    doc: dict = {"benchmark": "batch", "cells": args.cells, "quick": args.quick,
                 "persistent_compilation_cache": jax.config.jax_compilation_cache_dir,
                 "model": args.model, "method": args.method, "evaluations_per_fit": args.evals,
                 "cpu_count": os.cpu_count(), "machine": machine()}
    with tempfile.TemporaryDirectory(prefix="brainfit-batch-bench-") as tmp:
        tmp = Path(tmp)
        cells_dir = tmp / "cells"
        cells_dir.mkdir()
        doc["cell_sources"] = make_cells(cells_dir, args.cells, args.quick)
        runs: dict = {}
        with LocalEngine() as eng:
            _, runs["local"] = _run(cells_dir, tmp / "local", eng, 1, args)
        if dask_available():
            for n in (1, 2):
                eng = DaskEngine(n_workers=n)
                try:
                    _, runs[f"dask_{n}"] = _run(cells_dir, tmp / f"dask{n}", eng, n, args)
                finally:
                    eng.close()
        else:
            doc["dask"] = "not installed (pip install brainfit[scale])"
        ref = runs["local"]["loss"]
        for r in runs.values():
            r["max_rel_loss_diff_vs_local"] = _max_rel(ref, r["loss"])
        if "dask_1" in runs and "dask_2" in runs:
            doc["speedup_1_to_2_workers"] = round(runs["dask_1"]["wall_s"] / runs["dask_2"]["wall_s"], 3)
            doc["speedup_target"] = 1.7
        doc["runs"] = runs
        if dask_available() and not args.no_kill:
            doc["killed_worker"] = _kill_run(cells_dir, tmp / "kill", args, ref)
    text = json.dumps(doc, indent=1, default=str)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")


def _kill_run(cells_dir, out, args, ref) -> dict:
    from core.engine_dask import DaskEngine

    eng = DaskEngine(n_workers=2)
    killed: dict = {}

    def on_event(e) -> None:
        if killed or getattr(e, "state", "") != "done":
            return
        victim = eng.worker_addresses()[0]
        killed.update(worker=victim, after_cells_done=e.done, at_s=round(e.elapsed, 2))
        try:
            eng.client.run(os._exit, 1, workers=[victim])
        except Exception as exc:  # noqa: BLE001 - the worker dies under the call
            killed["run_error"] = f"{type(exc).__name__}: {exc}"

    try:
        result, summary = _run(cells_dir, out, eng, 2, args, on_event)
        workers_after = len(eng.worker_addresses())
    finally:
        eng.close()
    cells = [r["cell"] for r in result.rows]
    files = sorted(p.name for p in Path(out).glob("*.h5") if p.name != "summary.h5")
    summary.update(killed=killed, workers_after=workers_after, rows=len(cells),
                   unique_cells=len(set(cells)), result_files=len(files),
                   every_cell_done_once=(len(cells) == len(set(cells)) == len(files)
                                         == summary["done"] == args.cells),
                   max_rel_loss_diff_vs_local=_max_rel(ref, summary["loss"]))
    return summary


if __name__ == "__main__":
    main()
