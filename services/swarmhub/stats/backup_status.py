"""The backup sidecar's last outcome, as the stats page shows it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .sampling import parse_time


@dataclass(frozen=True)
class BackupStatus:
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


def read_backup_status(path: Path) -> BackupStatus:
    """The status the backup role writes (keys last_result, last_success,
    last_run_finished, message, last_drill, drill_result, drill_message); a
    missing file means no backup has run."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return BackupStatus(None, None, None, "")
    except (OSError, ValueError) as e:
        return BackupStatus(None, None, None, "", problem=f"cannot read {path}: {e}")
    if not isinstance(raw, dict):
        return BackupStatus(None, None, None, "", problem=f"{path} does not hold a JSON object")
    try:
        return BackupStatus(
            last_success=parse_time(raw.get("last_success")),
            last_result=str(raw["last_result"]) if raw.get("last_result") else None,
            last_run_finished=parse_time(raw.get("last_run_finished")),
            message=str(raw.get("message") or ""),
            last_drill=parse_time(raw.get("last_drill")),
            drill_result=str(raw["drill_result"]) if raw.get("drill_result") else None,
            drill_message=str(raw.get("drill_message") or ""),
        )
    except ValueError as e:
        return BackupStatus(None, None, None, "", problem=f"{path}: {e}")
