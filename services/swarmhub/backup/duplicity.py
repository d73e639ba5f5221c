"""duplicity's command lines, running it, and reading what it says.

duplicity writes a machine-readable log with --log-file (a control line
"LEVEL CODE" followed by the message, each message line starting with ". ");
this module reads error codes and the backup chains from it, so nothing
depends on the wording of its human output.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .config import BackupConfig
from .errors import BackupError
from .timespec import parse_dup_stamp

Echo = Callable[[str], None]

# duplicity's log codes (duplicity/log.py ErrorCode) this module turns into advice
CODE_RESTORE_PATH_EXISTS = 11
CODE_RESTORE_PATH_NOT_FOUND = 19
CODE_GPG_FAILED = 31

# gpg's words for "this passphrase (or key) does not open the data"
_WRONG_KEY_MARKERS = (
    "bad session key",
    "decryption failed: no secret key",
    "no secret key",
    "bad passphrase",
)
# the kernel's words when a write, or a chown to the user, would pass the hard quota
QUOTA_EXCEEDED = os.strerror(errno.EDQUOT)
_CONTROL_LINE = re.compile(r"^(DEBUG|INFO|NOTICE|WARNING|ERROR) (\d+)")
_SET_LINE = re.compile(r"^ (full|inc) (\d{8}T\d{6}Z) (\d+) (enc|noenc)$")
# print()s duplicity 3.2 leaves in its file handling; noise to an operator
_NOISE = re.compile(r"^DEBUG: to_(partial|remote|final) called for ")
# ... and its closing line, which 3.2 prints after every command, restores included
_BACKUP_DONE = "Duplicity backup complete."


@dataclass(frozen=True)
class BackupSet:
    kind: str  # "full" or "inc"
    time: datetime


@dataclass(frozen=True)
class Chain:
    """One full backup and the incrementals on it, oldest first."""

    sets: tuple[BackupSet, ...]
    complete: bool  # duplicity's "primary chain with matching signatures"

    @property
    def start(self) -> datetime:
        return self.sets[0].time

    @property
    def end(self) -> datetime:
        return self.sets[-1].time


@dataclass(frozen=True)
class DuplicityResult:
    returncode: int
    output: str
    log: str
    error_codes: tuple[int, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def selection_args(config: BackupConfig) -> list[str]:
    """--exclude options: the restore staging folder, then the configured patterns.

    A pattern that starts with / or ** is passed as it is; any other is taken
    relative to the source (".cache" -> "/home/.cache"; "*/.cache" -> "/home/*/.cache").
    """
    args = ["--exclude", str(config.staging_root)]
    for pattern in config.excludes:
        if pattern.startswith(("/", "**")):
            full = pattern
        else:
            full = config.source.rstrip("/") + "/" + pattern
        if full.startswith("/") and not (
            full == config.source or full.startswith(config.source.rstrip("/") + "/")
        ):
            raise BackupError(
                f"exclude pattern {pattern!r} is outside {config.source}; "
                f"use a pattern under {config.source} or one starting with **"
            )
        args += ["--exclude", full]
    return args


def common_args(config: BackupConfig) -> list[str]:
    args = ["--archive-dir", config.archive_dir, "--name", config.name]
    if config.file_prefix:
        args += ["--file-prefix", config.file_prefix]
    if config.encrypt_key:
        args += ["--encrypt-key", config.encrypt_key]
    return args


def backup_command(config: BackupConfig) -> list[str]:
    return [
        config.duplicity,
        "backup",
        *common_args(config),
        "--full-if-older-than",
        config.full_if_older_than,
        "--volsize",
        str(config.volsize_mb),
        *selection_args(config),
        config.source,
        config.target_url,
    ]


def prune_command(config: BackupConfig) -> list[str]:
    return [
        config.duplicity,
        "remove-all-but-n-full",
        str(config.keep_full),
        "--force",
        *common_args(config),
        config.target_url,
    ]


def list_command(config: BackupConfig) -> list[str]:
    """The files of the latest backup, one per line with its time (the restore drill)."""
    return [config.duplicity, "list-current-files", *common_args(config), config.target_url]


def status_command(config: BackupConfig) -> list[str]:
    return [config.duplicity, "collection-status", *common_args(config), config.target_url]


def restore_command(
    config: BackupConfig, rel_path: str, backup_time: datetime, target: Path
) -> list[str]:
    """Restore rel_path (relative to the source) as it was at backup_time into target.

    --numeric-owner: the archive's uid/gid as they are; the sidecar has no
    accounts, and a name that exists there (say "backup") must not remap a user.
    """
    return [
        config.duplicity,
        "restore",
        *common_args(config),
        "--numeric-owner",
        "--time",
        str(int(backup_time.timestamp())),
        "--path-to-restore",
        rel_path,
        config.target_url,
        str(target),
    ]


def duplicity_env(config: BackupConfig, passphrase: str | None) -> dict[str, str]:
    env = {**os.environ, **config.read_target_env()}
    for key in ("PASSPHRASE", "SIGN_PASSPHRASE"):
        env.pop(key, None)
    # with a key and no passphrase (a secret key without one), duplicity must not
    # prompt: there is no terminal in the sidecar
    env["PASSPHRASE"] = passphrase if passphrase is not None else ""
    gnupg_home = config.gnupg_home or str(Path(config.state_dir) / "gnupg")
    Path(gnupg_home).mkdir(mode=0o700, parents=True, exist_ok=True)
    env["GNUPGHOME"] = gnupg_home
    env.setdefault("LANG", "C.UTF-8")
    return env


def run_duplicity(
    config: BackupConfig,
    command: Sequence[str],
    passphrase: str | None,
    echo: Echo | None = None,
) -> DuplicityResult:
    """Run one duplicity command; its output goes to echo line by line as it comes."""
    with tempfile.TemporaryDirectory(prefix="swarmhub-dup-") as tmp:
        log_file = Path(tmp) / "duplicity.log"
        argv = [command[0], *command[1:2], "--log-file", str(log_file), *command[2:]]
        lines: list[str] = []
        try:
            proc = subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=duplicity_env(config, passphrase),
                text=True,
                errors="replace",
            )
        except FileNotFoundError:
            raise BackupError(
                f"duplicity not found ({command[0]}): run this in the backup sidecar "
                "(docker exec swarmhub-backup ...) or install duplicity"
            ) from None
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            if _NOISE.match(line) or (line == _BACKUP_DONE and command[1] != "backup"):
                continue
            lines.append(line)
            if echo is not None:
                echo(line)
        returncode = proc.wait()
        log = log_file.read_text(encoding="utf-8", errors="replace") if log_file.exists() else ""
    return DuplicityResult(
        returncode=returncode,
        output="\n".join(lines),
        log=log,
        error_codes=tuple(error_codes(log)),
    )


def error_codes(log: str) -> list[int]:
    return [
        int(m.group(2))
        for m in map(_CONTROL_LINE.match, log.splitlines())
        if m and m.group(1) == "ERROR"
    ]


def parse_chains(log: str) -> list[Chain]:
    """The backup chains in a collection-status log, oldest first."""
    chains: list[Chain] = []
    current: list[BackupSet] | None = None
    complete = False

    def close() -> None:
        if current:
            chains.append(Chain(sets=tuple(current), complete=complete))

    for line in log.splitlines():
        if line == "chain-complete" or line.startswith("chain-no-sig "):
            close()
            current, complete = [], line == "chain-complete"
            continue
        m = _SET_LINE.match(line)
        if m and current is not None:
            current.append(BackupSet(kind=m.group(1), time=parse_dup_stamp(m.group(2))))
            continue
        if current is not None and not line.startswith(" "):
            close()
            current = None
    close()
    unique = {c.start: c for c in chains}
    return sorted(unique.values(), key=lambda c: c.start)


def wrong_passphrase(result: DuplicityResult) -> bool:
    text = (result.output + "\n" + result.log).lower()
    return any(marker in text for marker in _WRONG_KEY_MARKERS) and (
        CODE_GPG_FAILED in result.error_codes or "gpg" in text
    )


def quota_exceeded(result: DuplicityResult) -> bool:
    """duplicity stopped on a disk quota (restoring as root, its chown of a file to
    the user moves the file's blocks to the user's quota, which the kernel refuses)."""
    return QUOTA_EXCEEDED in result.output or QUOTA_EXCEEDED in result.log


def failure_message(result: DuplicityResult, what: str, config: BackupConfig) -> str:
    """One sentence saying why a duplicity command failed and what to do."""
    if wrong_passphrase(result):
        if config.encrypt_key:
            return (
                f"{what} failed: wrong key: gpg cannot decrypt the backups at "
                f"{config.target_url} with key {config.encrypt_key}; check the secret key "
                "in the sidecar's GNUPGHOME and its passphrase (vault_backup_passphrase)"
            )
        return (
            f"{what} failed: wrong passphrase: the backups at {config.target_url} were "
            "encrypted with another passphrase; check vault_backup_passphrase in the vault "
            "(it must be the one the backups were made with) and deploy with -t backup"
        )
    text = result.output + "\n" + result.log
    if "Another duplicity instance is already running" in text:
        return (
            f"{what} failed: another duplicity is using {config.archive_dir} "
            "(a backup or restore is running); try again when it has finished"
        )
    last = _last_error(result)
    return f"{what} failed (duplicity exit {result.returncode}): {last}"


def _last_error(result: DuplicityResult) -> str:
    """The message of duplicity's last logged error, else the last lines of its output."""
    messages: list[list[str]] = []
    current: list[str] | None = None
    for line in result.log.splitlines():
        m = _CONTROL_LINE.match(line)
        if m:
            current = [] if m.group(1) == "ERROR" else None
            if current is not None:
                messages.append(current)
        elif current is not None and line.startswith(". "):
            current.append(line[2:])
    for message in reversed(messages):
        text = [line for line in message if line.strip()]
        if text:
            # a traceback's last line says what went wrong
            return text[-1].strip() if text[0].startswith("Traceback") else " ".join(text[:3])
    tail = [line for line in result.output.splitlines() if line.strip()][-3:]
    return " / ".join(tail) or "no output"
