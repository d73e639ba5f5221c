"""What an uploaded archive may hold, checked before it is kept: a gzip'd tar of
plain files and folders with clean relative names, within the size limits. The
exchange never unpacks one; the servers that fetch it do, and this check is what
lets them trust that nothing in it is a link, a device or a path out of its folder.
"""

from __future__ import annotations

import posixpath
import tarfile
from dataclasses import dataclass
from typing import IO

# A top-level file name nbgrader writes itself when it collects (the timestamp
# the exchange stamped): never taken from an upload.
RESERVED_NAMES = ("timestamp.txt", "swarmhub_submission.txt")


class BadArchive(ValueError):
    """An upload the exchange refuses; the message says why, for the person."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 100 * 2**20  # unpacked
    max_members: int = 2000


@dataclass(frozen=True)
class Contents:
    notebooks: tuple[str, ...]  # notebook ids at the top level, sorted
    files: int
    size: int


def check_archive(stream: IO[bytes], limits: Limits) -> Contents:
    """Read the whole archive once; BadArchive names the first member refused."""
    notebooks, files, size, members = [], 0, 0, 0
    try:
        with tarfile.open(fileobj=stream, mode="r|gz") as tar:
            for member in tar:
                members += 1
                if members > limits.max_members:
                    raise BadArchive(f"it holds more than {limits.max_members} files and folders")
                name = _clean_name(member.name)
                if member.isdir():
                    continue
                if not member.isreg():
                    raise BadArchive(f"{name} is not a plain file or folder (links are refused)")
                if "/" not in name and name in RESERVED_NAMES:
                    raise BadArchive(f"{name} is a name the exchange writes itself")
                files += 1
                size += member.size
                if size > limits.max_bytes:
                    raise BadArchive(
                        f"its files add up to more than {limits.max_bytes // 2**20} MiB"
                    )
                if "/" not in name and name.endswith(".ipynb"):
                    notebooks.append(name[: -len(".ipynb")])
    except (tarfile.TarError, EOFError, OSError) as e:
        raise BadArchive(f"it is not a readable tar.gz archive ({e})") from None
    return Contents(notebooks=tuple(sorted(notebooks)), files=files, size=size)


def _clean_name(name: str) -> str:
    clean = posixpath.normpath(name.removeprefix("./")) if name not in ("", ".", "./") else "."
    if (
        name.startswith("/")
        or clean.startswith("../")
        or clean == ".."
        or "\x00" in name
        or "\\" in name
    ):
        raise BadArchive(f"{name!r} is not a plain relative name")
    return clean
