"""Axon Binary Format (ABF1 and ABF2) through pyabf.

The voltage is the first ADC channel recorded in volts (or the one named by ``channel``); the
stimulus is the command waveform pyabf rebuilds from the protocol's epoch table (``sweepC``) for
that channel's DAC. When the command comes from a stimulus file that cannot be found, or the DAC
commands a voltage, the stimulus is taken from a recorded current channel if there is one, and
otherwise left missing with a notice (attach one with :func:`core.io.step_stimulus` or
:func:`core.io.attach_stimulus_from`).

pyabf trusts the file's header; before handing a file to it we check the header's section
table against the file size (a truncated or damaged file gives :class:`CorruptFileError` rather
than a huge allocation or garbage), and afterwards we validate what it returned.
"""

from __future__ import annotations

import dataclasses
import os
import struct
import warnings

import numpy as np

from ._checks import check_plausible, describe_conversion, factor_for, finite_array
from ._registry import Reader, register_reader
from .errors import CorruptFileError, ImplausibleUnitsError, RecordingError, UnitError
from .recording import Provenance, Recording, Sweep

ABF2_SECTIONS = ("Protocol", "ADC", "DAC", "Epoch", "ADCPerDAC", "EpochPerDAC", "UserList",
                 "StatsRegion", "Math", "Strings", "Data", "Tag", "Scope", "Delta", "VoiceTag",
                 "SynchArray", "Annotation", "Stats")
MAX_SAMPLES = 2_000_000_000  # refuse headers that claim absurd sizes before anything allocates


def is_abf(head: bytes) -> bool:
    return head[:4] in (b"ABF ", b"ABF2")


def _check_header(path: str) -> None:
    """Refuse files whose header points past the end of the file (truncated or damaged)."""
    size = os.path.getsize(path)
    with open(path, "rb") as fb:
        head = fb.read(6144)
    if head[:4] == b"ABF2":
        if len(head) < 76 + 16 * len(ABF2_SECTIONS):
            raise CorruptFileError(f"{path}: truncated ABF2 file ({size} bytes, header incomplete)")
        for k, name in enumerate(ABF2_SECTIONS):
            block, nbytes, count = struct.unpack_from("<IIq", head, 76 + 16 * k)
            if count < 0 or (count and nbytes == 0 and name == "Data"):
                raise CorruptFileError(f"{path}: damaged ABF2 header ({name} section count {count})")
            end = block * 512 + nbytes * count
            if count and end > size:
                raise CorruptFileError(
                    f"{path}: truncated or damaged ABF2 file: the {name} section ends at byte "
                    f"{end} but the file has {size} bytes")
    elif head[:4] == b"ABF ":
        if len(head) < 2048:
            raise CorruptFileError(f"{path}: truncated ABF1 file ({size} bytes, header incomplete)")


def _open_pyabf(path: str, load: bool, stimulus_folder: str | None):
    import pyabf

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            abf = pyabf.ABF(path, loadData=load, cacheStimulusFiles=False,
                            stimulusFileFolder=stimulus_folder)
        except MemoryError:
            raise CorruptFileError(f"{path}: damaged ABF header (claims an absurd data size)") from None
        except Exception as exc:  # pyabf raises bare Exception, struct.error, ValueError, ...
            raise CorruptFileError(f"{path}: damaged or truncated ABF file "
                                   f"({type(exc).__name__}: {exc})") from None
    return abf, [str(w.message).splitlines()[0] for w in caught]


def _check_sizes(abf, path: str) -> None:
    size = os.path.getsize(path)
    try:
        itemsize = np.dtype(abf._dtype).itemsize
        n, nch, nsw = int(abf.dataPointCount), int(abf.channelCount), int(abf.sweepCount)
        start, rate = int(abf.dataByteStart), float(abf.dataRate)
    except (AttributeError, TypeError, ValueError, OverflowError) as exc:
        raise CorruptFileError(f"{path}: damaged ABF header ({exc})") from None
    if not (np.isfinite(rate) and rate > 0):
        raise CorruptFileError(f"{path}: damaged ABF header (sampling rate {rate} Hz)")
    if nch < 1 or nsw < 1 or n < 1 or n > MAX_SAMPLES:
        raise CorruptFileError(f"{path}: damaged or empty ABF file ({nsw} sweeps, {nch} channels, "
                               f"{n} samples)")
    if n % (nch * nsw):
        raise CorruptFileError(f"{path}: damaged ABF header ({n} samples do not split into "
                               f"{nsw} sweeps of {nch} channels)")
    if start < 0 or start + n * itemsize > size:
        raise CorruptFileError(f"{path}: truncated ABF file: the data should end at byte "
                               f"{start + n * itemsize} but the file has {size} bytes")


def _is_unit(unit: str, quantity: str) -> bool:
    try:
        factor_for(unit, quantity, "")
        return True
    except UnitError:
        return False


