"""NWB 2 intracellular recordings, read with h5py (no pynwb needed at run time).

Responses are the ``CurrentClampSeries`` (and ``IZeroClampSeries``, whose current is zero by
definition) under ``/acquisition``; each is paired with its ``CurrentClampStimulusSeries`` under
``/stimulus/presentation`` through the ``intracellular_recordings`` table when the file has one
(NWB >= 2.4), else through equal ``sweep_number`` attributes. Values follow the NWB rule
``value_in_unit = data * conversion + offset``, then the unit (``volts``, ``amperes``) is
converted into core units; both steps are reported in the provenance.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_plausible, describe_conversion, factor_for, finite_array
from .errors import CorruptFileError, LengthMismatchError, RecordingError
from .recording import Provenance, Recording, Sweep

RESPONSE_TYPES = ("CurrentClampSeries", "IZeroClampSeries")
STIMULUS_TYPES = ("CurrentClampStimulusSeries",)


def _s(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def is_nwb(f) -> bool:
    return "nwb_version" in f.attrs or _s(f.attrs.get("neurodata_type", "")) == "NWBFile"


def _series(group, types) -> list:
    out = []
    if group is None:
        return out
    for key in sorted(group):
        obj = group.get(key)
        if obj is not None and hasattr(obj, "attrs") and \
                _s(obj.attrs.get("neurodata_type", "")) in types:
            out.append(obj)
    return out


def _electrode(series) -> str:
    """Path of the electrode a series links to ('' when it has none)."""
    import h5py

    try:
        link = series.get("electrode", getlink=True)
        if isinstance(link, h5py.SoftLink):
            return link.path
        if link is None:
            return ""
        obj = series["electrode"]
        return obj.file[obj.ref].name or ""
    except Exception:  # older files store no link; group them all together
        return ""


def _pairs_from_table(f) -> dict[str, str]:
    """response path -> stimulus path from /general/intracellular_ephys/intracellular_recordings."""
    table = f.get("general/intracellular_ephys/intracellular_recordings")
    if table is None:
        return {}
    try:
        responses = table["responses/response"][()]
        stimuli = table["stimuli/stimulus"][()]
    except Exception:
        return {}
    pairs = {}
    for r, s in zip(responses, stimuli, strict=False):
        try:
            r_path = f[r["timeseries"]].name
            s_path = f[s["timeseries"]].name if int(s["idx_start"]) >= 0 else None
        except Exception:
            continue
        if s_path:
            pairs[r_path] = s_path
    return pairs


def _values(series, quantity: str, where: str) -> tuple[np.ndarray, str, list[str]]:
    """Data of an NWB TimeSeries in core units, its NWB unit and the conversions applied."""
    ds = series["data"]
    if ds.ndim != 1:
        raise RecordingError(f"{where}: data has shape {ds.shape}; expected one trace")
    raw = finite_array(ds[()], where)
    conversion = float(ds.attrs.get("conversion", 1.0))
    offset = float(ds.attrs.get("offset", 0.0))
    unit = _s(ds.attrs.get("unit", "volts" if quantity == "voltage" else "amperes"))
    if not (np.isfinite(conversion) and conversion != 0 and np.isfinite(offset)):
        raise CorruptFileError(f"{where}: invalid conversion {conversion} / offset {offset}")
    factor = factor_for(unit, quantity, where)
    steps = []
    if conversion != 1.0 or offset != 0.0:
        steps.append(f"{quantity}: NWB data x {conversion:g}" +
                     (f" + {offset:g}" if offset else "") + f" -> {unit}")
    if (c := describe_conversion(quantity, unit, factor)):
        steps.append(c)
    return (raw * conversion + offset) * factor, unit, steps


def _timing(series, n: int, where: str) -> tuple[float, float, str]:
    """(dt ms, t0 ms, note) from starting_time/rate or from timestamps."""
    if "starting_time" in series:
        st = series["starting_time"]
        rate = float(st.attrs.get("rate", np.nan))
        t_factor = factor_for(_s(st.attrs.get("unit", "seconds")), "time", where)
        if not (np.isfinite(rate) and rate > 0):
            raise CorruptFileError(f"{where}: sampling rate {rate} is not positive")
        return 1.0 / rate * t_factor, float(st[()]) * t_factor, f"{rate:g} Hz"
    if "timestamps" in series:
        from .text import _uniform_dt

        ts = series["timestamps"]
        t_factor = factor_for(_s(ts.attrs.get("unit", "seconds")), "time", where)
        t = finite_array(ts[()], f"{where}, timestamps") * t_factor
        if t.size != n:
            raise LengthMismatchError(f"{where}: {t.size} timestamps for {n} samples")
        dt, t0 = _uniform_dt(t, where)
        return dt, t0, "timestamps"
    raise CorruptFileError(f"{where}: neither starting_time nor timestamps")


def read_nwb(source, path: str = "", electrode: str | None = None) -> Recording:
    """Read the current-clamp sweeps of an NWB 2 file (an open ``h5py.File`` or a path)."""
    if not hasattr(source, "attrs"):
        from .hdf5 import _open_h5

        with _open_h5(source) as f:
            return read_nwb(f, str(source), electrode)
    try:
        return _read(source, path, electrode)
    except RecordingError:
        raise
    except Exception as exc:  # h5py on a damaged file: OSError, KeyError, RuntimeError, ...
        raise CorruptFileError(f"{path}: damaged NWB file ({type(exc).__name__}: {exc})") from None


def _read(f, path: str, electrode: str | None) -> Recording:
    responses = _series(f.get("acquisition"), RESPONSE_TYPES)
    if not responses:
        others = sorted({_s(o.attrs.get("neurodata_type", "?")) for o in
                         (f.get("acquisition") or {}).values()})
        raise RecordingError(f"{path}: no CurrentClampSeries in /acquisition"
                             + (f" (found {', '.join(others)})" if others else ""))
    electrodes = sorted({_electrode(r) for r in responses})
    if electrode is not None:
        chosen = [e for e in electrodes if e == electrode or e.rsplit("/", 1)[-1] == electrode]
        if not chosen:
            raise RecordingError(f"{path}: no electrode {electrode!r} (electrodes: "
                                 f"{[e.rsplit('/', 1)[-1] for e in electrodes]})")
        electrode = chosen[0]
    else:
        electrode = electrodes[0]
    responses = [r for r in responses if _electrode(r) == electrode]
    notes = []
    if len(electrodes) > 1:
        notes.append(f"{len(electrodes)} electrodes in the file; read {electrode} "
                     "(choose with electrode=)")

    stimuli = _series(f.get("stimulus/presentation"), STIMULUS_TYPES)
    table = _pairs_from_table(f)
    by_number = {}
    for s in stimuli:
        if "sweep_number" in s.attrs and _electrode(s) in (electrode, ""):
            by_number.setdefault(int(s.attrs["sweep_number"]), s)
    pairing = "intracellular_recordings table" if table else "sweep_number"

    def number_of(r, k):
        return int(r.attrs["sweep_number"]) if "sweep_number" in r.attrs else k

    responses = sorted(responses, key=lambda r: (number_of(r, 0), r.name))
    sweeps, conversions, units, missing = [], [], {"time": "s"}, []
    for k, r in enumerate(responses):
        number = number_of(r, k)
        where = f"{path}, {r.name}"
        V, v_unit, v_steps = _values(r, "voltage", where)
        dt, t0, rate_note = _timing(r, V.size, where)
        I = None
        if _s(r.attrs.get("neurodata_type")) == "IZeroClampSeries":
            I = np.zeros_like(V)
            notes.append(f"{r.name}: I=0 clamp, stimulus is zero")
        else:
            s_path = table.get(r.name)
            stim = f[s_path] if s_path else by_number.get(number)
            if stim is not None:
                swhere = f"{path}, {stim.name}"
                I, i_unit, i_steps = _values(stim, "current", swhere)
                if I.size != V.size:
                    raise LengthMismatchError(f"{path}: stimulus {stim.name} has {I.size} "
                                              f"samples but response {r.name} has {V.size}")
                units["current"] = i_unit
                conversions += [c for c in i_steps if c not in conversions]
            else:
                missing.append(r.name)
        units["voltage"] = v_unit
        conversions += [c for c in v_steps if c not in conversions]
        t_note = f"time: s -> ms (x 1000; {rate_note})"
        if t_note not in conversions:
            conversions.append(t_note)
        sweeps.append(Sweep(V, I, dt, t0, number))
    stimulus = f"CurrentClampStimulusSeries paired by {pairing}"
    if missing:
        if len(missing) == len(sweeps):
            stimulus = ""
            sweeps = [Sweep(s.V, None, s.dt, s.t0, s.number) for s in sweeps]
            notes.append("stimulus missing: no CurrentClampStimulusSeries matches the responses; "
                         "attach one (a step protocol or another file)")
        else:
            raise RecordingError(f"{path}: no stimulus for {', '.join(missing)} while other "
                                 "sweeps have one")
    prov = Provenance(path=path, format=f"NWB {_s(f.attrs.get('nwb_version', '2'))}",
                      sweep_numbers=tuple(s.number for s in sweeps),
                      channel_names=tuple(r.name for r in responses),
                      protocol=_s(responses[0].attrs.get("stimulus_description", "")).replace("N/A", ""),
                      original_units=units, conversions=tuple(conversions), notes=tuple(notes),
                      stimulus=stimulus)
    rec = Recording(tuple(sweeps), prov)
    check_plausible(rec, units)
    return rec
