"""Restore one home, or one path of it, as it was at a chosen backup.

Default: into a new folder of the home, restored-TIME/, owned by the user,
never over anything that exists. A home that is gone entirely comes back in
place (there is nothing to overwrite). In place over existing files only
with force, after the plan of what would be replaced has been shown and
confirmed (or with yes).

duplicity restores into a root-only staging folder under the home root
(same filesystem), and the result is moved into place with renames that
never follow a symlink.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

from ..common import safefs
from ..common.accounts import Account
from ..common.exchange_protocol import check_course
from . import duplicity as dup
from .accounts import check_username, lookup_account
from .config import HOME_AREA, BackupConfig
from .errors import BackupError
from .lock import held
from .runner import Clock, backup_chains, backup_times, utcnow
from .staging import same_bytes, staging_root
from .timespec import TimeSpec, iso, pick_backup_time, restore_folder_name

# how long a restore waits for a running backup before giving up
LOCK_WAIT_SECONDS = 2 * 3600
PLAN_LINES = 40


@dataclass(frozen=True)
class RestoreRequest:
    user: str
    time: TimeSpec | None = None
    # a file or folder of the home, relative to it
    path: str | None = None
    # put restored-TIME/ in this folder instead of the user's home
    into: str | None = None
    force: bool = False
    yes: bool = False


@dataclass
class Plan:
    """What an in-place restore changes (paths relative to the home)."""

    new: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: int = 0
    # entries of the current home (under the restored path) that are not in the backup
    kept: int = 0


@dataclass(frozen=True)
class RestoreResult:
    user: str
    backup_time: datetime
    destination: Path
    in_place: bool
    entries: int
    plan: Plan | None = None


def check_name(config: BackupConfig, name: str) -> str:
    """`name` if it can name a top-level folder of the area: a user (homes) or a course."""
    if config.area == HOME_AREA:
        return check_username(name)
    try:
        return check_course(name)
    except ValueError as e:
        raise BackupError(str(e)) from None


def _account(config: BackupConfig, name: str) -> Account | None:
    """The user's account (homes only: a course's folders belong to the deploy)."""
    return lookup_account(config.passwd_file, name) if config.area == HOME_AREA else None


def normalize_subpath(config: BackupConfig, user: str, path: str | None) -> str | None:
    """--path as a clean path relative to the home; /home/USER/x and x both mean x."""
    if path is None:
        return None
    text = path.strip()
    home = posixpath.join(config.source, user)
    folder = config.words.folder
    if text.startswith("/"):
        if text == home or text == home + "/":
            return None
        if not text.startswith(home + "/"):
            raise BackupError(
                f"--path {path!r} is not in {home}; give a path relative to the {folder} "
                "(e.g. notebooks/week1) or one under it"
            )
        text = text[len(home) + 1 :]
    clean = posixpath.normpath(text)
    if clean in (".", "") or clean.startswith("../") or clean == "..":
        if clean in (".", ""):
            return None
        raise BackupError(f"--path {path!r} leaves the {folder}; give a path inside it")
    return clean


def list_backups(
    config: BackupConfig, user: str, echo: dup.Echo = print
) -> tuple[list[dup.Chain], Account | None]:
    """The chains (after a running backup has finished) and the user's account."""
    check_name(config, user)
    with held(
        config.lock_file,
        wait_seconds=LOCK_WAIT_SECONDS,
        on_wait=lambda: echo("waiting for the running backup to finish ..."),
    ):
        return backup_chains(config), _account(config, user)


def format_backup_list(
    config: BackupConfig, user: str, chains: list[dup.Chain], account: Account | None
) -> str:
    home = posixpath.join(config.source, user)
    lines = []
    if account is None and config.area == HOME_AREA:
        lines.append(f"note: {user} has no account on the hub host (a removed user?)")
    if not chains:
        lines.append(f"no backups of {config.source} at {config.target_url} yet")
        return "\n".join(lines)
    lines.append(f"backups of {config.source} (so of {home}) at {config.target_url}, newest first:")
    for number, chain in enumerate(reversed(chains), 1):
        for s in reversed(chain.sets):
            lines.append(f"  {iso(s.time)}  {s.kind:<4}  chain {number}")
    area = "" if config.area == HOME_AREA else f" --area {config.area}"
    lines.append(f"restore one with: script/restore {user}{area} --time {iso(chains[-1].end)}")
    return "\n".join(lines)


