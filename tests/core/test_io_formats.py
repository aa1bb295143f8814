"""NWB (pynwb-written), HDF5 (ours and plain) and CSV/TSV readers against independent readers,
and one test per kind of bad input."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime

import h5py
import numpy as np
import pytest

from core.io import (
    CorruptFileError,
    EmptySweepError,
    ImplausibleUnitsError,
    LengthMismatchError,
    NonFiniteSamplesError,
    Provenance,
    Recording,
    RecordingError,
    StimulusMissingError,
    Sweep,
    TimeUnitRequiredError,
    UnitError,
    UnitRequiredError,
    UnsupportedFormatError,
    attach_stimulus_from,
    open_recording,
    step_stimulus,
    write_recording,
)
from workbench.cli import main

RNG = np.random.default_rng(3)


# ----- NWB ---------------------------------------------------------------------------------------

def _write_nwb(path, n_sweeps=3, n=400, table=True, with_stimulus=True, v_conv=1e-3,
               i_conv=1e-12, offset=0.0, rate=10_000.0):
    pynwb = pytest.importorskip("pynwb")
    from pynwb.icephys import CurrentClampSeries, CurrentClampStimulusSeries

    nwb = pynwb.NWBFile("test", "id", datetime(2024, 1, 1, tzinfo=UTC))
    dev = nwb.create_device("amp")
    el = nwb.create_icephys_electrode(name="elec0", description="patch", device=dev)
    for k in range(n_sweeps):
        v = (RNG.normal(-65, 5, n) / (v_conv * 1e3) - offset / v_conv).astype("f4")
        resp = CurrentClampSeries(name=f"resp{k}", data=v, starting_time=0.5 * k, rate=rate,
                                  electrode=el, gain=1.0, conversion=v_conv, offset=offset,
                                  sweep_number=k, bias_current=0.0, bridge_balance=0.0,
                                  capacitance_compensation=0.0)
        stim = None
        if with_stimulus:
            i = (np.r_[np.zeros(n // 4), np.full(n - n // 4, 50.0 * (k + 1))] * 1e-12 / i_conv)
            stim = CurrentClampStimulusSeries(name=f"stim{k}", data=i.astype("f4"),
                                              starting_time=0.5 * k, rate=rate, electrode=el,
                                              gain=1.0, conversion=i_conv, sweep_number=k)
        if table:
            nwb.add_intracellular_recording(electrode=el, stimulus=stim, response=resp)
        else:
            nwb.add_acquisition(resp)
            if stim is not None:
                nwb.add_stimulus(stim)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pynwb.NWBHDF5IO(str(path), "w") as io:
            io.write(nwb)


def _pynwb_reference(path):
    """Voltage (mV) and current (nA) per sweep, read back with pynwb: data*conversion+offset."""
    import pynwb

    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pynwb.NWBHDF5IO(str(path), "r") as io:
            f = io.read()
            for s in f.acquisition.values():
                k = int(s.sweep_number)
                out.setdefault(k, {})["V"] = (s.data[:] * s.conversion + s.offset) * 1e3
                out[k]["rate"], out[k]["t0"] = s.rate, s.starting_time
            for s in f.stimulus.values():
                out[int(s.sweep_number)]["I"] = (s.data[:] * s.conversion + s.offset) * 1e9
    return out


@pytest.mark.parametrize("table", [True, False])
@pytest.mark.parametrize("v_conv,i_conv,offset", [(1e-3, 1e-12, 0.0), (1.0, 1e-9, 0.0),
                                                  (1e-6, 1e-12, -0.01)])
def test_nwb_round_trip(tmp_path, table, v_conv, i_conv, offset):
    path = tmp_path / "cell.nwb"
    _write_nwb(path, table=table, v_conv=v_conv, i_conv=i_conv, offset=offset)
    ref = _pynwb_reference(path)
    rec = open_recording(path)
    assert rec.provenance.format.startswith("NWB")
    assert rec.n_sweeps == 3 and rec.has_stimulus
    assert ("table" in rec.provenance.stimulus) == table
    for s in rec.sweeps:
        np.testing.assert_allclose(s.V, ref[s.number]["V"], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(s.I, ref[s.number]["I"], rtol=1e-9, atol=1e-12)
        assert s.dt == pytest.approx(1e3 / ref[s.number]["rate"])
        assert s.t0 == pytest.approx(ref[s.number]["t0"] * 1e3)
    if v_conv != 1.0:
        assert any(f"x {v_conv:g}" in c for c in rec.provenance.conversions)


def test_nwb_without_stimulus_opens_with_notice(tmp_path):
    path = tmp_path / "nostim.nwb"
    _write_nwb(path, n_sweeps=2, table=False, with_stimulus=False)
    rec = open_recording(path)
    assert not rec.has_stimulus and rec.n_sweeps == 2
    assert any("stimulus missing" in n for n in rec.provenance.notes)
    with pytest.raises(StimulusMissingError, match="missing"):
        rec.stacked()


def test_nwb_truncated_is_corrupt(tmp_path):
    path = tmp_path / "cell.nwb"
    _write_nwb(path)
    data = path.read_bytes()
    for frac in (0.1, 0.5, 0.9):
        cut = tmp_path / f"cut{frac}.nwb"
        cut.write_bytes(data[:int(len(data) * frac)])
        with pytest.raises(RecordingError, match=str(cut)):
            open_recording(cut)


# ----- our HDF5 layout ---------------------------------------------------------------------------

def _recording(n_sweeps=3, n=500, stimulus=True):
    sweeps = [Sweep(RNG.normal(-60, 3, n), RNG.normal(0, 0.1, n) if stimulus else None, 0.05,
                    0.0, k + 4) for k in range(n_sweeps)]
    prov = Provenance(path="orig.abf", format="ABF2", sweep_numbers=(4, 5, 6),
                      channel_names=("IN 0",), protocol="steps",
                      original_units={"voltage": "mV", "current": "pA"},
                      conversions=("current: pA -> nA (x 0.001)",), notes=("n",),
                      stimulus="command waveform")
    return Recording(tuple(sweeps), prov)


@pytest.mark.parametrize("stimulus", [True, False])
def test_brainfit_hdf5_round_trip(tmp_path, stimulus):
    rec = _recording(stimulus=stimulus)
    path = tmp_path / "saved.h5"
    write_recording(rec, path)
    back = open_recording(path)
    assert back.provenance.format == "ABF2" and back.provenance.path == str(path)
    assert back.provenance.original_units == rec.provenance.original_units
    assert back.provenance.conversions == rec.provenance.conversions
    assert back.has_stimulus == stimulus
    with h5py.File(path, "r") as f:  # independent check of the layout on disk
        assert f["recording"].attrs["layout"] == "brainfit-recording"
        for k, s in enumerate(back.sweeps):
            g = f[f"recording/sweep_{k:04d}"]
            np.testing.assert_array_equal(s.V, g["V"][()])
            assert g["V"].attrs["units"] == "mV"
            assert s.number == g.attrs["number"] == rec.sweeps[k].number
            if stimulus:
                np.testing.assert_array_equal(s.I, rec.sweeps[k].I)


def test_brainfit_hdf5_with_nan_is_rejected(tmp_path):
    path = tmp_path / "saved.h5"
    write_recording(_recording(), path)
    with h5py.File(path, "r+") as f:
        f["recording/sweep_0001/V"][10] = np.nan
    with pytest.raises(NonFiniteSamplesError, match="sweep 5"):
        open_recording(path)


# ----- plain HDF5 --------------------------------------------------------------------------------

def test_plain_hdf5_units_in_dataset_attrs_and_columns(tmp_path):
    path = tmp_path / "plain.h5"
    V = RNG.normal(-0.065, 0.002, (200, 2))  # volts, sweeps as columns
    with h5py.File(path, "w") as f:
        g = f.create_group("data")
        g.create_dataset("time", data=np.arange(200) * 50.0).attrs["units"] = "us"
        g.create_dataset("Vm", data=V).attrs["units"] = "V"
        g.create_dataset("I_inj", data=np.full((200, 2), 20.0)).attrs["unit"] = "pA"
    rec = open_recording(path)
    assert rec.n_sweeps == 2 and rec.dt == pytest.approx(0.05)
    np.testing.assert_allclose(rec.sweeps[1].V, V[:, 1] * 1e3)
    np.testing.assert_allclose(rec.sweeps[0].I, 0.02)


def test_plain_hdf5_without_units_asks(tmp_path):
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as f:
        f["t"] = np.arange(100) * 0.1
        f["V"] = RNG.normal(-65, 1, 100)
        f["V"].attrs["units"] = "mV"
    with pytest.raises(TimeUnitRequiredError, match="time_unit"):
        open_recording(path)
    rec = open_recording(path, time_unit="ms")
    assert rec.dt == pytest.approx(0.1) and not rec.has_stimulus


# ----- text --------------------------------------------------------------------------------------

def _write(tmp_path, text, name="rec.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def _table(header, cols, delim=","):
    rows = [delim.join(f"{x:.10g}" for x in row) for row in np.column_stack(cols)]
    return delim.join(header) + "\n" + "\n".join(rows) + "\n"


T = np.arange(300) * 0.1  # ms
V = -65 + 30 * np.sin(T / 3)
I = np.where((T > 5) & (T < 20), 0.2, 0.0)


@pytest.mark.parametrize("header,t_f,i_f,v_f,delim", [
    (["t (ms)", "I (nA)", "V (mV)"], 1, 1, 1, ","),
    (["time_s", "current_pA", "voltage_mV"], 1e-3, 1e3, 1, "\t"),
    (["Time [s]", "I_inj [pA]", "Vm [V]"], 1e-3, 1e3, 1e-3, ";"),
    (["t/ms", "Iinj/nA", "Vm/mV"], 1, 1, 1, " "),
])
def test_csv_header_spellings(tmp_path, header, t_f, i_f, v_f, delim):
    p = _write(tmp_path, _table(header, [T * t_f, I * i_f, V * v_f], delim))
    rec = open_recording(p)
    s = rec.sweeps[0]
    np.testing.assert_allclose(s.t, T, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(s.V, V, rtol=1e-9)
    np.testing.assert_allclose(s.I, I, rtol=1e-9, atol=1e-12)
    assert rec.provenance.original_units["time"] in ("ms", "s")


def test_csv_sweep_column_and_column_groups(tmp_path):
    sweep = np.repeat([1, 2, 3], 100)
    t = np.tile(np.arange(100) * 0.2, 3)
    v = RNG.normal(-60, 2, 300)
    i = np.repeat([0.1, 0.2, 0.3], 100)
    rec = open_recording(_write(tmp_path, _table(["sweep", "t (ms)", "V (mV)", "I (nA)"],
                                                 [sweep, t, v, i])))
    assert [s.number for s in rec.sweeps] == [1, 2, 3]
    np.testing.assert_allclose(rec.sweeps[2].V, v[200:])
    np.testing.assert_allclose(rec.sweeps[1].I, 0.2)
    # repeated column groups with sweep indices
    cols = [T, V, I, V + 1, 2 * I]
    rec = open_recording(_write(tmp_path, _table(["t_ms", "V_mV_1", "I_pA_1", "V_mV_2", "I_pA_2"],
                                                 cols), "groups.csv"))
    assert [s.number for s in rec.sweeps] == [1, 2]
    np.testing.assert_allclose(rec.sweeps[1].V, V + 1)
    np.testing.assert_allclose(rec.sweeps[1].I, 2 * I * 1e-3)


def test_csv_time_unit_missing_asks_then_uses_argument(tmp_path):
    p = _write(tmp_path, _table(["t", "I (pA)", "V (mV)"], [T, I, V]))
    with pytest.raises(TimeUnitRequiredError, match="time_unit="):
        open_recording(p)
    rec = open_recording(p, time_unit="ms")
    assert rec.dt == pytest.approx(0.1)
    assert main(["info", str(p)]) == 2
    assert main(["info", str(p), "--time-unit", "ms"]) == 0


def test_csv_voltage_unit_missing_asks(tmp_path):
    with pytest.raises(UnitRequiredError, match="voltage_unit="):
        open_recording(_write(tmp_path, _table(["t (ms)", "V"], [T, V])))


@pytest.mark.parametrize("text,error,match", [
    ("t (ms),V (mV)\n0,1\n0.1,2,3\n", LengthMismatchError, "line 3"),
    ("t (ms),V (mV)\n0,-60\n0.1,abc\n", NonFiniteSamplesError, "line 3"),
    ("t (ms),V (mV)\n0,-60\n0.1,\n", NonFiniteSamplesError, "empty cell"),
    ("t (ms),V (mV)\n0,-60\n0.1,nan\n0.2,-60\n", NonFiniteSamplesError, "NaN"),
    ("t (ms),V (mV)\n0,-60\n0.1,inf\n0.2,-60\n", NonFiniteSamplesError, "NaN or infinite"),
    ("t (ms),V (mX)\n0,-60\n0.1,-61\n", UnitError, "mX"),
    ("t (ms),V (mV)\n", EmptySweepError, "no data"),
    ("", EmptySweepError, "empty"),
    ("t (ms),V (mV)\n0,-0.06\n0.1,-0.061\n", ImplausibleUnitsError, "volts"),
    ("t (ms),V (mV),I (nA)\n0,-60,-66\n0.1,-61,-66\n0.2,-61,400\n", ImplausibleUnitsError, "nA"),
    ("t (ms),V (mV)\n0,-60\n0.1,-61\n0.5,-61\n0.6,-61\n", CorruptFileError, "evenly"),
    ("t (s),V (mV)\n0,-60\n0.0000001,-61\n", ImplausibleUnitsError, "time unit"),
    ("hello world\nthis is prose\n", UnsupportedFormatError, "names no time"),
    ("a (ms),b (mV)\n0,-60\n0.1,-61\n", UnsupportedFormatError, "names no time"),
    ("t (ms),I (nA)\n0,1\n0.1,1\n", RecordingError, "no voltage column"),
    ("1,2,3\n4,5,6\n", RecordingError, "no header"),
])
def test_csv_bad_input(tmp_path, text, error, match):
    p = _write(tmp_path, text)
    with pytest.raises(error, match=match) as info:
        open_recording(p)
    assert str(p) in str(info.value)


def test_binary_garbage_is_unsupported(tmp_path):
    p = tmp_path / "x.dat"
    p.write_bytes(b"\x00\x01garbage\x00" * 20)
    with pytest.raises(UnsupportedFormatError, match="supported"):
        open_recording(p)
    q = tmp_path / "x.abf"
    q.write_bytes(b"not an abf at all")
    with pytest.raises(CorruptFileError, match="signature"):
        open_recording(q)
    with pytest.raises(RecordingError, match="no such file"):
        open_recording(tmp_path / "missing.csv")


# ----- stimulus ----------------------------------------------------------------------------------

def test_step_stimulus_and_attach_from_file(tmp_path):
    rec = open_recording(_write(tmp_path, _table(["t (ms)", "V_1 (mV)", "V_2 (mV)"],
                                                 [T, V, V - 2])))
    assert not rec.has_stimulus
    with pytest.raises(StimulusMissingError):
        rec.stacked()
    stepped = step_stimulus(rec, [0.1, 0.3], 5.0, 20.0, baseline_nA=-0.05)
    _, Is = stepped.stacked()
    expected = np.where((T >= 5.0) & (T < 20.0), 1.0, 0.0)
    np.testing.assert_allclose(Is[0], -0.05 + 0.1 * expected)
    np.testing.assert_allclose(Is[1], -0.05 + 0.3 * expected)
    assert "step stimulus" in stepped.provenance.stimulus
    with pytest.raises(LengthMismatchError):
        step_stimulus(rec, [0.1, 0.2, 0.3], 5.0, 20.0)
    other = _write(tmp_path, _table(["t (ms)", "I (pA)", "V (mV)"], [T, I * 1e3, V]), "stim.csv")
    attached = attach_stimulus_from(rec, other)
    np.testing.assert_allclose(attached.sweeps[1].I, I)
    assert "stim.csv" in attached.provenance.stimulus
    short = _write(tmp_path, _table(["t (ms)", "I (pA)", "V (mV)"], [T[:50], I[:50], V[:50]]),
                   "short.csv")
    with pytest.raises(LengthMismatchError, match="samples"):
        attach_stimulus_from(rec, short)
    with pytest.raises(StimulusMissingError):
        attach_stimulus_from(rec, rec.provenance.path)


def test_info_json_for_csv(tmp_path, capsys):
    p = _write(tmp_path, _table(["t (ms)", "I (pA)", "V (mV)"], [T, I * 1e3, V]))
    assert main(["info", str(p), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "CSV" and info["n_sweeps"] == 1
    assert info["original_units"] == {"time": "ms", "voltage": "mV", "current": "pA"}
    assert info["conversions"] == ["current: pA -> nA (x 0.001)"]
    assert info["spikes_per_sweep"] == [int(np.sum((V[1:] >= -20) & (V[:-1] < -20)))]


def test_headerless_table_with_columns_option(tmp_path):
    p = _write(tmp_path, "\n".join(f"{t:g} {i:g} {v:g}" for t, i, v in zip(T, I * 1e3, V,
                                                                         strict=True)), "x.txt")
    with pytest.raises(RecordingError, match="columns="):
        open_recording(p)
    rec = open_recording(p, columns=["t (ms)", "I (pA)", "V (mV)"])
    np.testing.assert_allclose(rec.sweeps[0].V, np.loadtxt(p)[:, 2])
    np.testing.assert_allclose(rec.sweeps[0].I, np.loadtxt(p)[:, 1] * 1e-3)
