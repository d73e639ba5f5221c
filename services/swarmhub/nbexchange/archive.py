"""Folders to tar.gz and back. Archives come from other people: every member is
checked before anything is written, and one bad member refuses the whole archive."""

from __future__ import annotations

import io
import logging
import os
import shutil
import stat
import tarfile
import tempfile
import zlib
from collections.abc import Callable
from pathlib import PurePosixPath

from nbgrader.utils import ignore_patterns


class UnsafeArchive(Exception):
    """An archive refused whole, or a destination that is not a plain folder."""


def pack(
    src: str,
    exclude: list[str],
    include: list[str],
    max_file_size: int,
    log: logging.Logger,
) -> bytes:
    """src's contents as tar.gz, with nbgrader's own copy rules (CourseDirectory.ignore,
    include, max_file_size: nbgrader.utils.ignore_patterns, as default do_copy).

    Symbolic links are left out with a warning: the receiver refuses them anyway.
    """
    ignore: Callable[[str, list[str]], list[str]] = ignore_patterns(
        exclude=exclude, include=include, max_file_size=max_file_size, log=log
    )
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(src):
            ignored = set(ignore(dirpath, dirnames + filenames))
            kept_dirs = []
            for name in sorted(dirnames):
                path = os.path.join(dirpath, name)
                if name in ignored:
                    continue
                if os.path.islink(path):
                    log.warning("Not sent, a symbolic link: %s", path)
                    continue
                kept_dirs.append(name)
                tar.add(path, arcname=os.path.relpath(path, src), recursive=False, filter=_anon)
            dirnames[:] = kept_dirs
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                if name in ignored:
                    continue
                if not stat.S_ISREG(os.lstat(path).st_mode):
                    log.warning("Not sent, a symbolic link or a special file: %s", path)
                    continue
                tar.add(path, arcname=os.path.relpath(path, src), recursive=False, filter=_anon)
    return buffer.getvalue()


def _anon(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # the sender's uid and name mean nothing on the other side
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def dir_size(root: str) -> int:
    """Bytes of the files under root, links not followed (as default Exchange.get_size)."""
    total = 0
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                total += os.path.getsize(path)
    return total


def checked_members(tar: tarfile.TarFile, max_bytes: int) -> list[tarfile.TarInfo]:
    """The members, each a regular file or a folder under a plain relative name.

    Our own check rather than tarfile's filter="data" alone: that filter is in
    Python 3.11.4+ only, and it refuses member by member, after earlier ones
    are written.
    """
    members = []
    seen: set[str] = set()
    total = 0
    for member in tar.getmembers():
        parts = [p for p in PurePosixPath(member.name).parts if p != "."]
        name = "/".join(parts)
        if not parts and member.isdir():
            continue  # "." itself
        if member.name.startswith("/") or not parts or ".." in parts:
            raise UnsafeArchive(f"{member.name!r} is not a plain relative name")
        if not (member.isreg() or member.isdir()):
            raise UnsafeArchive(f"{member.name!r} is a link or a special file")
        if name in seen:
            raise UnsafeArchive(f"{member.name!r} is in it twice")
        seen.add(name)
        total += member.size
        if total > max_bytes:
            raise UnsafeArchive(f"it unpacks to more than {max_bytes // 1_000_000} MB")
        member.name = name
        # no setuid, no group or other write, whatever the sender had
        member.mode = 0o755 if member.isdir() or member.mode & 0o100 else 0o644
        members.append(member)
    return members


def unpack_new(data: bytes, parent: str, base: str, max_bytes: int) -> str:
    """data unpacked into a new hidden folder in parent (below base); its path. The
    caller moves or removes it. UnsafeArchive, with nothing written, if any member
    is refused."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            members = checked_members(tar, max_bytes)
            refuse_links(parent, base)
            os.makedirs(parent, exist_ok=True)
            tmp = tempfile.mkdtemp(prefix=".swarmhub-incoming-", dir=parent)
            try:
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(tmp, members=members, filter="data")
                else:
                    tar.extractall(tmp, members=members)
            except BaseException:
                shutil.rmtree(tmp)
                raise
    except (tarfile.TarError, EOFError, zlib.error) as e:
        raise UnsafeArchive(f"it cannot be read ({e})") from e
    os.chmod(tmp, 0o755)
    return tmp


def refuse_links(path: str, base: str) -> None:
    """UnsafeArchive if path, or a folder between base and it, is a symbolic link:
    writing through one would land elsewhere. base itself is the person's own
    choice (a home reached through a link is fine)."""
    path, base = os.path.abspath(path), os.path.abspath(base)
    rel = os.path.relpath(path, base)
    if rel == os.curdir:
        return
    if rel.split(os.sep)[0] == os.pardir:
        raise UnsafeArchive(f"{path} is not inside {base}")
    current = base
    for part in rel.split(os.sep):
        current = os.path.join(current, part)
        if os.path.islink(current):
            raise UnsafeArchive(f"{current} is a symbolic link: nothing is written through it")


def place_missing(src: str, dest: str, log: logging.Logger) -> None:
    """Move into dest what src has and dest lacks (fetch with replace_missing_files)."""
    plan = []
    for dirpath, dirnames, filenames in os.walk(src):
        for name in sorted(dirnames) + sorted(filenames):
            rel = os.path.relpath(os.path.join(dirpath, name), src)
            target = os.path.join(dest, rel)
            if os.path.islink(target):
                raise UnsafeArchive(f"{target} is a symbolic link: nothing is written through it")
            if not os.path.lexists(target):
                plan.append((rel, name in dirnames))
    for rel, is_dir in plan:
        target = os.path.join(dest, rel)
        if os.path.lexists(target):
            continue  # inside a folder placed whole just before
        kind = "directory" if is_dir else "file"
        log.warning("Replacing missing %s '%s'", kind, target)
        os.rename(os.path.join(src, rel), target)


def write_file(path: str, content: bytes, base: str) -> None:
    """content at path (below base), written to a new file then renamed over: never
    through a link."""
    folder = os.path.dirname(path)
    refuse_links(path, base)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".swarmhub-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