def read_abf(path, channel: int | str | None = None, stimulus_folder: str | None = None) -> Recording:
    """Read an ABF1/ABF2 current-clamp file into a :class:`Recording` (ms, mV, nA).

    Parameters
    ----------
    channel : index or name of the ADC channel holding the membrane voltage (default: the first
        channel recorded in volts).
    stimulus_folder : where to look for a stimulus file the protocol refers to (default: the
        file's own folder).
    """
    path = os.fspath(path)
    _check_header(path)
    abf, _ = _open_pyabf(path, False, stimulus_folder)
    _check_sizes(abf, path)
    abf, warned = _open_pyabf(path, True, stimulus_folder)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rec = _to_recording(abf, path, channel, warned)
    except RecordingError:
        raise
    except Exception as exc:  # pyabf computes sweepC lazily from header fields
        raise CorruptFileError(f"{path}: damaged ABF file ({type(exc).__name__}: {exc})") from None
    seen = {str(w.message).splitlines()[0] for w in caught}
    if seen:
        notes = rec.provenance.notes + tuple(f"pyabf: {m}" for m in sorted(seen))
        rec = Recording(rec.sweeps, dataclasses.replace(rec.provenance, notes=notes))
    return rec


def _to_recording(abf, path: str, channel, warned: list[str]) -> Recording:
    names, units = list(abf.adcNames), list(abf.adcUnits)
    if isinstance(channel, str):
        if channel not in names:
            raise RecordingError(f"{path}: no channel named {channel!r} (channels: {names})")
        ch = names.index(channel)
    elif channel is not None:
        if not 0 <= int(channel) < len(names):
            raise RecordingError(f"{path}: no channel {channel} (channels 0–{len(names) - 1})")
        ch = int(channel)
    else:
        volts = [k for k, u in enumerate(units) if _is_unit(u, "voltage")]
        if not volts:
            raise UnitError(f"{path}: no channel is recorded in volts (channels {names} in {units}); "
                            "this does not look like a current-clamp recording")
        ch = volts[0]
    v_unit = units[ch]
    v_factor = factor_for(v_unit, "voltage", f"{path}, channel {names[ch]!r}")
    current_adc = [k for k, u in enumerate(units) if k != ch and _is_unit(u, "current")]
    dt = 1000.0 / float(abf.dataRate)
    conversions = [f"time: s -> ms (x 1000; {abf.dataRate:g} Hz)"]
    if (c := describe_conversion("voltage", v_unit, v_factor)):
        conversions.append(c)
    notes = [f"ABF {abf.abfVersionString}"] + [f"pyabf: {w}" for w in warned]
    original = {"time": "s", "voltage": v_unit}

    # Which stimulus: the command waveform from the protocol if it is a current, else a
    # recorded current channel, else none.
    abf.setSweep(0, channel=ch)
    c_unit = str(abf.sweepUnitsC)
    use_command = _is_unit(c_unit, "current")
    stimulus = ""
    if use_command:
        c_factor = factor_for(c_unit, "current", f"{path}, command of {names[ch]!r}")
        stimulus = "command waveform from the protocol (pyabf sweepC)"
    elif current_adc:
        c_unit = units[current_adc[0]]
        c_factor = factor_for(c_unit, "current", f"{path}, channel {names[current_adc[0]]!r}")
        stimulus = f"recorded current channel {names[current_adc[0]]!r}"
    voltages, commands = [], []
    for k in range(int(abf.sweepCount)):
        abf.setSweep(k, channel=ch)
        voltages.append(finite_array(abf.sweepY, f"{path}, sweep {k}, voltage") * v_factor)
        if use_command:
            C = np.asarray(abf.sweepC, dtype=float)
            ok = C.shape == voltages[-1].shape and bool(np.all(np.isfinite(C)))
            commands.append(C * c_factor if ok else None)
    missing = use_command and any(c is None for c in commands)
    if not use_command or missing:
        commands = [None] * len(voltages)
        if current_adc:
            c_unit = units[current_adc[0]]
            where = f"{path}, channel {names[current_adc[0]]!r}"
            c_factor = factor_for(c_unit, "current", where)
            for k in range(len(voltages)):
                abf.setSweep(k, channel=current_adc[0])
                commands[k] = finite_array(abf.sweepY, f"{where}, sweep {k}") * c_factor
            stimulus = f"recorded current channel {names[current_adc[0]]!r}"
    sweeps = [Sweep(V, I, dt, 0.0, k) for k, (V, I) in enumerate(zip(voltages, commands))]
    if all(s.I is None for s in sweeps):
        stimulus = ""
        why = ("the protocol's stimulus file was not found" if missing else
               f"the command of channel {names[ch]!r} is in {c_unit!r}, not a current")
        notes.append(f"stimulus missing: {why}; attach one (a step protocol or another file)")
    else:
        original["current"] = c_unit
        if (c := describe_conversion("current", c_unit, c_factor)):
            conversions.append(c)
    prov = Provenance(path=path, format=f"ABF{abf.abfVersion['major']}",
                      sweep_numbers=tuple(range(len(sweeps))), channel_names=tuple(names),
                      protocol=str(abf.protocol), original_units=original,
                      conversions=tuple(conversions), notes=tuple(notes), stimulus=stimulus)
    rec = Recording(tuple(sweeps), prov)
    try:
        check_plausible(rec, original)
    except ImplausibleUnitsError as exc:
        raise ImplausibleUnitsError(f"{exc} (the ABF header may be damaged)") from None
    return rec


def _sniff_abf(head: bytes, path: str) -> bool:
    return head[:4] in (b"ABF ", b"ABF2")


register_reader(Reader("abf", _sniff_abf, read_abf, frozenset({"channel", "stimulus_folder"}),
                       "ABF (1 and 2)", {".abf": "ABF"}, priority=10))
