"""The reader registry behind :func:`core.io.open_recording`: one entry per file format.

Each reader module registers a :class:`Reader` when it is imported: its name, a ``sniff(head,
path)`` test on the first bytes of the file, the options it accepts and its ``read(path,
**options)`` function. ``open_recording`` asks the readers in ``priority`` order; ``fallback``
readers (text) are asked only after the known-unsupported signatures and the extension checks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Reader:
    name: str  # what detect_format returns: 'abf', 'hdf5', 'ibw', 'text'
    sniff: Callable[[bytes, str], bool]  # (first 4096 bytes, path) -> does this reader claim it
    read: Callable[..., object]  # read(path, **options) -> Recording
    options: frozenset[str] = frozenset()
    description: str = ""  # for the list of supported formats in messages
    extensions: Mapping[str, str] = field(default_factory=dict)  # '.abf' -> 'ABF'
    priority: int = 50  # lower is asked first
    fallback: bool = False  # asked only when no signature matched (text)


_READERS: dict[str, Reader] = {}


def register_reader(reader: Reader) -> Reader:
    """Add (or replace, by name) a reader."""
    _READERS[reader.name] = reader
    return reader


def readers() -> list[Reader]:
    """Registered readers in the order they are asked: signatures first, fallbacks last."""
    return sorted(_READERS.values(), key=lambda r: (r.fallback, r.priority, r.name))
