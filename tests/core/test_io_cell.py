"""Several files as one cell (open_cell), the reader registry, plausibility judged per file,
truncated text files, and current= for any format."""

from __future__ import annotations

import numpy as np
import pytest

from core.io import (
    ImplausibleUnitsError,
    IncompatibleFilesError,
    LengthMismatchError,
    Reader,
    Recording,
    RecordingError,
    Sweep,
    _registry,
    detect_format,
    open_cell,
    open_recording,
    register_reader,
    write_recording,
)

ASC_DIR = "incf2007_challengeB_C140201C"


def _csv(path, n=400, dt_ms=0.1, amp=0.1, with_i=True, seed=0):
    rng = np.random.default_rng(seed)
    t = dt_ms * np.arange(n)
    v = -65 + rng.normal(0, 1, n)
    head = "t (ms),V (mV)" + (",I (nA)" if with_i else "")
    rows = [f"{a:.4f},{b:.4f}" + (f",{amp:.4f}" if with_i else "") for a, b in zip(t, v)]
    path.write_text(head + "\n" + "\n".join(rows) + "\n")
    return path, v


# ----- open_cell --------------------------------------------------------------------------------

def test_open_cell_joins_text_files(tmp_path):
    paths, vs = [], []
    for k in range(3):
        p, v = _csv(tmp_path / f"s{k}.csv", amp=0.1 * (k + 1), seed=k)
        paths.append(p)
        vs.append(v)
    rec = open_cell(paths)
    assert rec.n_sweeps == 3 and [s.number for s in rec.sweeps] == [0, 1, 2]
    for s, v, k in zip(rec.sweeps, vs, range(3)):
        np.testing.assert_allclose(s.V, np.round(v, 4))
        assert s.I[0] == pytest.approx(0.1 * (k + 1))
    p = rec.provenance
    assert p.path == str(paths[0]) and p.files == tuple(map(str, paths))
    assert f"sweep 2 from {paths[2]} sweep 0" in p.notes
    assert any("renumbered" in n for n in p.notes)
    # the files survive a round trip through Brainfit's HDF5 layout
    write_recording(rec, tmp_path / "cell.h5")
    back = open_recording(tmp_path / "cell.h5")
    assert back.provenance.files == p.files and back.n_sweeps == 3


def test_open_cell_single_path_is_open_recording(tmp_path):
    p, _ = _csv(tmp_path / "one.csv")
    a, b = open_cell(p), open_recording(p)
    assert a.provenance.files == (str(p),)
    assert a.provenance.notes == b.provenance.notes and a.provenance.path == b.provenance.path
    np.testing.assert_array_equal(a.sweeps[0].V, b.sweeps[0].V)
    assert open_cell([p]).provenance.files == (str(p),)
    with pytest.raises(RecordingError, match="no files"):
        open_cell([])


def test_open_cell_refuses_mismatched_files(tmp_path):
    a, _ = _csv(tmp_path / "a.csv", dt_ms=0.1)
    b, _ = _csv(tmp_path / "b.csv", dt_ms=0.05)
    with pytest.raises(IncompatibleFilesError) as exc:
        open_cell([a, b])
    assert str(a) in str(exc.value) and str(b) in str(exc.value)
    c, _ = _csv(tmp_path / "c.csv", with_i=False)
    with pytest.raises(IncompatibleFilesError) as exc:
        open_cell([a, c])
    assert str(a) in str(exc.value) and str(c) in str(exc.value)
    assert "no stimulus" in str(exc.value)
    with pytest.raises(TypeError, match="current="):
        open_cell([a, b], current=a)


def test_open_cell_incf_traces(shared_data):
    folder = shared_data / "real" / ASC_DIR
    files = sorted(folder.glob("*.asc"))
    assert len(files) == 7
    rec = open_cell(files)
    assert rec.n_sweeps == 7
    assert len({s.number for s in rec.sweeps}) == 7
    assert rec.provenance.files == tuple(map(str, files))
    for s, f in zip(rec.sweeps, files):
        one = open_recording(f).sweeps[0]
        np.testing.assert_array_equal(s.V, one.V)
        np.testing.assert_array_equal(s.I, one.I)
    assert rec.provenance.conversions == open_recording(files[0]).provenance.conversions


# ----- registry ---------------------------------------------------------------------------------

def test_registry_adds_a_format(tmp_path):
    def sniff(head, path):
        return head.startswith(b"DEMO")

    def read(path, gain=1.0):
        v = np.frombuffer(open(path, "rb").read()[4:], dtype="<f8") * gain
        from core.io import Provenance

        return Recording((Sweep(v, None, 0.1),), Provenance(path=path, format="demo"))

    register_reader(Reader("demo", sniff, read, frozenset({"gain"}), "demo files",
                           {".demo": "DEMO"}, priority=5))
    try:
        p = tmp_path / "x.bin"
        p.write_bytes(b"DEMO" + np.full(10, -60.0).tobytes())
        assert detect_format(p) == "demo"
        rec = open_recording(p, gain=2.0, time_unit="ms")  # other readers' options ignored
        assert rec.sweeps[0].V[0] == -120.0
        q = tmp_path / "y.demo"
        q.write_text("t,V\n")
        with pytest.raises(RecordingError, match="named like DEMO"):
            open_recording(q)
    finally:
        _registry._READERS.pop("demo")
    with pytest.raises(TypeError, match="unknown option"):
        open_recording(p, gain=2.0)


