"""restuser's settings, and the smallest uid a new user may get."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

# UID_FLOOR, MARK_GROUP and PRIVILEGED_GROUPS live with the rule they make
# (accounts.hub_user_refusal), which the hub applies when restuser is down
from ..common.accounts import MARK_GROUP, UID_FLOOR
from .names import DEFAULT_RESERVED_NAMES, DEFAULT_RESERVED_PREFIXES
from .quota import Quota


@dataclass(frozen=True)
class RestuserConfig:
    """Where and how restuser creates users.

    Every path is a path on the hub host. `prefix` is put in front of all of them
    (the /etc files, homes, skeleton, lock): "" in production, a temporary root in
    tests, where useradd and userdel run with `--prefix` so this machine's accounts
    are never touched.
    """

    prefix: str = ""
    home_root: str = "/home"
    skeleton: str = "/srv/skeldir"
    # None: UID_MIN of the login.defs, but at least UID_FLOOR
    min_uid: int | None = None
    shell: str = "/bin/bash"
    reserved_names: frozenset[str] = DEFAULT_RESERVED_NAMES
    reserved_prefixes: tuple[str, ...] = DEFAULT_RESERVED_PREFIXES
    useradd: str = "/usr/sbin/useradd"
    userdel: str = "/usr/sbin/userdel"
    groupdel: str = "/usr/sbin/groupdel"
    groupadd: str = "/usr/sbin/groupadd"
    usermod: str = "/usr/sbin/usermod"
    # Every account restuser makes is a member of this group (made when missing); an
    # existing account outside it is not adopted (the users playbook adds the
    # accounts of its users file to it).
    mark_group: str = MARK_GROUP
    # a file lock, so that several server processes would still create a user once
    lock_file: str = "/run/lock/swarmhub-restuser.lock"
    # Disk quotas, set with setquota on the filesystem holding home_root when a user
    # (or a missing home) is created. Off: answers carry "quota": null.
    quota_enabled: bool = False
    # the limits of users without an override (0: none)
    default_quota: Quota = Quota()
    # a JSON (or YAML) map user -> {soft, hard}, read again when it changes; None: none
    quota_overrides: str | None = None
    setquota: str = "/usr/sbin/setquota"
    # the mount point given to setquota; None: the one holding home_root
    quota_filesystem: str | None = None

    def __post_init__(self) -> None:
        if self.prefix and not _is_clean_absolute(self.prefix):
            raise ValueError(
                f"restuser: prefix must be empty or an absolute path, not {self.prefix!r}"
            )
        for key in ("home_root", "skeleton", "shell", "lock_file", "quota_overrides"):
            value = getattr(self, key)
            if value is None and key == "quota_overrides":
                continue
            if not _is_clean_absolute(value) or value == "/":
                raise ValueError(
                    f"restuser: {key} must be an absolute path without '..' or a "
                    f"trailing '/', and not '/' itself; got {value!r}"
                )
        if self.min_uid is not None and self.min_uid < UID_FLOOR:
            raise ValueError(
                f"restuser: min_uid {self.min_uid} is below {UID_FLOOR}; "
                "uids under it belong to system accounts"
            )

    def host_path(self, path: str) -> Path:
        """Where a hub host path is on this machine (under the prefix, if any)."""
        return Path(self.prefix + path)

    def effective_min_uid(self) -> int:
        """The smallest uid a new user may get, and the smallest an existing one may have."""
        if self.min_uid is not None:
            return self.min_uid
        return max(UID_FLOOR, _login_defs_uid_min(self.host_path("/etc/login.defs")))


def _is_clean_absolute(path: str) -> bool:
    return path.startswith("/") and posixpath.normpath(path) == path and "\0" not in path


def _login_defs_uid_min(path: Path) -> int:
    # like shadow itself: a missing file or an unparsable value means the default
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return UID_FLOOR
    for line in lines:
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "UID_MIN":
            try:
                return int(fields[1], 0)
            except ValueError:
                return UID_FLOOR
    return UID_FLOOR
