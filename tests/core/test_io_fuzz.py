"""Hypothesis-generated CSV files: well-formed ones read back the generated numbers in core units;
damaged ones (missing columns, text in numbers, ragged rows, odd unit strings) raise a
RecordingError naming the file, never anything else."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.io import RecordingError, open_recording

TIME = {"ms": 1.0, "s": 1e3, "us": 1e-3}
VOLT = {"mV": 1.0, "V": 1e3}
CURR = {"pA": 1e-3, "nA": 1.0, "A": 1e9}
NAMES = {"time": ["t", "time", "Time", "T"], "voltage": ["V", "Vm", "voltage", "V_m"],
         "current": ["I", "current", "I_inj", "Iinj", "stim"]}
STYLES = ["{n} ({u})", "{n} [{u}]", "{n}_{u}", "{n}/{u}"]
SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def tables(draw):
    n = draw(st.integers(2, 40))
    tu = draw(st.sampled_from(sorted(TIME)))
    vu = draw(st.sampled_from(sorted(VOLT)))
    iu = draw(st.sampled_from(sorted(CURR)))
    dt_ms = draw(st.sampled_from([0.01, 0.05, 0.1, 0.25, 1.0]))
    v_mv = np.array(draw(st.lists(st.floats(-100, 60), min_size=n, max_size=n)))
    v_mv[0] = -70.0  # a membrane potential; all-tiny voltages are flagged (tested elsewhere)
    small_is_zero = st.floats(-2, 2).map(lambda x: 0.0 if abs(x) < 1e-3 else x)
    i_na = np.array(draw(st.lists(small_is_zero, min_size=n, max_size=n)))
    order = draw(st.permutations(["time", "voltage", "current"]))
    units = {"time": tu, "voltage": vu, "current": iu}
    header = [draw(st.sampled_from(STYLES)).format(n=draw(st.sampled_from(NAMES[q])), u=units[q])
              for q in order]
    values = {"time": np.arange(n) * dt_ms / TIME[tu], "voltage": v_mv / VOLT[vu],
              "current": i_na / CURR[iu]}
    delim = draw(st.sampled_from([",", "\t", ";"]))
    rows = [[repr(float(values[q][k])) for q in order] for k in range(n)]
    return header, rows, delim, dt_ms, v_mv, i_na


def _text(header, rows, delim):
    return "\n".join(delim.join(r) for r in [header] + rows) + "\n"


def _write(text: str) -> Path:
    d = Path(tempfile.mkdtemp(prefix="bf_fuzz_"))
    p = d / "fuzz.csv"
    p.write_text(text)
    return p


@SETTINGS
@given(tables())
def test_generated_csv_reads_back(table):
    header, rows, delim, dt_ms, v_mv, i_na = table
    p = _write(_text(header, rows, delim))
    rec = open_recording(p)
    s = rec.sweeps[0]
    assert s.dt == np.float64(dt_ms) or abs(s.dt - dt_ms) <= 1e-9 * dt_ms
    np.testing.assert_allclose(s.V, v_mv, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(s.I, i_na, rtol=1e-12, atol=1e-15)


@st.composite
def damaged(draw):
    header, rows, delim, *_ = draw(tables())
    kind = draw(st.sampled_from(["drop_column", "text_cell", "ragged", "unit", "empty_cell",
                                 "nan", "drop_header_unit"]))
    rows = [list(r) for r in rows]
    header = list(header)
    r = draw(st.integers(0, len(rows) - 1))
    c = draw(st.integers(0, len(header) - 1))
    if kind == "drop_column":
        header.pop(c)
        for row in rows:
            row.pop(c)
        vq = [h for h in header if h.split()[0].split("_")[0].split("/")[0].lower()
              in ("v", "vm", "voltage")]
        if vq:  # still a voltage column: drop the time one as well
            keep = [k for k, h in enumerate(header) if h in vq]
            header = [header[k] for k in keep]
            rows = [[row[k] for k in keep] for row in rows]
    elif kind == "text_cell":
        rows[r][c] = draw(st.sampled_from(["abc", "1.2.3", "--", "1e", "0x10", "one"]))
    elif kind == "ragged":
        rows[r] = rows[r][:-1] if draw(st.booleans()) else rows[r] + ["1.0"]
    elif kind == "unit":
        unit = draw(st.sampled_from(["furlong", "mv2", "kelvin", "Hz", "%", "mOhm"]))
        header[c] = f"{header[c].split('(')[0].split('[')[0].strip()} ({unit})"
    elif kind == "empty_cell":
        rows[r][c] = ""
    elif kind == "nan":
        rows[r][c] = draw(st.sampled_from(["nan", "inf", "-inf", "NaN"]))
    else:  # a column renamed to a time name without a unit: the time unit is then unknown
        header[c] = draw(st.sampled_from(NAMES["time"]))
    return kind, header, rows, delim


@SETTINGS
@given(damaged())
def test_damaged_csv_gives_recording_error(case):
    kind, header, rows, delim = case
    p = _write(_text(header, rows, delim))
    try:
        open_recording(p)
    except RecordingError as exc:
        assert str(p) in str(exc)
    else:
        raise AssertionError(f"{kind}: damaged file read without error:\n{p.read_text()[:300]}")
