"""Writing files so that a killed process leaves either the old file or the new one, never half
of one, and with the permissions of any other file created here."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


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
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(final.parent)
