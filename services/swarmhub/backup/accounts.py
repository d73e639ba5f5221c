"""Users of the hub host, as far as restores need them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..common import usernames
from .errors import BackupError


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    home: str


def check_username(name: str) -> str:
    """`name` if it passes the hub's one username rule (swarmhub.common.usernames), which
    never allows a hidden name (the staging folder is one)."""
    if not usernames.is_valid(name):
        raise BackupError(f"{name!r} is not a user name ({usernames.RULE_TEXT})")
    return name


def lookup_account(passwd_file: str | None, name: str) -> Account | None:
    """The account in the hub host's passwd file; None when absent or no file is set."""
    if not passwd_file:
        return None
    try:
        lines = Path(passwd_file).read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return None
    for line in lines:
        fields = line.split(":")
        if len(fields) >= 7 and fields[0] == name:
            try:
                return Account(name=name, uid=int(fields[2]), gid=int(fields[3]), home=fields[5])
            except ValueError:
                return None
    return None
