"""Ensuring a hub user's system account exists: checks, useradd, home, and undo.

Plain functions over a RestuserConfig; the web app is a thin layer on top.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import posixpath
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from ..common.accounts import Account, hub_user_refusal
from ..common.accounts import privileged_groups as _privileged_groups
from .config import RestuserConfig
from .errors import RestuserError
from .home import create_home
from .names import check_name
from .passwd import find_group_gid, find_user, groups_of
from .quota import OverridesFile, Quota, find_mount_point, quota_error, setquota_argv

# useradd's exit status for "user name or group name already in use"
USERADD_NAME_IN_USE = 9
# shadow waits up to 15 s for its own lock on /etc/passwd; this only stops a hang
COMMAND_TIMEOUT = 120
# English messages from useradd, whatever the host's locale
COMMAND_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}

logger = logging.getLogger("swarmhub.restuser")


class Outcome(Enum):
    """What a POST did."""

    EXISTED = "existed"  # nothing changed
    CREATED = "created"  # new user, home and quota
    HOME_RESTORED = "home-restored"  # the user existed, its missing home was made


@dataclass(frozen=True)
class UserAnswer:
    """A user's account and the quota restuser gives it (None: quotas are off)."""

    account: Account
    quota: Quota | None
    outcome: Outcome = Outcome.EXISTED


def get_user(config: RestuserConfig, name: str) -> UserAnswer:
    """The hub user's account; RestuserError 404 if there is none, 4xx if refused."""
    check_name(name, config.reserved_names, config.reserved_prefixes)
    account = find_user(config.host_path("/etc/passwd"), name)
    if account is None:
        raise RestuserError(404, "no-such-user", f"there is no user {name!r}")
    account = _usable(config, account)
    return UserAnswer(account, _reported_quota(config, name))


def ensure_user(config: RestuserConfig, name: str) -> UserAnswer:
    """The hub user's account, created first if needed, and what was done.

    A creation is all or nothing: if the home or the quota cannot be made, the user
    (and the new home) is deleted again before the RestuserError (500) is raised.
    An existing user whose home is missing (restuser stopped between useradd and the
    home) gets the home made from the skeleton, and its quota, all or nothing too.
    """
    check_name(name, config.reserved_names, config.reserved_prefixes)
    home = home_path(config, name)
    with user_lock(config):
        existing = find_user(config.host_path("/etc/passwd"), name)
        if existing is not None:
            account = _usable(config, existing)
            if os.path.lexists(config.host_path(account.home)):
                return UserAnswer(account, _reported_quota(config, name))
            quota = quota_for(config, name)
            _restore_home(config, account, quota)
            return UserAnswer(account, quota, Outcome.HOME_RESTORED)
        host_home = config.host_path(home)
        # an old home of a deleted user, or a symlink planted there: never adopt it
        if os.path.lexists(host_home):
            raise RestuserError(
                409,
                "home-exists",
                f"{home} already exists but there is no user {name!r}; it may belong to "
                "a removed account: move it away (or restore the account) first",
            )
        # before anything is made: a broken overrides file must create nothing
        quota = quota_for(config, name)
        min_uid = config.effective_min_uid()
        ensure_mark_group(config, min_uid)
        _useradd(config, name, home, min_uid)
        try:
            account = _created_account(config, name, min_uid)
            create_home(config.host_path(config.skeleton), host_home, account.uid, account.gid)
            if quota is not None:
                try:
                    apply_quota(config, account.uid, quota)
                except RestuserError:
                    shutil.rmtree(host_home)
                    raise
        except Exception as e:
            raise _undo_creation(config, name, e) from e
    return UserAnswer(account, quota, Outcome.CREATED)


def quota_for(config: RestuserConfig, name: str) -> Quota | None:
    """The quota restuser gives `name`: its override, else the default; None if off."""
    if not config.quota_enabled:
        return None
    if config.quota_overrides is None:
        return config.default_quota
    overrides = _overrides_file(config.host_path(config.quota_overrides), config.default_quota)
    try:
        return overrides.get().get(name, config.default_quota)
    except ValueError as e:
        raise quota_error(name, str(e)) from None


