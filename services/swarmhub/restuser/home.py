"""A new user's home: a copy of the skeleton folder, owned by the user, mode 0700."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def create_home(skeleton: Path, home: Path, uid: int, gid: int) -> None:
    """Copy `skeleton` to `home` (which must not exist), all or nothing.

    The copy is made in a root-only staging folder next to `home` and renamed into
    place when it is complete and owned by the user, so neither the user nor anybody
    else ever sees a half-copied home, and a failure leaves nothing behind.
    """
    if not skeleton.is_dir():
        raise NotADirectoryError(f"the skeleton folder {skeleton} is missing or not a folder")
    # a dot name cannot collide with a home: user names never start with "."
    staging = Path(tempfile.mkdtemp(prefix=f".restuser-{home.name}-", dir=home.parent))
    try:
        tree = staging / home.name
        # symlinks stay links: a link in the skeleton must not copy what it points to
        shutil.copytree(skeleton, tree, symlinks=True)
        chown_tree(tree, uid, gid)
        tree.chmod(0o700)
        tree.rename(home)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def chown_tree(top: Path, uid: int, gid: int) -> None:
    """Give `top` and everything in it to uid:gid, never following symlinks."""
    os.chown(top, uid, gid, follow_symlinks=False)
    for dirpath, dirnames, filenames in os.walk(top):
        for entry in dirnames + filenames:
            os.chown(os.path.join(dirpath, entry), uid, gid, follow_symlinks=False)
