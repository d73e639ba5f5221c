"""The status file every run leaves: /srv/backup/state/status.json.

Keys (the stats page reads exactly these): last_result ("ok" or "failed"),
last_success (ISO-8601 UTC or null), last_run_started, last_run_finished,
message; and the last restore drill's: last_drill (ISO-8601 UTC or null),
drill_result ("ok" or "failed"), drill_message. Written atomically (a
temporary file renamed over the old one), so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .errors import BackupError


@dataclass(frozen=True)
class BackupStatus:
    last_result: str | None = None
    last_success: str | None = None
    last_run_started: str | None = None
    last_run_finished: str | None = None
    message: str = "no backup has run yet"
    last_drill: str | None = None
    drill_result: str | None = None
    drill_message: str = ""


def read_status(path: Path) -> BackupStatus:
    """The last written status; the empty status when no run has finished yet."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return BackupStatus()
    except (OSError, ValueError) as e:
        raise BackupError(f"cannot read the backup status file {path}: {e}") from None
    known = BackupStatus.__dataclass_fields__
    return BackupStatus(**{k: v for k, v in data.items() if k in known})


def write_status(path: Path, status: BackupStatus) -> None:
    """Replace the status file in one step (readable by all: it holds no secret)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".status.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(asdict(status), f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


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
