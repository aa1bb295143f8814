"""Atomic file writes: every result file appears whole or not at all.

A writer fills a temporary file in the destination's folder (same file system, so the final
``os.replace`` is a rename: atomic on POSIX and Windows) and renames it over the destination only
when everything was written and flushed to disk. An exception, a cancelled job or a killed
process leaves the previous file untouched and at worst a stray ``.<name>.<random>.tmp`` beside it.

- :func:`atomic_path` yields the temporary *path* (for writers that open files themselves, h5py);
- :func:`atomic_open` yields an open text or binary file;
- :class:`AtomicFile` is the same for writers that live longer than one ``with`` block (a network
  run streaming chunk after chunk);
- :func:`h5_target` is the one "a path or an open ``h5py.Group``" idiom: a path is opened as a new
  file (atomically for writing), a group is used as it is.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from typing import IO, Any

PathLike = str | bytes | os.PathLike


def is_path(target: Any) -> bool:
    """True for a file name (``str``, ``bytes``, ``os.PathLike``), False for an open object."""
    return isinstance(target, (str, bytes)) or hasattr(target, "__fspath__")


def _fsync(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems (and Windows for read-only handles) refuse: best effort
        pass
    finally:
        os.close(fd)


class AtomicFile:
    """A temporary file beside ``path`` that becomes ``path`` on :meth:`commit`.

    ``tmp`` is created empty (mode 0666 minus the umask, as a plain ``open`` would) so that no other
    writer can take the same name; :meth:`discard` removes it. Both are idempotent.
    """

    def __init__(self, path: PathLike):
        path = os.fsdecode(os.fspath(path))
        self.path = path
        folder, name = os.path.split(os.path.abspath(path))
        for _ in range(100):
            tmp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                continue
            os.close(fd)
            break
        else:  # pragma: no cover - 100 collisions of 32 random bits
            raise FileExistsError(f"cannot create a temporary file beside {path}")
        self.tmp = tmp
        self._open = True

    def commit(self) -> None:
        """Flush the temporary file to disk and rename it over ``path``."""
        if not self._open:
            return
        _fsync(self.tmp)
        if os.path.exists(self.path):
            with contextlib.suppress(OSError):  # keep the permissions of the file replaced
                os.chmod(self.tmp, os.stat(self.path).st_mode & 0o7777)
        os.replace(self.tmp, self.path)
        self._open = False

    def discard(self) -> None:
        if not self._open:
            return
        self._open = False
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.tmp)


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[str]:
    """``with atomic_path(p) as tmp:`` write the file ``tmp``; it replaces ``p`` when the block
    ends without an exception and is removed otherwise."""
    f = AtomicFile(path)
    try:
        yield f.tmp
    except BaseException:
        f.discard()
        raise
    try:
        f.commit()
    finally:
        f.discard()


@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = "w", **kwargs) -> Iterator[IO]:
    """``open`` for writing, atomically: ``mode`` is ``"w"`` or ``"wb"`` (plus ``open``'s keyword
    arguments such as ``newline`` and ``encoding``)."""
    if mode not in ("w", "wb", "wt"):
        raise ValueError(f"atomic_open writes whole files: mode 'w' or 'wb', not {mode!r}")
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as fh:
        yield fh


@contextlib.contextmanager
def h5_target(target, mode: str = "w") -> Iterator[Any]:
    """The "a path or an open ``h5py.Group``" idiom, once.

    A path is opened as an ``h5py.File`` (``mode="w"``: a new file written atomically; ``"r"``: read)
    and closed after the block; anything else (an open file or group) is yielded as it is and left
    open.
    """
    if not is_path(target):
        yield target
        return
    import h5py

    if mode == "r":
        with h5py.File(target, "r") as f:
            yield f
        return
    if mode != "w":
        raise ValueError(f"h5_target opens files for 'w' (atomic) or 'r', not {mode!r}")
    with atomic_path(target) as tmp:
        with h5py.File(tmp, "w") as f:
            yield f


__all__ = ["AtomicFile", "atomic_open", "atomic_path", "h5_target", "is_path"]
