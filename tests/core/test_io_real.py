"""Every real recording in ../shared/data opens, and matches what pyabf / numpy / h5py read.

Damaged copies (truncated, byte-flipped) give a RecordingError, never another exception.
"""

from __future__ import annotations

import json
import warnings

import h5py
import numpy as np
import pyabf
import pytest

from core.io import (
    CorruptFileError,
    LengthMismatchError,
    Recording,
    RecordingError,
    StimulusMissingError,
    attach_stimulus_from,
    open_recording,
)
from workbench.cli import main

ABFS = ["171116sh_0016.abf", "171116sh_0018.abf", "18711001.abf", "190619B_0003.abf"]
ASC_DIR = "incf2007_challengeB_C140201C"
ASCS = ["traceascii_C140201C_IDRest_101.asc", "traceascii_C140201C_IDRest_103.asc",
        "traceascii_C140201C_IDRest_105.asc", "traceascii_C140201C_IRrest_126.asc",
        "traceascii_C140201C_IRrest_132.asc", "traceascii_C140201C_IDRest_102.asc",
        "traceascii_C140201C_IDRest_104.asc"]


def _crossings(v: np.ndarray, thr: float = -20.0) -> int:
    return int(np.sum((v[1:] >= thr) & (v[:-1] < thr)))