def test_registered_readers():
    names = [r.name for r in _registry.readers()]
    assert names == ["abf", "hdf5", "ibw", "text"]
    assert all(r.options for r in _registry.readers())


# ----- plausibility per file --------------------------------------------------------------------

def _sweeps_csv(path, currents):
    rng = np.random.default_rng(0)
    lines = ["sweep,t (ms),V (mV),I (nA)"]
    for k, amp in enumerate(currents):
        for j in range(200):
            i = float(amp(j)) if callable(amp) else float(amp)
            lines.append(f"{k},{0.1 * j:.1f},{-65 + rng.normal():.3f},{i!r}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_rounding_zero_sweep_among_normal_ones_opens(tmp_path):
    p = _sweeps_csv(tmp_path / "s.csv", [
        0.2,
        lambda j: 1e-9 * np.sin(j),  # a 0 pA step rebuilt from epochs: zero up to rounding
        0.0,
        -0.1,  # hyperpolarising only
    ])
    rec = open_recording(p)
    assert rec.n_sweeps == 4
    assert np.max(np.abs(rec.sweeps[1].I)) < 1e-6


def test_every_sweep_tiny_still_gets_the_unit_hint(tmp_path):
    p = _sweeps_csv(tmp_path / "s.csv", [2e-10, -1e-10, 0.0])
    with pytest.raises(ImplausibleUnitsError, match="every sweep.*current_unit="):
        open_recording(p)
    q = _sweeps_csv(tmp_path / "one.csv", [3e-10])
    with pytest.raises(ImplausibleUnitsError, match="pA"):
        open_recording(q)


# ----- truncated text ---------------------------------------------------------------------------

def _asc(path, n=60, last=None, newline=True):
    rng = np.random.default_rng(2)
    lines = ['"s"', '"pA"', '"mV"']
    for k in range(n):
        lines.append(f"{0.00025 * k:g}\t{-66.1234 + rng.normal():.4f}\t"
                     f"{-45.123 + rng.normal():.3f}")
    if last is not None:
        lines.append(last)
    path.write_text("\n".join(lines) + ("\n" if newline else ""))
    return path


def test_cut_last_value_is_dropped(tmp_path):
    p = _asc(tmp_path / "cut.asc", last="0.015\t-66.1234\t-4", newline=False)
    rec = open_recording(p)
    assert rec.sweeps[0].V.size == 60
    note = [n for n in rec.provenance.notes if "cut off" in n]
    assert note and "last line 64" in note[0] and "no final newline" in note[0]
    assert "dropped" in note[0]


def test_last_line_with_fewer_fields_is_dropped(tmp_path):
    p = _asc(tmp_path / "cut.asc", last="0.015\t-66.1", newline=False)
    rec = open_recording(p)
    assert rec.sweeps[0].V.size == 60
    assert any("has 2 of 3 values" in n and "dropped" in n for n in rec.provenance.notes)
    # the same line with a final newline is a damaged file, not a truncated one
    q = _asc(tmp_path / "bad.asc", last="0.015\t-66.1", newline=True)
    with pytest.raises(LengthMismatchError, match="line 64"):
        open_recording(q)


def test_complete_last_line_without_newline_is_kept(tmp_path):
    p = _asc(tmp_path / "ok.asc", last="0.015\t-66.1234\t-45.321", newline=False)
    rec = open_recording(p)
    assert rec.sweeps[0].V.size == 61 and rec.sweeps[0].V[-1] == -45.321
    assert not any("cut off" in n for n in rec.provenance.notes)
    # a %g writer trims digits: the last line is held only to the shortest numbers before it
    lines = ["t (ms),V (mV)"] + [f"{0.1 * k:g},{v:g}" for k, v in
                                 enumerate([-65.5, -65.25, -64, -63.125, -62.5, -61, -60.75])]
    q = tmp_path / "g.csv"
    q.write_text("\n".join(lines + ["0.7,-60"]))
    rec = open_recording(q)
    assert rec.sweeps[0].V.size == 8 and rec.sweeps[0].V[-1] == -60.0
    # an integer column whose value changes on the last line (a step ending) is kept
    lines = ["t (ms),V (mV),I (pA)"] + [f"{0.1 * k:.1f},{-65 + 0.01 * k:.2f},100"
                                        for k in range(20)]
    q = tmp_path / "int.csv"
    q.write_text("\n".join(lines + ["2.0,-64.80,0"]))
    rec = open_recording(q)
    assert rec.sweeps[0].V.size == 21 and rec.sweeps[0].I[-1] == 0.0
    # a CSV cut inside its last number
    r = tmp_path / "c.csv"
    r.write_text("\n".join([f"{0.1 * k:.1f},{-65.25 + k:.2f}" for k in range(10)]) + "\n1.0,-5")
    rec = open_recording(r, columns=["t (ms)", "V (mV)"])
    assert rec.sweeps[0].V.size == 10
    assert any("cut off" in n for n in rec.provenance.notes)


# ----- current= for other formats ---------------------------------------------------------------

def test_current_option_attaches_a_stimulus_to_text(tmp_path):
    v, _ = _csv(tmp_path / "v.csv", with_i=False)
    i, _ = _csv(tmp_path / "i.csv", amp=0.25)
    rec = open_recording(v, current=i)
    assert rec.has_stimulus and rec.sweeps[0].I[0] == pytest.approx(0.25)
    assert any("current= given" in n for n in rec.provenance.notes)
