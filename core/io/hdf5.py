"""Brainfit's own HDF5 layout for recordings (also what the workbench saves).

```
/recording                attrs: layout="brainfit-recording", layout_version=1, provenance (JSON)
/recording/sweep_0000     group, attrs: dt (ms), t0 (ms), number
    V                     float64 (n,), attrs units="mV"
    I                     float64 (n,), attrs units="nA"   (absent when no stimulus)
```
"""

from __future__ import annotations

import dataclasses
import json

import h5py
import numpy as np

from ..errors import RecordingError
from ._registry import Reader, register_reader
from .atomic import h5_target, is_path
from .recording import Provenance, Recording, Sweep

LAYOUT = "brainfit-recording"
LAYOUT_VERSION = 1


def write_recording(recording: Recording, target, group: str = "recording") -> None:
    """Write ``recording`` into ``target`` (a path, written atomically, or an open
    ``h5py.Group``)."""
    if is_path(target):
        with h5_target(target) as f:
            write_recording(recording, f, group)
        return
    g = target.create_group(group)
    g.attrs["layout"] = LAYOUT
    g.attrs["layout_version"] = LAYOUT_VERSION
    g.attrs["provenance"] = json.dumps(dataclasses.asdict(recording.provenance))
    for k, s in enumerate(recording.sweeps):
        sg = g.create_group(f"sweep_{k:04d}")
        sg.attrs.update(dt=s.dt, t0=s.t0, number=s.number)
        sg.create_dataset("V", data=s.V, compression="gzip", shuffle=True).attrs["units"] = "mV"
        if s.I is not None:
            sg.create_dataset("I", data=s.I, compression="gzip", shuffle=True).attrs["units"] = "nA"


def is_brainfit_group(g) -> bool:
    return isinstance(g, h5py.Group) and g.attrs.get("layout") == LAYOUT


def read_brainfit_hdf5(source, group: str = "recording", path: str = "") -> Recording:
    """Read a recording written by :func:`write_recording`."""
    from .errors import CorruptFileError, NonFiniteSamplesError

    if isinstance(source, (str, bytes)) or hasattr(source, "__fspath__"):
        with _open_h5(source) as f:
            return read_brainfit_hdf5(f, group, str(source))
    try:
        if group not in source or not is_brainfit_group(source[group]):
            raise RecordingError(f"{path}: no Brainfit recording group '/{group}'")
        g = source[group]
        version = int(g.attrs.get("layout_version", 0))
        if version > LAYOUT_VERSION:
            raise RecordingError(f"{path}: Brainfit recording layout {version} is newer than this "
                                 f"version reads ({LAYOUT_VERSION}); update Brainfit")
        prov = json.loads(g.attrs["provenance"])
        known = {f.name for f in dataclasses.fields(Provenance)}
        prov = Provenance(**{k: tuple(v) if isinstance(v, list) else v
                             for k, v in prov.items() if k in known})
        sweeps = []
        for name in sorted(k for k in g if k.startswith("sweep_")):
            sg = g[name]
            I = sg["I"][()] if "I" in sg else None
            sweeps.append(Sweep(sg["V"][()], I, float(sg.attrs["dt"]), float(sg.attrs["t0"]),
                                int(sg.attrs["number"])))
    except RecordingError as exc:
        if path and not str(exc).startswith(path):
            raise type(exc)(f"{path}: {exc}") from None
        raise
    except Exception as exc:  # h5py/json raise many types on damaged files
        raise CorruptFileError(f"{path}: corrupt Brainfit recording ({type(exc).__name__}: "
                               f"{exc})") from None
    for s in sweeps:
        if not (np.all(np.isfinite(s.V)) and (s.I is None or np.all(np.isfinite(s.I)))):
            raise NonFiniteSamplesError(f"{path}: sweep {s.number} contains NaN or inf samples")
    if path:
        prov = dataclasses.replace(prov, path=path)
    if not sweeps:
        from .errors import EmptySweepError

        raise EmptySweepError(f"{path}: the Brainfit recording holds no sweeps")
    return Recording(tuple(sweeps), prov)


# --- plain HDF5: time / current / voltage datasets under recognisable names -------------------

def _attr_str(value) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.size == 1:
        return _attr_str(value.reshape(-1)[0])
    return value if isinstance(value, str) else None


