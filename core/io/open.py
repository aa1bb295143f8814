"""``open_recording(path, **options)``: pick the reader by the file's content, not its name.

Readers come from a small registry (:mod:`core.io._registry`): each format is one module that
registers its name, a ``sniff(head, path)`` test, the options it accepts and its
``read(path, **options)``. Today: ABF1/ABF2 (signature ``ABF ``/``ABF2``), HDF5 (signature
``\\x89HDF``: Brainfit's own layout, NWB 2 or plain datasets), Igor binary waves (``.ibw``,
version field 1/2/3/5), and anything else that decodes as text goes to the CSV/TSV/ASC reader.
Every failure is a :class:`~core.io.errors.RecordingError` subclass whose message names the file.
"""

from __future__ import annotations

import os

from . import abf as _abf  # noqa: F401  (each reader module registers itself on import)
from . import hdf5 as _hdf5  # noqa: F401
from . import ibw as _ibw  # noqa: F401
from . import text as _text  # noqa: F401
from ._registry import Reader, readers, register_reader
from .errors import CorruptFileError, EmptySweepError, RecordingError, UnsupportedFormatError
from .hdf5 import HDF5_SIGNATURE
from .recording import Recording

_OTHER_SIGNATURES = {b"DAT1": "HEKA PatchMaster", b"DAT2": "HEKA PatchMaster",
                     b"MATLAB": "MATLAB .mat", b"PK\x03\x04": "a zip archive",
                     b"ATF": "Axon Text Format (ATF)", b"\x1f\x8b": "a gzip archive",
                     b"RIFF": "a RIFF container", b"%PDF": "a PDF document"}

__all__ = ["HDF5_SIGNATURE", "Reader", "SUPPORTED", "detect_format", "open_recording",
           "register_reader", "supported"]


def supported() -> str:
    """The formats the registered readers read, for messages."""
    return ", ".join(r.description for r in readers() if r.description)


SUPPORTED = supported()


def _head(path: str) -> bytes:
    if not os.path.exists(path):
        raise RecordingError(f"{path}: no such file")
    if os.path.isdir(path):
        raise RecordingError(f"{path}: is a folder, not a recording file")
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError as exc:
        raise RecordingError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if size == 0:
        raise EmptySweepError(f"{path}: the file is empty (0 bytes)")
    return head


def find_reader(path) -> Reader:
    """The registered reader that claims ``path``; RecordingError otherwise."""
    path = os.fspath(path)
    head = _head(path)
    ext = os.path.splitext(path)[1].lower()
    ordered = readers()
    for r in ordered:
        if not r.fallback and r.sniff(head, path):
            return r
    for sig, name in _OTHER_SIGNATURES.items():
        if head.startswith(sig):
            raise UnsupportedFormatError(f"{path}: {name} files are not supported; "
                                         f"export to one of: {supported()}")
    for r in ordered:
        if ext in r.extensions:
            raise CorruptFileError(
                f"{path}: named like {r.extensions[ext]} but does not start with its signature "
                "(damaged, truncated at the start, or misnamed)")
    for r in ordered:
        if r.fallback and r.sniff(head, path):
            return r
    raise UnsupportedFormatError(f"{path}: unrecognised binary format; supported: {supported()}")


def detect_format(path) -> str:
    """The name of the reader for ``path`` ('abf', 'hdf5', 'ibw' or 'text'); RecordingError
    otherwise."""
    return find_reader(path).name


def all_options() -> frozenset[str]:
    return frozenset({"current"}).union(*(r.options for r in readers()))


def open_recording(path, **options) -> Recording:
    """Read any supported file into a :class:`Recording` (ms, mV, nA).

    Options (each used by the readers it applies to, ignored by the others): ``time_unit``,
    ``voltage_unit``, ``current_unit`` (text, plain HDF5 and Igor waves: units the file does not
    state, or overrides), ``columns`` (text without a header), ``channel`` (ABF voltage channel),
    ``stimulus_folder`` (ABF stimulus files), ``electrode`` (NWB), ``group`` (Brainfit HDF5),
    ``current`` (the file holding the injected current: for Igor waves the partner wave; for
    the other formats a file whose stimulus is attached, replacing the file's own).
    """
    unknown = set(options) - all_options()
    if unknown:
        raise TypeError(f"open_recording got unknown option(s) {sorted(unknown)}")
    options = {k: v for k, v in options.items() if v is not None}
    path = os.fspath(path)
    reader = find_reader(path)
    rec = reader.read(path, **{k: v for k, v in options.items() if k in reader.options})
    current = options.get("current")
    if current is not None and "current" not in reader.options:
        from .stimulus import attach_stimulus_from

        replaced = " (replacing the file's own current)" if rec.has_stimulus else ""
        rec = attach_stimulus_from(rec, current)
        rec = Recording(rec.sweeps, rec.provenance.with_note(
            f"current= given: stimulus read from {os.fspath(current)}{replaced}"))
    return rec
