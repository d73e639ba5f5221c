"""System accounts of hub users: who a user's notebook server runs as.

The hub host is the single source of truth for users. Its /etc/passwd is
mounted read-only into the hub container, and user servers run with the
uid/gid found there (or stored in the user's auth_state by a later step).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ADD_USER_HINT = "add them with the users playbook `./script/deploy users.yml` (see README)"


class AccountError(Exception):
    """A user cannot be mapped to a usable system account on the hub host."""


@dataclass(frozen=True)
class Account:
    """A user's identity on the hub host."""

    name: str
    uid: int
    gid: int
    home: str


def lookup_account(username: str, passwd_path: str) -> Account:
    """Find `username` in a passwd(5) file.

    Only the user's own line must be well formed: one broken line of some other
    account should not lock everybody out.
    """
    try:
        with open(passwd_path, encoding="utf-8") as passwd:
            lines = passwd.read().splitlines()
    except OSError as e:
        raise AccountError(
            f"cannot read the hub host's passwd file {passwd_path} ({e.strerror}); "
            "check that the hub host's /etc/passwd is mounted there"
        ) from e

    for lineno, line in enumerate(lines, start=1):
        fields = line.split(":")
        if fields[0] != username:
            continue
        return _account_from_fields(fields, f"{passwd_path}:{lineno}")

    raise AccountError(
        f"user {username!r} has no system account on the hub host "
        f"(not in {passwd_path}); {ADD_USER_HINT}"
    )


def _account_from_fields(fields: list[str], where: str) -> Account:
    name = fields[0]
    if len(fields) != 7:
        raise AccountError(
            f"malformed passwd entry for {name!r} at {where}: "
            f"expected 7 ':'-separated fields, found {len(fields)}"
        )
    try:
        uid, gid = int(fields[2]), int(fields[3])
    except ValueError:
        raise AccountError(
            f"malformed passwd entry for {name!r} at {where}: uid and gid must be numbers"
        ) from None
    return Account(name=name, uid=uid, gid=gid, home=fields[5])


def account_from_auth_state(
    username: str, auth_state: Mapping[str, Any] | None, home_root: str
) -> Account | None:
    """The account stored in a user's auth_state ("uid"/"gid" keys), if any.

    auth_state carries no home directory: the home is the user's folder under
    home_root, the same place the spawner mounts.
    """
    if not auth_state or "uid" not in auth_state or "gid" not in auth_state:
        return None
    uid, gid = auth_state["uid"], auth_state["gid"]
    # bool is an int subclass; True as a uid is a bug upstream, not uid 1
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (uid, gid)):
        raise AccountError(
            f"auth_state of {username!r} has a non-numeric uid/gid ({uid!r}/{gid!r}); "
            "log the user out and in again so the authenticator stores them afresh"
        )
    return Account(name=username, uid=uid, gid=gid, home=posixpath.join(home_root, username))


def ensure_unprivileged(account: Account, min_uid: int) -> Account:
    """Refuse system accounts (root, daemons): user servers run as real people only.

    Without this a shared-password login as "root" or "www-data" would get a
    container running with that account's ids.
    """
    # gid is not checked: sites may give all people a shared group such as users(100)
    if account.uid < min_uid:
        raise AccountError(
            f"user {account.name!r} maps to a system account (uid {account.uid} is below "
            f"{min_uid}); notebook servers run only for regular users: {ADD_USER_HINT}"
        )
    return account
