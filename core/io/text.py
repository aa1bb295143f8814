"""Text recordings: CSV / TSV / whitespace-separated tables and the ``.asc`` traces.

Two shapes are recognised.

* A header line naming the columns, with units in the name: ``t (ms)``, ``V [mV]``, ``time_s``,
  ``current_pA``, ``I_inj (pA)``, ``Vm/mV``. Quantities: time ``time``/``t``; current
  ``current``/``I``/``I_inj``/``Iinj``/``stim``/``stimulus``/``command``; voltage
  ``voltage``/``V``/``Vm``/``V_m``/``membrane_potential``; a ``sweep`` (``trace``, ``episode``)
  column splits the rows into sweeps. Several sweeps may also be repeated column groups
  (``t, V_1, I_1, V_2, I_2`` or ``t, I, V, t, I, V``), paired in order.
* Leading lines that hold one unit each (``"s"``, ``"pA"``, ``"mV"``, as in the INCF 2007
  competition ``.asc`` files): the columns are time, current and voltage in the order of those
  units.

Units the file does not state are never guessed: the reader raises
:class:`~core.io.errors.UnitRequiredError` (``TimeUnitRequiredError`` for time) naming the
argument to pass (``time_unit=``, ``voltage_unit=``, ``current_unit=``). The same arguments
override the units the file states, and the override is recorded in the provenance.
"""

from __future__ import annotations

import csv
import io
import os
import re

import numpy as np

from ._checks import (
    check_plausible,
    check_same_length,
    describe_conversion,
    factor_for,
    finite_array,
)
from ._registry import Reader, register_reader
from .errors import (
    CorruptFileError,
    EmptySweepError,
    LengthMismatchError,
    NonFiniteSamplesError,
    RecordingError,
    TimeUnitRequiredError,
    UnitError,
    UnitRequiredError,
    UnsupportedFormatError,
)
from .recording import Provenance, Recording, Sweep

MAX_TEXT_BYTES = 1 << 30

_NAMES = {
    "time": {"t", "time", "times", "timestamp", "timestamps", "tm"},
    "current": {"i", "current", "i_inj", "iinj", "i_injected", "injected_current", "stim",
                "stimulus", "command", "i_cmd", "icmd", "i_stim", "istim", "iapp", "i_app",
                "i_ext", "iext", "input_current"},
    "voltage": {"v", "vm", "v_m", "voltage", "vmem", "v_mem", "membrane_potential", "potential",
                "membrane_voltage", "u"},
    "sweep": {"sweep", "trace", "episode", "trial", "sweep_number", "sweep_no", "sweep_id"},
}
_QUANTITY_OF_NAME = {n: q for q, names in _NAMES.items() for n in names}
_BASE = {"time": "s", "voltage": "V", "current": "A"}
_CASE_FIX = {"s": "s", "sec": "s", "ms": "ms", "us": "us", "µs": "us", "v": "V", "mv": "mV",
             "uv": "uV", "µv": "uV", "a": "A", "ma": "mA", "ua": "uA", "µa": "uA", "na": "nA",
             "pa": "pA", "fa": "fA", "msec": "ms", "secs": "s", "seconds": "s", "second": "s",
             "volts": "V", "volt": "V", "amps": "A", "amperes": "A"}


def unit_quantity(token: str) -> tuple[str, str] | None:
    """``'pA'`` -> ('current', 'pA'); None when ``token`` is not a time/voltage/current unit."""
    u = token.strip().strip("\"'").strip()
    if not u:
        return None
    for cand in (u, _CASE_FIX.get(u.lower(), None)):
        if cand is None:
            continue
        for q in ("time", "voltage", "current"):
            try:
                factor_for(cand, q, "")
                return q, cand
            except UnitError:
                pass
    return None


