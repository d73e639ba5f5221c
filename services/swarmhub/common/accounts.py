"""System accounts of hub users: who a user's notebook server runs as.

The hub host is the single source of truth for users. Its /etc/passwd is
mounted read-only into the hub container, and user servers run with the
uid/gid found there (or stored in the user's auth_state by a later step).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# People get uids of at least this; anything below is a system account
UID_FLOOR = 1000
# The group that marks hub users' accounts (restuser's own, and the users file's)
MARK_GROUP = "swarmhub-users"
# Members of these are never hub users, whatever their gid (docker's is often > 1000)
PRIVILEGED_GROUPS = frozenset(
    "root sudo adm docker wheel admin lxd libvirt shadow disk kmem systemd-journal".split()
)

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


class MalformedEntry(ValueError):
    """The account's line of a passwd file is broken (the message says how)."""


def read_account(passwd_path: str | Path, name: str) -> Account | None:
    """The account called `name` in a passwd(5) file; None when the file has no line
    for it. OSError when the file cannot be read; MalformedEntry when its own line is
    broken. Only the user's own line must be well formed: one broken line of some
    other account locks nobody out. The hub, restuser and the backup read with it."""
    with open(passwd_path, encoding="utf-8", errors="surrogateescape") as passwd:
        lines = passwd.read().splitlines()
    for lineno, line in enumerate(lines, start=1):
        fields = line.split(":")
        if fields[0] != name:
            continue
        where = f"{passwd_path}:{lineno}"
        if len(fields) != 7:
            raise MalformedEntry(
                f"malformed passwd entry for {name!r} at {where}: "
                f"expected 7 ':'-separated fields, found {len(fields)}"
            )
        try:
            uid, gid = int(fields[2]), int(fields[3])
        except ValueError:
            raise MalformedEntry(
                f"malformed passwd entry for {name!r} at {where}: uid and gid must be numbers"
            ) from None
        return Account(name=name, uid=uid, gid=gid, home=fields[5])
    return None


def lookup_account(username: str, passwd_path: str) -> Account:
    """The hub's view: `username`'s account, or AccountError saying what to do."""
    try:
        account = read_account(passwd_path, username)
    except OSError as e:
        raise AccountError(
            f"cannot read the hub host's passwd file {passwd_path} ({e.strerror}); "
            "check that the hub host's /etc/passwd is mounted there"
        ) from e
    except MalformedEntry as e:
        raise AccountError(str(e)) from None
    if account is None:
        raise AccountError(
            f"user {username!r} has no system account on the hub host "
            f"(not in {passwd_path}); {ADD_USER_HINT}"
        )
    return account


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


@dataclass(frozen=True)
class Refusal:
    """Why an existing account on the hub host is not a hub user's: an HTTP status
    (403: never; 409: not as it is), a short code and a sentence for the log."""

    status: int
    reason: str
    detail: str


def group_memberships(group_lines: Iterable[str], name: str, primary_gid: int) -> dict[str, int]:
    """{group name: gid} of the groups `name` belongs to, from group(5) lines: its
    primary group (by gid) and every group that lists it. A gid that is not a number
    is -1."""
    found = {}
    for line in group_lines:
        fields = line.split(":")
        if len(fields) != 4:
            continue
        gid = int(fields[2]) if fields[2].isdigit() else -1
        if gid == primary_gid or name in fields[3].split(","):
            found[fields[0]] = gid
    return found


def privileged_groups(
    account: Account, groups: Mapping[str, int], mark_group: str = MARK_GROUP
) -> list[str]:
    """The groups of `account` that would give it power over the hub host: sudo, adm,
    docker and the like by name, and any group with a gid under 1000 but its own
    primary group (and the mark group)."""
    return sorted(
        group
        for group, gid in groups.items()
        if group in PRIVILEGED_GROUPS
        or (gid < UID_FLOOR and gid != account.gid and group != mark_group)
    )


def hub_user_refusal(
    account: Account,
    groups: Mapping[str, int],
    *,
    min_uid: int,
    home_root: str,
    mark_group: str = MARK_GROUP,
) -> Refusal | None:
    """Why an existing account may not be a hub user, or None if it may.

    The one rule: restuser applies it before it answers for an account, and the
    hub applies it itself when restuser cannot be reached."""
    if account.uid < min_uid:
        return Refusal(
            403,
            "system-account",
            f"{account.name!r} is a system account (uid {account.uid} is below {min_uid}); "
            "it cannot be a hub user",
        )
    if not posixpath.normpath(account.home).startswith(home_root + "/"):
        return Refusal(
            409,
            "home-outside-root",
            f"the home of {account.name!r} is {account.home}, outside {home_root}; "
            "restuser only answers for users with their home there",
        )
    privileged = privileged_groups(account, groups, mark_group)
    if privileged:
        return Refusal(
            403,
            "privileged-account",
            f"{account.name!r} is a member of {', '.join(privileged)}, which give power "
            "over the hub host; such an account is never a hub user: take it out of "
            "those groups, or give the hub user another name",
        )
    if mark_group not in groups:
        return Refusal(
            409,
            "unmarked-account",
            f"{account.name!r} exists on the hub host but was not made for the hub (it "
            f"is not in the group {mark_group}); if it is a hub user, list it in "
            "the users file (./script/deploy users.yml), which marks it",
        )
    return None
