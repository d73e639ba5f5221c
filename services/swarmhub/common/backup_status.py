"""The backup sidecar's status file, /srv/backup/state/status.json: its one
format. The backup wing writes it after each run and drill; the stats page
reads it.

Keys: last_result ("ok" or "failed"), last_success (ISO-8601 UTC or null),
last_run_started, last_run_finished, message; and the last restore drill's:
last_drill (ISO-8601 UTC or null), drill_result ("ok" or "failed"),
drill_message. Written atomically (a temporary file renamed over the old
one), so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path


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


class StatusUnreadable(ValueError):
    """The status file exists but holds no status (not JSON, not an object, wrong types)."""


def read_status(path: Path) -> BackupStatus:
    """The last written status; the empty status when no run has finished yet."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return BackupStatus()
    except (OSError, ValueError) as e:
        raise StatusUnreadable(f"cannot read the backup status file {path}: {e}") from None
    if not isinstance(data, dict):
        raise StatusUnreadable(f"the backup status file {path} does not hold a JSON object")
    known = {f.name for f in fields(BackupStatus)}
    values = {k: v for k, v in data.items() if k in known}
    for key, value in values.items():
        if value is not None and not isinstance(value, str):
            raise StatusUnreadable(f"the backup status file {path}: {key} is not text")
    return BackupStatus(**values)


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
