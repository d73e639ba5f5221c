"""File operations as root inside users' homes that never follow a symlink.

A user owns everything in their home and may plant symlinks there (say
restored-X -> /etc). Every path below a home is walked one component at a
time from an open folder, with O_NOFOLLOW, and changed through dir_fd calls.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from .errors import BackupError

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class Blocked(Exception):
    """A component of the path is a symlink or not a folder."""


def parts_of(rel: str | PurePosixPath) -> list[str]:
    parts = [p for p in PurePosixPath(rel).parts if p not in ("", ".")]
    if any(p in ("..", "/") for p in parts):
        raise ValueError(f"not a plain relative path: {rel}")
    return parts


@contextmanager
def open_dir(path: Path) -> Iterator[int]:
    """An fd of an absolute folder, no component of which may be a symlink."""
    fd = os.open("/", _DIR_FLAGS)
    try:
        for part in parts_of(str(path).lstrip("/")):
            try:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except (NotADirectoryError, FileNotFoundError) as e:
                raise Blocked(f"{path}: {part} is missing or not a folder") from e
            except OSError as e:
                if e.errno == 40:  # ELOOP: a symlink
                    raise Blocked(f"{path}: {part} is a symlink") from e
                raise
            os.close(fd)
            fd = nxt
        yield fd
    finally:
        os.close(fd)


@contextmanager
def open_subdir(
    root_fd: int,
    rel: str | PurePosixPath,
    create: bool = False,
    owner: tuple[int, int] | None = None,
) -> Iterator[int]:
    """An fd of root/rel; missing folders made (mode 0700, owner) when create."""
    fd = os.dup(root_fd)
    try:
        for part in parts_of(rel):
            try:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                os.mkdir(part, 0o700, dir_fd=fd)
                if owner is not None:
                    os.chown(part, *owner, dir_fd=fd, follow_symlinks=False)
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except NotADirectoryError as e:
                raise Blocked(f"{part} is not a folder") from e
            except OSError as e:
                if e.errno == 40:
                    raise Blocked(f"{part} is a symlink") from e
                raise
            os.close(fd)
            fd = nxt
        yield fd
    finally:
        os.close(fd)


def lstat_at(root_fd: int, rel: str) -> os.stat_result | None:
    """lstat of root/rel without following symlinks on the way; None when missing.

    Raises Blocked when a folder on the way is a symlink or a file.
    """
    parts = parts_of(rel)
    try:
        with open_subdir(root_fd, PurePosixPath(*parts[:-1]) if len(parts) > 1 else ".") as fd:
            return os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def remove_at(parent_fd: int, name: str) -> None:
    """Remove a file, symlink or whole folder tree at parent/name, following nothing."""
    st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(name, dir_fd=parent_fd)
        return
    fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    try:
        for entry in os.listdir(fd):
            remove_at(fd, entry)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=parent_fd)


def ensure_real_dir(path: Path) -> None:
    """path is a folder and no symlink (the home root, the staging root)."""
    try:
        with open_dir(path):
            pass
    except Blocked as e:
        raise BackupError(f"refusing to work in {path}: {e}") from None
