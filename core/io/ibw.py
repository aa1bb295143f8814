"""Igor Pro binary waves (``.ibw``, versions 1, 2, 3 and 5), read with the ``igor2`` package.

One wave is one channel of one sweep, so a current-clamp sweep is two files: the membrane
voltage and the injected current, named alike except for the channel number, e.g.
``Cell3_Ger1Test_ch2_1009.ibw`` (data units ``V``) and ``Cell3_Ger1Test_ch3_1009.ibw`` (``A``).
Opening either file finds its partner in the same folder: the files whose names differ only in
the number after the last ``ch``. Which is the voltage and which the current comes from the data
units in the wave headers (V vs A); only when they are missing does the channel number decide
(the lower one is the voltage, as ch2/ch3 in Pozzorini et al. 2015), and the provenance says so.
``current=PATH`` names the current wave explicitly. Units come from the header: data units and
the x-scale units with its step ``sfA`` (``hsA`` before version 5) and start ``sfB``; every
conversion to ms, mV, nA is listed in the provenance. ``time_unit=``, ``voltage_unit=`` and
``current_unit=`` supply units a wave does not state, or override them (recorded).

The header sizes are checked against the file size before ``igor2`` parses it, so a truncated
file is a :class:`~core.io.errors.CorruptFileError` naming the file, never a traceback.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import struct
from dataclasses import dataclass

import numpy as np

from ._checks import check_plausible, describe_conversion, factor_for, finite_array
from ._registry import Reader, register_reader
from .errors import (
    CorruptFileError,
    EmptySweepError,
    IncompatibleFilesError,
    LengthMismatchError,
    MissingPartnerError,
    RecordingError,
    TimeUnitRequiredError,
    UnitError,
    UnitRequiredError,
    UnsupportedFormatError,
)
from .recording import Provenance, Recording, Sweep

# binary header per version: struct format (after the byte-order mark) and size in bytes
_BIN = {1: ("hih", 8), 2: ("hiiih", 16), 3: ("hiiiih", 20), 5: ("hhiiii4i4iiii", 64)}
_MIN_WFM = {1: 110, 2: 110, 3: 110, 5: 320}  # wave header bytes counted in wfmSize
_CHANNEL = re.compile(r"ch(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class _Layout:
    version: int
    order: str
    bin_size: int
    wfm_size: int | None  # None: the file is shorter than its binary header
    extras: int = 0  # formula, note, extended units, labels after the wave data

    @property
    def total(self) -> int:
        return self.bin_size + (self.wfm_size or 0) + self.extras


def _layout(head: bytes) -> _Layout | None:
    """The sizes the binary header announces, or None when the version field is not Igor's."""
    if len(head) < 2:
        return None
    for order in "<>":
        version = struct.unpack(order + "h", head[:2])[0]
        if version in _BIN:
            break
    else:
        return None
    fmt, size = _BIN[version]
    if len(head) < size:
        return _Layout(version, order, size, None)
    f = struct.unpack(order + fmt, head[:size])
    if version == 1:
        return _Layout(version, order, size, f[1])
    if version == 2:
        return _Layout(version, order, size, f[1], f[2])
    if version == 3:
        return _Layout(version, order, size, f[1], f[2] + f[3])
    # 5: version, checksum, wfmSize, formulaSize, noteSize, dataEUnitsSize, dimEUnitsSize[4],
    #    dimLabelsSize[4], sIndicesSize, optionsSize1, optionsSize2
    extras = f[3] + f[4] + f[5] + sum(f[6:10]) + sum(f[10:14]) + f[14]
    if min(f[3:15]) < 0:
        extras = -1
    return _Layout(version, order, size, f[2], extras)


def _sniff_ibw(head: bytes, path: str) -> bool:
    lay = _layout(head)
    if lay is None:
        return False
    if path.lower().endswith(".ibw"):
        return True
    # another name: only a header whose sizes add up to the file's size
    if lay.wfm_size is None or lay.wfm_size < _MIN_WFM[lay.version] or lay.extras < 0:
        return False
    try:
        return os.path.getsize(path) == lay.total
    except OSError:
        return False


