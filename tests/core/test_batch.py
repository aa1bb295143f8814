"""Batch fitting (core.batch, brainfit batch) on tiny synthetic cells, and the Dask engine."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import time
from dataclasses import dataclass

import h5py
import numpy as np
import pytest

from core.batch import (
    BatchProgress,
    CellSpec,
    collect_cells,
    read_cell_result,
    run_batch,
)
from core.engine import ThreadEngine
from core.errors import RecordingError
from core.events import Event
from core.integrate import simulate
from core.io import Recording, Sweep, write_recording
from core.models import GIF
from workbench.cli import main

EVALS = 40  # evaluations per task: deterministic (no time budget), small


def _sweeps(scale: float = 1.0):
    dt = 0.1
    t = np.arange(800) * dt
    I = np.array([np.where((t > 10) & (t < 70), a * scale, 0.0) for a in (1.3, 1.7, 2.1)])
    res = simulate(GIF(A1=0.3, A2=-0.1, tau_I1=5.0, tau_I2=100.0), I.T, dt)
    V = np.concatenate([np.full((3, 1), -70.0), np.asarray(res.V).T[:, :-1]], axis=1)
    return [Sweep(V[k], I[k], dt, number=k) for k in range(3)]


@pytest.fixture(scope="module")
def cells_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cells")
    write_recording(Recording(tuple(_sweeps(1.0))), d / "cell_a.h5")
    write_recording(Recording(tuple(_sweeps(1.1))), d / "cell_b.h5")
    (d / "broken.abf").write_bytes(b"not an abf file at all" * 8)
    return d


@pytest.fixture(scope="module")
def engine():
    eng = ThreadEngine()
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def first_batch(cells_dir, engine, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    events: list[BatchProgress] = []
    t0 = time.perf_counter()
    result = run_batch([cells_dir], out, model="gif", methods=("hybrid",), seeds=(0,),
                       seconds=None, evaluations=EVALS, uncertainty=False, engine=engine,
                       on_event=events.append)
    return out, result, events, time.perf_counter() - t0


def test_folder_batch_reports_the_bad_file_and_finishes_the_rest(first_batch):
    out, result, events, _ = first_batch
    by_cell = {r["cell"]: r for r in result.rows}
    assert set(by_cell) == {"cell_a", "cell_b", "broken"}
    assert by_cell["broken"]["status"] == "failed"
    assert "broken.abf" in by_cell["broken"]["reason"]
    for name in ("cell_a", "cell_b"):
        row = by_cell[name]
        assert row["status"] == "done", row
        assert os.path.exists(row["result_file"])
        assert np.isfinite(row["loss"]) and row["evaluations"] > 0
        assert any(k.startswith("param:") for k in row)
        assert "val:n_data_spikes" in row and "val:mean_subthreshold_rmse_mV" in row
        back = read_cell_result(row["result_file"])
        assert back["loss"] == row["loss"] and back["cell"] == name
        with h5py.File(row["result_file"]) as f:
            assert f.attrs["layout"] == "brainfit-batch-cell"
            assert "per_sweep" in json.loads(f.attrs["validation"])
    # progress: per task and overall, the last event says everything ended
    states = {(e.cell, e.state) for e in events}
    assert ("broken", "failed") in states and ("cell_a", "done") in states
    assert any(e.inner is not None for e in events)  # the fits' own events come through
    ended = [e for e in events if e.state in ("done", "failed")]
    assert [e.done for e in ended] == [1, 2, 3] and ended[-1].total == 3
    assert ended[-1].failed == 1
    # the summary has every cell, in CSV and HDF5
    with open(result.summary_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["cell"] for r in rows} == {"cell_a", "cell_b", "broken"}
    assert {"loss", "seconds", "val:mean_gamma_4ms", "reason"} <= set(rows[0])
    with h5py.File(result.summary_h5) as f:
        assert len(json.loads(f.attrs["rows"])) == 3
        assert f["columns/loss"].shape == (3,)
    assert not [n for n in os.listdir(out) if n.endswith(".tmp")]


def test_rerun_skips_finished_cells(first_batch, cells_dir, engine):
    out, first, _, first_seconds = first_batch
    files = {r["cell"]: r["result_file"] for r in first.rows if r["status"] == "done"}
    mtimes = {k: os.stat(v).st_mtime_ns for k, v in files.items()}
    submitted = []

    class Counting:
        def submit(self, job, resources=None):
            submitted.append(job.cell)
            return engine.submit(job, resources)

        def poll(self, timeout=0.0):
            return engine.poll(timeout)

    again = run_batch([cells_dir], out, model="gif", seconds=None, evaluations=EVALS,
                      uncertainty=False, engine=Counting())
    assert submitted == ["broken"]  # only the failed cell is tried again
    rows = {r["cell"]: r for r in again.rows}
    assert rows["cell_a"]["resumed"] and rows["cell_b"]["resumed"]
    assert rows["cell_a"]["loss"] == {r["cell"]: r for r in first.rows}["cell_a"]["loss"]
    assert {k: os.stat(v).st_mtime_ns for k, v in files.items()} == mtimes
    assert rows["broken"]["status"] == "failed"


def test_largest_recordings_are_submitted_first_rows_keep_their_order(tmp_path):
    sizes = {"small": 100, "large": 5000, "medium": 1000}
    cells = []
    for name, size in sizes.items():
        path = tmp_path / f"{name}.h5"
        path.write_bytes(b"x" * size)
        cells.append(CellSpec(name, (str(path),)))
    two = tmp_path / "two_files.h5"
    two.write_bytes(b"x" * 600)
    cells.append(CellSpec("two_files", (str(two), str(tmp_path / "medium.h5"))))  # 1600 bytes
    submitted = []

    class Refusing:  # records the order, runs nothing: every task fails at submission
        def submit(self, job, resources=None):
            submitted.append(job.cell)
            raise RuntimeError("engine full")

        def poll(self, timeout=0.0):
            return False

    result = run_batch(cells, tmp_path / "out", engine=Refusing(), resume=False)
    assert submitted == ["large", "two_files", "medium", "small"]
    assert [r["cell"] for r in result.rows] == ["small", "large", "medium", "two_files"]
    assert all("engine full" in r["reason"] for r in result.rows)


def test_manifest_maps_two_files_to_one_cell(tmp_path, engine):
    sweeps = _sweeps(1.2)
    write_recording(Recording(tuple(sweeps[:2])), tmp_path / "part1.h5")
    write_recording(Recording((sweeps[2],)), tmp_path / "part2.h5")
    (tmp_path / "cells.csv").write_text("cell,file\njoined,part1.h5\njoined,part2.h5\n")
    cells = collect_cells([tmp_path / "cells.csv"])
    assert cells == [CellSpec("joined", (str(tmp_path / "part1.h5"), str(tmp_path / "part2.h5")))]
    result = run_batch(cells, tmp_path / "out", model="gif", seconds=None, evaluations=EVALS,
                       uncertainty=False, engine=engine)
    (row,) = result.rows
    assert row["status"] == "done", row
    assert row["files"].count(";") == 1
    with h5py.File(row["result_file"]) as f:
        summary = json.loads(f.attrs["summary"])
    assert summary["split"]["test_sweeps"] == [2]  # three sweeps from two files: one held out


def test_collect_cells_errors_and_names(tmp_path, cells_dir):
    with pytest.raises(RecordingError, match="no such file"):
        collect_cells([tmp_path / "missing"])
    (tmp_path / "m.csv").write_text("cell,file\nx\n")
    with pytest.raises(RecordingError, match="expected 'cell,file'"):
        collect_cells([tmp_path / "m.csv"])
    twice = collect_cells([cells_dir / "cell_a.h5", cells_dir / "cell_a.h5"])
    assert [c.name for c in twice] == ["cell_a", "cell_a_2"]


def test_cli_resumes_and_refuses_bad_arguments(first_batch, cells_dir, capsys, monkeypatch):
    out = first_batch[0]
    code = main(["batch", str(cells_dir / "cell_a.h5"), str(cells_dir / "cell_b.h5"),
                 "--model", "gif", "--budget", str(EVALS), "--no-uncertainty", "--seconds",
                 "30", "--out", str(out), "--json"])
    captured = capsys.readouterr()
    assert code == 0
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert summary["tasks"] == 2 and summary["resumed"] == 2 and summary["failed"] == []
    assert "[2/2]" in captured.err and "skipped" in captured.err
    # nothing ran now: no compile or fitting time is claimed for the resumed tasks
    assert "XLA compile 0.0 s, fitting 0.0 s" in captured.out
    assert main(["batch", str(cells_dir), "--model", "nope", "--out", str(out)]) == 2
    assert main(["batch", str(cells_dir / "missing"), "--model", "gif", "--out", str(out)]) == 2
    assert main(["batch", str(cells_dir), "--model", "gif", "--engine", "ray",
                 "--out", str(out)]) in (2,)
    import core.engine_dask

    monkeypatch.setattr(core.engine_dask, "dask_available", lambda: False)
    capsys.readouterr()
    assert main(["batch", str(cells_dir), "--model", "gif", "--engine", "dask",
                 "--out", str(out)]) == 2
    assert "pip install brainfit[scale]" in capsys.readouterr().err


def test_non_loopback_addresses_are_recognised():
    from core.engine_dask import address_host, is_loopback

    assert is_loopback("tcp://127.0.0.1:8786") and is_loopback("tcp://localhost:8786")
    assert is_loopback("tls://[::1]:8786") and address_host("tcp://[::1]:1") == "::1"
    assert not is_loopback("tcp://10.0.0.5:8786") and not is_loopback("tls://cluster.lab:8786")


# --------------------------------------------------------------------------------------------
# Dask (optional)
# --------------------------------------------------------------------------------------------
@dataclass
class SlowJob:
    steps: int = 5
    name: str = "slow"

    def run(self, report, is_cancelled):
        for k in range(self.steps):
            if is_cancelled():
                return {"stopped_at": k}
            time.sleep(0.05)
            report(Event(job=self.name, done=k + 1, total=self.steps))
        return {"done": self.steps}


def test_dask_engine_two_workers(first_batch, cells_dir, tmp_path):
    pytest.importorskip("distributed", reason="Dask is not installed (pip install brainfit[scale])")
    from core.engine_dask import DaskEngine

    with DaskEngine(n_workers=2) as eng:
        assert eng.scheduler_address.startswith("tcp://127.0.0.1:")  # loopback only
        assert eng.n_workers == 2
        assert all(a.startswith("tcp://127.0.0.1:") for a in eng.worker_addresses())
        if hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) >= 2:
            # one worker per core: each (every thread, XLA's included) on a core of its own
            placed = eng.client.run(_worker_cpus)
            assert all(len(cpus) == 1 and len(cpus[0]) == 1 for cpus in placed.values())
            assert len({cpus[0] for cpus in placed.values()}) == 2
        # events arrive, the last one before the result
        h = eng.submit(SlowJob(steps=4))
        seen = []
        h.add_event_callback(lambda _h, e: seen.append(e.done))
        assert h.result(60) == {"done": 4} and seen and seen[-1] == 4
        # cancel reaches a running job
        h = eng.submit(SlowJob(steps=400))
        deadline = time.monotonic() + 30
        while h.state != "running" and time.monotonic() < deadline:
            eng.poll(0.05)
        t0 = time.monotonic()
        h.cancel()
        assert "stopped_at" in h.result(10) and time.monotonic() - t0 < 5
        # the batch: the same losses as in-process for the same seed
        cells = [c for c in collect_cells([cells_dir]) if c.name != "broken"]
        result = run_batch(cells, tmp_path / "dask", model="gif", seconds=None,
                           evaluations=EVALS, uncertainty=False, engine=eng)
        # a worker killed while it fits a cell: its Nanny restarts it, the scheduler runs the
        # cell again, every cell ends done exactly once
        killed = []

        def kill_first_running(e):
            if e.state == "running" and e.inner is None and not killed:
                killed.append(eng.worker_addresses()[0])
                with contextlib.suppress(Exception):  # the worker dies under the call
                    eng.client.run(os._exit, 1, workers=killed[:1])

        again = run_batch(cells, tmp_path / "killed", model="gif", seconds=None,
                          evaluations=EVALS, uncertainty=False, engine=eng,
                          on_event=kill_first_running)
        assert killed
    local = {r["cell"]: r["loss"] for r in first_batch[1].rows if r["status"] == "done"}
    assert {r["cell"]: r["loss"] for r in result.rows} == local
    assert sorted(r["cell"] for r in again.rows) == sorted(local)
    assert {r["cell"]: r["loss"] for r in again.rows if r["status"] == "done"} == local
    files = [p for p in (tmp_path / "killed").glob("*.h5") if p.name != "summary.h5"]
    assert len(files) == len(local)


# --------------------------------------------------------------------------------------------
# length buckets: compile once per shape, the losses unchanged
# --------------------------------------------------------------------------------------------
def _arrays(n: int, scale: float = 1.0):
    sw = _sweeps(scale)
    return (np.array([s.V[:n] for s in sw]), np.array([s.I[:n] for s in sw]), sw[0].dt)


def test_bucket_sizes():
    from core.fitting.buckets import LengthBuckets

    b = LengthBuckets(ratio=1.25, minimum=512, multiple=64)
    sizes = sorted({b.samples(n) for n in range(1, 5000)})
    assert sizes[0] == 512 and all(s % 64 == 0 for s in sizes)
    assert all(1.0 < q / p <= 1.25 + 64 / p for p, q in zip(sizes, sizes[1:]))
    assert all(b.samples(n) >= n for n in (1, 511, 512, 513, 4999))
    assert [b.n_sweeps(n) for n in (1, 2, 3, 5, 7, 33)] == [1, 2, 3, 6, 8, 64]
    assert LengthBuckets(sweeps=False).shape(5, 700) == (5, 832)
    with pytest.raises(ValueError):
        LengthBuckets(ratio=1.0)


@pytest.mark.parametrize("spike_weight", [0.0, 5.0])
def test_padded_objective_has_the_unpadded_losses(spike_weight):
    """Padding 800 samples to an 832-sample bucket (and 5 sweeps to 6) changes no loss,
    gradient, Hessian, simulation or gamma factor to float tolerance (summation order only;
    free-running gradients through spikes reach 1e43, hence rtol 1e-9)."""
    from core.fitting.buckets import LengthBuckets
    from core.fitting.losses import LossSpec
    from core.fitting.objective import Objective

    V, I, dt = _arrays(800)
    free = ("tau_V", "V_th", "A1")
    loss = LossSpec(spike_weight=spike_weight)
    plain = Objective("gif", V, I, dt, free, loss=loss)
    padded = Objective("gif", V, I, dt, free, loss=loss, buckets=LengthBuckets())
    assert padded.padded_shape == (3, 832) and padded._consts["V"].shape == (832, 3)
    padded4 = Objective("gif", V, I, dt, free, loss=loss, buckets=LengthBuckets(minimum=1024))
    Z = np.random.default_rng(0).uniform(0.1, 0.9, (5, 3))
    for obj in (padded, padded4):
        for kind in ("loss", "mse", "screen", "value_and_grad", "counted_value_and_grad",
                     "forced_loss", "forced_value_and_grad", "gamma"):
            a, b = plain.batch(kind, Z), obj.batch(kind, Z)
            for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
                np.testing.assert_allclose(y, x, rtol=1e-9, atol=1e-12, err_msg=kind)
        assert np.all(plain.batch("loss", Z) < 1e5)  # real losses, not the penalty
        np.testing.assert_allclose(obj.hessian(Z[0]), plain.hessian(Z[0]), rtol=1e-10)
        for x, y in zip(plain.simulate(Z[0]), obj.simulate(Z[0])):
            np.testing.assert_array_equal(y, x)
        assert obj.evaluate(Z[1]) == plain.evaluate(Z[1])
    # 3 sweeps round up to a bucket of 3; 5 sweeps to 6 (a copied sweep, masked)
    V5, I5 = np.r_[V, V[:2] + 0.5], np.r_[I, I[:2]]
    plain5 = Objective("gif", V5, I5, dt, free, loss=loss)
    padded5 = Objective("gif", V5, I5, dt, free, loss=loss, buckets=LengthBuckets())
    assert padded5.padded_shape == (6, 832)
    for kind in ("loss", "screen", "value_and_grad"):
        a, b = plain5.batch(kind, Z), padded5.batch(kind, Z)
        for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
            np.testing.assert_allclose(y, x, rtol=1e-9, atol=1e-12, err_msg=kind)


def test_two_lengths_in_one_bucket_compile_once():
    """A second objective of another length in the same bucket reuses every compiled function
    (XLA compilations counted through jax.monitoring); without buckets it compiles again."""
    from core.fitting.buckets import CompileCounter, LengthBuckets
    from core.fitting.objective import Objective

    b = LengthBuckets()
    free = ("tau_V", "V_th")
    V1, I1, dt = _arrays(800)
    V2, I2, _ = _arrays(731, 1.1)
    V1, I1, V2, I2 = (np.ascontiguousarray(a) for a in (V1, I1, V2, I2))
    Z = np.full((4, 2), 0.5)
    first = Objective("gif", V1, I1, dt, free, buckets=b)
    with CompileCounter():  # the bucket's functions compiled (unless cached already)
        first.batch("loss", Z), first.batch("value_and_grad", Z), first.simulate(Z[0])
    with CompileCounter() as c2:
        second = Objective("gif", V2, I2, dt, free, buckets=b)
        second.batch("loss", Z), second.batch("value_and_grad", Z), second.simulate(Z[0])
    assert first.padded_shape == second.padded_shape == (3, 832)
    assert c2.compiles == 0, c2.compiles
    with CompileCounter() as c3:
        Objective("gif", V2, I2, dt, free).batch("loss", Z)
    assert c3.compiles >= 1 and c3.seconds > 0


def test_fit_cell_compiles_once_per_bucket(tmp_path):
    """The whole default cell fit (threshold screen, fit, Hessian, validation) of a second cell
    of another length in the bucket compiles nothing; the batch rows say so."""
    rec = [Recording(tuple(Sweep(s.V[:n], s.I[:n], s.dt, number=s.number) for s in _sweeps(a)))
           for n, a in ((800, 1.0), (745, 1.1))]
    write_recording(rec[0], tmp_path / "long.h5")
    write_recording(rec[1], tmp_path / "short.h5")
    eng = ThreadEngine()
    try:
        result = run_batch([tmp_path / "long.h5", tmp_path / "short.h5"], tmp_path / "out",
                           model="gif", seconds=None, evaluations=EVALS, uncertainty=True,
                           engine=eng)
    finally:
        eng.close()
    rows = {r["cell"]: r for r in result.rows}
    assert rows["long"]["status"] == rows["short"]["status"] == "done"
    assert rows["short"]["compiles"] == 0, rows["short"]
    for r in rows.values():
        assert r["run_seconds"] > 0 and r["xla_compile_seconds"] >= 0
        assert r["run_seconds"] + r["xla_compile_seconds"] == pytest.approx(r["seconds"])
    with open(result.summary_csv) as fh:
        header = next(csv.reader(fh))
    assert {"xla_compile_seconds", "run_seconds", "compiles"} <= set(header)
    again = read_cell_result(rows["short"]["result_file"])
    assert again["compiles"] == 0 and again["xla_compile_seconds"] == pytest.approx(
        rows["short"]["xla_compile_seconds"])
    from core.fitting.results import FitResult

    with h5py.File(rows["long"]["result_file"]) as f:
        settings = FitResult.from_hdf5(f, "fit").settings
    assert settings["padded_shape"] == [2, 832] and settings["n_samples"] == 800


def test_local_cluster_workers_get_their_share_of_the_cores():
    from core.cpu_affinity import core_blocks

    assert core_blocks(1, [0, 1]) is None  # a lone worker keeps every core
    assert core_blocks(3, [0, 1]) is None  # more workers than cores: they share anyway
    assert core_blocks(2, [0, 1]) == [(0,), (1,)]
    assert core_blocks(2, [2, 3, 5, 7, 8]) == [(2, 3), (5, 7)]  # disjoint, equal blocks


def _worker_cpus():
    import glob

    import jax.numpy as jnp

    (jnp.ones((64, 64)) @ jnp.ones((64, 64))).block_until_ready()  # XLA's pool exists now
    return sorted({tuple(sorted(os.sched_getaffinity(int(t.rsplit("/", 1)[1]))))
                   for t in glob.glob("/proc/self/task/*")})
