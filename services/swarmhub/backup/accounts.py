"""Users of the hub host, as far as restores need them."""

from __future__ import annotations

from ..common import accounts, usernames
from ..common.accounts import Account
from .errors import BackupError


def check_username(name: str) -> str:
    """`name` if it passes the hub's one username rule (swarmhub.common.usernames), which
    never allows a hidden name (the staging folder is one)."""
    if not usernames.is_valid(name):
        raise BackupError(f"{name!r} is not a user name ({usernames.RULE_TEXT})")
    return name


def lookup_account(passwd_file: str | None, name: str) -> Account | None:
    """The account in the hub host's passwd file; None when absent, unreadable as an
    account, or no file is set."""
    if not passwd_file:
        return None
    try:
        return accounts.read_account(passwd_file, name)
    except (FileNotFoundError, accounts.MalformedEntry):
        return None