def parse_column(token: str) -> tuple[str | None, str | None, int | None]:
    """Split a header token into (quantity, unit, index): ``'V_mV_2'`` -> ('voltage', 'mV', 2).

    ``quantity`` is None when the name is not recognised.
    """
    tok = token.strip().strip("\"'").strip()
    unit = None
    m = re.fullmatch(r"(.*?)\s*[\(\[\{]\s*([^\)\]\}]*?)\s*[\)\]\}]\s*(.*)", tok)
    if m:
        inside = unit_quantity(m.group(2))
        if inside is None and m.group(2).strip():
            raise UnitError(f"unknown unit {m.group(2)!r} in column {token!r}")
        unit = inside[1] if inside else None
        tok = f"{m.group(1)} {m.group(3)}".strip()
    elif "/" in tok:  # 'Vm/mV'
        head, _, tail = tok.rpartition("/")
        if unit_quantity(tail):
            unit, tok = unit_quantity(tail)[1], head
    parts = [p for p in re.split(r"[\s_\-.:/]+", tok) if p]
    if not parts:
        return None, unit, None
    low = [p.lower() for p in parts]
    m0 = re.fullmatch(r"(sweep|trace|episode|trial)(\d+)", low[0])
    if m0 and len(parts) > 1:  # 'sweep1_V'
        q, u, _ = parse_column("_".join(parts[1:]))
        return q, unit or u, int(m0.group(2))
    quantity, used = None, 0
    for n in range(len(parts), 0, -1):  # longest known name first: 'I_inj' before 'I'
        name = "_".join(low[:n])
        if name in _QUANTITY_OF_NAME:
            quantity, used = _QUANTITY_OF_NAME[name], n
            break
        m2 = re.fullmatch(r"([a-z_]*[a-z])(\d+)", name)  # 'V2', 'sweep1'
        if n == 1 and m2 and m2.group(1) in _QUANTITY_OF_NAME:
            quantity, used = _QUANTITY_OF_NAME[m2.group(1)], 1
            parts = [m2.group(1), m2.group(2)] + parts[1:]
            low = [p.lower() for p in parts]
            used = 1
            break
    if quantity is None:
        return None, unit, None
    index = None
    for p in parts[used:]:
        if re.fullmatch(r"\d+", p):
            index = int(p)
        elif p.lower() in ("sweep", "trace", "episode", "trial", "no", "nr"):
            continue
        elif (uq := unit_quantity(p)) is not None and unit is None:
            unit = uq[1]
        else:
            m3 = re.fullmatch(r"(?:sweep|trace|episode|trial)(\d+)", p.lower())
            if m3:
                index = int(m3.group(1))
            else:  # 'V_fine_ref': not a column we know how to read
                return None, unit, None
    if quantity == "sweep":
        unit = None
    return quantity, unit, index


