"""The backup's outcomes, recorded in the status file (its format:
swarmhub.common.backup_status, which the stats page reads too)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..common import backup_status
from ..common.backup_status import BackupStatus, write_status
from .errors import BackupError

__all__ = [
    "BackupStatus",
    "read_status",
    "read_status_quietly",
    "record_drill",
    "record_result",
    "write_status",
]


def read_status(path: Path) -> BackupStatus:
    """The last written status; the empty status when no run has finished yet."""
    try:
        return backup_status.read_status(path)
    except backup_status.StatusUnreadable as e:
        raise BackupError(str(e)) from None


def record_result(
    path: Path,
    *,
    ok: bool,
    started: str,
    finished: str,
    message: str,
    success_time: str | None = None,
) -> BackupStatus:
    """Write the outcome of one run, keeping the last success of earlier runs.

    success_time: when a backup was made although the run failed later (pruning);
    by default the finish time of an ok run.
    """
    previous = read_status_quietly(path)
    if success_time is None and ok:
        success_time = finished
    status = replace(
        previous,
        last_result="ok" if ok else "failed",
        last_success=success_time or previous.last_success,
        last_run_started=started,
        last_run_finished=finished,
        message=message,
    )
    write_status(path, status)
    return status


def record_drill(path: Path, *, ok: bool, at: str, message: str) -> BackupStatus:
    """Write the outcome of a restore drill, keeping the backup's own fields."""
    status = replace(
        read_status_quietly(path),
        last_drill=at,
        drill_result="ok" if ok else "failed",
        drill_message=message,
    )
    write_status(path, status)
    return status


def read_status_quietly(path: Path) -> BackupStatus:
    """Like read_status, but a broken file counts as no status (it is about to be replaced)."""
    try:
        return read_status(path)
    except BackupError:
        return BackupStatus()
