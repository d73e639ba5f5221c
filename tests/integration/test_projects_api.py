"""The projects page and API in a real JupyterHub 6.1.1 (issue 8's attacks).

The hub runs as root here, as it does in its container, with a folder of homes
standing in for the hub host's /home. Tokens are real hub tokens with chosen
scopes; the attacker plants links in his own home, as a user's server can.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.hub_process import HubProcess

STARTUP_TIMEOUT_SECONDS = 60.0
TIMEOUT = 30.0
ADMIN_TOKEN = "admin-service-" + "7" * 32

HUB_SETTINGS = """\
c.JupyterHub.spawner_class = "simple"
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allowed_users = {{"alice", "bob"}}
c.Authenticator.admin_users = {{"alice"}}
c.JupyterHub.services = [{{"name": "minter", "api_token": "{admin_token}"}}]
c.JupyterHub.load_roles = [
    {{"name": "minter", "scopes": ["tokens", "admin:users"], "services": ["minter"]}}
]
from swarmhub.hub.projects_handlers import PROJECTS_TEMPLATES, projects_handlers  # noqa: E402

c.JupyterHub.extra_handlers = projects_handlers("{homes}")
c.JupyterHub.template_paths = [PROJECTS_TEMPLATES]
"""


def digest(path: Path) -> str:
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(path)):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            h.update(full.encode())
            if os.path.islink(full):
                h.update(os.readlink(full).encode())
            elif os.path.isfile(full):
                h.update(Path(full).read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> Iterator[tuple[HubProcess, Path]]:
    work = tmp_path_factory.mktemp("projects-hub")
    homes = work / "homes"
    for user in ("alice", "bob"):
        (homes / user / "projects").mkdir(parents=True)
    (homes / "alice" / "projects" / "paper").mkdir()
    (homes / "alice" / "projects" / "paper" / "draft.txt").write_text("alice's draft")
    hub = HubProcess(work)
    hub.start(HUB_SETTINGS.format(admin_token=ADMIN_TOKEN, homes=homes), STARTUP_TIMEOUT_SECONDS)
    yield hub, homes
    hub.stop()


def token_for(hub: HubProcess, user: str, scopes: list[str] | None = None) -> str:
    body = {"note": "test"} if scopes is None else {"note": "test", "scopes": scopes}
    r = requests.post(
        f"{hub.api_url}/users/{user}/tokens",
        json=body,
        headers={"Authorization": f"token {ADMIN_TOKEN}"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 201, r.text
    return r.json()["token"]


def api(hub: HubProcess, method: str, path: str, token: str) -> requests.Response:
    return requests.request(
        method,
        f"{hub.api_url}{path}",
        headers={"Authorization": f"token {token}"},
        timeout=TIMEOUT,
    )


def test_a_user_lists_and_deletes_his_own_projects(hub):
    process, homes = hub
    (homes / "bob" / "projects" / "lab").mkdir()
    bob = token_for(process, "bob")
    assert api(process, "GET", "/users/bob/projects", bob).json() == {"projects": ["lab"]}
    assert api(process, "DELETE", "/users/bob/projects/lab", bob).status_code == 204
    assert not (homes / "bob" / "projects" / "lab").exists()
    missing = api(process, "DELETE", "/users/bob/projects/lab", bob)
    assert missing.status_code == 404 and "no project 'lab'" in missing.json()["message"]


def test_tokens_are_held_to_their_scopes(hub):
    process, homes = hub
    before = digest(homes / "alice")
    bob = token_for(process, "bob")
    narrow = token_for(process, "bob", ["read:users:name!user=bob"])
    admin = token_for(process, "alice")
    # another user's projects: neither listed nor deleted
    assert api(process, "GET", "/users/alice/projects", bob).status_code == 404
    assert api(process, "DELETE", "/users/alice/projects/paper", bob).status_code == 404
    # a token without access to bob's servers cannot touch his projects
    assert api(process, "GET", "/users/bob/projects", narrow).status_code == 403
    assert api(process, "DELETE", "/users/bob/projects/x", narrow).status_code == 403
    assert digest(homes / "alice") == before
    # an admin may (JupyterHub's admin role has access:servers)
    listed = api(process, "GET", "/users/alice/projects", admin)
    assert listed.json() == {"projects": ["paper"]}


@pytest.mark.parametrize("target", ["homes", "alice", "root", "hub-data"])
def test_a_linked_projects_folder_is_refused_and_changes_nothing(hub, target):
    process, homes = hub
    where = {
        "homes": homes,
        "alice": homes / "alice",
        "root": Path("/"),
        "hub-data": process.workdir,  # the hub's database is there
    }[target]
    projects = homes / "bob" / "projects"
    os.rename(projects, homes / "bob" / f"projects-{target}")
    projects.symlink_to(where)
    bob = token_for(process, "bob")
    before = digest(homes / "alice"), (process.workdir / "jupyterhub.sqlite").stat().st_size
    try:
        listed = api(process, "GET", "/users/bob/projects", bob)
        assert listed.status_code == 400
        assert "symbolic link or a file" in listed.json()["message"]
        for victim in ("alice", "paper", "bob", "homes"):
            deleted = api(process, "DELETE", f"/users/bob/projects/{victim}", bob)
            assert deleted.status_code == 400, deleted.text
            assert "symbolic link or a file" in deleted.json()["message"]
        after = digest(homes / "alice"), (process.workdir / "jupyterhub.sqlite").stat().st_size
        assert after[0] == before[0] and (process.workdir / "jupyterhub.sqlite").exists()
        assert (homes / "alice" / "projects" / "paper" / "draft.txt").read_text() == "alice's draft"
    finally:
        projects.unlink()
        os.rename(homes / "bob" / f"projects-{target}", projects)


def test_the_page_says_why_when_projects_is_a_link(hub):
    process, homes = hub
    projects = homes / "bob" / "projects"
    os.rename(projects, homes / "bob" / "projects-aside")
    projects.symlink_to(homes / "alice" / "projects")
    session = requests.Session()
    try:
        login = session.get(f"{process.url}/hub/login", timeout=TIMEOUT)
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', login.text)
        form = {"username": "bob", "password": "x", **({"_xsrf": xsrf[1]} if xsrf else {})}
        session.post(f"{process.url}/hub/login", data=form, timeout=TIMEOUT)
        page = session.get(f"{process.url}/hub/projects", timeout=TIMEOUT)
        assert page.status_code == 400
        assert "symbolic link or a file" in page.text
        assert "paper" not in page.text  # alice's project is not shown to bob
    finally:
        projects.unlink()
        os.rename(homes / "bob" / "projects-aside", projects)
