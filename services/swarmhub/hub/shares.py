"""Shared folders with access levels, and who may see and change each.

A share is {name, path, level, readers, writers}. Entries of readers/writers are
usernames, or "@group" for a unix group of the hub host. Levels:
- public: everyone reads; writers write;
- private: readers and writers read; writers write;
- secret: like private, and nobody else learns it exists (not mounted, not listed).

Enforced twice: the spawner mounts a share only for those who may read it
(read-only unless they may write), and on the hub host the folder belongs to the
share's unix groups (the shares role), whose gids the spawner gives the container.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

LEVELS = ("public", "private", "secret")
SHARE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,19}$")  # + "share-" and "-w" fit a 32-char group
SHARES_MOUNT_ROOT = "/srv/shares"


@dataclass(frozen=True)
class Share:
    name: str
    path: str
    level: str
    readers: tuple[str, ...] = ()
    writers: tuple[str, ...] = ()

    @property
    def read_group(self) -> str:
        return f"share-{self.name}"

    @property
    def write_group(self) -> str:
        return f"share-{self.name}-w"


@dataclass(frozen=True)
class Access:
    share: Share
    writable: bool


def parse_shares(entries: Sequence[Mapping[str, Any]]) -> list[Share]:
    """Shares from settings; ValueError names the bad entry."""
    shares, seen = [], set()
    for i, entry in enumerate(entries):
        where = f"shares[{i}]"
        name = entry.get("name")
        if not isinstance(name, str) or not SHARE_NAME.match(name):
            raise ValueError(
                f"hub settings: {where}.name {name!r} must be 1-20 lower-case letters, "
                "digits, '-' or '_', starting with a letter"
            )
        if name in seen:
            raise ValueError(f"hub settings: {where}: share {name!r} is defined twice")
        seen.add(name)
        level = entry.get("level")
        if level not in LEVELS:
            raise ValueError(f"hub settings: {where}.level must be one of {', '.join(LEVELS)}")
        path = entry.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"hub settings: {where}.path must be an absolute path")
        lists = {}
        for key in ("readers", "writers"):
            value = entry.get(key) or []
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise ValueError(f"hub settings: {where}.{key} must be a list of names")
            lists[key] = tuple(value)
        shares.append(Share(name=name, path=path, level=level, **lists))
    return shares


def _matches(entries: Iterable[str], username: str, groups: set[str]) -> bool:
    return any((e[1:] in groups) if e.startswith("@") else (e == username) for e in entries)


def access_for(share: Share, username: str, groups: set[str]) -> Access | None:
    """What `username` (member of unix `groups`) may do with `share`; None: not see it."""
    if _matches(share.writers, username, groups):
        return Access(share, writable=True)
    if share.level == "public" or _matches(share.readers, username, groups):
        return Access(share, writable=False)
    return None


def accessible_shares(shares: Sequence[Share], username: str, groups: set[str]) -> list[Access]:
    return [a for s in shares if (a := access_for(s, username, groups)) is not None]


def user_groups(username: str, primary_gid: int, group_file: str) -> dict[str, int]:
    """Unix groups (name -> gid) `username` belongs to, per a group(5) file."""
    groups: dict[str, int] = {}
    with open(group_file, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split(":")
            if len(fields) != 4 or not fields[2].isdigit():
                continue
            gid = int(fields[2])
            if gid == primary_gid or username in fields[3].split(","):
                groups[fields[0]] = gid
    return groups


def group_ids(group_file: str, names: Iterable[str]) -> dict[str, int]:
    """gids of the named groups that exist in a group(5) file."""
    wanted = set(names)
    found: dict[str, int] = {}
    with open(group_file, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split(":")
            if len(fields) == 4 and fields[0] in wanted and fields[2].isdigit():
                found[fields[0]] = int(fields[2])
    return found


# NFS with AUTH_SYS carries at most 16 supplementary groups in a request, and a
# Linux client sends the lowest 16 gids: over NFS a process loses the access of
# every group past them (README, "What NFS trusts").
AUTH_SYS_MAX_GROUPS = 16


def groups_past_auth_sys(gids: dict[str, int]) -> list[str]:
    """Names of the groups whose access NFS would drop for a process holding `gids`."""
    kept = set(sorted(set(gids.values()))[:AUTH_SYS_MAX_GROUPS])
    return sorted(name for name, gid in gids.items() if gid not in kept)


def share_mount_target(share: Share) -> str:
    return f"{SHARES_MOUNT_ROOT}/{share.name}"
