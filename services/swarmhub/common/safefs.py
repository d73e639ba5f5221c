"""File operations as root inside users' homes that never follow a symlink.

A user owns everything in their home and may plant symlinks there (say
projects -> /srv/homes, or restored-X -> /etc) and flip them at any moment.
Every path below a home is walked one component at a time from an open
folder, with O_NOFOLLOW, and changed only through dir_fd calls on folders
already open: nothing is checked first and acted on later by name.

Standard library only: the hub and the backup image both use it.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# Deeper trees than this are refused by remove_tree: each level holds a file
# descriptor while its folder is emptied.
MAX_REMOVE_DEPTH = 512


class Blocked(Exception):
    """A component of the path is a symlink or not a folder."""


def parts_of(rel: str | PurePosixPath) -> list[str]:
    parts = [p for p in PurePosixPath(rel).parts if p not in ("", ".")]
    if any(p in ("..", "/") for p in parts):
        raise ValueError(f"not a plain relative path: {rel}")
    return parts


def open_child(fd: int, part: str, where: str = "") -> int:
    """fd of the folder `part` in the open folder fd; Blocked if it is anything else.

    FileNotFoundError when it is missing. The caller closes the fd.
    """
    where = where or part
    try:
        return os.open(part, _DIR_FLAGS, dir_fd=fd)
    except OSError as e:
        if e.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        # Linux says ENOTDIR for a link opened with O_DIRECTORY | O_NOFOLLOW;
        # the lstat only words the message
        what = "a symbolic link" if _is_link(fd, part) else "not a folder"
        raise Blocked(f"{where}: {part} is {what}") from e


def _is_link(fd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


@contextmanager
def open_dir(path: Path) -> Iterator[int]:
    """An fd of an absolute folder, no component of which may be a symlink."""
    fd = os.open("/", _DIR_FLAGS)
    try:
        for part in parts_of(str(path).lstrip("/")):
            try:
                nxt = open_child(fd, part, str(path))
            except FileNotFoundError as e:
                raise Blocked(f"{path}: {part} is missing") from e
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
    mode: int = 0o700,
) -> Iterator[int]:
    """An fd of root/rel; missing folders made (mode, owner) when create.

    Raises FileNotFoundError for a missing folder (without create), Blocked
    for a symlink or non-folder on the way.
    """
    fd = os.dup(root_fd)
    try:
        for part in parts_of(rel):
            try:
                nxt = open_child(fd, part, str(rel))
            except FileNotFoundError:
                if not create:
                    raise
                nxt = make_dir_at(fd, part, mode, owner)
            os.close(fd)
            fd = nxt
        yield fd
    finally:
        os.close(fd)


def make_dir_at(parent_fd: int, name: str, mode: int, owner: tuple[int, int] | None) -> int:
    """Make parent/name (or take the folder already there) and return its fd.

    The owner is set through the opened fd, so a link swapped in after the
    mkdir is refused, never chowned.
    """
    try:
        os.mkdir(name, mode, dir_fd=parent_fd)
    except FileExistsError:
        pass  # made meanwhile (a concurrent start): opened below like any folder
    fd = open_child(parent_fd, name, name)
    try:
        if owner is not None:
            st = os.fstat(fd)
            if (st.st_uid, st.st_gid) != owner:
                os.fchown(fd, *owner)
                os.fchmod(fd, mode)
    except BaseException:
        os.close(fd)
        raise
    return fd


def subdir_names(dir_fd: int) -> list[str]:
    """Names of the real folders (not links to them) in an open folder, sorted."""
    names = []
    for name in os.listdir(dir_fd):
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            continue  # removed meanwhile
        if stat.S_ISDIR(st.st_mode):
            names.append(name)
    return sorted(names)


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
    """Remove a file, symlink or whole folder tree at parent/name, following nothing.

    Iterative, one open fd per level: a tree nested deeper than
    MAX_REMOVE_DEPTH is refused (Blocked) once that depth is reached.
    A folder swapped for a link while it is emptied is refused, not followed.
    """
    st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(name, dir_fd=parent_fd)
        return
    # stack of (fd of a folder being emptied, its name in the folder above)
    stack: list[tuple[int, str]] = [(open_child(parent_fd, name, name), name)]
    try:
        while stack:
            fd, _ = stack[-1]
            child = _next_entry_to_clear(fd)
            if child is None:
                os.close(fd)
                _, done = stack.pop()
                os.rmdir(done, dir_fd=stack[-1][0] if stack else parent_fd)
                continue
            if len(stack) >= MAX_REMOVE_DEPTH:
                raise Blocked(f"{name} is nested deeper than {MAX_REMOVE_DEPTH} folders")
            stack.append((open_child(fd, child, name), child))
    finally:
        for fd, _ in stack:
            os.close(fd)


def _next_entry_to_clear(dir_fd: int) -> str | None:
    """Unlink the open folder's non-folders; the name of a sub-folder left, or None."""
    for entry in os.listdir(dir_fd):
        st = os.stat(entry, dir_fd=dir_fd, follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            return entry
        os.unlink(entry, dir_fd=dir_fd)
    return None