@dataclass(frozen=True, eq=False)
class _Wave:
    path: str
    name: str
    version: int
    data: np.ndarray
    unit: str
    x_unit: str
    dx: float
    x0: float
    note: str

    @property
    def role(self) -> str | None:
        """'voltage' or 'current' from the data units; None when they say neither."""
        from .text import unit_quantity

        q = unit_quantity(self.unit) if self.unit else None
        return q[0] if q is not None and q[0] in ("voltage", "current") else None


def _text(value) -> str:
    """A unit, name or note field as igor2 returns it (bytes, an S1 array, a list) as text."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = value[0] if value else b""
    if isinstance(value, np.ndarray):
        value = value.tobytes()
    if isinstance(value, str):
        value = value.encode("latin-1", "replace")
    if not isinstance(value, (bytes, bytearray)):
        return ""
    return bytes(value).split(b"\x00")[0].decode("latin-1").strip()


def _load(path: str) -> _Wave:
    """One wave, with the file's sizes checked before igor2 reads it."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError as exc:
        raise RecordingError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if size == 0:
        raise EmptySweepError(f"{path}: the file is empty (0 bytes)")
    lay = _layout(head)
    if lay is None:
        raise CorruptFileError(f"{path}: not an Igor binary wave: the version field holds "
                               f"{head[:2]!r}, not 1, 2, 3 or 5 (damaged or misnamed)")
    if lay.wfm_size is None:
        raise CorruptFileError(f"{path}: truncated: {size} bytes, shorter than the "
                               f"{lay.bin_size}-byte header of an Igor binary wave "
                               f"(version {lay.version})")
    if lay.wfm_size < _MIN_WFM[lay.version] or lay.extras < 0:
        raise CorruptFileError(f"{path}: damaged Igor wave header (wave section of "
                               f"{lay.wfm_size} bytes, extra sections of {lay.extras})")
    if size < lay.bin_size + lay.wfm_size:
        raise CorruptFileError(
            f"{path}: truncated: the header describes {lay.bin_size + lay.wfm_size} bytes of "
            f"wave header and data, the file holds {size}")
    if size < lay.total:
        raise CorruptFileError(
            f"{path}: truncated: the header describes {lay.total} bytes (wave data, note and "
            f"units), the file holds {size}")
    try:
        from igor2 import binarywave
    except ImportError:  # pragma: no cover (a core dependency)
        raise RecordingError(f"{path}: reading Igor .ibw files needs the igor2 package "
                             "(pip install 'igor2>=0.5')") from None
    try:
        sink = io.StringIO()  # igor2 prints some parse errors; core never prints
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            w = binarywave.load(path)
        wave = w["wave"]
        wh = wave["wave_header"]
        wtype = int(wh["type"])
        data = np.asarray(wave["wData"])
        npnts = int(wh["npnts"])
        if lay.version == 5:
            dims = [int(n) for n in wh["nDim"] if int(n) > 0]
            dx, x0 = float(wh["sfA"][0]), float(wh["sfB"][0])
            unit = _text(wave.get("data_units")) or _text(wh["dataUnits"])
            x_unit = _text(wave.get("dimension_units")) or _text(np.asarray(wh["dimUnits"])[0])
        else:
            dims = [npnts]
            dx, x0 = float(wh["hsA"]), float(wh["hsB"])
            unit, x_unit = _text(wh["dataUnits"]), _text(wh["xUnits"])
        name = _text(wh["bname"])
        note = _text(wave.get("note")).replace("\r", " | ").strip(" |")
    except Exception as exc:
        raise CorruptFileError(f"{path}: damaged Igor binary wave ({type(exc).__name__}: "
                               f"{str(exc)[:120]})") from None
    if wtype == 0:
        raise UnsupportedFormatError(f"{path}: a text wave, not a recorded trace")
    if wtype & 1:
        raise UnsupportedFormatError(f"{path}: a complex-valued wave, not a recorded trace")
    if len(dims) > 1:
        raise UnsupportedFormatError(
            f"{path}: a {len(dims)}-dimensional wave ({' x '.join(map(str, dims))}); Brainfit "
            "reads 1-D waves, one channel of one sweep per file")
    if npnts == 0 or data.size == 0:
        raise EmptySweepError(f"{path}: the wave holds no samples")
    if data.size != npnts:
        raise CorruptFileError(f"{path}: damaged Igor wave: the header says {npnts} points, "
                               f"the data hold {data.size}")
    if not (np.isfinite(dx) and dx > 0 and np.isfinite(x0)):
        raise CorruptFileError(f"{path}: damaged Igor wave: x scale step {dx!r} / start {x0!r} "
                               "is not a positive, finite number")
    return _Wave(path, name, lay.version, data.reshape(-1), unit, x_unit, dx, x0, note)


