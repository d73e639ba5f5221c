"""Times: what `restore --time` accepts, duplicity's time stamps, folder names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .errors import BackupError

_UNIT_SECONDS = {
    "s": 1,
    "m": 60,
    "h": 3600,
    "D": 86400,
    "W": 7 * 86400,
    "M": 30 * 86400,
    "Y": 365 * 86400,
}
_INTERVAL_PART = re.compile(r"(\d+)([smhDWMY])")
_INTERVAL = re.compile(r"^(\d+[smhDWMY])+$")
# duplicity's own stamps: 20261122T141059Z
_DUP_STAMP = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class TimeSpec:
    """A point in time the operator asked for: an age ("3D") or a date."""

    text: str
    age: timedelta | None = None
    moment: datetime | None = None

    def resolve(self, now: datetime) -> datetime:
        """The moment meant, in UTC."""
        if self.moment is not None:
            return self.moment
        assert self.age is not None
        return now - self.age


def parse_time(text: str) -> TimeSpec:
    """`3D`, `12h`, `1W2D` (ago), or an ISO-8601 date or date-time (UTC unless it says).

    Raises BackupError saying what is accepted.
    """
    value = text.strip()
    if value == "now":
        return TimeSpec(text=text, age=timedelta(0))
    if _INTERVAL.match(value):
        seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _INTERVAL_PART.findall(value))
        return TimeSpec(text=text, age=timedelta(seconds=seconds))
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise BackupError(
            f"--time {text!r} is neither an age such as 3D, 12h or 2W, nor an ISO date "
            "such as 2026-11-20 or 2026-11-20T14:00 (UTC) or 2026-11-20T14:00+01:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return TimeSpec(text=text, moment=moment.astimezone(UTC))


def parse_dup_stamp(stamp: str) -> datetime:
    """duplicity's 20261122T141059Z as an aware UTC datetime."""
    return datetime.strptime(stamp, _DUP_STAMP).replace(tzinfo=UTC)


def iso(moment: datetime) -> str:
    """ISO-8601 in UTC with a Z, to the second: 2026-11-22T14:10:59Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def restore_folder_name(backup_time: datetime) -> str:
    """The folder a restore creates in a home: restored-2026-11-22T141059Z.

    No colons (they trouble Windows clients, scp and Makefiles), sorts by time.
    """
    return "restored-" + backup_time.astimezone(UTC).strftime("%Y-%m-%dT%H%M%SZ")


def pick_backup_time(times: list[datetime], wanted: datetime) -> datetime:
    """The newest backup at or before `wanted`; BackupError when there is none."""
    if not times:
        raise BackupError("there is no backup yet: run `python -m swarmhub.backup run` first")
    eligible = [t for t in times if t <= wanted]
    if not eligible:
        raise BackupError(
            f"no backup at or before {iso(wanted)}: the oldest kept backup is "
            f"{iso(min(times))}; list them with --list"
        )
    return max(eligible)
