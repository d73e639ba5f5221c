"""Reading users and groups from the hub host's passwd(5) and group(5) files."""

from __future__ import annotations

from pathlib import Path

from ..common.accounts import Account, MalformedEntry, group_memberships, read_account
from .errors import RestuserError


def find_user(passwd: Path, name: str) -> Account | None:
    """The account called `name` in a passwd file, or None."""
    try:
        return read_account(passwd, name)
    except OSError as e:
        raise RestuserError(
            500, "cannot-read-accounts", f"cannot read {passwd} ({e.strerror})"
        ) from None
    except MalformedEntry as e:
        raise RestuserError(500, "malformed-account", str(e)) from None


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
