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
from .recording import Provenance, Recording, Sweep

LAYOUT = "brainfit-recording"
LAYOUT_VERSION = 1


def write_recording(recording: Recording, target, group: str = "recording") -> None:
    """Write ``recording`` into ``target`` (a path or an open ``h5py.Group``)."""
    if isinstance(target, (str, bytes)) or hasattr(target, "__fspath__"):
        with h5py.File(target, "w") as f:
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
    if isinstance(source, (str, bytes)) or hasattr(source, "__fspath__"):
        try:
            with h5py.File(source, "r") as f:
                return read_brainfit_hdf5(f, group, str(source))
        except OSError as exc:
            raise RecordingError(f"{source}: not a readable HDF5 file ({exc})") from None
    if group not in source or not is_brainfit_group(source[group]):
        raise RecordingError(f"{path}: no Brainfit recording group '/{group}'")
    g = source[group]
    try:
        prov = json.loads(g.attrs["provenance"])
        prov = Provenance(**{k: tuple(v) if isinstance(v, list) else v for k, v in prov.items()})
        sweeps = []
        for name in sorted(k for k in g if k.startswith("sweep_")):
            sg = g[name]
            I = sg["I"][()] if "I" in sg else None
            sweeps.append(Sweep(sg["V"][()], I, float(sg.attrs["dt"]), float(sg.attrs["t0"]),
                                int(sg.attrs["number"])))
    except (KeyError, TypeError, ValueError, OSError) as exc:
        raise RecordingError(f"{path}: corrupt Brainfit recording ({exc})") from None
    for s in sweeps:
        if not (np.all(np.isfinite(s.V)) and (s.I is None or np.all(np.isfinite(s.I)))):
            raise RecordingError(f"{path}: sweep {s.number} contains NaN or inf samples")
    if path:
        prov = dataclasses.replace(prov, path=path)
    return Recording(tuple(sweeps), prov)
