"""Writing files so that a killed process leaves either the old file or the new one, never half
of one, and with the permissions of any other file created here."""

from __future__ import annotations

import errno
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import SmartframesError

# what a write meets when the disk (or the user's quota) is full or the device fails
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})


class DiskError(SmartframesError):
    """A write failed for want of space or by a device error; what was finished before is kept."""


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = _current_umask()  # read once: setting it to read it is not safe while other threads create files


def share_like_new_files(path: Path) -> None:
    """Give ``path`` the permissions of any file created here (0666 less the umask): safetensors
    writes its files readable by their owner alone, which hides a shared store or checkpoint from
    other users and from Ray workers running as someone else."""
    os.chmod(path, 0o666 & ~UMASK)


def fsync_dir(path: Path) -> None:
    """Flush a directory entry (a rename) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_write(final: str | os.PathLike, temporary: str | os.PathLike | None = None) -> Iterator[Path]:
    """Yield a temporary path to write ``final``'s content to; on leaving the block, the file is
    given the usual permissions, flushed, renamed over ``final`` and the rename flushed. If the
    block raises, ``final`` is untouched and the temporary file removed.

    Args:
        final: the file to (re)place.
        temporary: the temporary name, in the same folder (default ``.<name>.tmp``).
    """
    final = Path(final)
    tmp = Path(temporary) if temporary is not None else final.with_name(f".{final.name}.tmp")
    try:
        yield tmp
        share_like_new_files(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        fsync_dir(final.parent)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError) and e.errno in DISK_ERRNOS:
            raise disk_error(final, e) from e
        raise


def write_atomically(final: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``final`` through :func:`atomic_write`; returns ``final``."""
    with atomic_write(final) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(final)


def disk_error(path: str | os.PathLike, error: OSError) -> DiskError:
    """The one-line error for a write to ``path`` that failed with ``error`` (a full disk, a
    quota, a device error), with the space left on that disk."""
    return DiskError(f"{path}: {error.strerror or error} ({free_space(path)} free there); what was finished "
                     "is kept: free some space and run the command again")


def free_space(path: str | os.PathLike) -> str:
    """The space left on the disk that holds ``path`` (or its nearest existing folder), in words."""
    folder = Path(path).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        free = float(shutil.disk_usage(folder).free)
    except OSError:
        return "unknown space"
    for unit in ("bytes", "KiB", "MiB"):
        if free < 1024:
            return f"{free:.0f} {unit}" if unit == "bytes" else f"{free:.1f} {unit}"
        free /= 1024
    return f"{free:.1f} GiB"
