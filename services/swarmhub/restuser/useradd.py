"""Ensuring a hub user's system account exists: checks, useradd, home, and undo.

Plain functions over a RestuserConfig; the web app is a thin layer on top.
"""

from __future__ import annotations

import fcntl
import os
import posixpath
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from ..accounts import Account
from .config import RestuserConfig
from .errors import RestuserError
from .home import create_home
from .names import check_name
from .passwd import find_group_gid, find_user

# useradd's exit status for "user name or group name already in use"
USERADD_NAME_IN_USE = 9
# shadow waits up to 15 s for its own lock on /etc/passwd; this only stops a hang
COMMAND_TIMEOUT = 120
# English messages from useradd, whatever the host's locale
COMMAND_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}


def get_user(config: RestuserConfig, name: str) -> Account:
    """The hub user's account; RestuserError 404 if there is none, 4xx if refused."""
    check_name(name, config.reserved_names, config.reserved_prefixes)
    account = find_user(config.host_path("/etc/passwd"), name)
    if account is None:
        raise RestuserError(404, "no-such-user", f"there is no user {name!r}")
    return _usable(config, account)


def ensure_user(config: RestuserConfig, name: str) -> tuple[Account, bool]:
    """The hub user's account, created first if needed; and whether it was created.

    A creation is all or nothing: if the home cannot be made, the user is deleted
    again before the RestuserError (500) is raised.
    """
    check_name(name, config.reserved_names, config.reserved_prefixes)
    home = home_path(config, name)
    with user_lock(config):
        existing = find_user(config.host_path("/etc/passwd"), name)
        if existing is not None:
            return _usable(config, existing), False
        host_home = config.host_path(home)
        # an old home of a deleted user, or a symlink planted there: never adopt it
        if os.path.lexists(host_home):
            raise RestuserError(
                409,
                "home-exists",
                f"{home} already exists but there is no user {name!r}; it may belong to "
                "a removed account: move it away (or restore the account) first",
            )
        min_uid = config.effective_min_uid()
        _useradd(config, name, home, min_uid)
        try:
            account = _created_account(config, name, min_uid)
            create_home(config.host_path(config.skeleton), host_home, account.uid, account.gid)
        except Exception as e:
            raise _undo_creation(config, name, e) from e
    return account, True


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
    min_uid = config.effective_min_uid()
    if account.uid < min_uid:
        raise RestuserError(
            403,
            "system-account",
            f"{account.name!r} is a system account (uid {account.uid} is below {min_uid}); "
            "it cannot be a hub user",
        )
    home = posixpath.normpath(account.home)
    if not home.startswith(config.home_root + "/"):
        raise RestuserError(
            409,
            "home-outside-root",
            f"the home of {account.name!r} is {account.home}, outside {config.home_root}; "
            "restuser only answers for users with their home there",
        )
    return account


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