def _dataset_unit(ds, name: str) -> str | None:
    """Unit of dataset ``ds``: its own ``units``/``unit`` attribute, or a JSON ``units`` mapping on
    a parent group or the file (``{"V": "V", "t": "s"}``)."""
    for key in ("units", "unit", "Units", "Unit"):
        if key in ds.attrs and (u := _attr_str(ds.attrs[key])) is not None:
            return u
    node = ds.parent
    while True:
        raw = node.attrs.get("units")
        text = _attr_str(raw) if raw is not None else None
        if text:
            try:
                mapping = json.loads(text)
            except ValueError:
                mapping = None
            if isinstance(mapping, dict) and isinstance(mapping.get(name), str):
                return mapping[name]
        if node.name == "/":
            return None
        node = node.parent


def _find_container(f):
    """The group (root first) holding a voltage dataset with a recognisable name."""
    from .text import parse_column

    groups = [f]
    f.visititems(lambda _n, o: groups.append(o) if isinstance(o, h5py.Group) else None)
    for g in groups[:1000]:
        found = {}
        for key in g:
            obj = g.get(key, getlink=False)
            if not isinstance(obj, h5py.Dataset):
                continue
            try:
                quantity, unit, index = parse_column(key)
            except RecordingError:
                continue
            if quantity in ("time", "voltage", "current") and index is None \
                    and quantity not in found:
                found[quantity] = (key, unit)
        if "voltage" in found:
            return g, found
    return None, {}


def read_plain_hdf5(source, path: str = "", time_unit: str | None = None,
                    voltage_unit: str | None = None, current_unit: str | None = None) -> Recording:
    """Read a plain HDF5 file holding ``t``/``time``, ``V``/``voltage`` and ``I``/``current``
    datasets (names as for text headers; sweeps as rows) with units in attributes.

    Units come from each dataset's ``units`` attribute, a JSON ``units`` mapping on a parent
    group or the file, or the dataset name (``V_mV``); the ``*_unit`` arguments supply or
    override them. Without a time dataset, a ``dt`` attribute with ``dt_units`` gives the
    sampling interval.
    """
    from ._checks import check_plausible, describe_conversion, factor_for, finite_array
    from .errors import (
        CorruptFileError,
        LengthMismatchError,
        TimeUnitRequiredError,
        UnitRequiredError,
    )
    from .text import _uniform_dt

    if isinstance(source, (str, bytes)) or hasattr(source, "__fspath__"):
        with _open_h5(source) as f:
            return read_plain_hdf5(f, str(source), time_unit, voltage_unit, current_unit)
    try:
        g, found = _find_container(source)
        if g is None:
            raise RecordingError(f"{path}: no voltage dataset found (expected a dataset named "
                                 "V, Vm or voltage, with time t/time and current I/current)")
        given = {"time": time_unit, "voltage": voltage_unit, "current": current_unit}
        arrays, units, notes = {}, {}, []
        for q, (key, name_unit) in found.items():
            ds = g[key]
            if ds.size > 2_000_000_000 or ds.ndim not in (1, 2):
                raise CorruptFileError(f"{path}: dataset {ds.name} has shape {ds.shape}")
            arrays[q] = np.asarray(ds[()], dtype=float)
            file_unit = _dataset_unit(ds, key) or name_unit
            unit = given[q] or file_unit
            if unit is None:
                err = TimeUnitRequiredError if q == "time" else UnitRequiredError
                raise err(f"{path}: dataset {ds.name} does not state its unit; pass {q}_unit=")
            if given[q] and file_unit and given[q] != file_unit:
                notes.append(f"{q} unit overridden by the user: the file says {file_unit}")
            units[q] = unit
        if "time" not in found:
            dt_attr = g.attrs.get("dt", source.attrs.get("dt"))
            dt_unit = given["time"] or _attr_str(g.attrs.get("dt_units",
                                                             source.attrs.get("dt_units")))
            if dt_attr is None:
                raise RecordingError(f"{path}: no time dataset and no 'dt' attribute")
            if dt_unit is None:
                raise TimeUnitRequiredError(f"{path}: 'dt' attribute without 'dt_units'; "
                                            "pass time_unit=")
            units["time"] = dt_unit
    except (RecordingError, MemoryError):
        raise
    except Exception as exc:  # h5py raises OSError, KeyError, RuntimeError on damaged files
        raise CorruptFileError(f"{path}: damaged HDF5 file ({type(exc).__name__}: {exc})") from None

    factors = {q: factor_for(u, q, path) for q, u in units.items()}
    V = arrays["voltage"]
    V2 = V[None, :] if V.ndim == 1 else V
    t = arrays.get("time")
    if t is not None:
        t = t.reshape(-1) if t.ndim == 2 and 1 in t.shape else t
        n = t.shape[-1]
        if V2.shape[1] != n and V2.shape[0] == n and t.ndim == 1:
            V2 = V2.T
            notes.append("sweeps stored as columns; read column-wise")
    I = arrays.get("current")
    I2 = None if I is None else (I[None, :] if I.ndim == 1 else I)
    if I2 is not None and I2.shape != V2.shape:
        if I2.T.shape == V2.shape:
            I2 = I2.T
        elif I2.shape[0] == 1 and I2.shape[1] == V2.shape[1]:
            I2 = np.repeat(I2, V2.shape[0], axis=0)
            notes.append("one current trace used as the stimulus of every sweep")
        else:
            raise LengthMismatchError(f"{path}: current has shape {I.shape} but voltage "
                                      f"{V.shape}")
    sweeps = []
    for k in range(V2.shape[0]):
        where = f"{path}, sweep {k}"
        v = finite_array(V2[k], f"{where}, voltage") * factors["voltage"]
        i = None if I2 is None else finite_array(I2[k], f"{where}, current") * factors["current"]
        if t is not None:
            tk = t if t.ndim == 1 else t[k]
            if tk.size != v.size:
                raise LengthMismatchError(f"{where}: time has {tk.size} samples, voltage "
                                          f"{v.size}")
            dt, t0 = _uniform_dt(finite_array(tk, f"{where}, time") * factors["time"], where)
        else:
            dt, t0 = float(dt_attr) * factors["time"], 0.0
        sweeps.append(Sweep(v, i, dt, t0, k))
    conversions = [c for q in units if (c := describe_conversion(q, units[q], factors[q]))]
    if I2 is None:
        notes.append("stimulus missing: no current dataset; attach one (a step protocol or "
                     "another file)")
    prov = Provenance(path=path, format="HDF5 (plain)", sweep_numbers=tuple(range(len(sweeps))),
                      channel_names=tuple(g[key].name for key, _ in found.values()),
                      original_units=dict(units), conversions=tuple(conversions),
                      notes=tuple(notes),
                      stimulus="" if I2 is None else f"dataset {g[found['current'][0]].name}")
    rec = Recording(tuple(sweeps), prov)
    check_plausible(rec, units)
    return rec


