"""Writing files so that a failure never destroys what was there: ``atomic_path`` and
``atomic_write``.

The new content goes to a temporary file beside the target (same directory, so the rename
cannot cross file systems), is flushed to disk, and only then is renamed onto the target with
``os.replace``. If anything fails part-way (disk full, a file-size limit, an exception in the
writer), the temporary file is removed and the file that was at the target stays untouched.
Readers never see a half-written file.

- A new file gets the mode ``open()`` would give it (``0o666`` minus the umask); an existing
  file keeps its permission bits.
- A symbolic link is followed: the file it points to is replaced, the link stays.
- A target that exists but is not a regular file (``os.devnull``, a FIFO, a character device)
  is written in place: it cannot be replaced by renaming, and need not be.
- Only a process killed outright (``kill -9``, power loss during the write) can leave a
  temporary file behind: ``.NAME.XXXXXXXX.tmp.SUFFIX`` beside the target.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_write"]


def _create_temp(target: Path) -> Path:
    """Create an empty, new temporary file beside ``target`` (mode from the umask)."""
    for _ in range(100):
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp{target.suffix}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as e:
            raise type(e)(e.errno, f"cannot create a temporary file in {target.parent} to "
                                   f"write {target} safely: {e.strerror}", str(tmp)) from e
        os.close(fd)
        return tmp
    raise FileExistsError(f"cannot find a free temporary file name beside {target}")


def _fsync(path: Path, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        if directory:  # not every platform can open a directory
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not directory:
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path) -> Iterator[str]:
    """Yield the name of a temporary file beside ``path`` to write to; when the block ends
    without an exception, the file is synced and renamed onto ``path``. On an exception it is
    removed and ``path`` is left as it was. For writers that take a file name (Keras, pyarrow);
    see the module docstring for modes, links and special files."""
    target = Path(os.path.realpath(os.fspath(path)))
    if target.exists() and not target.is_file():  # os.devnull, a FIFO, ...
        yield os.fspath(path)
        return
    tmp = _create_temp(target)
    try:
        if target.exists():
            os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
        yield str(tmp)
        _fsync(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync(target.parent, directory=True)


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb", **open_kwargs):
    """``open(path, mode)`` that replaces ``path`` only when the ``with`` block completes
    (see ``atomic_path``). ``mode``: ``"wb"`` or ``"w"`` (``open_kwargs`` such as
    ``encoding`` and ``newline`` go to ``open``)."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes a whole file: mode 'w' or 'wb', got {mode!r}")
    with atomic_path(path) as tmp, open(tmp, mode, **open_kwargs) as f:
        yield f
