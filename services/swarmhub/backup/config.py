"""Settings of the backup runner, from the environment of the sidecar."""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import BackupError

# duplicity's interval syntax: one or more <number><unit> (s, m, h, D, W, M, Y)
INTERVAL_RE = re.compile(r"^(\d+[smhDWMY])+$")
# what duplicity may call a target; a plain path is refused (it needs file://)
ENV_NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
URL_RE = re.compile(r"^[a-z][a-z0-9+.-]*://")

DEFAULT_EXCLUDES = ("**/.cache",)
# Restores stage their files here, under the home root (same filesystem, so
# renames into a home are atomic); never backed up.
STAGING_NAME = ".swarmhub-restore"

ENV_PREFIX = "SWARMHUB_BACKUP_"

# What each area's top-level folders are, for messages: the homes (the source),
# and the hub's other folders backed up beside them (extra_areas).
HOME_AREA = "home"


@dataclass(frozen=True)
class AreaWords:
    folder: str  # what a top-level folder is


AREA_WORDS = {
    HOME_AREA: AreaWords(folder="home"),
    "courses": AreaWords(folder="course folder"),
    "exchange": AreaWords(folder="exchange folder"),
    # the environment builder's catalog and build logs (environments from git)
    "environments": AreaWords(folder="builder folder"),
}


@dataclass(frozen=True)
class BackupConfig:
    """Where and how to back up. Every path is a path inside the backup sidecar."""

    target_url: str = "file:///srv/backup/duplicity"
    source: str = "/home"
    # duplicity's local cache of signatures and manifests: incrementals need no download
    archive_dir: str = "/srv/backup/cache"
    # names the backup inside archive_dir (duplicity --name)
    name: str = "home"
    state_dir: str = "/srv/backup/state"
    full_if_older_than: str = "7D"
    keep_full: int = 2
    excludes: tuple[str, ...] = DEFAULT_EXCLUDES
    # symmetric encryption: the passphrase itself, or a file holding it
    passphrase: str | None = field(default=None, repr=False)
    passphrase_file: str | None = None
    # optional: encrypt to this GPG key (public key in gnupg_home) instead of symmetric
    encrypt_key: str | None = None
    gnupg_home: str | None = None
    # minutes between runs, on the wall clock (60: every hour at :MM)
    interval_minutes: int = 60
    # minute past each interval at which runs start
    offset_minutes: int = 5
    # the target's credentials (e.g. AWS_SECRET_ACCESS_KEY): NAME=VALUE lines in a
    # read-only file, given to duplicity only (never the container's environment)
    target_env_file: str | None = None
    # the hub host's accounts (read-only), to tell unknown users from lost homes
    passwd_file: str | None = "/etc/swarmhub/host/passwd"
    duplicity: str = "duplicity"
    volsize_mb: int = 200
    # files of each new backup restored into a scratch folder and compared with the
    # live ones (the restore drill); 0: no drill
    drill_files: int = 5
    # which of AREA_WORDS this config backs up: the homes, or one of extra_areas
    area: str = HOME_AREA
    # (area, folder): the hub's other folders, each its own duplicity backup at the
    # same target (its files prefixed "AREA-", so the homes' backup never sees them)
    extra_areas: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not URL_RE.match(self.target_url):
            raise BackupError(
                f"backup target {self.target_url!r} is not a duplicity URL; "
                "use e.g. file:///srv/backup/duplicity, sftp://user@host/path or s3://bucket/path"
            )
        for key in ("source", "archive_dir", "state_dir"):
            value = getattr(self, key)
            if not value.startswith("/") or posixpath.normpath(value) != value or value == "/":
                raise BackupError(f"backup {key} must be an absolute folder, not {value!r}")
        if not INTERVAL_RE.match(self.full_if_older_than):
            raise BackupError(
                f"full_if_older_than {self.full_if_older_than!r} is not an interval "
                "such as 7D, 2W or 12h"
            )
        if not 0 <= self.drill_files <= 1000:
            raise BackupError(f"drill_files must be 0 to 1000, not {self.drill_files}")
        if self.keep_full < 1:
            raise BackupError(f"keep_full must be at least 1, not {self.keep_full}")
        if not 1 <= self.interval_minutes <= 7 * 24 * 60:
            raise BackupError(f"interval_minutes must be 1 to 10080, not {self.interval_minutes}")
        if not 0 <= self.offset_minutes < self.interval_minutes:
            raise BackupError(
                f"offset_minutes must be 0 to {self.interval_minutes - 1}, "
                f"not {self.offset_minutes}"
            )
        for pattern in self.excludes:
            if not pattern or "\n" in pattern:
                raise BackupError(f"exclude pattern {pattern!r} is empty or spans lines")
        self._check_areas()

    def _check_areas(self) -> None:
        if self.area not in AREA_WORDS:
            raise BackupError(f"unknown backup area {self.area!r}")
        folders = [self.source]
        for area, folder in self.extra_areas:
            if area == HOME_AREA or area not in AREA_WORDS:
                others = ", ".join(a for a in AREA_WORDS if a != HOME_AREA)
                raise BackupError(f"backup area {area!r} is not one of {others}")
            if (
                not folder.startswith("/")
                or posixpath.normpath(folder) != folder
                or folder == "/"
                or re.search(r"[\s\\=]", folder)
            ):
                raise BackupError(
                    f"backup area {area}'s folder must be an absolute path without spaces, "
                    f"backslashes or '=', not {folder!r}"
                )
            for other in folders:
                if _nested(folder, other):
                    raise BackupError(f"backup area {area}'s folder {folder} overlaps {other}")
            folders.append(folder)
        names = [area for area, _ in self.extra_areas]
        if len(set(names)) != len(names):
            raise BackupError(f"a backup area is given twice: {names}")

    @property
    def words(self) -> AreaWords:
        return AREA_WORDS[self.area]

    @property
    def file_prefix(self) -> str:
        """duplicity --file-prefix: none for the homes (as their backups always were)."""
        return "" if self.area == HOME_AREA else f"{self.area}-"

    def areas(self) -> tuple[BackupConfig, ...]:
        """This config (the homes), then one per extra area."""
        return (self, *(self.for_area(area) for area, _ in self.extra_areas))

    def for_area(self, area: str) -> BackupConfig:
        """The config of one area: its folder as the source, its own duplicity cache
        name, and only the exclude patterns that apply anywhere (**/...)."""
        if area == self.area:
            return self
        folders = dict(self.extra_areas)
        if area not in folders:
            backed_up = ", ".join([self.area, *folders])
            raise BackupError(f"this hub backs up no {area!r}; its backups are of: {backed_up}")
        return replace(
            self,
            area=area,
            source=folders[area],
            name=area,
            excludes=tuple(p for p in self.excludes if p.startswith("**")),
            extra_areas=(),
        )

    @property
    def status_file(self) -> Path:
        return Path(self.state_dir) / "status.json"

    @property
    def lock_file(self) -> Path:
        return Path(self.state_dir) / "backup.lock"

    @property
    def staging_root(self) -> Path:
        return Path(self.source) / STAGING_NAME

    def read_passphrase(self) -> str | None:
        """The passphrase, from the setting or its file; None with a key and no passphrase."""
        if self.passphrase:
            return self.passphrase
        if self.passphrase_file:
            try:
                text = Path(self.passphrase_file).read_text(encoding="utf-8")
            except FileNotFoundError:
                if self.encrypt_key:  # a secret key without a passphrase
                    return None
                raise BackupError(
                    f"the backup passphrase file {self.passphrase_file} does not exist; "
                    "set vault_backup_passphrase in the vault and deploy with -t backup"
                ) from None
            except OSError as e:
                raise BackupError(
                    f"cannot read the backup passphrase file {self.passphrase_file}: "
                    f"{e.strerror}; deploy with vault_backup_passphrase set"
                ) from None
            text = text.rstrip("\n")
            if text or self.encrypt_key:
                return text or None
            raise BackupError(
                f"the backup passphrase file {self.passphrase_file} is empty; "
                "set vault_backup_passphrase in the vault and deploy again"
            )
        if self.encrypt_key:
            return None
        raise BackupError(
            "no backup passphrase: set SWARMHUB_BACKUP_PASSPHRASE_FILE (the role does, "
            "from vault_backup_passphrase) or SWARMHUB_BACKUP_ENCRYPT_KEY"
        )

    def read_target_env(self) -> dict[str, str]:
        """The target's credentials from target_env_file (none without one)."""
        if not self.target_env_file:
            return {}
        try:
            text = Path(self.target_env_file).read_text(encoding="utf-8")
        except OSError as e:
            raise BackupError(
                f"cannot read the backup target's credentials {self.target_env_file}: "
                f"{e.strerror}; deploy with -t backup"
            ) from None
        values = {}
        for number, line in enumerate(text.splitlines(), 1):
            name, sep, value = line.partition("=")
            if not line.strip() or line.startswith("#"):
                continue
            if not sep or not ENV_NAME_RE.match(name):
                # the line itself is never shown: it may hold a secret
                raise BackupError(
                    f"line {number} of {self.target_env_file} is not NAME=VALUE "
                    "(NAME in capitals); fix backup_target_env and deploy with -t backup"
                )
            values[name] = value
        return values