# --- pairing voltage and current waves ----------------------------------------------------------

def _name_parts(path: str) -> tuple[str, str, int] | None:
    """('Cell3_Ger1Test_ch', '_1009', 2) for Cell3_Ger1Test_ch2_1009.ibw; None without 'ch<N>'."""
    stem = os.path.splitext(os.path.basename(path))[0]
    matches = list(_CHANNEL.finditer(stem))
    if not matches:
        return None
    m = matches[-1]
    return stem[:m.start(1)], stem[m.end(1):], int(m.group(1))


def _sweep_number(path: str) -> int:
    parts = _name_parts(path)
    rest = parts[1] if parts else os.path.splitext(os.path.basename(path))[0]
    m = re.search(r"(\d+)\D*$", rest)
    return int(m.group(1)) if m else 0


def _candidates(path: str) -> list[tuple[int, str]]:
    """(channel, path) of the files next to ``path`` named alike but for the channel number."""
    parts = _name_parts(path)
    if parts is None:
        return []
    pre, post, _ = parts
    folder = os.path.dirname(path) or "."
    rx = re.compile(re.escape(pre) + r"(\d+)" + re.escape(post) + r"\.ibw", re.IGNORECASE)
    own = os.path.basename(path)
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    return sorted((int(m.group(1)), os.path.join(os.path.dirname(path), n))
                  for n in names if n != own and (m := rx.fullmatch(n)))


def _looked_for(path: str, want: str | None) -> str:
    parts = _name_parts(path)
    folder = os.path.dirname(os.path.abspath(path))
    units = {"current": " with data units A", "voltage": " with data units V"}.get(want, "")
    if parts is None:
        return (f"the name has no channel number (..._ch<N>...), so no partner file could be "
                f"looked for in {folder}")
    pre, post, ch = parts
    example = f"{pre}{ch + 1 if want != 'voltage' else max(ch - 1, 0)}{post}.ibw"
    return f"looked in {folder} for {pre}<N>{post}.ibw{units} (e.g. {example})"


