"""The backup sidecar's last outcome, as the stats page shows it: the status
file (swarmhub.common.backup_status) with its times parsed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..common import backup_status
from .sampling import parse_time


@dataclass(frozen=True)
class BackupView:
    last_success: datetime | None
    last_result: str | None  # "ok" | "failed" | None (no run yet)
    last_run_finished: datetime | None
    message: str
    problem: str | None = None  # the status file could not be read
    # the last restore drill (a sample of the latest backup restored and compared)
    last_drill: datetime | None = None
    drill_result: str | None = None  # "ok" | "failed" | None (none yet)
    drill_message: str = ""

    @property
    def headline(self) -> str:
        if self.last_success is None:
            return "no backup yet"
        return f"last good backup: {self.last_success.strftime('%Y-%m-%d %H:%M UTC')}"


def read_backup_status(path: Path) -> BackupView:
    """The status the backup sidecar writes; a missing file means no backup has
    run, an unreadable one is shown as a problem, never an error page."""
    if not path.exists():
        return BackupView(None, None, None, "")
    try:
        raw = backup_status.read_status(path)
        return BackupView(
            last_success=parse_time(raw.last_success),
            last_result=raw.last_result or None,
            last_run_finished=parse_time(raw.last_run_finished),
            message=raw.message,
            last_drill=parse_time(raw.last_drill),
            drill_result=raw.drill_result or None,
            drill_message=raw.drill_message,
        )
    except ValueError as e:  # StatusUnreadable, or a time that is not ISO 8601
        return BackupView(None, None, None, "", problem=str(e))