def apply_quota(config: RestuserConfig, uid: int, quota: Quota) -> None:
    """Set the block limits of `uid` with setquota; RestuserError 500 saying what to do."""
    try:
        filesystem = quota_filesystem(config)
    except OSError as e:
        raise RestuserError(
            500,
            "quota-failed",
            f"cannot find the filesystem of {config.home_root} for setquota ({e})",
        ) from None
    problem = _run(setquota_argv(config.setquota, uid, quota, filesystem))
    if problem is not None:
        raise RestuserError(
            500,
            "quota-failed",
            f"setquota of uid {uid} on {filesystem} failed ({problem[1]}): check that "
            "quotas are on there (quotaon -p; deploy with -t quotas), or start restuser "
            "without --quota-enabled (swarmhub_quotas_enabled: false)",
        )


def quota_filesystem(config: RestuserConfig) -> str:
    """What setquota is given: --quota-filesystem, or the mount point of the home root."""
    if config.quota_filesystem is not None:
        return str(config.host_path(config.quota_filesystem))
    return str(find_mount_point(config.host_path(config.home_root)))


@functools.lru_cache(maxsize=8)
def _overrides_file(path: Path, default: Quota) -> OverridesFile:
    # one reader (and cache) per file and default, shared by all requests
    return OverridesFile(path, default)


def _reported_quota(config: RestuserConfig, name: str) -> Quota | None:
    # an existing user's answer never fails over the overrides file: the login goes on
    try:
        return quota_for(config, name)
    except RestuserError as e:
        logger.error("%s", e.detail)
        return None


def _restore_home(config: RestuserConfig, account: Account, quota: Quota | None) -> None:
    """Make the missing home of an existing user, with its quota; nothing if it fails."""
    host_home = config.host_path(account.home)
    try:
        create_home(config.host_path(config.skeleton), host_home, account.uid, account.gid)
    except Exception as e:
        raise RestuserError(
            500,
            "home-copy-failed",
            f"{_home_failure(config, account.name, e)}; the user exists without a home: "
            "fix the skeleton folder and ask again",
        ) from e
    if quota is not None:
        try:
            apply_quota(config, account.uid, quota)
        except RestuserError as e:
            shutil.rmtree(host_home)
            raise RestuserError(
                e.status, e.error, f"{e.detail}; the home made for it was removed again"
            ) from None


def home_path(config: RestuserConfig, name: str) -> str:
    """The home of a new user: a folder directly in the home root."""
    home = posixpath.normpath(posixpath.join(config.home_root, name))
    # the name rule already forbids "/" and "..": this guards against that rule changing
    if posixpath.dirname(home) != config.home_root:
        raise RestuserError(
            400, "home-outside-root", f"the home of {name!r} would be outside {config.home_root}"
        )
    return home


