"""Every writer of a result file is atomic: an exception in the middle of a write leaves the old
file byte for byte, and no temporary file behind."""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest

from core.fitting.predict import Prediction
from core.fitting.results import ComparisonResult, FitResult, table_rows
from core.io import Provenance, Recording, Sweep, read_brainfit_hdf5, write_recording
from core.io.atomic import AtomicFile, atomic_open, atomic_path, h5_target


class Boom(RuntimeError):
    pass


def _fit(loss=1.0) -> FitResult:
    return FitResult(method="de", seed=0, model="gif", free=["R"], params={}, fitted={"R": 90.0},
                     loss=loss, objective=loss, gamma=0.5, gamma_loss=0.5, n_model_spikes=1,
                     n_data_spikes=1, evaluations=10, iterations=1, seconds=0.1,
                     compile_seconds=0.0, start_loss=2.0)


def _recording(n=3) -> Recording:
    sweeps = [Sweep(V=np.full(100, -70.0 + k), I=np.zeros(100), dt=0.1, number=k) for k in range(n)]
    return Recording(sweeps=sweeps, provenance=Provenance(path="r.h5", format="test"))


def _leftovers(folder) -> list[str]:
    return sorted(p for p in os.listdir(folder) if p.endswith(".tmp"))


def _explode_after(monkeypatch, cls, method: str, calls: int = 1):
    """Make ``cls.method`` raise on its ``calls``-th call (a write that dies half-way)."""
    original = getattr(cls, method)
    count = {"n": 0}

    def wrapped(self, *args, **kwargs):
        count["n"] += 1
        if count["n"] >= calls:
            raise Boom("disk on fire")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, method, wrapped)


