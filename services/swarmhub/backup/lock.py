"""One backup or restore at a time: an flock on a file in the state folder."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import BackupError

EXIT_BUSY = 75  # EX_TEMPFAIL: try again later


@contextlib.contextmanager
def held(
    path: Path,
    wait_seconds: float = 0,
    on_wait: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Hold the lock; wait for it up to wait_seconds (0: fail at once if taken)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait_seconds
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise BackupError(
                        "another backup, restore or restore drill is running (lock "
                        f"{path}); try again when it has finished",
                        exit_code=EXIT_BUSY,
                    ) from None
                if on_wait is not None and not told:
                    on_wait()
                    told = True
                time.sleep(1)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)