@contextmanager
def user_lock(config: RestuserConfig) -> Iterator[None]:
    """Hold restuser's lock: one check-and-create at a time, across threads and processes."""
    path = config.host_path(config.lock_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    # flock belongs to the open file, so each caller opens its own
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _usable(config: RestuserConfig, account: Account) -> Account:
    groups = groups_of(config.host_path("/etc/group"), account.name, account.gid)
    refusal = hub_user_refusal(
        account,
        groups,
        min_uid=config.effective_min_uid(),
        home_root=config.home_root,
        mark_group=config.mark_group,
    )
    if refusal is not None:
        raise RestuserError(refusal.status, refusal.reason, refusal.detail)
    return account


def privileged_groups(
    config: RestuserConfig, account: Account, groups: dict[str, int]
) -> list[str]:
    """accounts.privileged_groups with restuser's mark group."""
    return _privileged_groups(account, groups, config.mark_group)


def ensure_mark_group(config: RestuserConfig, min_gid: int) -> None:
    """Make the mark group if it is missing (a regular group: gid >= min_gid)."""
    if find_group_gid(config.host_path("/etc/group"), config.mark_group) is not None:
        return
    problem = _run(
        [
            config.groupadd,
            *_prefix_args(config),
            "--key",
            f"GID_MIN={min_gid}",
            "--",
            config.mark_group,
        ]
    )
    # exit status 9: made meanwhile by someone else (the users playbook)
    if problem is not None and problem[0] != 9:
        raise RestuserError(
            500,
            "groupadd-failed",
            f"groupadd {config.mark_group} (the group of hub users' accounts) failed: {problem[1]}",
        )


def _useradd(config: RestuserConfig, name: str, home: str, min_uid: int) -> None:
    argv = [
        config.useradd,
        *_prefix_args(config),
        # lastlog and faillog are not under the prefix; the hub's users never log in there
        "--no-log-init",
        "--user-group",
        # the home is made by create_home, so that it can be made all or nothing
        "--no-create-home",
        "--home-dir",
        home,
        "--shell",
        config.shell,
        # the mark: restuser made this account for a hub user (see adoptable)
        "--groups",
        config.mark_group,
        # the user's own group too: both ids must be at least min_uid (_created_account)
        "--key",
        f"UID_MIN={min_uid}",
        "--key",
        f"GID_MIN={min_uid}",
        "--",
        name,
    ]
    problem = _run(argv)
    if problem is None:
        return
    code, message = problem
    if code == USERADD_NAME_IN_USE:
        raise RestuserError(
            409,
            "name-in-use",
            f"useradd refused {name!r}: the name is taken, most likely by a group ({message})",
        )
    raise RestuserError(500, "useradd-failed", f"useradd {name} failed: {message}")


def _created_account(config: RestuserConfig, name: str, min_uid: int) -> Account:
    account = find_user(config.host_path("/etc/passwd"), name)
    if account is None:
        raise RestuserError(
            500, "useradd-failed", f"useradd {name} succeeded but the user is not in passwd"
        )
    if account.uid < min_uid or account.gid < min_uid:
        raise RestuserError(
            500,
            "useradd-failed",
            f"useradd gave {name!r} uid {account.uid} and gid {account.gid}, below {min_uid}",
        )
    return account


def _undo_creation(config: RestuserConfig, name: str, error: Exception) -> RestuserError:
    """Delete the user just created; the error that says what failed, and how undoing went."""
    if isinstance(error, RestuserError):
        code, what = error.error, error.detail
    else:
        code, what = "home-copy-failed", _home_failure(config, name, error)
    gid = find_group_gid(config.host_path("/etc/group"), name)
    problem = _run([config.userdel, *_prefix_args(config), "--", name])
    # userdel removes the user's own group only if login.defs has USERGROUPS_ENAB yes
    if problem is None and gid is not None:
        if find_group_gid(config.host_path("/etc/group"), name) == gid:
            problem = _run([config.groupdel, *_prefix_args(config), "--", name])
    if problem is not None:
        return RestuserError(
            500,
            "rollback-failed",
            f"{what}; then deleting the half-created user failed too ({problem[1]}): "
            f"remove user and group {name!r} by hand (userdel {name}; groupdel {name})",
        )
    return RestuserError(500, code, f"{what}; the user was deleted again, nothing was created")


def _home_failure(config: RestuserConfig, name: str, error: Exception) -> str:
    what = f"creating the home of {name!r} from the skeleton {config.skeleton} failed"
    failures = error.args[0] if isinstance(error, shutil.Error) and error.args else None
    if isinstance(failures, list) and failures:
        # copytree gathers one (source, target, reason) per file; the first says enough
        source, _, reason = failures[0]
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        return f"{what}: cannot copy {source}: {reason}{more}"
    return f"{what}: {error}"


def _prefix_args(config: RestuserConfig) -> list[str]:
    return ["--prefix", config.prefix] if config.prefix else []


def _run(argv: Sequence[str]) -> tuple[int, str] | None:
    """Run a shadow tool; None if it succeeded, else (exit status, what it said)."""
    try:
        result = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            errors="replace",
            env=COMMAND_ENV,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return -1, str(e)
    if result.returncode == 0:
        return None
    message = " ".join(result.stderr.split()) or "no message"
    return result.returncode, f"exit status {result.returncode}: {message}"
