"""Users of the hub host, as far as restores need them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import BackupError

# what restuser and useradd accept, and never a hidden name (the staging folder is one)
_USERNAME = re.compile(r"^[a-z_][a-z0-9_-]*[$]?$")


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    home: str


def check_username(name: str) -> str:
    if not _USERNAME.match(name) or len(name) > 32:
        raise BackupError(
            f"{name!r} is not a user name (lower-case letters, digits, _ and -, "
            "starting with a letter or _)"
        )
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