def config_from_env(env: Mapping[str, str] | None = None) -> BackupConfig:
    """A BackupConfig from SWARMHUB_BACKUP_* variables; unset ones keep their defaults."""
    env = os.environ if env is None else env
    values: dict[str, object] = {}
    text_keys = (
        "target_url", "source", "archive_dir", "name", "state_dir", "full_if_older_than",
        "passphrase", "passphrase_file", "encrypt_key", "gnupg_home", "passwd_file", "duplicity",
        "target_env_file",
    )  # fmt: skip
    for key in text_keys:
        value = env.get(ENV_PREFIX + key.upper())
        if value is not None and value != "":
            values[key] = value
    for key in ("keep_full", "interval_minutes", "offset_minutes", "volsize_mb", "drill_files"):
        value = env.get(ENV_PREFIX + key.upper())
        if value:
            try:
                values[key] = int(value)
            except ValueError:
                raise BackupError(
                    f"{ENV_PREFIX}{key.upper()} must be a whole number, not {value!r}"
                ) from None
    excludes = env.get(ENV_PREFIX + "EXCLUDES")
    if excludes is not None:
        # one pattern a line: patterns may hold spaces
        values["excludes"] = tuple(line for line in excludes.splitlines() if line.strip())
    areas = env.get(ENV_PREFIX + "AREAS")
    if areas:
        values["extra_areas"] = parse_areas(areas)
    return BackupConfig(**values)  # type: ignore[arg-type]


def parse_areas(text: str) -> tuple[tuple[str, str], ...]:
    """AREA=FOLDER lines (SWARMHUB_BACKUP_AREAS), e.g. courses=/srv/courses."""
    areas = []
    for line in text.splitlines():
        if not line.strip():
            continue
        area, sep, folder = line.strip().partition("=")
        if not sep:
            raise BackupError(f"{ENV_PREFIX}AREAS line {line!r} is not AREA=FOLDER")
        areas.append((area, folder))
    return tuple(areas)


def _nested(a: str, b: str) -> bool:
    return a == b or a.startswith(b.rstrip("/") + "/") or b.startswith(a.rstrip("/") + "/")
