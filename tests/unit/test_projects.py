"""Projects in a user's home, made, listed and deleted by the hub as root.

The user owns the home and may put links anywhere in it; the hub must act on
the user's own tree only (issue 8's attacks: ~/projects pointed at the homes,
the hub's data, / and another user's home).
"""

import hashlib
import os
import threading
import time

import pytest

from swarmhub.common import safefs
from swarmhub.hub.projects import (
    HomeMissing,
    NoSuchProject,
    ProjectError,
    delete_project,
    ensure_project,
    list_projects,
)

# As root (CI) the hub chowns to the user; otherwise it can only keep its own ids.
UID, GID = (4242, 4343) if os.getuid() == 0 else (os.getuid(), os.getgid())


@pytest.fixture
def homes(tmp_path):
    """homes/bob (the attacker) and homes/alice (the victim, with a file), hub data."""
    root = tmp_path / "homes"
    (root / "bob").mkdir(parents=True)
    (root / "alice" / "work").mkdir(parents=True)
    (root / "alice" / "work" / "essay.txt").write_text("alice's essay")
    (tmp_path / "hubdata").mkdir()
    (tmp_path / "hubdata" / "jupyterhub.sqlite").write_text("the hub's database")
    return root


def tree_digest(path):
    """A checksum of every name, type and content under path (links not followed)."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(path)):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            h.update(full.encode())
            if os.path.islink(full):
                h.update(b"L" + os.readlink(full).encode())
            elif os.path.isfile(full):
                h.update(b"F" + open(full, "rb").read())
    return h.hexdigest()


def test_projects_are_made_listed_and_deleted(homes):
    assert list_projects(homes, "bob") == []
    ensure_project(homes, "bob", "thesis", UID, GID, limit=2)
    ensure_project(homes, "bob", "thesis", UID, GID, limit=2)  # again: nothing new
    (homes / "bob" / "projects" / "thesis" / "notes.txt").write_text("x")
    ensure_project(homes, "bob", "lab", UID, GID, limit=2)
    assert list_projects(homes, "bob") == ["lab", "thesis"]
    st = (homes / "bob" / "projects" / "lab").stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (UID, GID, 0o755)
    delete_project(homes, "bob", "thesis")
    assert list_projects(homes, "bob") == ["lab"]
    assert sorted(os.listdir(homes / "bob" / "projects")) == ["lab"]


def test_limit_names_the_projects_and_creates_nothing(homes):
    for name in ("a", "b"):
        ensure_project(homes, "bob", name, UID, GID, limit=2)
    with pytest.raises(ProjectError, match=r"already have 2 projects \(a, b\)"):
        ensure_project(homes, "bob", "c", UID, GID, limit=2)
    assert list_projects(homes, "bob") == ["a", "b"]
    ensure_project(homes, "bob", "a", UID, GID, limit=2)  # an existing one still opens


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "-x", "x" * 65, "a b", "../alice"])
def test_bad_names_are_refused(homes, name):
    with pytest.raises(ProjectError, match="not a project name"):
        ensure_project(homes, "bob", name, UID, GID, limit=5)
    with pytest.raises(ProjectError, match="not a project name"):
        delete_project(homes, "bob", name)
    assert not (homes / "bob" / "projects").exists()


@pytest.mark.parametrize("target", ["homes", "hubdata", "/", "alice"])
def test_a_linked_projects_folder_is_refused_everywhere(homes, target):
    where = {"homes": homes, "hubdata": homes.parent / "hubdata", "alice": homes / "alice"}
    (homes / "bob" / "projects").symlink_to(where.get(target, target))
    before = tree_digest(homes.parent)
    for act in (
        lambda: list_projects(homes, "bob"),
        lambda: delete_project(homes, "bob", "alice"),
        lambda: delete_project(homes, "bob", "work"),
        lambda: delete_project(homes, "bob", "jupyterhub.sqlite"),
        lambda: ensure_project(homes, "bob", "alice", UID, GID, limit=5),
    ):
        with pytest.raises(ProjectError, match="symbolic link or a file"):
            act()
    assert tree_digest(homes.parent) == before


def test_a_linked_project_is_no_project(homes):
    (homes / "bob" / "projects").mkdir()
    (homes / "bob" / "projects" / "alice").symlink_to(homes / "alice")
    (homes / "bob" / "projects" / "notes").write_text("a file")
    before = tree_digest(homes / "alice")
    assert list_projects(homes, "bob") == []
    with pytest.raises(NoSuchProject, match="no project 'alice'"):
        delete_project(homes, "bob", "alice")
    with pytest.raises(ProjectError, match="symbolic link or a file"):
        ensure_project(homes, "bob", "alice", UID, GID, limit=5)
    assert tree_digest(homes / "alice") == before
    assert (homes / "bob" / "projects" / "alice").is_symlink()


def test_deleting_a_project_removes_links_in_it_not_their_targets(homes):
    ensure_project(homes, "bob", "p", UID, GID, limit=5)
    project = homes / "bob" / "projects" / "p"
    (project / "deep" / "er").mkdir(parents=True)
    (project / "to-alice").symlink_to(homes / "alice")
    (project / "deep" / "er" / "to-work").symlink_to(homes / "alice" / "work")
    (project / "deep" / "er" / "to-root").symlink_to("/")
    before = tree_digest(homes / "alice")
    delete_project(homes, "bob", "p")
    assert not project.exists() and os.listdir(homes / "bob" / "projects") == []
    assert tree_digest(homes / "alice") == before


def test_a_home_that_is_a_link_is_refused(homes):
    (homes / "mallory").symlink_to(homes / "alice")
    with pytest.raises(ProjectError, match="symbolic link"):
        list_projects(homes, "mallory")
    with pytest.raises(HomeMissing, match="missing on the hub"):
        list_projects(homes, "nobody")


def test_odd_names_in_the_folder_are_not_listed(homes):
    ensure_project(homes, "bob", "ok", UID, GID, limit=5)
    for odd in ("<script>", "new\nline", ".hidden", "-dash"):
        (homes / "bob" / "projects" / odd).mkdir()
    assert list_projects(homes, "bob") == ["ok"]


def test_too_deep_a_tree_stops_with_a_message_and_stays_aside(homes, monkeypatch):
    monkeypatch.setattr(safefs, "MAX_REMOVE_DEPTH", 5)
    ensure_project(homes, "bob", "deep", UID, GID, limit=5)
    folder = homes / "bob" / "projects" / "deep"
    (folder / "a" / "b" / "c" / "d" / "e" / "f").mkdir(parents=True)
    with pytest.raises(ProjectError, match=r"only partly deleted .*deeper than 5") as e:
        delete_project(homes, "bob", "deep")
    left = [n for n in os.listdir(homes / "bob" / "projects")]
    assert len(left) == 1 and left[0].startswith(".deleting-deep-") and left[0] in str(e.value)
    assert list_projects(homes, "bob") == []


def test_a_link_flipped_during_the_hubs_work_never_reaches_another_tree(homes):
    """The user's server flips ~/projects between a folder and links to other
    trees while the hub lists, makes and deletes projects."""
    bob = homes / "bob"
    targets = [homes, homes / "alice", homes.parent / "hubdata"]
    for t in targets:
        (t / "p").mkdir(exist_ok=True)  # a 'project' the attacker would like deleted
        (t / "p" / "keep.txt").write_text(f"keep {t}")
    before = tree_digest(homes.parent / "hubdata"), tree_digest(homes / "alice")
    stop = threading.Event()

    def flip():
        projects = bob / "projects"
        i = 0
        while not stop.is_set():
            i += 1
            try:
                link = bob / f".link{i}"
                link.symlink_to(targets[i % len(targets)])
                if projects.is_dir() and not projects.is_symlink():
                    os.rename(projects, bob / f".old{i}")
                os.replace(link, projects)  # now a link
                real = bob / f".real{i}"
                (real / "p").mkdir(parents=True)
                os.unlink(projects)
                os.rename(real, projects)  # a folder again
            except OSError:
                continue  # the hub made or removed something meanwhile: flip on

    flipper = threading.Thread(target=flip)
    flipper.start()
    outcomes = set()
    deadline = time.monotonic() + 30
    try:
        rounds = 0
        while rounds < 300 or (outcomes != {"done", "refused"} and time.monotonic() < deadline):
            rounds += 1
            for act in (
                lambda: list_projects(homes, "bob"),
                lambda: delete_project(homes, "bob", "p"),
                lambda: ensure_project(homes, "bob", "p", UID, GID, limit=50),
            ):
                try:
                    act()
                    outcomes.add("done")
                except ProjectError:
                    outcomes.add("refused")
    finally:
        stop.set()
        flipper.join()
    assert (tree_digest(homes.parent / "hubdata"), tree_digest(homes / "alice")) == before
    assert (homes / "p" / "keep.txt").read_text() == f"keep {homes}"
    assert outcomes == {"done", "refused"}  # the race was really run both ways