@pytest.mark.parametrize("name", ABFS)
def test_abf_matches_pyabf(shared_data, name):
    path = shared_data / "real" / name
    rec = open_recording(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        abf = pyabf.ABF(str(path))
    assert rec.provenance.format == f"ABF{abf.abfVersion['major']}"
    assert rec.n_sweeps == abf.sweepCount
    assert rec.sampling_rate_hz == pytest.approx(abf.dataRate)
    assert rec.has_stimulus
    assert rec.provenance.original_units == {"time": "s", "voltage": abf.adcUnits[0],
                                             "current": abf.sweepUnitsC}
    assert any("pA -> nA" in c for c in rec.provenance.conversions)
    for k in sorted({0, abf.sweepCount // 2, abf.sweepCount - 1}):
        abf.setSweep(k)
        s = rec.sweeps[k]
        np.testing.assert_array_equal(s.V, abf.sweepY.astype(float))
        np.testing.assert_allclose(s.I, abf.sweepC * 1e-3, rtol=1e-12)
        np.testing.assert_allclose(s.t, abf.sweepX * 1e3, atol=1e-9)
        assert s.spike_times().size == _crossings(abf.sweepY)


@pytest.mark.parametrize("name", ASCS)
def test_asc_matches_numpy(shared_data, name):
    path = shared_data / "real" / ASC_DIR / name
    t_s, i_pa, v_mv = np.loadtxt(path, skiprows=3, unpack=True)
    rec = open_recording(path)
    assert rec.n_sweeps == 1
    s = rec.sweeps[0]
    assert rec.provenance.original_units == {"time": "s", "current": "pA", "voltage": "mV"}
    assert s.dt == pytest.approx(np.median(np.diff(t_s)) * 1e3, rel=1e-9)
    np.testing.assert_allclose(s.t, t_s * 1e3, atol=1e-6)
    np.testing.assert_array_equal(s.V, v_mv)
    np.testing.assert_allclose(s.I, i_pa * 1e-3, rtol=1e-12)
    assert s.spike_times().size == _crossings(v_mv)


@pytest.mark.parametrize("name", ["gif_synthetic.h5", "hh_synthetic.h5"])
def test_synthetic_plain_hdf5_matches_h5py(shared_data, name):
    path = shared_data / "synthetic" / name
    with h5py.File(path, "r") as f:
        t, I, V = f["t"][()], f["I"][()], f["V"][()]
        units = json.loads(f.attrs["units"])
    rec = open_recording(path)
    assert rec.provenance.format == "HDF5 (plain)"
    assert units["V"] == "V" and units["I"] == "A" and units["t"] == "s"
    assert rec.n_sweeps == V.shape[0]
    assert rec.dt == pytest.approx((t[1] - t[0]) * 1e3, rel=1e-9)
    Vs, Is = rec.stacked()
    np.testing.assert_allclose(Vs, V * 1e3, rtol=1e-12)
    np.testing.assert_allclose(Is, I * 1e9, rtol=1e-12)


# ----- damaged copies ---------------------------------------------------------------------------

def _assert_valid(rec: Recording) -> None:
    """What a reader returns must hold up: finite samples, consistent lengths, dt > 0."""
    for s in rec.sweeps:
        assert np.all(np.isfinite(s.V)) and s.dt > 0
        assert s.I is None or (s.I.shape == s.V.shape and np.all(np.isfinite(s.I)))


def _damaged(tmp_path, data: bytes, suffix: str):
    p = tmp_path / f"copy{suffix}"
    p.write_bytes(data)
    return p


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", ABFS)
def test_truncated_abf_is_corrupt(shared_data, tmp_path, name):
    data = (shared_data / "real" / name).read_bytes()
    for frac in (0.0005, 0.01, 0.4, 0.999):
        p = _damaged(tmp_path, data[:int(len(data) * frac)], ".abf")
        with pytest.raises(CorruptFileError, match="truncated"):
            open_recording(p)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", ABFS)
def test_byte_flipped_abf_never_crashes(shared_data, tmp_path, name):
    data = (shared_data / "real" / name).read_bytes()
    rng = np.random.default_rng(len(data))
    # the signature: the file is no longer recognisable as ABF
    p = _damaged(tmp_path, bytes([data[0] ^ 0xFF]) + data[1:], ".abf")
    with pytest.raises(CorruptFileError, match="signature"):
        open_recording(p)
    # header bytes: either a clear error or a recording that passes validation
    for pos in rng.integers(4, 2048, size=12):
        b = bytearray(data)
        b[pos] ^= 0xFF
        try:
            rec = open_recording(_damaged(tmp_path, bytes(b), ".abf"))
        except RecordingError as exc:
            assert "damaged" in str(exc) and str(tmp_path) in str(exc)
        else:
            _assert_valid(rec)


@pytest.mark.parametrize("name", ASCS[:2])
def test_truncated_and_flipped_asc(shared_data, tmp_path, name):
    data = (shared_data / "real" / ASC_DIR / name).read_bytes()
    full = open_recording(shared_data / "real" / ASC_DIR / name)
    # cut right after the first tab of a data line: the file ends inside that row, which has
    # too few values; it is dropped with a note, every complete row before it kept
    for line_no in (10, 2000, 4000):
        start = sum(len(x) + 1 for x in data.split(b"\n")[:line_no])
        cut = data.index(b"\t", start) + 1
        rec = open_recording(_damaged(tmp_path, data[:cut], ".asc"))
        assert any(f"last line {line_no + 1}" in n and "cut off" in n and "dropped" in n
                   for n in rec.provenance.notes)
        assert rec.sweeps[0].V.size == line_no - 3  # three unit lines
        np.testing.assert_array_equal(rec.sweeps[0].V, full.sweeps[0].V[:line_no - 3])
    # the same short row followed by a newline is not a truncation: a clear error
    start = sum(len(x) + 1 for x in data.split(b"\n")[:2000])
    cut = data.index(b"\t", start) + 1
    with pytest.raises(LengthMismatchError, match="line 2001"):
        open_recording(_damaged(tmp_path, data[:cut] + b"\n", ".asc"))
    # cut at a line end: a shorter but valid trace
    cut = data.index(b"\n", len(data) // 2) + 1
    rec = open_recording(_damaged(tmp_path, data[:cut], ".asc"))
    n = rec.sweeps[0].V.size
    assert 0 < n < full.sweeps[0].V.size
    np.testing.assert_array_equal(rec.sweeps[0].V, full.sweeps[0].V[:n])
    # cut inside the unit lines
    with pytest.raises(RecordingError):
        open_recording(_damaged(tmp_path, data[:6], ".asc"))
    # flips: a digit turned into another character is a clear error or a valid trace
    rng = np.random.default_rng(7)
    for pos in rng.integers(0, len(data), size=10):
        b = bytearray(data)
        b[pos] ^= 0x40
        try:
            rec = open_recording(_damaged(tmp_path, bytes(b), ".asc"))
        except RecordingError as exc:
            assert str(tmp_path) in str(exc)
        else:
            _assert_valid(rec)


def test_info_cli_on_real_abf(shared_data, capsys):
    path = shared_data / "real" / "18711001.abf"
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        abf = pyabf.ABF(str(path))
    assert info["format"] == "ABF2" and info["n_sweeps"] == abf.sweepCount
    assert info["sampling_rate_hz"] == abf.dataRate
    assert info["stimulus_present"] is True
    expected = []
    for k in range(abf.sweepCount):
        abf.setSweep(k)
        expected.append(_crossings(abf.sweepY))
    assert info["spikes_per_sweep"] == expected
    assert main(["info", str(path)]) == 0
    text = capsys.readouterr().out
    assert "ABF2" in text and f"{sum(expected)} in total" in text and "pA -> nA" in text


def test_info_cli_bad_file_exit_2(shared_data, tmp_path, capsys):
    data = (shared_data / "real" / "171116sh_0016.abf").read_bytes()
    p = tmp_path / "cut.abf"
    p.write_bytes(data[:5000])
    assert main(["info", str(p)]) == 2
    err = capsys.readouterr().err
    assert str(p) in err and "truncated" in err and "Traceback" not in err


def test_abf_with_missing_stimulus_file_opens_with_notice(shared_data, tmp_path):
    """A protocol whose command comes from a stimulus file that is not there: the recording
    opens without a stimulus and says so; another file can supply it."""
    import struct

    original = shared_data / "real" / "171116sh_0016.abf"
    data = bytearray(original.read_bytes())
    block, _, _ = struct.unpack_from("<IIq", data, 76 + 16 * 2)  # ABF2 DAC section
    struct.pack_into("<h", data, block * 512 + 42, 2)  # DAC 0 nWaveformSource = stimulus file
    p = _damaged(tmp_path, bytes(data), ".abf")
    rec = open_recording(p)
    assert not rec.has_stimulus and rec.n_sweeps == 11
    assert any("stimulus missing" in n for n in rec.provenance.notes)
    with pytest.raises(StimulusMissingError):
        rec.stacked()
    fixed = attach_stimulus_from(rec, original)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        abf = pyabf.ABF(str(original))
    abf.setSweep(10)
    np.testing.assert_allclose(fixed.sweeps[10].I, abf.sweepC * 1e-3)
    np.testing.assert_array_equal(fixed.sweeps[10].V, rec.sweeps[10].V)
