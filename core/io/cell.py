"""``open_cell(paths, **options)``: several recording files of one cell as one ``Recording``.

Each file is read with :func:`~core.io.open.open_recording` and their sweeps are joined in the
order given. Files already read as part of another (the current wave of an Igor pair) are not
read twice. Sweeps keep their own numbers when those are distinct across the files, else they
are numbered 0, 1, 2, ... in order; the provenance lists every file (``files``) and where each
sweep came from.
"""

from __future__ import annotations

import dataclasses
import os

from .errors import IncompatibleFilesError, RecordingError
from .open import open_recording
from .recording import Provenance, Recording


def _same(values):
    values = list(values)
    return all(v == values[0] for v in values)


def open_cell(paths, **options) -> Recording:
    """Read ``paths`` (one path or several) and join all their sweeps into one Recording.

    Options are those of :func:`open_recording`, applied to every file; ``current=`` is for a
    single file. Files sampled at different intervals, or a mix of files with and without a
    stimulus, are refused with :class:`IncompatibleFilesError` naming both files.
    """
    if isinstance(paths, (str, bytes)) or hasattr(paths, "__fspath__"):
        paths = [paths]
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise RecordingError("open_cell: no files given")
    if len(paths) == 1:
        rec = open_recording(paths[0], **options)
        if not rec.provenance.files:
            rec = Recording(rec.sweeps, dataclasses.replace(rec.provenance, files=(paths[0],)))
        return rec
    if options.get("current") is not None:
        raise TypeError("open_cell: current= names the current of one file; with several "
                        "files give each voltage file with its current file (Igor waves pair "
                        "by name)")
    read: list[tuple[str, Recording]] = []
    consumed: dict[str, str] = {}  # absolute path -> the file given that read it
    skipped: list[str] = []
    for p in paths:
        key = os.path.abspath(p)
        if key in consumed:
            skipped.append(f"{p} already read with {consumed[key]}")
            continue
        rec = open_recording(p, **options)
        for f in rec.provenance.files or (p,):
            consumed[os.path.abspath(f)] = p
        consumed[key] = p
        read.append((p, rec))
    if len(read) == 1:
        p, rec = read[0]
        prov = rec.provenance
        if not prov.files:
            prov = dataclasses.replace(prov, files=(p,))
        return Recording(rec.sweeps, prov.with_note("; ".join(skipped)) if skipped else prov)
    _check_compatible(read)

    sweeps, origin = [], []
    for p, rec in read:
        for s in rec.sweeps:
            sweeps.append(s)
            origin.append((p, s.number))
    numbers = [s.number for s in sweeps]
    renumber = len(set(numbers)) != len(numbers)
    if renumber:
        sweeps = [dataclasses.replace(s, number=k) for k, s in enumerate(sweeps)]
    provs = [rec.provenance for _, rec in read]
    first = provs[0]
    notes = [f"{len(read)} files joined into one cell ({len(sweeps)} sweeps"
             + ("; sweeps renumbered in order, the files' numbers repeat)" if renumber else ")")]
    notes += [f"sweep {s.number} from {p} sweep {j}" for s, (p, j) in zip(sweeps, origin)]
    notes += [f"{os.path.basename(p)}: {n}" for p, rec in read for n in rec.provenance.notes]
    notes += skipped
    if _same(p.conversions for p in provs):
        conversions = first.conversions
    else:
        conversions = tuple(f"{os.path.basename(p)}: {c}" for p, rec in read
                            for c in rec.provenance.conversions)
    if not _same(p.original_units for p in provs):
        notes += [f"{os.path.basename(p)}: original units {rec.provenance.original_units}"
                  for p, rec in read]
    channels: list[str] = []
    for p in provs:
        channels += [c for c in p.channel_names if c not in channels]
    files: list[str] = []
    for p, rec in read:
        files += [f for f in (rec.provenance.files or (p,)) if f not in files]
    formats = list(dict.fromkeys(p.format for p in provs))
    stimuli = list(dict.fromkeys(p.stimulus for p in provs if p.stimulus))
    prov = Provenance(
        path=read[0][0], format=" + ".join(formats),
        sweep_numbers=tuple(s.number for s in sweeps), channel_names=tuple(channels),
        protocol=first.protocol if _same(p.protocol for p in provs) else "",
        original_units=dict(first.original_units), conversions=conversions, notes=tuple(notes),
        stimulus=stimuli[0] if len(stimuli) == 1 else "; ".join(stimuli), files=tuple(files))
    return Recording(tuple(sweeps), prov)


def _check_compatible(read: list[tuple[str, Recording]]) -> None:
    p0, r0 = read[0]
    dt0 = r0.sweeps[0].dt
    for p, rec in read:
        for s in rec.sweeps:
            if abs(s.dt - dt0) > 1e-9 * dt0:
                raise IncompatibleFilesError(
                    f"{p}: sampled every {s.dt:g} ms ({1000 / s.dt:g} Hz) but {p0} every "
                    f"{dt0:g} ms ({1000 / dt0:g} Hz); a cell's files must share one sampling "
                    "interval (resample one, or open them separately)")
    with_stim = [p for p, rec in read if rec.has_stimulus]
    without = [p for p, rec in read if not rec.has_stimulus]
    if with_stim and without:
        raise IncompatibleFilesError(
            f"{without[0]}: holds no stimulus (injected current) but {with_stim[0]} does; attach "
            "one to the file first (step_stimulus / attach_stimulus_from) or leave it out")
