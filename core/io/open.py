"""``open_recording(path, **options)``: pick the reader by the file's content, not its name.

ABF1/ABF2 (signature ``ABF ``/``ABF2``), HDF5 (signature ``\\x89HDF``): Brainfit's own layout,
NWB 2 (``nwb_version`` attribute) or plain datasets; anything else that decodes as text goes
to the CSV/TSV/ASC reader. Every failure is a :class:`~core.io.errors.RecordingError` subclass
whose message names the file.
"""

from __future__ import annotations

import os

from .errors import CorruptFileError, EmptySweepError, RecordingError, UnsupportedFormatError
from .recording import Recording

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
SUPPORTED = "ABF (1 and 2), NWB 2, HDF5 (Brainfit or plain t/I/V datasets), CSV/TSV/ASC text"
_OTHER_SIGNATURES = {b"DAT1": "HEKA PatchMaster", b"DAT2": "HEKA PatchMaster",
                     b"MATLAB": "MATLAB .mat", b"PK\x03\x04": "a zip archive",
                     b"ATF": "Axon Text Format (ATF)", b"\x1f\x8b": "a gzip archive",
                     b"RIFF": "a RIFF container", b"%PDF": "a PDF document"}
_EXT_FORMAT = {".abf": "ABF", ".nwb": "NWB (HDF5)", ".h5": "HDF5", ".hdf5": "HDF5",
               ".hdf": "HDF5"}


def detect_format(path) -> str:
    """'abf', 'hdf5' or 'text' from the first bytes of ``path``; RecordingError otherwise."""
    path = os.fspath(path)
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
    ext = os.path.splitext(path)[1].lower()
    if head[:4] in (b"ABF ", b"ABF2"):
        return "abf"
    if any(head[k:k + 8] == HDF5_SIGNATURE for k in (0, 512, 1024, 2048)):
        return "hdf5"
    for sig, name in _OTHER_SIGNATURES.items():
        if head.startswith(sig):
            raise UnsupportedFormatError(f"{path}: {name} files are not supported; "
                                         f"export to one of: {SUPPORTED}")
    if ext in _EXT_FORMAT:
        raise CorruptFileError(f"{path}: named like {_EXT_FORMAT[ext]} but does not start with its "
                               "signature (damaged, truncated at the start, or misnamed)")
    if b"\x00" in head:
        raise UnsupportedFormatError(f"{path}: unrecognised binary format; supported: {SUPPORTED}")
    return "text"


_OPTIONS = {
    "abf": {"channel", "stimulus_folder"},
    "text": {"time_unit", "voltage_unit", "current_unit", "columns"},
    "plain": {"time_unit", "voltage_unit", "current_unit"},
    "nwb": {"electrode"},
    "brainfit": {"group"},
}
_ALL_OPTIONS = set().union(*_OPTIONS.values())


def open_recording(path, **options) -> Recording:
    """Read any supported file into a :class:`Recording` (ms, mV, nA).

    Options (each used by the readers it applies to, ignored by the others): ``time_unit``,
    ``voltage_unit``, ``current_unit`` (text and plain HDF5: units the file does not state, or
    overrides), ``columns`` (text without a header), ``channel`` (ABF voltage channel),
    ``stimulus_folder`` (ABF stimulus files), ``electrode`` (NWB), ``group`` (Brainfit HDF5).
    """
    unknown = set(options) - _ALL_OPTIONS
    if unknown:
        raise TypeError(f"open_recording got unknown option(s) {sorted(unknown)}")
    options = {k: v for k, v in options.items() if v is not None}
    path = os.fspath(path)
    kind = detect_format(path)
    if kind == "abf":
        from .abf import read_abf

        return read_abf(path, **_pick(options, "abf"))
    if kind == "text":
        from .text import read_text

        return read_text(path, **_pick(options, "text"))
    return _open_hdf5(path, options)


def _pick(options: dict, kind: str) -> dict:
    return {k: v for k, v in options.items() if k in _OPTIONS[kind]}


def _open_hdf5(path: str, options: dict) -> Recording:
    from .hdf5 import _open_h5, is_brainfit_group, read_brainfit_hdf5, read_plain_hdf5
    from .nwb import is_nwb, read_nwb

    with _open_h5(path) as f:
        try:
            group = options.get("group", "recording")
            brainfit = group in f and is_brainfit_group(f[group])
            nwb = not brainfit and is_nwb(f)
        except Exception as exc:  # damaged root group or attributes
            raise CorruptFileError(f"{path}: damaged HDF5 file ({type(exc).__name__}: "
                                   f"{exc})") from None
        if brainfit:
            return read_brainfit_hdf5(f, group, path)
        if nwb:
            return read_nwb(f, path, **_pick(options, "nwb"))
        return read_plain_hdf5(f, path, **_pick(options, "plain"))