def test_helpers_replace_on_success_and_keep_the_old_file_on_error(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")
    with pytest.raises(Boom), atomic_open(path) as fh:
        fh.write("new, but only half")
        raise Boom
    assert path.read_text() == "old" and _leftovers(tmp_path) == []
    with atomic_open(path) as fh:
        fh.write("new")
        assert path.read_text() == "old"  # nothing visible before the block ends
    assert path.read_text() == "new" and _leftovers(tmp_path) == []
    with atomic_path(tmp_path / "b.bin") as tmp:
        assert os.path.dirname(tmp) == str(tmp_path)  # same folder: os.replace is a rename
        with open(tmp, "wb") as fh:
            fh.write(b"xyz")
    assert (tmp_path / "b.bin").read_bytes() == b"xyz"
    f = AtomicFile(tmp_path / "c")
    f.discard()
    f.discard()
    assert not (tmp_path / "c").exists() and _leftovers(tmp_path) == []


def test_replaced_file_keeps_its_permissions(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("old")
    os.chmod(path, 0o640)
    with atomic_open(path) as fh:
        fh.write("new")
    assert (os.stat(path).st_mode & 0o777) == 0o640


def test_h5_target_passes_open_groups_through(tmp_path):
    with h5py.File(tmp_path / "f.h5", "w") as f:
        g = f.create_group("g")
        with h5_target(g) as same:
            assert same is g
        write_recording(_recording(), g, "rec")  # into an open group, the file stays open
        assert f.id.valid and "rec" in g


def test_interrupted_write_recording_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "rec.h5"
    write_recording(_recording(2), path)
    before = path.read_bytes()
    _explode_after(monkeypatch, h5py.Group, "create_dataset", calls=3)  # during sweep 2
    with pytest.raises(Boom):
        write_recording(_recording(5), path)
    assert path.read_bytes() == before and _leftovers(tmp_path) == []
    monkeypatch.undo()
    assert read_brainfit_hdf5(str(path)).n_sweeps == 2


def test_interrupted_fit_and_comparison_writes_leave_the_old_files(tmp_path, monkeypatch):
    h5, csv = tmp_path / "cmp.h5", tmp_path / "cmp.csv"
    old = ComparisonResult(table_rows([_fit(1.0)]), [_fit(1.0)])
    old.to_hdf5(h5)
    old.to_csv(csv)
    _fit(3.0).to_hdf5(tmp_path / "fit.h5")
    before = {p: p.read_bytes() for p in (h5, csv, tmp_path / "fit.h5")}
    new = ComparisonResult(table_rows([_fit(7.0), _fit(8.0)]), [_fit(7.0), _fit(8.0)])
    _explode_after(monkeypatch, FitResult, "to_hdf5", calls=2)  # the second fit of the table
    with pytest.raises(Boom):
        new.to_hdf5(h5)
    monkeypatch.undo()
    _explode_after(monkeypatch, h5py.Group, "create_dataset", calls=2)
    with pytest.raises(Boom):
        _fit(9.0).to_hdf5(tmp_path / "fit.h5")
    monkeypatch.undo()
    import core.fitting.results as results

    class HalfWriter:
        def __init__(self, fh):
            self.fh = fh

        def write(self, text):
            self.fh.write(text[: len(text) // 2])
            raise Boom("disk full")

    real_open = results.atomic_open

    def half_open(*args, **kwargs):
        cm = real_open(*args, **kwargs)

        class Wrapped:
            def __enter__(self):
                return HalfWriter(cm.__enter__())

            def __exit__(self, *exc):
                return cm.__exit__(*exc)

        return Wrapped()

    monkeypatch.setattr(results, "atomic_open", half_open)
    with pytest.raises(Boom):
        new.to_csv(csv)
    monkeypatch.undo()
    for p, data in before.items():
        assert p.read_bytes() == data, p.name
    assert _leftovers(tmp_path) == []
    assert ComparisonResult.from_hdf5(h5).fits[0].loss == 1.0
    new.to_hdf5(h5)  # and a write that completes does replace the file
    assert [f.loss for f in ComparisonResult.from_hdf5(h5).fits] == [7.0, 8.0]


def test_interrupted_prediction_export_leaves_the_old_files(tmp_path, monkeypatch):
    t = np.arange(50) * 0.1
    p = Prediction(fit=_fit(), recording_name="r", sweeps=[0], loss=1.0, gamma=0.5,
                   n_model_spikes=0, n_data_spikes=0, n_coincident=0, diverged=False, t=t,
                   V=np.zeros((1, 50)), V_data=np.ones((1, 50)), model_spikes=[np.zeros(0)],
                   data_spikes=[np.zeros(0)])
    p.export(str(tmp_path / "pred.csv"))
    p.export(str(tmp_path / "pred.h5"))
    files = [tmp_path / n for n in ("pred.csv", "pred_spikes.json", "pred.h5")]
    before = {f: f.read_bytes() for f in files}
    bigger = Prediction(**{**p.__dict__, "V": np.full((1, 50), 5.0)})
    def half_savetxt(fh, *args, **kwargs):
        fh.write("t_ms,V_data_0")
        raise Boom("disk full")

    monkeypatch.setattr(np, "savetxt", half_savetxt)
    with pytest.raises(Boom):
        bigger.export(str(tmp_path / "pred.csv"))
    monkeypatch.undo()
    _explode_after(monkeypatch, h5py.Group, "create_dataset", calls=2)
    with pytest.raises(Boom):
        bigger.export(str(tmp_path / "pred.h5"))
    monkeypatch.undo()
    for f, data in before.items():
        assert f.read_bytes() == data, f.name
    assert _leftovers(tmp_path) == []


def test_interrupted_network_writes_leave_the_old_file(tmp_path, monkeypatch):
    from core.errors import JobCancelled
    from core.network import NetworkResult, run_network
    from core.network import run as netrun
    from core.network.templates.coba import CobaNetwork

    net = CobaNetwork(seed=1, n_exc=80, n_inh=20, p=0.1)
    path = tmp_path / "net.h5"
    first = run_network(net, 20.0, chunk_ms=10.0, out_path=path)
    before = path.read_bytes()
    # a crash in the middle of streaming (the process dies before finish): old file intact
    _explode_after(monkeypatch, netrun.H5NetworkWriter, "finish")
    with pytest.raises(Boom):
        run_network(net, 40.0, chunk_ms=10.0, out_path=path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    for stray in _leftovers(tmp_path):  # the killed run's temp file is the only trace
        os.remove(tmp_path / stray)
    # save() that fails half-way
    _explode_after(monkeypatch, netrun.H5NetworkWriter, "append")
    with pytest.raises(Boom):
        first.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before and _leftovers(tmp_path) == []
    # a cancelled run still commits what it finished (marked incomplete), atomically
    calls = []
    with pytest.raises(JobCancelled):
        run_network(net, 40.0, chunk_ms=10.0, out_path=path,
                    is_cancelled=lambda: calls.append(1) or len(calls) > 2)
    back = NetworkResult.load(path)
    assert not back.complete and back.duration_ms == pytest.approx(20.0)
    assert _leftovers(tmp_path) == []
