"""The root-only folder under the home root where restores and drills put what
duplicity gives back, before anything reaches a home; and how a file given back
is compared with the one at home."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from .config import BackupConfig
from .errors import BackupError


def staging_root(config: BackupConfig) -> Path:
    root = config.staging_root
    try:
        os.mkdir(root, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(root)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise BackupError(f"{root} must be a folder owned by the backup's user; remove it")
    os.chmod(root, 0o700)
    return root


_CHUNK = 1 << 20


def same_bytes(a: BinaryIO, b: BinaryIO) -> bool:
    """Whether two open files hold the same bytes (read a megabyte at a time)."""
    while True:
        x, y = a.read(_CHUNK), b.read(_CHUNK)
        if x != y:
            return False
        if not x:
            return True
