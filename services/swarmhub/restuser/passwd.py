"""Reading users and groups from the hub host's passwd(5) and group(5) files."""

from __future__ import annotations

from pathlib import Path

from ..common.accounts import Account, group_memberships
from .errors import RestuserError


def find_user(passwd: Path, name: str) -> Account | None:
    """The account called `name` in a passwd file, or None."""
    fields = _find_entry(passwd, name)
    if fields is None:
        return None
    if len(fields) != 7:
        raise _malformed(passwd, name, f"expected 7 ':'-separated fields, found {len(fields)}")
    try:
        uid, gid = int(fields[2]), int(fields[3])
    except ValueError:
        raise _malformed(passwd, name, "uid and gid must be numbers") from None
    return Account(name=name, uid=uid, gid=gid, home=fields[5])


def find_group_gid(group: Path, name: str) -> int | None:
    """The gid of the group called `name` in a group file, or None."""
    fields = _find_entry(group, name)
    if fields is None or len(fields) != 4 or not fields[2].isdigit():
        return None
    return int(fields[2])


def groups_of(group: Path, name: str, primary_gid: int) -> dict[str, int]:
    """{group name: gid} of the groups `name` belongs to (accounts.group_memberships)."""
    return group_memberships(_lines(group), name, primary_gid)


def _lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as e:
        raise RestuserError(
            500, "cannot-read-accounts", f"cannot read {path} ({e.strerror})"
        ) from None
    return text.splitlines()


def _entries(path: Path) -> list[list[str]]:
    return [line.split(":") for line in _lines(path)]


def _find_entry(path: Path, name: str) -> list[str] | None:
    return next((fields for fields in _entries(path) if fields[0] == name), None)


def _malformed(path: Path, name: str, why: str) -> RestuserError:
    return RestuserError(
        500, "malformed-account", f"the entry of {name!r} in {path} is malformed: {why}"
    )