def restore_home(
    config: BackupConfig,
    request: RestoreRequest,
    *,
    echo: dup.Echo = print,
    confirm: Callable[[str], bool] | None = None,
    clock: Clock = utcnow,
) -> RestoreResult:
    user = check_name(config, request.user)
    sub = normalize_subpath(config, user, request.path)
    account = _account(config, user)
    source = Path(config.source)
    _ensure_real_dir(source)
    home = source / user
    home_st = _lstat(home)
    if home_st is not None and not stat.S_ISDIR(home_st.st_mode):
        raise BackupError(f"{home} is not a folder (a symlink or file); fix it before restoring")
    home_exists = home_st is not None
    if not home_exists and sub is not None and request.into is None and not request.force:
        raise BackupError(
            f"{home} does not exist: restore the whole {config.words.folder} first (no --path), "
            "or use --into DIR"
        )
    if not home_exists and account is None and request.into is None and config.area == HOME_AREA:
        # may still be in the backup: a removed user
        echo(f"note: {user} has no account on the hub host and no home; looking in the backup")

    passphrase = config.read_passphrase()
    with held(
        config.lock_file,
        wait_seconds=LOCK_WAIT_SECONDS,
        on_wait=lambda: echo("waiting for the running backup to finish ..."),
    ):
        chains = backup_chains(config)
        wanted = request.time.resolve(clock()) if request.time else clock()
        backup_time = pick_backup_time(backup_times(chains), wanted)
        rel = user if sub is None else f"{user}/{sub}"
        what = f"{config.source}/{rel}"
        echo(f"restoring {what} as of the backup of {iso(backup_time)}")

        staging = staging_root(config)
        stage = Path(tempfile.mkdtemp(prefix=f"{user}-", dir=staging))
        try:
            out = stage / "out"
            result = dup.run_duplicity(
                config, dup.restore_command(config, rel, backup_time, out), passphrase, echo
            )
            if not result.ok:
                raise BackupError(
                    _restore_failure(config, result, user, sub, account, home_exists, backup_time)
                )
            entries = _count(out)
            if request.force:
                plan = _restore_in_place(config, user, sub, out, request, echo, confirm)
                dest = home if sub is None else home / sub
                _done(echo, dest, entries)
                return RestoreResult(user, backup_time, dest, True, entries, plan)
            if not home_exists and request.into is None:
                # the home is gone: it comes back as it was, nothing to overwrite
                try:
                    os.rename(out, home)
                except OSError as e:
                    raise BackupError(
                        f"{home} appeared while restoring ({e.strerror}); nothing was "
                        "changed: restore again"
                    ) from None
                _done(echo, home, entries)
                return RestoreResult(user, backup_time, home, True, entries)
            dest = _place_copy(config, user, sub, out, backup_time, request.into, account)
            _done(echo, dest, entries)
            return RestoreResult(user, backup_time, dest, False, entries)
        finally:
            shutil.rmtree(stage, ignore_errors=True)


def _done(echo: dup.Echo, dest: Path, entries: int) -> None:
    echo(f"restored {entries} files and folders to {dest}")


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _count(path: Path) -> int:
    if not path.is_dir() or path.is_symlink():
        return 1
    return 1 + sum(len(dirs) + len(files) for _, dirs, files in os.walk(path))


def _restore_failure(
    config: BackupConfig,
    result: dup.DuplicityResult,
    user: str,
    sub: str | None,
    account: Account | None,
    home_exists: bool,
    backup_time: datetime,
) -> str:
    if dup.quota_exceeded(result):
        # the sidecar has no CAP_SYS_RESOURCE: the kernel holds restores to the quota
        what = f"{config.source}/{user}" + (f"/{sub}" if sub else "")
        return (
            f"restoring {what} stopped: it does not fit in {user}'s disk quota (the kernel "
            f"said: {dup.QUOTA_EXCEEDED}); nothing was changed in {config.source}/{user}. "
            "Free space in the home, or raise the quota (users.yml with a quota for the user; "
            "README, Users, admins and quotas), then restore again"
        )
    if dup.CODE_RESTORE_PATH_NOT_FOUND in result.error_codes:
        when = iso(backup_time)
        whose = f"{user}'s" if config.area == HOME_AREA else f"{config.source}/{user}'s"
        if sub is None and config.area != HOME_AREA:
            return (
                f"no {config.words.folder} {config.source}/{user} in the backup of {when}: "
                "check the course's name, or see --list for another --time"
            )
        if sub is None:
            if account is None and not home_exists:
                return (
                    f"unknown user {user}: no account on the hub host and no home "
                    f"{config.source}/{user} in the backup of {when}"
                )
            return (
                f"{config.source}/{user} is not in the backup of {when} (a newer home?); see --list"
            )
        return (
            f"{sub} is not in {whose} backup of {when}: check the path (relative to "
            f"{config.source}/{user}) or choose another --time"
        )
    return dup.failure_message(result, "restore", config)


