import os

import pytest

from swarmhub.projects import (
    ProjectError,
    delete_project,
    ensure_project,
    ensure_projects_folder,
    list_projects,
)

UID, GID = os.getuid(), os.getgid()


def test_projects_are_made_listed_and_deleted(tmp_path):
    assert list_projects(tmp_path) == []
    ensure_projects_folder(tmp_path, UID, GID)
    ensure_project(tmp_path, "thesis", UID, GID, limit=2)
    ensure_project(tmp_path, "thesis", UID, GID, limit=2)  # again: nothing new
    (tmp_path / "projects" / "thesis" / "notes.txt").write_text("x")
    ensure_project(tmp_path, "lab", UID, GID, limit=2)
    assert list_projects(tmp_path) == ["lab", "thesis"]
    delete_project(tmp_path, "thesis")
    assert list_projects(tmp_path) == ["lab"]


def test_limit_names_the_projects_and_creates_nothing(tmp_path):
    for name in ("a", "b"):
        ensure_project(tmp_path, name, UID, GID, limit=2)
    with pytest.raises(ProjectError, match=r"already have 2 projects \(a, b\)"):
        ensure_project(tmp_path, "c", UID, GID, limit=2)
    assert list_projects(tmp_path) == ["a", "b"]
    ensure_project(tmp_path, "a", UID, GID, limit=2)  # an existing one still opens


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "-x", "x" * 65, "a b"])
def test_bad_names_are_refused(tmp_path, name):
    with pytest.raises(ProjectError, match="not a project name"):
        ensure_project(tmp_path, name, UID, GID, limit=5)
    assert not (tmp_path / "projects").exists() or list_projects(tmp_path) == []


def test_symlinks_are_not_followed(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "projects").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ProjectError, match="symbolic link"):
        ensure_project(tmp_path, "a", UID, GID, limit=5)
    assert list(os.scandir(tmp_path / "elsewhere")) == []


def test_deleting_a_missing_project_says_so(tmp_path):
    with pytest.raises(ProjectError, match="no project 'x'"):
        delete_project(tmp_path, "x")