def _pair(first: _Wave, notes: list[str]) -> tuple[_Wave, _Wave]:
    """(voltage, current) for a wave opened alone: its partner found by name and units."""
    role = first.role
    cands = _candidates(first.path)
    waves = [(ch, _load(p)) for ch, p in cands]
    want = {"voltage": "current", "current": "voltage"}.get(role)
    found = ", ".join(os.path.basename(w.path) + (f" ({w.unit})" if w.unit else " (no units)")
                      for _, w in waves)
    partner = None
    if want is not None:
        matches = [w for _, w in waves if w.role == want]
        if len(matches) > 1:
            raise MissingPartnerError(
                f"{first.path}: several {want} waves pair with it by name ("
                f"{', '.join(os.path.basename(w.path) for w in matches)}); pass the right one as "
                "current=FILE (--current FILE on the command line)")
        unknown = [w for _, w in waves if w.role is None]
        if matches:
            partner = matches[0]
        elif len(unknown) == 1:
            partner = unknown[0]
            notes.append(f"{os.path.basename(partner.path)} states no data units; taken as the "
                         f"{want} because {os.path.basename(first.path)} is the {role} "
                         f"({first.unit})")
    else:  # the opened wave states no data units
        known = [w for _, w in waves if w.role is not None]
        if len(known) == 1:
            partner = known[0]
            role = {"voltage": "current", "current": "voltage"}[partner.role]
            notes.append(f"{os.path.basename(first.path)} states no data units; taken as the "
                         f"{role} because {os.path.basename(partner.path)} is the "
                         f"{partner.role} ({partner.unit})")
        elif len(waves) == 1:
            partner = waves[0][1]
            own_ch = _name_parts(first.path)[2]
            role = "voltage" if own_ch < waves[0][0] else "current"
            low, high = (first, partner) if role == "voltage" else (partner, first)
            notes.append(
                f"neither {os.path.basename(first.path)} nor {os.path.basename(partner.path)} "
                "states its data units: by the channel-number convention (lower channel = "
                f"voltage, as ch2 = V, ch3 = A in Pozzorini et al. 2015) "
                f"{os.path.basename(low.path)} is taken as the voltage and "
                f"{os.path.basename(high.path)} as the current; check, or pass current=")
        elif len(waves) > 1:
            raise MissingPartnerError(
                f"{first.path}: states no data units and several waves pair with it by name "
                f"({found}); open the voltage wave and pass the current as current=FILE "
                "(--current FILE on the command line)")
    if partner is None:
        seen = f"; found {found}, none with units {'A' if want == 'current' else 'V'}" \
            if waves and want else ""
        if role == "current":
            raise MissingPartnerError(
                f"{first.path}: holds the injected current ({first.unit}); its voltage wave was "
                f"not found: {_looked_for(first.path, 'voltage')}{seen}. Open the voltage wave, "
                f"passing this file as current={first.path} (--current FILE) if the names do "
                "not pair")
        what = "the injected current is in a separate Igor wave that" if role == "voltage" \
            else "its partner wave (voltage and current are separate Igor waves)"
        raise MissingPartnerError(
            f"{first.path}: {what} was not found: {_looked_for(first.path, want or 'current')}"
            f"{seen}. Pass the current wave as current=FILE (--current FILE on the command "
            "line)")
    if role == "current":
        notes.append(f"opened through the current wave {os.path.basename(first.path)}")
        return partner, first
    return first, partner


def read_ibw(path, current=None, time_unit: str | None = None, voltage_unit: str | None = None,
             current_unit: str | None = None) -> Recording:
    """Read one sweep from an Igor voltage wave and its current wave (ms, mV, nA).

    Parameters
    ----------
    path : either wave of the pair (the partner is found by name, roles by data units).
    current : the current wave, when its name does not pair with ``path`` (then ``path`` is
        the voltage).
    time_unit, voltage_unit, current_unit : units the waves do not state, or overrides.
    """
    path = os.fspath(path)
    first = _load(path)
    notes: list[str] = []
    if current is not None:
        current = os.fspath(current)
        other = _load(current)
        if first.role == "current":
            raise RecordingError(
                f"{path}: holds a current (data units {first.unit}), not a voltage; open the "
                f"voltage wave and pass the current wave as current=")
        if other.role == "voltage":
            raise RecordingError(f"{current}: passed as current= but its data units are "
                                 f"{other.unit} (a voltage)")
        v, i = first, other
        notes.append(f"current from {current} (current= given)")
    else:
        v, i = _pair(first, notes)
        notes.insert(0, f"current from {os.path.basename(i.path)}, paired with "
                        f"{os.path.basename(v.path)} by name"
                        + (" and data units" if v.role and i.role else ""))
    return _build(v, i, notes, time_unit, voltage_unit, current_unit)