def _place_copy(
    config: BackupConfig,
    user: str,
    sub: str | None,
    out: Path,
    backup_time: datetime,
    into: str | None,
    account: Account | None,
) -> Path:
    """Move the staged result to PARENT/restored-TIME[/SUB]; PARENT is the home or --into.

    restored-TIME/ may exist from an earlier restore of the same backup: another
    path goes in beside what is there; an existing path is never replaced.
    """
    folder = restore_folder_name(backup_time)
    if into is None:
        parent = Path(config.source) / user
    else:
        parent = Path(into)
        if not parent.is_absolute():
            raise BackupError(f"--into {into!r} must be an absolute path")
        if not parent.exists():
            parent.mkdir(mode=0o700, parents=True)
    owner = _owner(parent, out, account)
    rel = PurePosixPath(folder) if sub is None else PurePosixPath(folder, sub)
    dest = parent / rel
    if sub is None:
        # the restored home's own folder becomes restored-TIME/: the user's, 0700
        os.chown(out, *owner)
        os.chmod(out, 0o700)
    try:
        with safefs.open_dir(parent) as parent_fd:
            with safefs.open_subdir(parent_fd, rel.parent, create=True, owner=owner) as fd:
                if _exists_at(fd, rel.name):
                    raise BackupError(
                        f"{dest} exists already (restored before?); nothing was changed. "
                        "Move it away, or restore with --into DIR"
                    )
                os.rename(out, rel.name, dst_dir_fd=fd)
    except safefs.Blocked as e:
        raise BackupError(f"refusing to restore into {parent}: {e}") from None
    return dest


def _ensure_real_dir(path: Path) -> None:
    """path is a folder and no symlink (the home root, the staging root)."""
    try:
        with safefs.open_dir(path):
            pass
    except safefs.Blocked as e:
        raise BackupError(f"refusing to work in {path}: {e}") from None


def _owner(parent: Path, out: Path, account: Account | None) -> tuple[int, int]:
    """Who owns restored-TIME/: the home's owner, else the account, else the archive's."""
    if parent.exists():
        st = os.lstat(parent)
        if st.st_uid != 0:
            return st.st_uid, st.st_gid
    if account is not None:
        return account.uid, account.gid
    st = os.lstat(out)
    return st.st_uid, st.st_gid