def _decode(raw: bytes, path: str) -> str:
    if b"\x00" in raw[:65536]:
        raise UnsupportedFormatError(f"{path}: binary file, not a text table")
    for enc in ("utf-8-sig", "latin-1"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise UnsupportedFormatError(f"{path}: not a text file")  # pragma: no cover (latin-1 decodes all)


def _is_number(tok: str) -> bool:
    try:
        float(tok)
        return True
    except ValueError:
        return False


def _split(line: str, delim: str | None) -> list[str]:
    if delim is None:
        return line.split()
    return [c.strip() for c in next(csv.reader([line], delimiter=delim))]


def _pick_delimiter(line: str) -> str | None:
    counts = {d: line.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=counts.get)
    return best if counts[best] else None


def read_text(path, time_unit: str | None = None, voltage_unit: str | None = None,
              current_unit: str | None = None, columns=None) -> Recording:
    """Read a CSV/TSV/whitespace table or an ``.asc`` trace into a :class:`Recording`.

    Parameters
    ----------
    time_unit, voltage_unit, current_unit : units for columns whose header states none, or to
        override what the header says (recorded in the provenance).
    columns : column names for a file without a header line, e.g. ``["t (s)", "I (pA)", "V (mV)"]``.
    """
    path = os.fspath(path)
    size = os.path.getsize(path)
    if size == 0:
        raise EmptySweepError(f"{path}: the file is empty")
    if size > MAX_TEXT_BYTES:
        raise RecordingError(f"{path}: text file of {size} bytes is too large to read")
    with open(path, "rb") as f:
        text = _decode(f.read(), path)
    lines = [ln.rstrip("\r\n") for ln in text.splitlines()]
    # drop comments and blank lines, remembering line numbers for messages
    numbered = [(k + 1, ln) for k, ln in enumerate(lines)
                if ln.strip() and not ln.lstrip().startswith(("#", "%", "//"))]
    if not numbered:
        raise EmptySweepError(f"{path}: no data lines")

    # leading unit-only lines (the .asc layout) or a header naming columns
    unit_lines: list[str] = []
    while numbered and len(numbered[0][1].split()) == 1 and not _is_number(numbered[0][1].strip()) \
            and unit_quantity(numbered[0][1]) is not None:
        unit_lines.append(unit_quantity(numbered[0][1])[1])
        numbered.pop(0)
    header: list[str] | None = None
    delim = None
    first_lineno = numbered[0][0] if numbered else 0
    if numbered:
        first_line = numbered[0][1]
        delim = _pick_delimiter(first_line)
        first = _split(first_line, delim)
        if not all(_is_number(c) for c in first if c):
            if unit_lines:
                raise CorruptFileError(f"{path}, line {numbered[0][0]}: text after the unit lines "
                                       f"where numbers were expected ({first_line[:60]!r})")
            header = first
            numbered.pop(0)
            if numbered:  # the data may use another separator than the header (rare)
                d2 = _pick_delimiter(numbered[0][1])
                if d2 != delim and len(_split(numbered[0][1], d2)) == len(header):
                    delim = d2
    if not numbered:
        raise EmptySweepError(f"{path}: header but no data rows")
    if unit_lines:
        ncol = len(unit_lines)
    else:
        ncol = len(columns) if columns is not None else len(header or [])
    cut_note = None
    if ncol and not text.endswith(("\n", "\r")) and numbered[-1][0] == len(lines):
        cut_note = _cut_last_line(numbered, delim, ncol)
        if cut_note:
            numbered.pop()
            if not numbered:
                raise EmptySweepError(f"{path}: its only data line {cut_note}")

    specs: list[tuple[str | None, str | None, int | None]]
    if unit_lines:
        specs = [(unit_quantity(u)[0], u, None) for u in unit_lines]
        names = [f"{q} ({u})" for q, u, _ in specs]
    else:
        names = list(header) if header is not None else list(columns or [])
        if not names:
            raise RecordingError(
                f"{path}: no header line naming the columns; add one such as "
                "'t (ms), I (pA), V (mV)' or pass columns=[...]")
        if header is not None and columns is not None:
            names = list(columns)
        try:
            specs = [parse_column(n) for n in names]
        except UnitError as exc:
            raise UnitError(f"{path}: {exc}") from None

    if not any(q in ("time", "voltage", "current") for q, _, _ in specs):
        raise UnsupportedFormatError(
            f"{path}: not a recognised recording: line {first_lineno} names no time, voltage "
            f"or current column (read {names[:6]}); supported text: a header such as "
            "'t (ms), I (pA), V (mV)'")
    data = _parse_numbers(numbered, delim, len(names), path)
    rec = _assemble(path, names, specs, data, time_unit, voltage_unit, current_unit,
                    "ASC (unit lines)" if unit_lines else
                    {",": "CSV", "\t": "TSV", ";": "CSV (;)", None: "text table"}[delim])
    if cut_note:
        rec = Recording(rec.sweeps, rec.provenance.with_note(cut_note))
    return rec


_CHECKED_LINES = 200  # lines before the last one whose number format the last line is held to


def _token_shape(tok: str) -> tuple[int, int, int | None]:
    """(decimals, significant digits, exponent digits or None) of a number as written."""
    t = tok.strip().lstrip("+-")
    mant, _, exp = t.lower().partition("e")
    whole, _, frac = mant.partition(".")
    sig = (whole + frac).lstrip("0")
    return len(frac), len(sig) if sig else 1, (len(exp.lstrip("+-")) if "e" in t.lower() else None)


def _cut_last_line(numbered: list, delim: str | None, ncol: int) -> str | None:
    """A note when the last data line of a file without a final newline looks cut off.

    The line is suspect when it has fewer values than the columns (or an empty last value), or
    when its last value is written with fewer decimals, fewer significant digits or a shorter
    exponent than every one of the previous lines writes in that column (so a file whose
    writer trims digits, ``%g``, is held only to its own shortest numbers). A complete last
    line, written like the others, is kept.
    """
    lineno, ln = numbered[-1]
    cells = _split(ln, delim)
    if delim is not None and len(cells) == ncol + 1 and cells[-1] == "":
        cells = cells[:-1]
    what = None
    if len(cells) < ncol or (cells and cells[-1] == ""):
        n = len([c for c in cells if c])
        what = f"has {n} of {ncol} values"
    elif len(cells) == ncol and _is_number(cells[-1]) and len(numbered) >= 6:
        prev, floats = [], False
        for _, pl in numbered[-1 - _CHECKED_LINES:-1]:
            pc = _split(pl, delim)
            if len(pc) >= ncol and _is_number(pc[ncol - 1]):
                prev.append(_token_shape(pc[ncol - 1]))
                floats = floats or any(ch in pc[ncol - 1] for ch in ".eE")
        if len(prev) >= 5:
            dec, sig, exp = _token_shape(cells[-1])
            min_dec = min(p[0] for p in prev)
            # integer columns (a step current in pA that ends on the last line) are held
            # to nothing: their digit count changes with the value
            min_sig = min(p[1] for p in prev) if floats else 0
            exps = [p[2] for p in prev]
            short_exp = all(e is not None for e in exps) and (exp is None or exp < min(exps))
            if dec < min_dec or sig < min_sig or short_exp:
                what = (f"ends in {cells[-1]!r}, written shorter than the {len(prev)} lines "
                        "before it")
    if what is None:
        return None
    return (f"last line {lineno} ({ln[:60]!r}) looks cut off (no final newline; it {what}); "
            "dropped")


def _parse_numbers(numbered, delim, ncol: int, path: str) -> np.ndarray:
    body = "\n".join(ln for _, ln in numbered)
    try:
        data = np.loadtxt(io.StringIO(body), delimiter=delim, ndmin=2, dtype=float,
                          comments=None)
        if data.shape[1] == ncol and data.shape[0] == len(numbered):
            return data
    except ValueError:
        pass
    # slow path: find the first offending line for the message
    lineno, ln = numbered[0]
    if not any(_is_number(c) for c in _split(ln, delim)):
        raise UnsupportedFormatError(f"{path}, line {lineno}: not a table of numbers "
                                     f"({ln[:60]!r}); is this a recording?")
    for lineno, ln in numbered:
        cells = _split(ln, delim)
        if delim is not None and cells and cells[-1] == "" and len(cells) == ncol + 1:
            cells = cells[:-1]
        if len(cells) != ncol:
            raise LengthMismatchError(f"{path}, line {lineno}: {len(cells)} values but "
                                      f"{ncol} columns ({ln[:60]!r})")
        for c in cells:
            if not _is_number(c):
                what = "an empty cell" if not c else f"{c[:20]!r} is not a number"
                raise NonFiniteSamplesError(f"{path}, line {lineno}: {what}")
    rows = [[float(c) for c in _split(ln, delim)[:ncol]] for _, ln in numbered]
    return np.asarray(rows, dtype=float)


def _assemble(path, names, specs, data, time_unit, voltage_unit, current_unit, fmt) -> Recording:
    given = {"time": time_unit, "voltage": voltage_unit, "current": current_unit}
    for q, u in given.items():
        if u is not None and unit_quantity(u) is None or (u is not None and unit_quantity(u)[0] != q):
            raise UnitError(f"{path}: {u!r} is not a {q} unit")
    cols: dict[str, list[int]] = {"time": [], "voltage": [], "current": [], "sweep": []}
    for k, (q, _, _) in enumerate(specs):
        if q is not None:
            cols[q].append(k)
    unknown = [names[k] for k, (q, _, _) in enumerate(specs) if q is None]
    if not cols["voltage"]:
        raise RecordingError(f"{path}: no voltage column (columns: {names}); name it e.g. 'V (mV)'")
    if not cols["time"]:
        raise RecordingError(f"{path}: no time column (columns: {names}); name it e.g. 't (ms)'")
    if len(cols["sweep"]) > 1:
        raise RecordingError(f"{path}: more than one sweep column ({names})")

    # units: header or argument; never guessed
    units, conversions, notes = {}, [], []
    for q in ("time", "voltage", "current"):
        stated = {specs[k][1] for k in cols[q]}
        if len(stated) > 1:
            if None in stated or given[q] is None:
                raise UnitError(f"{path}: {q} columns state different units {sorted(map(str, stated))}")
        file_unit = next(iter(stated)) if stated else None
        if given[q] is not None:
            unit = unit_quantity(given[q])[1]
            if file_unit is not None and file_unit != unit:
                notes.append(f"{q} unit overridden by the user: the file says {file_unit}, "
                             f"read as {unit}")
        elif cols[q] and file_unit is None:
            arg = f"{q}_unit="
            err = TimeUnitRequiredError if q == "time" else UnitRequiredError
            raise err(f"{path}: the {q} column {names[cols[q][0]]!r} does not state its unit; "
                      f"pass {arg} (--{q}-unit on the command line), e.g. "
                      f"{'ms or s' if q == 'time' else _BASE[q]}")
        else:
            unit = file_unit
        if cols[q]:
            units[q] = unit
    factors = {q: factor_for(u, q, path) for q, u in units.items()}
    for q, u in units.items():
        if (c := describe_conversion(q, u, factors[q])):
            conversions.append(c)
    if unknown:
        notes.append(f"columns ignored: {unknown}")

    bad = ~np.isfinite(data)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise NonFiniteSamplesError(f"{path}: NaN or infinite value in column {names[c]!r}, "
                                    f"data row {r + 1}")

    groups: list[tuple[np.ndarray, np.ndarray, np.ndarray | None, int]] = []
    if cols["sweep"]:
        if len(cols["voltage"]) != 1 or len(cols["time"]) != 1 or len(cols["current"]) > 1:
            raise RecordingError(f"{path}: with a sweep column give one time, voltage and "
                                 f"current column ({names})")
        sw = data[:, cols["sweep"][0]]
        if not np.all(sw == np.round(sw)):
            raise RecordingError(f"{path}: the sweep column holds non-integer values")
        _, first = np.unique(sw, return_index=True)
        for k in sorted(first):
            rows = sw == sw[k]
            if np.any(np.diff(np.nonzero(rows)[0]) != 1):
                raise RecordingError(f"{path}: rows of sweep {int(sw[k])} are not contiguous")
            I = data[rows, cols["current"][0]] if cols["current"] else None
            groups.append((data[rows, cols["time"][0]], data[rows, cols["voltage"][0]], I,
                           int(sw[k])))
    else:
        nv, ni, nt = len(cols["voltage"]), len(cols["current"]), len(cols["time"])
        if nt not in (1, nv) or ni not in (0, 1, nv):
            raise LengthMismatchError(f"{path}: cannot pair {nt} time, {nv} voltage and {ni} "
                                      f"current columns into sweeps ({names})")
        idx = [specs[k][2] for k in cols["voltage"]]
        numbers = idx if all(i is not None for i in idx) and len(set(idx)) == nv else range(nv)
        if ni == 1 and nv > 1:
            notes.append("one current column used as the stimulus of every sweep")
        for j in range(nv):
            t = data[:, cols["time"][j if nt > 1 else 0]]
            I = data[:, cols["current"][j if ni > 1 else 0]] if ni else None
            groups.append((t, data[:, cols["voltage"][j]], I, int(list(numbers)[j])))

    sweeps = []
    for t, V, I, number in groups:
        where = f"{path}, sweep {number}"
        check_same_length(where, time=t, voltage=V, current=I)
        t = finite_array(t, f"{where}, time") * factors["time"]
        V = finite_array(V, f"{where}, voltage") * factors["voltage"]
        I = None if I is None else finite_array(I, f"{where}, current") * factors["current"]
        dt, t0 = _uniform_dt(t, where)
        sweeps.append(Sweep(V, I, dt, t0, number))
    stimulus = "current column of the file" if cols["current"] else ""
    if not cols["current"]:
        notes.append("stimulus missing: the file has no current column; attach one (a step "
                     "protocol or another file)")
    original = {q: units[q] for q in units}
    prov = Provenance(path=path, format=fmt, sweep_numbers=tuple(s.number for s in sweeps),
                      channel_names=tuple(str(n) for n in names), original_units=original,
                      conversions=tuple(conversions), notes=tuple(notes), stimulus=stimulus)
    rec = Recording(tuple(sweeps), prov)
    check_plausible(rec, original)
    return rec


def _uniform_dt(t: np.ndarray, where: str) -> tuple[float, float]:
    """Sampling interval and start of a time column that must be evenly sampled."""
    if t.size < 2:
        raise EmptySweepError(f"{where}: a single sample; at least two are needed to know the "
                              "sampling interval")
    d = np.diff(t)
    dt = float(np.median(d))
    if not dt > 0:
        raise CorruptFileError(f"{where}: time does not increase")
    off = np.abs(d - dt) > 0.01 * dt + 1e-9 * abs(float(t[-1]))
    if off.any():
        k = int(np.argmax(off))
        raise CorruptFileError(
            f"{where}: time is not evenly sampled (step {d[k]:g} at sample {k + 1}, expected "
            f"{dt:g}); resample the file or split it into sweeps")
    return float((t[-1] - t[0]) / (t.size - 1)), float(t[0])


def _sniff_text(head: bytes, path: str) -> bool:
    return b"\x00" not in head


register_reader(Reader("text", _sniff_text, read_text,
                       frozenset({"time_unit", "voltage_unit", "current_unit", "columns"}),
                       "CSV/TSV/ASC text", priority=100, fallback=True))
