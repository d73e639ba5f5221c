"""Per-user projects: folders in HOME/projects, mounted at /projects in servers.

The hub (root in its container, with the hub host's /home mounted) makes and
deletes them; users' servers only see them.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

PROJECTS_FOLDER = "projects"  # in each home
PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ProjectError(ValueError):
    """A project request the user must change; the message says how."""


def check_project_name(name: str) -> str:
    if not PROJECT_NAME.match(name) or name in {".", ".."}:
        raise ProjectError(
            f"{name!r} is not a project name: use up to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    return name


def projects_dir(home: Path) -> Path:
    return home / PROJECTS_FOLDER


def list_projects(home: Path) -> list[str]:
    """The user's projects, sorted; none if the folder does not exist yet."""
    folder = projects_dir(home)
    try:
        entries = list(folder.iterdir())
    except FileNotFoundError:
        return []
    return sorted(e.name for e in entries if e.is_dir() and not e.is_symlink())


def ensure_project(home: Path, name: str, uid: int, gid: int, limit: int) -> Path:
    """HOME/projects/NAME, made (owned by the user) unless it exists; at most `limit`."""
    check_project_name(name)
    folder = _ensure_owned_dir(projects_dir(home), uid, gid)
    project = folder / name
    if project.is_dir() and not project.is_symlink():
        return project
    existing = list_projects(home)
    if len(existing) >= limit:
        raise ProjectError(
            f"You already have {len(existing)} projects ({', '.join(existing)}), the most "
            f"allowed. Delete one on your projects page before starting project {name!r}."
        )
    return _ensure_owned_dir(project, uid, gid)


def ensure_projects_folder(home: Path, uid: int, gid: int) -> Path:
    """HOME/projects, owned by the user (it is mounted at /projects in every server)."""
    return _ensure_owned_dir(projects_dir(home), uid, gid)


def delete_project(home: Path, name: str) -> None:
    check_project_name(name)
    project = projects_dir(home) / name
    if project.is_symlink() or not project.is_dir():
        raise ProjectError(f"There is no project {name!r}.")
    shutil.rmtree(project)


def _ensure_owned_dir(path: Path, uid: int, gid: int) -> Path:
    if path.is_symlink():
        # a user-made link would let the hub (root) write where the user cannot
        raise ProjectError(f"{path.name} is a symbolic link; move it away to use projects.")
    try:
        path.mkdir(mode=0o755)
    except FileExistsError:
        if not path.is_dir():
            raise ProjectError(f"{path.name} in your home is not a folder; rename it.") from None
        return path
    os.chown(path, uid, gid)
    return path
