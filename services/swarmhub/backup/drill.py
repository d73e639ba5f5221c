"""The restore drill: after a backup, a sample of its files restored into a scratch
folder and compared, byte for byte, with the live files.

A backup that cannot be restored is no backup; the drill finds that out within the
hour, not on the day a home is lost. A live file whose modification time differs
from the restored one changed since the backup and is skipped (it differs by
design), as is anything that is not a regular file in the backup or at home (a
folder, a link, gone). Homes are hostile ground: each live file is opened from the
home root one component at a time without following a link (safefs), and the
scratch folder is the restore's own root-only staging folder.
"""

from __future__ import annotations

import errno
import os
import random
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

from ..common import safefs
from . import duplicity as dup
from .config import HOME_AREA, BackupConfig
from .errors import BackupError
from .staging import same_bytes, staging_root

# duplicity list-current-files: "Tue Nov 24 10:05:01 2026 ann/notes/week1.ipynb"
_LISTED = re.compile(r"^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} (.+)$")
_LIVE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


@dataclass
class DrillResult:
    restored: int = 0
    matched: int = 0
    skipped: int = 0
    differ: list[str] = field(default_factory=list)
    problem: str = ""  # the drill itself could not run (listing or a restore failed)

    @property
    def ok(self) -> bool:
        return not self.problem and not self.differ

    def add(self, other: DrillResult, config: BackupConfig) -> None:
        """Count in another area's drill: its paths and problem say where they are."""
        where = "" if config.area == HOME_AREA else f"{config.source}/"
        self.restored += other.restored
        self.matched += other.matched
        self.skipped += other.skipped
        self.differ += [where + path for path in other.differ]
        if other.problem and not self.problem:
            self.problem = other.problem if not where else f"{config.area}: {other.problem}"

    @property
    def message(self) -> str:
        if self.problem:
            return f"restore drill failed: {self.problem}"
        text = (
            f"restore drill: {self.restored} files restored, {self.matched} identical to the "
            f"live files, {self.skipped} skipped (changed since the backup, or not a file)"
        )
        if self.differ:
            shown = ", ".join(self.differ[:5])
            text += (
                f"; {len(self.differ)} DIFFER from the live files: {shown}. A file whose "
                "bytes changed but not its time may be damaged at home or in the backup: "
                "restore it aside (./script/restore USER --path PATH; a course's file: "
                "./script/restore COURSE --area courses|exchange --path PATH) and compare, "
                "and check the backup target's storage"
            )
        return text


def listed_paths(output: str) -> list[str]:
    """Paths below the homes in duplicity's file list (the root itself left out)."""
    paths = []
    for line in output.splitlines():
        match = _LISTED.match(line.strip())
        if match and match.group(1) != ".":
            paths.append(match.group(1))
    return paths


def files_inside_homes(paths: list[str]) -> list[str]:
    """Candidates for the drill: entries inside a home (HOME/...), never the restore's
    own staging folder, nothing with a component that could climb out, and no folder
    that holds other entries (restoring it would restore all of them: a whole
    project of a home, say). duplicity's list does not say which entry is a folder;
    one that is the parent of another is."""
    parents = {str(parent) for path in paths for parent in PurePosixPath(path).parents}
    chosen = []
    for path in paths:
        parts = PurePosixPath(path).parts
        if len(parts) < 2 or parts[0].startswith(".") or ".." in parts or path in parents:
            continue
        chosen.append(path)
    return chosen


def run_drill(
    config: BackupConfig,
    files: int,
    echo: dup.Echo | None = None,
    rng: random.Random | None = None,
) -> DrillResult:
    """Restore up to `files` entries of the latest backup and compare them."""
    result = DrillResult()
    passphrase = config.read_passphrase()
    listing = dup.run_duplicity(config, dup.list_command(config), passphrase, echo)
    if not listing.ok:
        result.problem = dup.failure_message(listing, "listing the backup's files", config)
        return result
    candidates = files_inside_homes(listed_paths(listing.output))
    if not candidates:
        return result
    sample = (rng or random.SystemRandom()).sample(candidates, min(files, len(candidates)))
    scratch = Path(tempfile.mkdtemp(prefix="drill-", dir=staging_root(config)))
    try:
        for number, rel in enumerate(sample):
            restored = scratch / str(number)
            command = dup.restore_command(config, rel, datetime.now().astimezone(), restored)
            done = dup.run_duplicity(config, command, passphrase, echo)
            if not done.ok:
                result.problem = dup.failure_message(done, f"restoring {rel}", config)
                return result
            result.restored += 1
            verdict = compare(Path(config.source), rel, restored)
            if verdict is None:
                result.skipped += 1
            elif verdict:
                result.matched += 1
            else:
                result.differ.append(rel)
    except BackupError as e:
        result.problem = e.message
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return result


def compare(source: Path, rel: str, restored: Path) -> bool | None:
    """True when the live file holds the restored bytes; None when the comparison
    does not apply (not a regular file on either side, gone, changed since)."""
    try:
        st_restored = os.lstat(restored)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st_restored.st_mode):
        return None
    parts = safefs.parts_of(rel)
    try:
        with safefs.open_dir(source) as root_fd:
            with safefs.open_subdir(root_fd, PurePosixPath(*parts[:-1])) as parent_fd:
                # O_NONBLOCK: a FIFO planted where the file was must not hang the drill
                live_fd = os.open(parts[-1], _LIVE_FLAGS, dir_fd=parent_fd)
    except (safefs.Blocked, FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENXIO):  # a link now, or a socket/FIFO
            return None
        raise
    with os.fdopen(live_fd, "rb") as live, open(restored, "rb") as copy:
        st_live = os.fstat(live.fileno())
        if not stat.S_ISREG(st_live.st_mode):
            return None
        if int(st_live.st_mtime) != int(st_restored.st_mtime):
            return None  # changed since the backup
        return st_live.st_size == st_restored.st_size and same_bytes(live, copy)