def _exists_at(dir_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        return True
    except FileNotFoundError:
        return False


# --- in place (--force) -----------------------------------------------------


def _staged_entries(out: Path, sub: str | None) -> list[tuple[PurePosixPath, Path]]:
    """(path relative to the home, staged path), folders before what they hold."""
    base = PurePosixPath(sub) if sub else PurePosixPath()
    if not out.is_dir() or out.is_symlink():
        return [(base, out)]
    entries: list[tuple[PurePosixPath, Path]] = []
    if sub:
        entries.append((base, out))
    for dirpath, dirnames, filenames in os.walk(out):
        dirnames.sort()
        here = Path(dirpath)
        for name in sorted(dirnames) + sorted(filenames):
            path = here / name
            entries.append((base / path.relative_to(out).as_posix(), path))
    return entries


def plan_in_place(home: Path, out: Path, sub: str | None) -> Plan:
    """Compare the staged restore with the home: what is new, replaced, unchanged."""
    plan = Plan()
    try:
        with safefs.open_dir(home) as home_fd:
            for rel, staged in _staged_entries(out, sub):
                st_new = os.lstat(staged)
                try:
                    st_cur = safefs.lstat_at(home_fd, str(rel))
                except safefs.Blocked:
                    plan.replaced.append(f"{rel} (a symlink or file is in the way)")
                    continue
                if st_cur is None:
                    plan.new.append(str(rel))
                elif _same(home_fd, str(rel), st_cur, staged, st_new):
                    plan.unchanged += 1
                elif stat.S_ISDIR(st_cur.st_mode) and not stat.S_ISDIR(st_new.st_mode):
                    plan.replaced.append(f"{rel} (now a folder: it and all it holds)")
                else:
                    plan.replaced.append(str(rel))
    except safefs.Blocked as e:
        raise BackupError(f"refusing to restore into {home}: {e}") from None
    in_backup = {str(rel) for rel, _ in _staged_entries(out, sub)}
    root = home / sub if sub else home
    if root.is_dir() and not root.is_symlink():
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                if (Path(dirpath) / name).relative_to(home).as_posix() not in in_backup:
                    plan.kept += 1
    return plan


def _same(
    home_fd: int, rel: str, st_cur: os.stat_result, staged: Path, st_new: os.stat_result
) -> bool:
    if stat.S_IFMT(st_cur.st_mode) != stat.S_IFMT(st_new.st_mode):
        return False
    if stat.S_ISDIR(st_new.st_mode):
        return True
    if (st_cur.st_mode, st_cur.st_uid, st_cur.st_gid) != (
        st_new.st_mode,
        st_new.st_uid,
        st_new.st_gid,
    ):
        return False
    parts = safefs.parts_of(rel)
    parent = PurePosixPath(*parts[:-1]) if len(parts) > 1 else PurePosixPath(".")
    with safefs.open_subdir(home_fd, parent) as fd:
        if stat.S_ISLNK(st_new.st_mode):
            return os.readlink(parts[-1], dir_fd=fd) == os.readlink(staged)
        if not stat.S_ISREG(st_new.st_mode):
            return True
        if st_cur.st_size != st_new.st_size:
            return False
        cur = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
        with os.fdopen(cur, "rb") as a, open(staged, "rb") as b:
            return same_bytes(a, b)


def format_plan(plan: Plan, dest: Path) -> str:
    lines = [f"in place into {dest}:"]
    for rel in plan.replaced[:PLAN_LINES]:
        lines.append(f"  replace  {rel}")
    if len(plan.replaced) > PLAN_LINES:
        lines.append(f"  ... and {len(plan.replaced) - PLAN_LINES} more to replace")
    lines.append(
        f"{len(plan.replaced)} to replace, {len(plan.new)} new, {plan.unchanged} unchanged; "
        f"{plan.kept} files and folders not in the backup stay as they are"
    )
    return "\n".join(lines)


def _restore_in_place(
    config: BackupConfig,
    user: str,
    sub: str | None,
    out: Path,
    request: RestoreRequest,
    echo: dup.Echo,
    confirm: Callable[[str], bool] | None,
) -> Plan:
    home = Path(config.source) / user
    if not home.exists():
        # as it was in the backup (the staged copy of the home), or the account's
        st = os.lstat(out)
        home.mkdir(mode=0o700)
        if sub is None:
            os.chown(home, st.st_uid, st.st_gid)
            os.chmod(home, stat.S_IMODE(st.st_mode))
        else:
            account = _account(config, user)
            if account is None:
                home.rmdir()
                raise BackupError(
                    f"{home} does not exist and {user} has no account: restore the whole "
                    f"{config.words.folder} first (no --path), or use --into DIR"
                )
            os.chown(home, account.uid, account.gid)
    plan = plan_in_place(home, out, sub)
    dest = home / sub if sub else home
    echo(format_plan(plan, dest))
    if plan.replaced and not request.yes:
        question = f"Replace {len(plan.replaced)} files in {dest} with the backup's? [y/N] "
        if confirm is None or not confirm(question):
            raise BackupError(
                "nothing was changed: not confirmed (run in a terminal to answer, or pass --yes)"
            )
    _apply(home, out, sub)
    return plan


def _apply(home: Path, out: Path, sub: str | None) -> None:
    home_st = os.lstat(home)
    # folders on the way to --path that are gone now: made again, the user's
    owner = (home_st.st_uid, home_st.st_gid)
    with safefs.open_dir(home) as home_fd:
        for rel, staged in _staged_entries(out, sub):
            parts = safefs.parts_of(str(rel))
            parent = PurePosixPath(*parts[:-1]) if len(parts) > 1 else PurePosixPath(".")
            name = parts[-1]
            st_new = os.lstat(staged)
            try:
                with safefs.open_subdir(home_fd, parent, create=True, owner=owner) as pfd:
                    try:
                        st_cur = os.stat(name, dir_fd=pfd, follow_symlinks=False)
                    except FileNotFoundError:
                        st_cur = None
                    if stat.S_ISDIR(st_new.st_mode):
                        if st_cur is not None and stat.S_ISDIR(st_cur.st_mode):
                            continue
                        if st_cur is not None:
                            safefs.remove_at(pfd, name)
                        os.mkdir(name, 0o700, dir_fd=pfd)
                        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=pfd)
                        try:
                            os.fchown(fd, st_new.st_uid, st_new.st_gid)
                            os.fchmod(fd, stat.S_IMODE(st_new.st_mode))
                        finally:
                            os.close(fd)
                        continue
                    if st_cur is not None and stat.S_ISDIR(st_cur.st_mode):
                        safefs.remove_at(pfd, name)
                    os.rename(staged, name, dst_dir_fd=pfd)
            except safefs.Blocked as e:
                raise BackupError(f"stopped restoring in place at {rel}: {e}") from None