def _unit(wave: _Wave, given: str | None, stated: str, quantity: str, notes: list[str]) -> str:
    from .text import unit_quantity

    if given is not None:
        uq = unit_quantity(given)
        if uq is None or uq[0] != quantity:
            raise UnitError(f"{wave.path}: {given!r} is not a {quantity} unit")
        if stated and stated != uq[1]:
            notes.append(f"{quantity} unit overridden by the user: {os.path.basename(wave.path)} "
                         f"says {stated}, read as {uq[1]}")
        return uq[1]
    if not stated:
        if quantity == "time":
            raise TimeUnitRequiredError(
                f"{wave.path}: the wave's x scale states no unit (step {wave.dx:g}); pass "
                "time_unit= (--time-unit on the command line), e.g. s or ms")
        arg = "voltage_unit" if quantity == "voltage" else "current_unit"
        raise UnitRequiredError(
            f"{wave.path}: the wave states no data unit; pass {arg}= (--{arg.replace('_', '-')} "
            f"on the command line), e.g. {'V' if quantity == 'voltage' else 'A'}")
    uq = unit_quantity(stated)
    if uq is None or uq[0] != quantity:
        raise UnitError(f"{wave.path}: data units {stated!r} are not a {quantity} unit; pass "
                        f"{quantity}_unit= to override")
    return uq[1]


def _build(v: _Wave, i: _Wave, notes: list[str], time_unit, voltage_unit,
           current_unit) -> Recording:
    if v.data.size != i.data.size:
        raise LengthMismatchError(f"{v.path}: {v.data.size} samples, but its current wave "
                                  f"{i.path} has {i.data.size}")
    tv = _unit(v, time_unit, v.x_unit or i.x_unit, "time", notes)
    ti = _unit(i, time_unit, i.x_unit or v.x_unit, "time", [])
    ft, fti = factor_for(tv, "time", v.path), factor_for(ti, "time", i.path)
    if abs(v.dx * ft - i.dx * fti) > 1e-6 * v.dx * ft:
        raise IncompatibleFilesError(
            f"{v.path}: sampled every {v.dx:g} {tv} but its current wave {i.path} every "
            f"{i.dx:g} {ti}")
    if abs(v.x0 * ft - i.x0 * fti) > 0.5 * v.dx * ft:
        notes.append(f"the current wave starts at {i.x0:g} {ti}, the voltage at {v.x0:g} {tv}; "
                     "the voltage's time axis is used")
    vu = _unit(v, voltage_unit, v.unit, "voltage", notes)
    iu = _unit(i, current_unit, i.unit, "current", notes)
    fv, fi = factor_for(vu, "voltage", v.path), factor_for(iu, "current", i.path)
    conversions = tuple(c for c in (describe_conversion("time", tv, ft),
                                    describe_conversion("voltage", vu, fv),
                                    describe_conversion("current", iu, fi)) if c)
    V = finite_array(v.data, f"{v.path}, voltage") * fv
    I = finite_array(i.data, f"{i.path}, current") * fi
    number = _sweep_number(v.path)
    sweep = Sweep(V, I, v.dx * ft, v.x0 * ft, number)
    if v.note and v.note == i.note:
        notes.append(f"wave note (both waves): {v.note[:200]}")
    else:
        for w in (v, i):
            if w.note:
                notes.append(f"wave note of {w.name or os.path.basename(w.path)}: "
                             f"{w.note[:200]}")
    original = {"time": tv, "voltage": vu, "current": iu}
    prov = Provenance(path=v.path, format=f"Igor binary wave (version {v.version})",
                      sweep_numbers=(number,), channel_names=(v.name, i.name),
                      original_units=original, conversions=conversions, notes=tuple(notes),
                      stimulus=f"current wave {os.path.basename(i.path)}",
                      files=(v.path, i.path))
    rec = Recording((sweep,), prov)
    check_plausible(rec, original)
    return rec


register_reader(Reader("ibw", _sniff_ibw, read_ibw,
                       frozenset({"current", "time_unit", "voltage_unit", "current_unit"}),
                       "Igor binary waves (.ibw)", {".ibw": "Igor binary wave (.ibw)"},
                       priority=30))
