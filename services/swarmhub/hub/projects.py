"""Per-user projects: folders in HOME/projects, where a project's server works.

The hub (root in its container, with the hub host's /home mounted) lists, makes
and deletes them. Everything in a home is the user's and may be a link planted
to send the hub elsewhere, flipped at any moment: every step goes through
safefs (open folders, O_NOFOLLOW, dir_fd), from the home root the operator
controls down, so a link anywhere is refused and never followed.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..common import safefs

PROJECTS_FOLDER = "projects"  # in each home
PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
PROJECTS_MODE = 0o755
# A project being deleted is first renamed to this prefix (hidden, not a project name).
_DELETING = ".deleting-"


class ProjectError(ValueError):
    """A project request the user must change; the message says how."""


class NoSuchProject(ProjectError):
    """The user has no project of that name."""


class HomeMissing(ProjectError):
    """The user's home is not on the hub (an administrator must restore it)."""


def check_project_name(name: str) -> str:
    if not PROJECT_NAME.match(name) or name in {".", ".."}:
        raise ProjectError(
            f"{name!r} is not a project name: use up to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    return name


@contextmanager
def _home(home_root: Path, user: str) -> Iterator[int]:
    """fd of home_root/user: the root must be a real folder, the home no link."""
    if "/" in user or user in {"", ".", ".."}:
        raise ProjectError(f"{user!r} cannot name a home folder.")
    try:
        with safefs.open_dir(home_root) as root_fd:
            fd = safefs.open_child(root_fd, user)
    except FileNotFoundError:
        raise HomeMissing(
            f"Your home folder {user} is missing on the hub; ask the hub's administrators "
            "to restore it."
        ) from None
    except safefs.Blocked as e:
        raise ProjectError(f"Your home folder cannot be used: {e}.") from None
    try:
        yield fd
    except OSError as e:
        # the user's files changed under the hub (a server is busy there): nothing
        # was followed; say so rather than fail with a trace
        raise ProjectError(
            f"Your projects changed while the hub worked on them ({e.strerror}); try again."
        ) from None
    finally:
        os.close(fd)


@contextmanager
def _projects(
    home_fd: int, create: bool = False, owner: tuple[int, int] | None = None
) -> Iterator[int | None]:
    """fd of HOME/projects; None when it does not exist and create is False."""
    fd: int | None
    try:
        if create:
            fd = safefs.make_dir_at(home_fd, PROJECTS_FOLDER, PROJECTS_MODE, owner)
        else:
            fd = safefs.open_child(home_fd, PROJECTS_FOLDER)
    except FileNotFoundError:
        if create:
            raise  # the home went away meanwhile: _home says so
        fd = None
    except safefs.Blocked:
        raise ProjectError(
            f"'{PROJECTS_FOLDER}' in your home is a symbolic link or a file, not a folder; "
            "rename it to use projects."
        ) from None
    try:
        yield fd
    finally:
        if fd is not None:
            os.close(fd)


def _project_names(projects_fd: int) -> list[str]:
    return [n for n in safefs.subdir_names(projects_fd) if PROJECT_NAME.match(n)]


def list_projects(home_root: Path, user: str) -> list[str]:
    """The user's projects, sorted; none if the folder does not exist yet.

    Only real folders with a project's name count: links and files are not
    projects, so a link never shows the hub's view of where it points.
    """
    with _home(home_root, user) as home_fd, _projects(home_fd) as fd:
        return [] if fd is None else _project_names(fd)


def ensure_project(home_root: Path, user: str, name: str, uid: int, gid: int, limit: int) -> None:
    """HOME/projects/NAME, made (owned by the user) unless it exists; at most `limit`."""
    check_project_name(name)
    with _home(home_root, user) as home_fd, _projects(home_fd, True, (uid, gid)) as fd:
        assert fd is not None  # made, or _projects raised
        existing = _project_names(fd)
        if name in existing:
            return
        if len(existing) >= limit:
            raise ProjectError(
                f"You already have {len(existing)} projects ({', '.join(existing)}), the most "
                f"allowed. Delete one on your projects page before starting project {name!r}."
            )
        try:
            os.close(safefs.make_dir_at(fd, name, PROJECTS_MODE, (uid, gid)))
        except safefs.Blocked:
            raise ProjectError(
                f"{PROJECTS_FOLDER}/{name} in your home is a symbolic link or a file; "
                "rename it to use this project."
            ) from None


def delete_project(home_root: Path, user: str, name: str) -> None:
    """Remove HOME/projects/NAME and all it holds, following no link in it.

    It is first renamed aside (one atomic step), so it stops being a project at
    once; a tree that cannot be removed whole stays aside under that name.
    """
    check_project_name(name)
    missing = NoSuchProject(f"There is no project {name!r}.")
    with _home(home_root, user) as home_fd, _projects(home_fd) as fd:
        if fd is None or name not in _project_names(fd):
            raise missing
        aside = f"{_DELETING}{name}-{secrets.token_hex(4)}"
        try:
            os.rename(name, aside, src_dir_fd=fd, dst_dir_fd=fd)
        except FileNotFoundError:
            raise missing from None
        try:
            safefs.remove_at(fd, aside)
        except (OSError, safefs.Blocked) as e:
            raise ProjectError(
                f"Project {name!r} was only partly deleted ({e}); what is left is in "
                f"{PROJECTS_FOLDER}/{aside} in your home."
            ) from None
