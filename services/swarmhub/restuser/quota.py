"""Disk quotas of hub users: sizes, per-user overrides, and the setquota command.

Limits are kept in KiB, the block unit of setquota(8), and passed to it as plain
numbers (no unit suffixes), which every quota-tools version reads the same way.
Only block limits are set; inode limits stay 0 (none).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import RestuserError

UNITS = {"": 1, "K": 1, "M": 1024, "G": 1024**2, "T": 1024**3}
# a number with a binary unit (K, M, G, T: KiB .. TiB), or 0 for "no limit"
SIZE_PATTERN = re.compile(r"(?P<number>[0-9]+)(?P<unit>[KMGT]?)", re.IGNORECASE)
SIZE_HINT = 'use 0 (no limit) or a whole number with K, M, G or T (binary units), e.g. "5G"'
FIX_OVERRIDES = (
    "fix the file (the users playbook writes it: check the users file and run "
    "./script/deploy users.yml again)"
)


def parse_size(value: object, what: str) -> int:
    """A size such as "5G", "512M" or 0, in KiB; ValueError naming `what` if it is not one.

    A bare number other than 0 is refused: setquota would read it as KiB, most people
    as bytes, and a limit a thousand times off is worse than an error.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"{what}: {value!r} is not a size; {SIZE_HINT}")
    text = str(value).strip()
    match = SIZE_PATTERN.fullmatch(text)
    if match is None:
        raise ValueError(f"{what}: {value!r} is not a size; {SIZE_HINT}")
    number, unit = int(match["number"]), match["unit"].upper()
    if number and not unit:
        raise ValueError(f"{what}: {value!r} has no unit; {SIZE_HINT}")
    return number * UNITS[unit]


def format_size(kib: int) -> str:
    """KiB as the largest unit that shows it exactly: 5242880 -> "5G", 0 -> "0"."""
    if kib == 0:
        return "0"
    for unit in ("T", "G", "M"):
        if kib % UNITS[unit] == 0:
            return f"{kib // UNITS[unit]}{unit}"
    return f"{kib}K"


@dataclass(frozen=True)
class Quota:
    """Block limits of one user in KiB; 0 means no limit."""

    soft_kib: int = 0
    hard_kib: int = 0

    def __post_init__(self) -> None:
        if self.soft_kib < 0 or self.hard_kib < 0:
            raise ValueError("quota limits cannot be negative")
        if self.hard_kib and self.soft_kib > self.hard_kib:
            raise ValueError(
                f"the soft limit {format_size(self.soft_kib)} is above the hard limit "
                f"{format_size(self.hard_kib)}; the soft limit must be at most the hard one"
            )

    def as_json(self) -> dict[str, str]:
        return {"soft": format_size(self.soft_kib), "hard": format_size(self.hard_kib)}

    def describe(self) -> str:
        return f"soft {format_size(self.soft_kib)} hard {format_size(self.hard_kib)}"


def make_quota(soft: object, hard: object, what: str) -> Quota:
    """A Quota from two sizes (see parse_size); ValueError naming `what` if they are bad."""
    soft_kib = parse_size(soft, f"{what} soft")
    hard_kib = parse_size(hard, f"{what} hard")
    try:
        return Quota(soft_kib, hard_kib)
    except ValueError as e:
        raise ValueError(f"{what}: {e}") from None


def parse_overrides(data: object, default: Quota, source: str) -> dict[str, Quota]:
    """Per-user quotas from a map `{user: {soft, hard}}`; a missing key keeps the default.

    Raises ValueError naming `source` and the user for anything malformed.
    """
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{source}: must be a map of user name to {{soft, hard}}")
    overrides: dict[str, Quota] = {}
    for name, entry in data.items():
        if not isinstance(entry, Mapping):
            raise ValueError(f"{source}: the entry of {name!r} must be a map with soft and hard")
        unknown = sorted(set(entry) - {"soft", "hard"})
        if unknown:
            raise ValueError(
                f"{source}: the entry of {name!r} has unknown key(s) {', '.join(map(str, unknown))}"
                "; only soft and hard are allowed"
            )
        soft = entry.get("soft", format_size(default.soft_kib))
        hard = entry.get("hard", format_size(default.hard_kib))
        overrides[str(name)] = make_quota(soft, hard, f"{source}: {name!r}")
    return overrides


def load_overrides_text(text: str, default: Quota, source: str) -> dict[str, Quota]:
    """Parse an overrides file's text: JSON, or YAML if PyYAML is installed."""
    return parse_overrides(read_overrides_data(text, source), default, source)


def read_overrides_data(text: str, source: str) -> Any:
    """The data in an overrides file's text (JSON, or YAML if PyYAML is installed)."""
    if not text.strip():
        return None
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as json_error:
        try:
            import yaml  # Debian's python3-yaml; optional, JSON needs only the stdlib
        except ImportError:
            raise ValueError(
                f"{source}: not valid JSON ({json_error}); write it as JSON, or install "
                "PyYAML (Debian: python3-yaml) to read YAML"
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as yaml_error:
            problem = " ".join(str(yaml_error).split())
            raise ValueError(f"{source}: neither JSON nor YAML ({problem})") from None
    return data


class OverridesFile:
    """The per-user quota overrides file, read again whenever it changes.

    A missing file means no overrides. The file is checked by (inode, size, mtime)
    on each call, so the users playbook's new version applies to the next request.
    """

    def __init__(self, path: Path, default: Quota) -> None:
        self.path = path
        self.default = default
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._overrides: dict[str, Quota] = {}

    def get(self) -> dict[str, Quota]:
        """The current overrides; ValueError saying what to fix if the file is broken."""
        with self._lock:
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                self._stamp, self._overrides = None, {}
                return {}
            except OSError as e:
                raise ValueError(f"cannot read {self.path} ({e.strerror})") from None
            stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
            if stamp != self._stamp:
                try:
                    text = self.path.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError) as e:
                    reason = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
                    raise ValueError(f"cannot read {self.path} ({reason})") from None
                # a broken file is not remembered: it is read again on the next call
                self._overrides = load_overrides_text(text, self.default, str(self.path))
                self._stamp = stamp
            return dict(self._overrides)


def find_mount_point(path: Path) -> Path:
    """The mount point of the filesystem holding `path` (which must exist)."""
    path = path.resolve(strict=True)
    while not os.path.ismount(path):
        path = path.parent
    return path


def setquota_argv(setquota: str, uid: int, quota: Quota, filesystem: str) -> list[str]:
    """The setquota command that gives uid `uid` these block limits on `filesystem`.

    The uid, not the name: setquota looks names up in this host's accounts, which are
    not the ones restuser works on when it runs with a --prefix root.
    """
    if uid < 0:
        raise ValueError(f"uid must not be negative, not {uid}")
    return [
        setquota,
        "-u",
        str(uid),
        str(quota.soft_kib),
        str(quota.hard_kib),
        "0",  # inode soft limit: none
        "0",  # inode hard limit: none
        filesystem,
    ]


def quota_error(name: str, problem: str) -> RestuserError:
    return RestuserError(
        500,
        "bad-quota-overrides",
        f"cannot tell the quota of {name!r}: {problem}; {FIX_OVERRIDES}",
    )