class _open_h5:
    """``with _open_h5(path) as f``: h5py.File whose open errors become RecordingError."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        from .errors import CorruptFileError

        try:
            self.f = h5py.File(self.path, "r")
        except Exception as exc:
            raise CorruptFileError(f"{self.path}: not a readable HDF5 file (truncated or damaged?"
                                   f" {type(exc).__name__}: {exc})") from None
        return self.f

    def __exit__(self, *exc):
        try:
            self.f.close()
        except Exception:  # closing a damaged file can fail too; nothing left to save
            pass
        return False


# --- the one HDF5 entry of the reader registry: Brainfit layout, NWB 2 or plain datasets -------

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def read_hdf5(path, group: str | None = None, electrode: str | None = None,
              time_unit: str | None = None, voltage_unit: str | None = None,
              current_unit: str | None = None) -> Recording:
    """Any HDF5 recording: Brainfit's layout (``group``), NWB 2 (``electrode``) or plain datasets
    (``time_unit``, ``voltage_unit``, ``current_unit``)."""
    from .errors import CorruptFileError
    from .nwb import is_nwb, read_nwb

    path = str(path)
    with _open_h5(path) as f:
        try:
            g = group or "recording"
            brainfit = g in f and is_brainfit_group(f[g])
            nwb = not brainfit and is_nwb(f)
        except Exception as exc:  # damaged root group or attributes
            raise CorruptFileError(f"{path}: damaged HDF5 file ({type(exc).__name__}: "
                                   f"{exc})") from None
        if brainfit:
            return read_brainfit_hdf5(f, g, path)
        if nwb:
            return read_nwb(f, path, electrode=electrode)
        return read_plain_hdf5(f, path, time_unit=time_unit, voltage_unit=voltage_unit,
                               current_unit=current_unit)


def _sniff_hdf5(head: bytes, path: str) -> bool:
    return any(head[k:k + 8] == HDF5_SIGNATURE for k in (0, 512, 1024, 2048))


register_reader(Reader(
    "hdf5", _sniff_hdf5, read_hdf5,
    frozenset({"group", "electrode", "time_unit", "voltage_unit", "current_unit"}),
    "NWB 2, HDF5 (Brainfit or plain t/I/V datasets)",
    {".nwb": "NWB (HDF5)", ".h5": "HDF5", ".hdf5": "HDF5", ".hdf": "HDF5"}, priority=20))
