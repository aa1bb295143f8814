"""Igor binary waves (.ibw): hand-written version-5 waves (igor2 cannot write) checked against
what igor2 reads back, voltage/current pairing, missing partners, damaged files, and the real
Pozzorini et al. 2015 waves in ../shared/data (skipped when absent)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from igor2 import binarywave

from core.io import (
    CorruptFileError,
    IncompatibleFilesError,
    LengthMismatchError,
    MissingPartnerError,
    RecordingError,
    TimeUnitRequiredError,
    UnitRequiredError,
    detect_format,
    open_cell,
    open_recording,
    read_ibw,
)

POZZ = "pozzorini2015_L5_cell3"
SPIKES = [224, 220, 221, 226, 225, 231, 233, 234, 236]  # PROVENANCE.md, crossings of 0 mV
TEST_NUMBERS = list(range(1009, 1018))

_WAVE5 = ("IIIihh6sh32siI4i4d4d4s16shhddI4I4II16ihhhccIihhII")
_TYPES = {"f4": 2, "f8": 4, "i2": 0x10, "i4": 0x20}


def write_ibw5(path, data, units="V", x_units="s", dx=1e-4, x0=0.0, name="wave", order="<",
               dtype="f4", note=b""):
    """A minimal Igor binary wave, version 5 (TN003 layout: 64-byte binary header, 320-byte
    wave header, the data, then the note)."""
    data = np.asarray(data, dtype=np.dtype(dtype).newbyteorder(order))
    assert struct.calcsize(order + _WAVE5) == 320
    wfm = 320 + data.nbytes
    binh = struct.pack(order + "hhiiii4i4iiii", 5, 0, wfm, 0, len(note), 0, *[0] * 4, *[0] * 4,
                       0, 0, 0)
    dim_units = x_units.encode().ljust(4, b"\0")[:4] + b"\0" * 12
    wave = struct.pack(
        order + _WAVE5, 0, 0, 0, data.size, _TYPES[dtype], 0, b"", 0,
        name.encode()[:31], 0, 0, data.size, 0, 0, 0, dx, 1.0, 1.0, 1.0, x0, 0.0, 0.0, 0.0,
        units.encode()[:3], dim_units, 0, 0, 0.0, 0.0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        *[0] * 16, 0, 0, 0, b"\0", b"\0", 0, 0, 0, 0, 0, 0)
    path.write_bytes(binh + wave + data.tobytes() + note)
    return path


def _trace(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    v = -0.065 + 0.002 * rng.standard_normal(n)
    v[::200] = 0.03  # spikes above 0 mV
    i = 1e-10 * (1 + rng.standard_normal(n))
    return v, i


def _pair(tmp_path, stem="cellA_ch{}_0007", v_ch=2, i_ch=3, **kw):
    v, i = _trace()
    vu, iu = kw.pop("units", ("V", "A"))
    pv = write_ibw5(tmp_path / f"{stem.format(v_ch)}.ibw", v, units=vu, name="v", **kw)
    pi = write_ibw5(tmp_path / f"{stem.format(i_ch)}.ibw", i, units=iu, name="i", **kw)
    return pv, pi, v, i


# ----- hand-written waves -----------------------------------------------------------------------

def test_written_wave_reads_back_with_igor2(tmp_path):
    v, _ = _trace()
    p = write_ibw5(tmp_path / "w.ibw", v, units="V", dx=5e-5, x0=0.25, note=b"\rDATE#1")
    w = binarywave.load(str(p))["wave"]
    np.testing.assert_array_equal(w["wData"], v.astype("f4"))
    assert w["wave_header"]["dataUnits"][0] == b"V"
    assert w["wave_header"]["sfA"][0] == 5e-5


def test_pair_opens_from_either_file(tmp_path):
    pv, pi, v, i = _pair(tmp_path, x0=0.5)
    assert detect_format(pv) == "ibw" and detect_format(pi) == "ibw"
    a, b = open_recording(pv), open_recording(pi)
    for rec in (a, b):
        s = rec.sweeps[0]
        assert rec.n_sweeps == 1 and s.number == 7
        assert s.dt == pytest.approx(0.1) and s.t0 == pytest.approx(500.0)
        np.testing.assert_allclose(s.V, v.astype("f4").astype(float) * 1e3, rtol=1e-12)
        np.testing.assert_allclose(s.I, i.astype("f4").astype(float) * 1e9, rtol=1e-12)
        p = rec.provenance
        assert p.path == str(pv) and p.files == (str(pv), str(pi))
        assert p.original_units == {"time": "s", "voltage": "V", "current": "A"}
        assert p.conversions == ("time: s -> ms (x 1000)", "voltage: V -> mV (x 1000)",
                                 "current: A -> nA (x 1e+09)")
        assert p.stimulus == f"current wave {pi.name}" and p.format.startswith("Igor")
    assert any("opened through the current wave" in n for n in b.provenance.notes)


def test_units_and_byte_order_from_the_header(tmp_path):
    """Big-endian float64 waves in mV / pA with a millisecond x scale."""
    v, i = _trace()
    pv = write_ibw5(tmp_path / "x_ch0_3.ibw", v * 1e3, units="mV", x_units="ms", dx=0.05,
                    order=">", dtype="f8")
    write_ibw5(tmp_path / "x_ch1_3.ibw", i * 1e12, units="pA", x_units="ms", dx=0.05,
               order=">", dtype="f8")
    rec = open_recording(pv)
    s = rec.sweeps[0]
    assert s.dt == pytest.approx(0.05) and s.number == 3
    np.testing.assert_allclose(s.V, v * 1e3, rtol=1e-12)
    np.testing.assert_allclose(s.I, i * 1e9, rtol=1e-9)
    assert rec.provenance.conversions == ("current: pA -> nA (x 0.001)",)


def test_roles_come_from_units_not_channel_numbers(tmp_path):
    # the current on the lower channel: units decide
    pv, pi, v, _ = _pair(tmp_path, v_ch=5, i_ch=1)
    rec = open_recording(pi)
    assert rec.provenance.files == (str(pv), str(pi))
    np.testing.assert_allclose(rec.sweeps[0].V, v.astype("f4") * 1e3, rtol=1e-6)


def test_missing_units_fall_back_to_channel_numbers(tmp_path):
    pv, pi, v, _ = _pair(tmp_path, units=("", ""))
    with pytest.raises(UnitRequiredError, match="voltage_unit="):
        open_recording(pi)
    rec = open_recording(pi, voltage_unit="V", current_unit="A")
    assert rec.provenance.files == (str(pv), str(pi))
    assert any("channel-number convention" in n for n in rec.provenance.notes)
    np.testing.assert_allclose(rec.sweeps[0].V, v.astype("f4") * 1e3, rtol=1e-6)
    # one wave with units is enough to place the other
    sub = tmp_path / "half"
    sub.mkdir()
    pv2, pi2, _, _ = _pair(sub, stem="half_ch{}_1", units=("V", ""))
    rec = open_recording(pi2, current_unit="A")
    assert rec.provenance.files == (str(pv2), str(pi2))
    assert any("states no data units" in n for n in rec.provenance.notes)


def test_x_scale_without_unit_needs_time_unit(tmp_path):
    pv, _, _, _ = _pair(tmp_path, x_units="")
    with pytest.raises(TimeUnitRequiredError, match="time_unit="):
        open_recording(pv)
    assert open_recording(pv, time_unit="s").dt == pytest.approx(0.1)


def test_missing_partner_says_what_was_looked_for(tmp_path):
    v, i = _trace()
    pv = write_ibw5(tmp_path / "solo_ch2_0001.ibw", v, units="V")
    with pytest.raises(MissingPartnerError) as exc:
        open_recording(pv)
    msg = str(exc.value)
    assert str(pv) in msg and "solo_ch<N>_0001.ibw" in msg and "units A" in msg
    assert "current=" in msg and "--current FILE" in msg
    pi = write_ibw5(tmp_path / "other_ch3_0002.ibw", i, units="A")
    with pytest.raises(MissingPartnerError, match="voltage wave was not found"):
        open_recording(pi)
    pn = write_ibw5(tmp_path / "noname.ibw", v, units="V")
    with pytest.raises(MissingPartnerError, match="no channel number"):
        open_recording(pn)
    # current= pairs any two names
    rec = open_recording(pn, current=pi)
    assert rec.provenance.files == (str(pn), str(pi))
    assert any("current= given" in n for n in rec.provenance.notes)
    with pytest.raises(RecordingError, match="a voltage"):
        open_recording(pn, current=pv)
    with pytest.raises(RecordingError, match="not a voltage"):
        read_ibw(pi, current=pi)


def test_partner_with_other_length_or_rate(tmp_path):
    v, i = _trace()
    pv = write_ibw5(tmp_path / "a_ch2_1.ibw", v, units="V")
    write_ibw5(tmp_path / "a_ch3_1.ibw", i[:-10], units="A")
    with pytest.raises(LengthMismatchError, match="a_ch3_1.ibw"):
        open_recording(pv)
    pv = write_ibw5(tmp_path / "b_ch2_1.ibw", v, units="V")
    write_ibw5(tmp_path / "b_ch3_1.ibw", i, units="A", dx=2e-4)
    with pytest.raises(IncompatibleFilesError, match="b_ch3_1.ibw"):
        open_recording(pv)


def test_damaged_waves_are_clear_errors(tmp_path):
    pv, pi, _, _ = _pair(tmp_path)
    data = pv.read_bytes()
    for n in (1, 2, 10, 63, 64, 100, 383, 384, 1000, len(data) - 1):
        cut = tmp_path / "cut_ch2_1.ibw"
        cut.write_bytes(data[:n])
        with pytest.raises(CorruptFileError, match="truncated") as exc:
            open_recording(cut)
        assert str(cut) in str(exc.value)
    # a truncated partner: the message names the partner
    (tmp_path / "cellA_ch3_0007.ibw").write_bytes(pi.read_bytes()[:500])
    with pytest.raises(CorruptFileError, match="cellA_ch3_0007.ibw"):
        open_recording(pv)
    # not an Igor wave but named like one
    bad = tmp_path / "text.ibw"
    bad.write_text("t,V\n0,1\n")
    with pytest.raises(CorruptFileError, match="signature"):
        open_recording(bad)


def test_byte_flipped_headers_never_crash(tmp_path):
    v, i = _trace(400)
    write_ibw5(tmp_path / "f_ch3_1.ibw", i, units="A")
    good = write_ibw5(tmp_path / "g.ibw", v, units="V").read_bytes()
    rng = np.random.default_rng(1)
    for pos in rng.integers(0, 384, size=40):
        b = bytearray(good)
        b[pos] ^= 0xFF
        p = tmp_path / "f_ch2_1.ibw"
        p.write_bytes(bytes(b))
        try:
            rec = open_recording(p)
        except RecordingError as exc:
            assert str(tmp_path) in str(exc)
        else:
            s = rec.sweeps[0]
            assert np.all(np.isfinite(s.V)) and s.dt > 0 and s.I.shape == s.V.shape


def test_wave_without_extension_is_recognised(tmp_path):
    v, i = _trace()
    p = write_ibw5(tmp_path / "wave_v", v, units="V")
    q = write_ibw5(tmp_path / "wave_i", i, units="A")
    assert detect_format(p) == "ibw"
    assert open_recording(p, current=q).sweeps[0].V.size == v.size


def test_open_cell_pairs_ibw_once(tmp_path):
    files = []
    for k in (1, 2, 3):
        pv, pi, _, _ = _pair(tmp_path, stem=f"c_ch{{}}_{k:04d}")
        files += [pi, pv] if k == 2 else [pv, pi]
    rec = open_cell(files)
    assert rec.n_sweeps == 3 and [s.number for s in rec.sweeps] == [1, 2, 3]
    assert len(rec.provenance.files) == 6 and set(rec.provenance.files) == set(map(str, files))
    assert any("already read with" in n for n in rec.provenance.notes)


# ----- the real waves ---------------------------------------------------------------------------

def _pozz(shared_data):
    folder = shared_data / "real" / POZZ
    if not folder.is_dir():
        pytest.skip(f"{folder} not found (the Pozzorini 2015 waves are only in dev checkouts)")
    return folder


@pytest.mark.parametrize("k", range(9))
def test_pozzorini_pair_matches_igor2(shared_data, k):
    folder = _pozz(shared_data)
    n = TEST_NUMBERS[k]
    pv = folder / f"Cell3_Ger1Test_ch2_{n}.ibw"
    pi = folder / f"Cell3_Ger1Test_ch3_{n}.ibw"
    rec = open_recording(pi if k % 2 else pv)
    s = rec.sweeps[0]
    assert rec.sampling_rate_hz == pytest.approx(10_000.0) and s.V.size == 200_000
    assert s.number == n and rec.provenance.files == (str(pv), str(pi))
    np.testing.assert_allclose(s.V, binarywave.load(str(pv))["wave"]["wData"] * 1e3, rtol=1e-6)
    np.testing.assert_allclose(s.I, binarywave.load(str(pi))["wave"]["wData"] * 1e9, rtol=1e-6)
    assert s.spike_times(0.0).size == SPIKES[k]


def test_pozzorini_nine_repetitions_as_one_cell(shared_data):
    folder = _pozz(shared_data)
    files = sorted(folder.glob("Cell3_Ger1Test_ch*.ibw"))
    assert len(files) == 18
    rec = open_cell(files)
    assert rec.n_sweeps == 9 and [s.number for s in rec.sweeps] == TEST_NUMBERS
    assert [s.spike_times(0.0).size for s in rec.sweeps] == SPIKES
    V, I = rec.stacked()
    assert V.shape == (9, 200_000)
    assert I.mean() == pytest.approx(0.153, abs=0.001) and I.std() == pytest.approx(0.159, abs=0.001)
    p = rec.provenance
    assert p.path == str(files[0]) and len(p.files) == 18
    assert p.conversions == ("time: s -> ms (x 1000)", "voltage: V -> mV (x 1000)",
                             "current: A -> nA (x 1e+09)")
    assert f"sweep 1013 from {folder / 'Cell3_Ger1Test_ch2_1013.ibw'} sweep 1013" in p.notes
    # the AEC recording (10 s) joins too: same sampling interval
    both = open_cell([folder / "Cell3_Ger1Elec_ch2_1007.ibw", *files[:9]])
    assert both.n_sweeps == 10 and both.sweeps[0].V.size == 100_000


def test_pozzorini_truncated_copies(shared_data, tmp_path):
    folder = _pozz(shared_data)
    data = (folder / "Cell3_Ger1Test_ch2_1009.ibw").read_bytes()
    (tmp_path / "Cell3_Ger1Test_ch3_1009.ibw").write_bytes(
        (folder / "Cell3_Ger1Test_ch3_1009.ibw").read_bytes())
    for frac in (0.0001, 0.3, 0.999):
        p = tmp_path / "Cell3_Ger1Test_ch2_1009.ibw"
        p.write_bytes(data[:int(len(data) * frac)])
        with pytest.raises(CorruptFileError, match="truncated"):
            open_recording(p)
